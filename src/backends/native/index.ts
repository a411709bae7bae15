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
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { loopedBlock, vectorOutput, vectorState, type SplitBlock } from "../../compile/vout.js";
import type { Block } from "../../ir/ssa.js";
import { buildLibrary, buildLibraryAsync, compiler, optFlag } from "./toolchain.js";

export { clearNativeCache, nativeCacheDir } from "./toolchain.js";

/** Programs above this many SSA instructions (e.g. K-min with a huge K) are left to other backends. */
const MAX_INSTRUCTIONS = 40000;

/** Pairs (× body size) below which a call stays on one thread. */
const PARALLEL_WORK = 2e6;

type KoffiFn = ((...args: unknown[]) => void) & { async: (...args: unknown[]) => void };

interface KoffiLib {
  func(proto: string): unknown;
  unload(): void;
}

interface Koffi {
  load(file: string): KoffiLib;
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

/** A loaded library: its kernel function, and how many async runs are using it now. */
interface Loaded {
  readonly lib: KoffiLib;
  readonly fn: KoffiFn;
  busy: number;
}

/**
 * Libraries loaded now (each file once), the most recently used last. Bounded by
 * {@link nativeLimits}`.loaded`: the least recently used idle one is unloaded (a kernel whose
 * library was unloaded loads it again at its next run). The first library loaded stays: it holds
 * the OpenMP runtime, whose threads must never lose their code.
 */
const loaded = new Map<string, Loaded>();
let pinned: string | undefined;

/** The bound on loaded kernel libraries (an object so that tests can lower it). */
export const nativeLimits = { loaded: 128 };

/** For tests and the soak benchmark: libraries loaded now, loads and unloads so far. */
export const nativeStats = { loads: 0, unloads: 0, loaded: (): number => loaded.size };

/**
 * Loads a library (once: a loaded file is reused) and checks its signature symbol; null when the
 * file is unusable. OpenMP reads its wait policy when its runtime loads with the first kernel:
 * idle threads should sleep, not spin (spinning threads steal the cores from the event loop and
 * from other processes; on a loaded 2-core machine every parallel call waited ~8 ms for its
 * team), so `OMP_WAIT_POLICY=passive` is set for the duration of the load only, unless the user
 * set it: the process environment is left as it was.
 */
function load(file: string, proto: string): Loaded | null {
  const hit = loaded.get(file);
  if (hit) {
    loaded.delete(file);
    loaded.set(file, hit);
    return hit;
  }
  const k = koffi();
  if (typeof k === "string") return null;
  const policy = process.env.OMP_WAIT_POLICY;
  if (policy === undefined) process.env.OMP_WAIT_POLICY = "passive";
  let lib: KoffiLib | undefined;
  try {
    lib = k.load(file);
    nativeStats.loads++;
    const sig = lib.func(`int ${SIG_SYMBOL}(void)`) as () => number;
    if (sig() !== SIG_VALUE) throw new Error("wrong signature");
    const entry: Loaded = { lib, fn: lib.func(proto) as unknown as KoffiFn, busy: 0 };
    loaded.set(file, entry);
    pinned ??= file;
    evictLoaded();
    return entry;
  } catch {
    if (lib) unload(lib);
    return null;
  } finally {
    if (policy === undefined) delete process.env.OMP_WAIT_POLICY;
  }
}

/**
 * The functions `protos` of a library that is not a kernel (its first prototype's symbol loads
 * it, with the signature check of {@link load}), kept loaded for the life of the process (never
 * evicted: the caller holds its functions); null when it cannot be loaded.
 */
export function loadNative(file: string, protos: readonly string[]): unknown[] | null {
  const l = load(file, protos[0]!);
  if (!l) return null;
  try {
    const fns = [l.fn, ...protos.slice(1).map((p) => l.lib.func(p))];
    l.busy++;
    return fns;
  } catch {
    return null;
  }
}

function unload(lib: KoffiLib): void {
  try {
    lib.unload();
    nativeStats.unloads++;
  } catch {
    /* already gone */
  }
}

/** Unloads the least recently used idle libraries beyond the bound. */
function evictLoaded(): void {
  for (const [file, l] of loaded) {
    if (loaded.size <= Math.max(1, nativeLimits.loaded)) return;
    if (file === pinned || l.busy > 0) continue;
    loaded.delete(file);
    unload(l.lib);
  }
}

class NativeKernel implements Kernel {
  constructor(
    private readonly p: KernelProgram,
    private readonly proto: string,
    private file: string,
  ) {}

