/**
 * A pool of worker threads for kernels that are source text (JS, and any backend whose kernels a
 * worker can build from a string or a transferable module). Work is split into chunks of output
 * rows handed out through an atomic counter; the calling thread takes chunks too (sync runs), or
 * waits with Atomics.waitAsync (async runs). All memory is shared (SharedArrayBuffer).
 */
import { Worker } from "node:worker_threads";
import os from "node:os";
import { KeOpsError } from "../errors.js";
import type { KernelJob } from "../compile/program.js";
import { dtypeOfArray, type TensorData } from "../tensor.js";

const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
let envSeen: string | undefined;
let envThreads = 0;

/** Threads to use: `KEOPS_TS_THREADS`, else every core (read on every call: cheap, and tests change it). */
export function threadCount(): number {
  const env = process.env.KEOPS_TS_THREADS;
  if (env === undefined || env === "") return cores;
  if (env !== envSeen) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new KeOpsError(`KEOPS_TS_THREADS: expected a positive integer, got ${JSON.stringify(env)}`);
    envSeen = env;
    envThreads = n;
  }
  return envThreads;
}

/** Sync words: [0] finished workers, [1] next chunk, [2] error length. */
const DONE = 0, NEXT = 1, ERRLEN = 2;

/**
 * Runs chunks of the job's rows until none is left. `run(b, i0, i1)` computes rows i0..i1 of batch b.
 * Embedded as text in the workers, so it must stay self-contained.
 */
function runChunks(sync: Int32Array, total: number, nOuter: number, chunk: number, run: (b: number, i0: number, i1: number) => void): void {
  for (;;) {
    const start = Atomics.add(sync, 1, chunk);
    if (start >= total) return;
    const end = Math.min(total, start + chunk);
    let r = start;
    while (r < end) {
      const b = Math.floor(r / nOuter);
      const i0 = r - b * nOuter;
      const i1 = Math.min(nOuter, i0 + (end - r));
      run(b, i0, i1);
      r += i1 - i0;
    }
  }
}

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const kernels = new Map();
${runChunks.toString()}
parentPort.on("message", (m) => {
  const sync = m.sync;
  try {
    let k = kernels.get(m.key);
    if (!k) { k = new Function(m.src)(); kernels.set(m.key, k); }
    const { inputs, outputs, inOffsets, outOffsets, nOuter, nInner, nSlots, nOut } = m;
    runChunks(sync, m.total, nOuter, m.chunk, (b, i0, i1) => {
      k(inputs, inOffsets.subarray(b * nSlots, (b + 1) * nSlots), nInner, i0, i1, outputs, outOffsets.subarray(b * nOut, (b + 1) * nOut));
    });
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
  worker: Worker;
  known: Set<string>;
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

function shared(a: TensorData): TensorData {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const dt = dtypeOfArray(a);
  const bytes = a.BYTES_PER_ELEMENT * a.length;
  const s = dt === "float32" ? new Float32Array(new SharedArrayBuffer(bytes)) : dt === "float64" ? new Float64Array(new SharedArrayBuffer(bytes)) : new Int32Array(new SharedArrayBuffer(bytes));
  s.set(a);
  return s;
}

function sharedOffsets(a: Int32Array | Float64Array): Float64Array {
  const s = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, a.length)));
  s.set(a);
  return s;
}

/** A JS kernel function as rendered: one batch, rows i0..i1. */
export type RowKernel = (IN: readonly TensorData[], OFF: ArrayLike<number>, nI: number, i0: number, i1: number, OUT: readonly TensorData[], OOFF: ArrayLike<number>) => void;

interface Prepared {
  sync: Int32Array;
  err: SharedArrayBuffer;
  message: Record<string, unknown>;
  outputs: TensorData[];
  total: number;
  chunk: number;
}

function prepare(job: KernelJob, key: string, threads: number): Prepared {
  const total = job.nBatch * job.nOuter;
  const chunk = Math.max(1, Math.min(256, Math.ceil(total / (threads * 8))));
  const sync = new Int32Array(new SharedArrayBuffer(16));
  const err = new SharedArrayBuffer(4096);
  const outputs = job.outputs.map((o) => allocateShared(o));
  const message = {
    key, sync, err, total, chunk,
    inputs: job.inputs.map(shared),
    outputs,
    inOffsets: sharedOffsets(job.inOffsets),
    outOffsets: sharedOffsets(job.outOffsets),
    nOuter: job.nOuter, nInner: job.nInner,
    nSlots: job.inputs.length, nOut: job.outputs.length,
  };
  return { sync, err, message, outputs, total, chunk };
}

function allocateShared(like: TensorData): TensorData {
  const dt = dtypeOfArray(like);
  const n = like.length;
  const buf = new SharedArrayBuffer(like.BYTES_PER_ELEMENT * Math.max(1, n));
  return dt === "float32" ? new Float32Array(buf, 0, n) : dt === "float64" ? new Float64Array(buf, 0, n) : new Int32Array(buf, 0, n);
}

function post(pw: PoolWorker[], key: string, src: string, message: Record<string, unknown>): void {
  for (const w of pw) {
    const first = !w.known.has(key);
    w.known.add(key);
    w.worker.postMessage(first ? { ...message, src } : message);
  }
}

function finish(p: Prepared, job: KernelJob): void {
  const n = Atomics.load(p.sync, ERRLEN);
  if (n > 0) throw new KeOpsError(`a worker thread failed: ${new TextDecoder().decode(new Uint8Array(p.err).slice(0, n))}`);
  job.outputs.forEach((o, k) => o.set(p.outputs[k]!));
}

/** Runs `kernel` (whose source is `src`) over the job with `threads` threads, blocking. */
export function runPooled(job: KernelJob, key: string, src: string, kernel: RowKernel, threads: number): void {
  const p = prepare(job, key, threads);
  const pw = ensureWorkers(threads - 1);
  post(pw, key, src, p.message);
  const m = p.message as unknown as { inputs: TensorData[]; outputs: TensorData[]; inOffsets: Float64Array; outOffsets: Float64Array; nSlots: number; nOut: number };
  try {
    runChunks(p.sync, p.total, job.nOuter, p.chunk, (b, i0, i1) =>
      kernel(m.inputs, m.inOffsets.subarray(b * m.nSlots, (b + 1) * m.nSlots), job.nInner, i0, i1, m.outputs, m.outOffsets.subarray(b * m.nOut, (b + 1) * m.nOut)),
    );
  } finally {
    for (;;) {
      const d = Atomics.load(p.sync, DONE);
      if (d >= pw.length) break;
      Atomics.wait(p.sync, DONE, d);
    }
  }
  finish(p, job);
}

/** Runs the job entirely on worker threads; the returned promise settles when they are done. */
export async function runPooledAsync(job: KernelJob, key: string, src: string, threads: number): Promise<void> {
  const p = prepare(job, key, threads);
  const pw = ensureWorkers(Math.max(1, threads));
  // a pending Atomics.waitAsync does not keep Node alive: hold the workers referenced meanwhile
  for (const w of pw) w.worker.ref();
  try {
    post(pw, key, src, p.message);
    for (;;) {
      const d = Atomics.load(p.sync, DONE);
      if (d >= pw.length) break;
      const w = Atomics.waitAsync(p.sync, DONE, d);
      if (w.async) await w.value;
    }
  } finally {
    for (const w of pw) w.worker.unref();
  }
  finish(p, job);
}

/** Reads `NEXT` for tests of the chunking (exported for introspection only). */
export const SYNC_WORDS = { DONE, NEXT, ERRLEN } as const;
