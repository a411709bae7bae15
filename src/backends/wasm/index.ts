/**
 * The WebAssembly SIMD backend: kernels rendered at run time to a wasm module (no dependency,
 * nothing to install), run on one shared linear memory, on worker threads when large.
 */
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { vectorOutput } from "../../compile/vout.js";
import type { BlockingBackend, BlockingKernel, Kernel, KernelJob, KernelProgram } from "../../compile/program.js";
import { KeOpsError } from "../../errors.js";
import { LruCache } from "../../compile/lru.js";
import { singleThreadReason, threadCount, usableThreads } from "../workers.js";
import { renderWasm, replicatedState, wasmVectorState, type RenderedKernel } from "./render.js";
import { vectorStateSize } from "./vstate.js";
import { stage } from "./stage.js";
import { DOT_ROWS, blockedJob, wasmBlocked } from "./dot.js";
import { resetWasmMemory, wasmMemory } from "./memory.js";
import { WA, wa, type WasmMemory, type WasmModule } from "./api.js";
import { MATH_IMPORTS, runHere, runParallel, runParallelAsync, type WasmKernelFn, type WasmRun } from "./pool.js";

/** Largest program (a weighted count of SSA instructions, ~ locals of the function) compiled. */
const MAX_SIZE = 40000;
/** Pairs below which a call stays on the calling thread. */
export const PARALLEL_PAIRS = 1 << 21;
/**
 * Pairs per chunk of rows on the calling thread: a fresh module starts in V8's baseline tier and
 * is swapped for optimized code between calls, so a large run is cut into calls (~0.2 ms each).
 */
const CHUNK_PAIRS = 1 << 18;

/** Why this platform cannot run wasm SIMD kernels, or null. */
function probe(): string | null {
  if (!WA) return "WebAssembly is not available";
  // (module (func (result v128) v128.const 0 ...)): validates only with SIMD
  const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  try {
    if (!WA.validate(simd)) return "this WebAssembly engine has no 128-bit SIMD";
  } catch {
    return "this WebAssembly engine has no 128-bit SIMD";
  }
  return null;
}

let why: string | null | undefined;

/** A kernel's module and its instance on one memory. */
interface Built {
  readonly memory: WasmMemory;
  readonly shared: boolean;
  readonly rendered: RenderedKernel;
  readonly module: WasmModule;
  readonly fn: WasmKernelFn;
}

/** A compiled wasm kernel. */
export class WasmKernel implements Kernel {
  private built!: Built;
  constructor(readonly program: KernelProgram) {
    this.current();
  }

  /** The module and instance for the current memory (rebuilt after a memory reset). */
  private current(): Built {
    const { memory, shared } = wasmMemory();
    if (this.built?.memory === memory) return this.built;
    let { rendered, module } = this.built ?? {};
    if (!rendered || !module || this.built!.shared !== shared) {
      rendered = renderWasm(this.program, shared);
      module = new (wa().Module)(rendered.bytes);
    }
    const inst = new (wa().Instance)(module, { env: { mem: memory }, m: MATH_IMPORTS });
    this.built = { memory, shared, rendered, module, fn: inst.exports.k as WasmKernelFn };
    return this.built;
  }

  /** The rendered module (its bytes, mode, padding). */
  get rendered(): RenderedKernel {
    return this.current().rendered;
  }

  private plan(job: KernelJob, threads: number): WasmRun & { release(): void; finish(): void; fn: WasmKernelFn } {
    const { rendered, module, memory, fn } = this.current();
    const b = rendered.blocked;
    const s = b
      ? stage(b.program, blockedJob(b, job), rendered.mode, rendered.pad, (threads + 1) * rendered.scratchBytes)
      : stage(this.program, job, rendered.mode, rendered.pad, (threads + 1) * rendered.scratchBytes);
    const total = job.nBatch * job.nOuter;
    const perChunk = Math.max(1, Math.ceil(CHUNK_PAIRS / Math.max(1, job.nInner)));
    let chunk = Math.max(1, Math.min(perChunk, Math.ceil(total / (threads * 8))));
    // blocked distances: whole blocks of rows share each tile of y (as long as every thread has work)
    if (b) chunk = Math.max(chunk, Math.min(DOT_ROWS, Math.ceil(total / threads)));
    return {
      key: this.program.key, module, memory, fn,
      total, chunk, nOuter: job.nOuter, nInner: job.nInner,
      table: s.table, tableStride: s.tableStride, stride: s.stride,
      scratch: s.scratch, scratchBytes: rendered.scratchBytes,
      release: s.release, finish: s.finish,
    };
  }

