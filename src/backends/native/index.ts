/**
 * The native CPU backend: each kernel program is rendered to C++ (./render.ts), compiled once by
 * the system's compiler into a shared library (cached on disk, ./toolchain.ts) and called through
 * koffi with the typed arrays passed as pointers (no copy). Threads: OpenMP inside the kernel.
 */
import { createRequire } from "node:module";
import type { BlockingBackend, BlockingKernel, Kernel, KernelJob, KernelProgram } from "../../compile/program.js";
import { KeOpsError } from "../../errors.js";
import { LruCache } from "../../compile/lru.js";
import { threadCount } from "../workers.js";
import { renderNative, SIG_SYMBOL, SIG_VALUE } from "./render.js";
import { buildLibrary, buildLibraryAsync, compiler, optFlag } from "./toolchain.js";

export { clearNativeCache, nativeCacheDir } from "./toolchain.js";

/** Programs above this many SSA instructions (e.g. K-min with a huge K) are left to other backends. */
const MAX_INSTRUCTIONS = 40000;

/** Pairs (× body size) below which a call stays on one thread. */
const PARALLEL_WORK = 2e6;

type KoffiFn = ((...args: unknown[]) => void) & { async: (...args: unknown[]) => void };

interface Koffi {
  load(file: string): { func(proto: string): unknown };
}

let koffiModule: Koffi | string | undefined;

/** koffi, loaded at first use (its prebuilt binary may be missing on an unusual platform): the module or why not. */
function koffi(): Koffi | string {
  if (koffiModule === undefined) {
    try {
      koffiModule = createRequire(import.meta.url)("koffi") as Koffi;
    } catch (e) {
      koffiModule = `the FFI module koffi cannot be loaded (${(e as Error).message}); reinstall keops-ts's dependencies (npm install koffi)`;
    }
  }
  return koffiModule;
}

/** Loads a library and checks its signature symbol; null when the file is unusable. */
function load(file: string, proto: string): KoffiFn | null {
  const k = koffi();
  if (typeof k === "string") return null;
  // OpenMP's idle threads sleep instead of spinning (read when libgomp loads with the first
  // kernel): spinning threads steal the cores from the event loop and from other processes, and
  // on a loaded 2-core machine made every parallel call wait ~8 ms for its team
  process.env.OMP_WAIT_POLICY ??= "passive";
  try {
    const lib = k.load(file);
    const sig = lib.func(`int ${SIG_SYMBOL}(void)`) as () => number;
    if (sig() !== SIG_VALUE) return null;
    return lib.func(proto) as unknown as KoffiFn;
  } catch {
    return null;
  }
}

class NativeKernel implements Kernel {
  constructor(
    private readonly fn: KoffiFn,
    private readonly cost: number,
  ) {}

  private args(job: KernelJob): unknown[] {
    const work = job.nBatch * job.nOuter * job.nInner * this.cost;
    const threads = work < PARALLEL_WORK ? 1 : Math.min(threadCount(), job.nBatch * job.nOuter);
    const f64 = job.inOffsets instanceof Float64Array;
    const outOff = (job.outOffsets instanceof Float64Array) === f64 ? job.outOffsets : f64 ? Float64Array.from(job.outOffsets) : Int32Array.from(job.outOffsets);
    return [job.nBatch, job.nOuter, job.nInner, threads, f64 ? 1 : 0, job.inOffsets, outOff, ...job.inputs, ...job.outputs];
  }

  run(job: KernelJob): void {
    if (job.nBatch * job.nOuter === 0) return;
    this.fn(...this.args(job));
  }

  runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return Promise.resolve();
    const args = this.args(job);
    return new Promise((resolve, reject) => {
      this.fn.async(...args, (err: unknown) => (err ? reject(err) : resolve()));
    });
  }
}

const kernels = new LruCache<string, NativeKernel>();

/** SSA instructions of the kernel's hot blocks. */
function programSize(p: KernelProgram): number {
  return p.body.code.length + p.red.update.code.length + p.red.merge.code.length;
}

