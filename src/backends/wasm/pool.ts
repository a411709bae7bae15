/**
 * Worker threads for wasm kernels (Node worker threads or Web Workers, src/platform): each worker receives the shared `WebAssembly.Memory` once and
 * each compiled `WebAssembly.Module` once (postMessage), instantiates it on that memory, and takes
 * chunks of rows from an atomic counter. Sync runs compute a share on the calling thread and block
 * on `Atomics.wait`; async runs leave the calling thread free and await `Atomics.waitAsync`.
 */
import { erf } from "../../ir/ssa.js";
import { WorkerSet, abandon, joinWorkers, joinWorkersAsync, newControl, participant, runChunks, runShare, toSend, workerSource, type Control, type PoolWorker } from "../workers.js";
import type { WasmMemory, WasmModule } from "./api.js";

/** One parallel run: `total` work rows (batch-major) in chunks; row r is batch ⌊r/nOuter⌋. */
export interface WasmRun {
  readonly key: string;
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly total: number;
  readonly chunk: number;
  readonly nOuter: number;
  readonly nInner: number;
  readonly table: number;
  readonly tableStride: number;
  readonly stride: number;
  /** Scratch bytes of thread t (the calling thread is 0) at `scratch + t * scratchBytes`. */
  readonly scratch: number;
  readonly scratchBytes: number;
}

/** The kernel export's signature. */
export type WasmKernelFn = (table: number, i0: number, i1: number, nI: number, stride: number, scratch: number) => void;

/** Runs a wasm run's chunks with `k` (embedded as text in the workers, so self-contained). */
function runWasmChunks(
  sync: Int32Array,
  r: { total: number; chunk: number; nOuter: number; nInner: number; table: number; tableStride: number; stride: number; scratch: number },
  k: (t: number, i0: number, i1: number, nI: number, s: number, scratch: number) => void,
  slot = 0,
  die = false,
): void {
  runChunks(sync, r.total, r.nOuter, r.chunk, (b, i0, i1) => k(r.table + b * r.tableStride, i0, i1, r.nInner, r.stride, r.scratch), slot, die);
}

/** Functions the kernels may import (scalar fallbacks), as source for the workers. */
const MATH_SOURCE = `{ sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, erf, log1p: Math.log1p, expm1: Math.expm1, atan2: Math.atan2, pow: Math.pow }`;

/** The import object of the scalar fallbacks (same as the workers'). */
export const MATH_IMPORTS: Record<string, (...x: number[]) => number> = new Function("erf", `return ${MATH_SOURCE};`)(erf);

const workers = new WorkerSet<PoolWorker & { memory?: WasmMemory }>(
  workerSource(
    `${erf.toString()}
const M = ${MATH_SOURCE};
${runWasmChunks.toString()}
let memory;
const kernels = new Map();`,
    `    if (m.memory) {
      memory = m.memory;
      kernels.clear();
    }
    let k = kernels.get(m.key);
    if (!k) {
      k = new WebAssembly.Instance(m.module, { env: { mem: memory }, m: M }).exports.k;
      kernels.set(m.key, k);
    }
    runWasmChunks(m.sync, m, k, m.slot, m.die);`,
  ),
  (worker) => ({ worker, known: new Set<string>() }),
);

interface Started {
  readonly control: Control;
  readonly pw: (PoolWorker & { memory?: WasmMemory })[];
}

function start(run: WasmRun, nWorkers: number): Started {
  const control = newControl(run.total, run.nOuter, run.chunk, nWorkers + 1);
  const pw = workers.take(nWorkers);
  const { key, module, memory, total, chunk, nOuter, nInner, table, tableStride, stride } = run;
  pw.forEach((w, n) => {
    const scratch = run.scratch + (n + 1) * run.scratchBytes;
    const msg: Record<string, unknown> = { key, total, chunk, nOuter, nInner, table, tableStride, stride, scratch, sync: control.sync, err: control.err, ...participant(control, n) };
    if (w.memory !== memory) {
      // a new memory: the worker drops its instances, every module is sent again
      msg.memory = memory;
      w.memory = memory;
      w.known.clear();
    }
    const { send, forget } = toSend(w, key);
    if (send) Object.assign(msg, { module, forget });
    w.worker.postMessage(msg);
  });
  return { control, pw };
}

/** Runs on `threads` threads (this one included), blocking until all are done. */
export function runParallel(run: WasmRun, kernel: WasmKernelFn, threads: number): void {
  const s = start(run, threads - 1);
  const rows = (b: number, i0: number, i1: number): void => kernel(run.table + b * run.tableStride, i0, i1, run.nInner, run.stride, run.scratch);
  let ms: number;
  try {
    ms = runShare(s.control, rows);
  } catch (e) {
    abandon(s.control, s.pw);
    throw e;
  }
  joinWorkers(s.control, s.pw, "wasm", rows, ms);
}

/** Runs on `threads` worker threads; settles when they are done. */
export async function runParallelAsync(run: WasmRun, threads: number): Promise<void> {
  const s = start(run, Math.max(1, threads));
  await joinWorkersAsync(s.control, s.pw, "wasm");
}

/** Runs chunks on the calling thread only. */
export function runHere(run: WasmRun, kernel: WasmKernelFn): void {
  runWasmChunks(new Int32Array(16), run, kernel);
}
