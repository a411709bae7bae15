/**
 * Worker threads for wasm kernels: each worker receives the shared `WebAssembly.Memory` once and
 * each compiled `WebAssembly.Module` once (postMessage), instantiates it on that memory, and takes
 * chunks of rows from an atomic counter. Sync runs compute a share on the calling thread and block
 * on `Atomics.wait`; async runs leave the calling thread free and await `Atomics.waitAsync`.
 */
import { Worker } from "node:worker_threads";
import { erf } from "../../compile/ssa.js";
import { KeOpsError } from "../../errors.js";
import type { WasmMemory, WasmModule } from "./api.js";

/** Sync words: [0] finished workers, [1] next work row, [2] error length. */
const DONE = 0, ERRLEN = 2;

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

/**
 * Runs chunks until none is left; embedded as text in the workers, so it stays self-contained.
 */
function runChunks(
  sync: Int32Array,
  r: { total: number; chunk: number; nOuter: number; nInner: number; table: number; tableStride: number; stride: number; scratch: number },
  k: (t: number, i0: number, i1: number, nI: number, s: number, scratch: number) => void,
): void {
  for (;;) {
    const start = Atomics.add(sync, 1, r.chunk);
    if (start >= r.total) return;
    const end = Math.min(r.total, start + r.chunk);
    let row = start;
    while (row < end) {
      const b = Math.floor(row / r.nOuter);
      const i0 = row - b * r.nOuter;
      const i1 = Math.min(r.nOuter, i0 + (end - row));
      k(r.table + b * r.tableStride, i0, i1, r.nInner, r.stride, r.scratch);
      row += i1 - i0;
    }
  }
}

/** Functions the kernels may import (scalar fallbacks), as source for the workers. */
const MATH_SOURCE = `{ sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, erf, log1p: Math.log1p, expm1: Math.expm1, atan2: Math.atan2, pow: Math.pow }`;

/** The import object of the scalar fallbacks (same as the workers'). */
export const MATH_IMPORTS: Record<string, (...x: number[]) => number> = new Function("erf", `return ${MATH_SOURCE};`)(erf);

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
${erf.toString()}
const M = ${MATH_SOURCE};
${runChunks.toString()}
let memory;
const kernels = new Map();
parentPort.on("message", (m) => {
  const sync = m.sync;
  try {
    if (m.memory) {
      memory = m.memory;
      kernels.clear();
    }
    let k = kernels.get(m.key);
    if (!k) {
      k = new WebAssembly.Instance(m.module, { env: { mem: memory }, m: M }).exports.k;
      kernels.set(m.key, k);
    }
    runChunks(sync, m, k);
  } catch (e) {
    const msg = new TextEncoder().encode(String(e && e.stack || e));
    const buf = new Uint8Array(m.err);
    const n = Math.min(msg.length, buf.length);
    buf.set(msg.subarray(0, n));
    Atomics.store(sync, 2, n);
  }
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
});
`;

interface PoolWorker {
  readonly worker: Worker;
  readonly known: Set<string>;
  memory?: WasmMemory;
}

const workers: PoolWorker[] = [];

function ensureWorkers(n: number): PoolWorker[] {
  while (workers.length < n) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    workers.push({ worker, known: new Set() });
  }
  return workers.slice(0, n);
}

interface Started {
  readonly sync: Int32Array;
  readonly err: SharedArrayBuffer;
  readonly pw: PoolWorker[];
}

function start(run: WasmRun, nWorkers: number): Started {
  const sync = new Int32Array(new SharedArrayBuffer(16));
  const err = new SharedArrayBuffer(4096);
  const pw = ensureWorkers(nWorkers);
  const { key, module, memory, total, chunk, nOuter, nInner, table, tableStride, stride } = run;
  pw.forEach((w, n) => {
    const scratch = run.scratch + (n + 1) * run.scratchBytes;
    const msg: Record<string, unknown> = { key, total, chunk, nOuter, nInner, table, tableStride, stride, scratch, sync, err };
    if (w.memory !== memory) {
      // a new memory: the worker drops its instances, every module is sent again
      msg.memory = memory;
      w.memory = memory;
      w.known.clear();
    }
    if (!w.known.has(key)) {
      msg.module = module;
      w.known.add(key);
    }
    w.worker.postMessage(msg);
  });
  return { sync, err, pw };
}

function check(s: Started): void {
  const n = Atomics.load(s.sync, ERRLEN);
  if (n > 0) throw new KeOpsError(`a wasm worker thread failed: ${new TextDecoder().decode(new Uint8Array(s.err).slice(0, n))}`);
}

/** Runs on `threads` threads (this one included), blocking until all are done. */
export function runParallel(run: WasmRun, kernel: WasmKernelFn, threads: number): void {
  const s = start(run, threads - 1);
  try {
    runChunks(s.sync, run, kernel);
  } finally {
    for (;;) {
      const d = Atomics.load(s.sync, DONE);
      if (d >= s.pw.length) break;
      Atomics.wait(s.sync, DONE, d);
    }
  }
  check(s);
}

/** Runs on `threads` worker threads; settles when they are done. */
export async function runParallelAsync(run: WasmRun, threads: number): Promise<void> {
  const s = start(run, Math.max(1, threads));
  // a pending Atomics.waitAsync does not keep Node alive: hold the workers referenced meanwhile
  for (const w of s.pw) w.worker.ref();
  try {
    for (;;) {
      const d = Atomics.load(s.sync, DONE);
      if (d >= s.pw.length) break;
      const w = Atomics.waitAsync(s.sync, DONE, d);
      if (w.async) await w.value;
    }
  } finally {
    for (const w of s.pw) w.worker.unref();
  }
  check(s);
}

/** Runs chunks on the calling thread only. */
export function runHere(run: WasmRun, kernel: WasmKernelFn): void {
  const sync = new Int32Array(4);
  runChunks(sync, run, kernel);
}