  private get cost(): number {
    return Math.max(1, this.p.body.code.length);
  }

  /** The loaded library: loaded again if it was unloaded, rebuilt if its file is gone from the cache. */
  private lib(): Loaded {
    const l = load(this.file, this.proto);
    if (l) return l;
    const s = sourceOf(this.p);
    this.file = buildLibrary(s.source, s.opt, s.valid).file;
    return load(this.file, this.proto) ?? unloadable(this.file);
  }

  /** Makes sure the library file exists again (rebuilt when the cache lost it); {@link lib} then loads it. */
  private async ensureAsync(): Promise<void> {
    if (load(this.file, this.proto)) return;
    const s = sourceOf(this.p);
    this.file = (await buildLibraryAsync(s.source, s.opt, s.valid)).file;
  }

  private args(job: KernelJob): unknown[] {
    const work = job.nBatch * job.nOuter * job.nInner * this.cost;
    const threads = work < PARALLEL_WORK ? 1 : Math.min(threadCount(), job.nBatch * job.nOuter);
    const f64 = job.inOffsets instanceof Float64Array;
    const outOff = (job.outOffsets instanceof Float64Array) === f64 ? job.outOffsets : f64 ? Float64Array.from(job.outOffsets) : Int32Array.from(job.outOffsets);
    return [job.nBatch, job.nOuter, job.nInner, threads, f64 ? 1 : 0, job.inOffsets, outOff, ...job.inputs, ...job.outputs];
  }

  run(job: KernelJob): void {
    if (job.nBatch * job.nOuter === 0) return;
    this.lib().fn(...this.args(job));
  }

  async runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return;
    const args = this.args(job);
    await this.ensureAsync();
    // loaded and marked busy with no await in between: no other call can unload it meanwhile
    const l = this.lib();
    l.busy++;
    try {
      await new Promise<void>((resolve, reject) => {
        l.fn.async(...args, (err: unknown) => (err ? reject(err) : resolve()));
      });
    } finally {
      l.busy--;
    }
  }
}

const kernels = new LruCache<string, NativeKernel>();

/** SSA instructions of the kernel's hot blocks. */
function programSize(p0: KernelProgram): number {
  const p = withLoops(p0); // as rendered: D-term sums are loops (src/compile/loops.ts)
  // a vector output rendered as a loop (src/compile/vout.ts): the code outside it and one term
  const vo = vectorOutput(p.body, p.red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
  if (vo) return vo.live.reduce((a, b) => a + b, 0) + 16;
  // the general form (SumSoftMaxWeight, weighted LogSumExp, Kahan): the reduction blocks' code
  // outside the loop and the loop's instructions once
  const vs = vectorState(p.body, p.red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
  if (vs) {
    const count = (f: Uint8Array): number => f.reduce((a, b) => a + b, 0);
    const loop = (b: Block, sp: SplitBlock): number => count(sp.outside) + loopedBlock(b, sp, vs.count).code.length - b.code.length;
    return count(vs.live) + loop(p.red.update, vs.update) + loop(p.red.merge, vs.merge) + loop(p.red.finalize, vs.finalize) + 16;
  }
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

/** The kernel in `file` (loaded once: the validity check loaded it), or null when it cannot be loaded. */
function kernelIn(p: KernelProgram, s: Source, file: string): NativeKernel | null {
  return load(file, s.proto) ? new NativeKernel(p, s.proto, file) : null;
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

/** The native backend. */
export const nativeBackend: BlockingBackend = {
  name: "native",
  caps: { blocking: true, async: true, dtypes: ["float32", "float64"], cost: 1, costNote: "compiled C++ with SIMD and OpenMP, about 5× wasm" },
  unavailable: () => {
    const k = koffi();
    return typeof k === "string" ? k : compiler().why;
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
      // a failed compile is this program's error only (auto falls back for it); the next program compiles anew
      k = compileProgram(p);
      kernels.set(p.key, k);
    }
    return k;
  },
  compileAsync(p: KernelProgram): Promise<Kernel> {
    const k = kernels.get(p.key);
    if (k) return Promise.resolve(k);
    let pending = building.get(p.key);
    if (!pending) {
      pending = compileProgramAsync(p).then((kernel) => {
        kernels.set(p.key, kernel);
        return kernel;
      }).finally(() => building.delete(p.key));
      building.set(p.key, pending);
    }
    return pending;
  },
};

/** Compilations in flight (async calls of one new formula share one). */
const building = new Map<string, Promise<NativeKernel>>();