/** What building a program's library takes: its source, the kernel's signature, flags, a validity check. */
interface Source {
  readonly source: string;
  readonly proto: string;
  readonly opt: string[];
  readonly valid: (file: string) => boolean;
}

function sourceOf(p: KernelProgram): Source {
  const { source, proto } = renderNative(p);
  // float64 programs: no multiply-add contraction, so that their arithmetic rounds as the JS
  // backend's does (float32 programs keep FMA: it is where their speed comes from)
  const opt = [optFlag(programSize(p)), ...(p.dtype === "float64" ? ["-ffp-contract=off"] : [])];
  return { source, proto, opt, valid: (file) => load(file, proto) !== null };
}

/** The kernel in `file`, or null when it cannot be loaded (replaced or corrupted after the check). */
function kernelIn(p: KernelProgram, s: Source, file: string): NativeKernel | null {
  const fn = load(file, s.proto);
  return fn ? new NativeKernel(fn, Math.max(1, p.body.code.length)) : null;
}

function unloadable(file: string): never {
  throw new KeOpsError(`backend "native": the compiled kernel ${file} cannot be loaded`);
}

/** Renders, compiles (or fetches from the disk cache) and loads the kernel of a program; builds once more if the library cannot be loaded. */
function compileProgram(p: KernelProgram): NativeKernel {
  const s = sourceOf(p);
  const k = kernelIn(p, s, buildLibrary(s.source, s.opt, s.valid).file);
  if (k) return k;
  const again = buildLibrary(s.source, s.opt, s.valid).file;
  return kernelIn(p, s, again) ?? unloadable(again);
}

/** {@link compileProgram} with the compiler running as a child process, not on the calling thread. */
async function compileProgramAsync(p: KernelProgram): Promise<NativeKernel> {
  const s = sourceOf(p);
  const k = kernelIn(p, s, (await buildLibraryAsync(s.source, s.opt, s.valid)).file);
  if (k) return k;
  const again = (await buildLibraryAsync(s.source, s.opt, s.valid)).file;
  return kernelIn(p, s, again) ?? unloadable(again);
}

/** Input and output arrays a kernel may take: koffi's 64 arguments less the 7 fixed ones. */
const MAX_ARRAYS = 57;

/** The first compile failure of this process (a broken toolchain): the backend stays off after it. */
let failure: string | null = null;

/** The native backend. */
export const nativeBackend: BlockingBackend = {
  name: "native",
  caps: { blocking: true, async: true, dtypes: ["float32", "float64"], cost: 1, costNote: "compiled C++ with SIMD and OpenMP, about 5× wasm" },
  unavailable: () => {
    const k = koffi();
    return typeof k === "string" ? k : compiler().why ?? failure;
  },
  declines: (p) => {
    const size = programSize(p);
    if (size > MAX_INSTRUCTIONS) return `the program has ${size} instructions (a C++ compile would be slow; the limit is ${MAX_INSTRUCTIONS})`;
    const arrays = p.slots.length + p.red.outputs.length;
    if (arrays > MAX_ARRAYS) return `the program reads and writes ${arrays} arrays (koffi passes at most 64 arguments, so at most ${MAX_ARRAYS})`;
    return null;
  },
  compile(p: KernelProgram): BlockingKernel {
    let k = kernels.get(p.key);
    if (!k) {
      try {
        k = compileProgram(p);
      } catch (e) {
        failure ??= (e as Error).message;
        throw e;
      }
      kernels.set(p.key, k);
    }
    return k;
  },
  compileAsync(p: KernelProgram): Promise<Kernel> {
    const k = kernels.get(p.key);
    if (k) return Promise.resolve(k);
    let pending = building.get(p.key);
    if (!pending) {
      pending = compileProgramAsync(p).then(
        (kernel) => {
          kernels.set(p.key, kernel);
          return kernel;
        },
        (e: unknown) => {
          failure ??= (e as Error).message;
          throw e;
        },
      ).finally(() => building.delete(p.key));
      building.set(p.key, pending);
    }
    return pending;
  },
};

/** Compilations in flight (async calls of one new formula share one). */
const building = new Map<string, Promise<NativeKernel>>();