  run(job: KernelJob): void {
    if (job.nBatch * job.nOuter === 0) return;
    const pairs = job.nBatch * job.nOuter * job.nInner;
    const threads = wasmMemory().shared && pairs >= PARALLEL_PAIRS && job.nBatch * job.nOuter > 1 ? usableThreads(false) : 1;
    const r = this.plan(job, threads);
    try {
      if (threads > 1) runParallel(r, r.fn, threads);
      else runHere(r, r.fn);
    } catch (e) {
      r.release();
      throw e;
    }
    r.finish();
  }

  async runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return;
    // no workers here (a page without cross-origin isolation): the calling thread computes
    if (!wasmMemory().shared || singleThreadReason(true) !== null) return this.run(job);
    const threads = threadCount();
    const r = this.plan(job, threads);
    try {
      await runParallelAsync(r, threads);
    } catch (e) {
      r.release();
      throw e;
    }
    r.finish();
  }
}

const compiled = new LruCache<string, WasmKernel>();

/**
 * @internal Starts over on a fresh memory, shared (threads) or not (the single-thread path of
 * platforms without cross-origin isolation), dropping the compiled kernels. For tests.
 */
export function resetWasmBackend(shared: boolean): void {
  resetWasmMemory(shared);
  compiled.clear();
}

/** Renders and compiles a program (no cache). */
export function compileWasm(p: KernelProgram): WasmKernel {
  return new WasmKernel(p);
}

export const wasmBackend: BlockingBackend = {
  name: "wasm",
  caps: { blocking: true, async: true, dtypes: ["float32", "float64"], cost: 10, costNote: "WebAssembly SIMD, about 10× js" },
  unavailable(): string | null {
    if (why === undefined) why = probe();
    return why;
  },
  declines(p: KernelProgram): string | null {
    // one function holds the whole kernel: stay well inside V8's limits (50,000 locals, 7.6 MB body)
    const blocked = wasmBlocked(p);
    const q = withLoops(blocked?.program ?? p); // as rendered: blocked distances, then D-term sums as loops
    const { body, red } = q;
    // a vector output rendered as a loop (src/compile/vout.ts): the code outside it and one term
    const vo = vectorOutput(body, red, blocked?.nOwn ?? p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
    if (vo) {
      const size = 5 * (vo.live.reduce((a, b) => a + b, 0) + 16);
      return size > MAX_SIZE ? `the program is too large for one WebAssembly function (size ${size} > ${MAX_SIZE})` : null;
    }
    // the general vector state (./vstate.ts): the code outside its loops and one copy of each loop
    const vs = wasmVectorState(q, blocked?.nOwn ?? p.slots.length);
    if (vs) {
      const size = vectorStateSize(body, red, vs);
      return size > MAX_SIZE ? `the program is too large for one WebAssembly function (size ${size} > ${MAX_SIZE})` : null;
    }
    const merges = replicatedState(p) ? 0 : 3; // selections never merge
    const size = 5 * body.code.length + 4 * red.update.code.length + merges * red.merge.code.length + red.finalize.code.length + 4 * red.state.length;
    return size > MAX_SIZE ? `the program is too large for one WebAssembly function (size ${size} > ${MAX_SIZE})` : null;
  },
  compile(p: KernelProgram): BlockingKernel {
    let k = compiled.get(p.key);
    if (!k) {
      const why = wasmBackend.declines(p);
      if (why !== null) throw new KeOpsError(`backend "wasm": ${why}`);
      try {
        k = compileWasm(p);
      } catch (e) {
        throw new KeOpsError(`backend "wasm": the kernel did not compile: ${e instanceof Error ? e.message : String(e)}`);
      }
      compiled.set(p.key, k);
    }
    return k;
  },
};
