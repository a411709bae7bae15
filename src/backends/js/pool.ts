/**
 * Worker threads for JS kernels: each worker compiles a kernel's source once (sent with its first
 * job) and takes chunks of output rows; all data lives in SharedArrayBuffers (inputs the caller
 * did not allocate shared are copied once per call).
 */
import type { KernelJob } from "../../compile/program.js";
import { dtypeOfArray, type TensorData } from "../../tensor.js";
import { WorkerSet, abandon, joinWorkers, joinWorkersAsync, newControl, participant, runShare, toSend, workerSource, type Control, type PoolWorker } from "../workers.js";

/** A JS kernel function as rendered: one batch, rows i0..i1. */
export type RowKernel = (IN: readonly TensorData[], OFF: ArrayLike<number>, nI: number, i0: number, i1: number, OUT: readonly TensorData[], OOFF: ArrayLike<number>) => void;

const workers = new WorkerSet(
  workerSource(
    "const kernels = new Map();",
    `    let k = kernels.get(m.key);
    if (!k) { k = new Function(m.src)(); kernels.set(m.key, k); }
    const { inputs, outputs, inOffsets, outOffsets, nOuter, nInner, nSlots, nOut } = m;
    runChunks(m.sync, m.total, nOuter, m.chunk, (b, i0, i1) =>
      k(inputs, inOffsets.subarray(b * nSlots, (b + 1) * nSlots), nInner, i0, i1, outputs, outOffsets.subarray(b * nOut, (b + 1) * nOut)), m.slot, m.die);`,
  ),
);

function sharedLike<T extends TensorData | Float64Array>(a: T, copy: boolean): T {
  if (copy && a.buffer instanceof SharedArrayBuffer) return a;
  const buf = new SharedArrayBuffer(a.BYTES_PER_ELEMENT * Math.max(1, a.length));
  const dt = a instanceof Float64Array ? "float64" : dtypeOfArray(a as TensorData);
  const s = (dt === "float32" ? new Float32Array(buf, 0, a.length) : dt === "float64" ? new Float64Array(buf, 0, a.length) : new Int32Array(buf, 0, a.length)) as T;
  if (copy) s.set(a as never);
  return s;
}

interface Task {
  readonly control: Control;
  readonly message: {
    key: string; sync: Int32Array; err: SharedArrayBuffer; total: number; chunk: number;
    inputs: TensorData[]; outputs: TensorData[]; inOffsets: Float64Array; outOffsets: Float64Array;
    nOuter: number; nInner: number; nSlots: number; nOut: number;
  };
}

function task(job: KernelJob, key: string, threads: number): Task {
  const total = job.nBatch * job.nOuter;
  const chunk = Math.max(1, Math.min(256, Math.ceil(total / (threads * 8))));
  const control = newControl(total, job.nOuter, chunk, threads);
  return {
    control,
    message: {
      key, sync: control.sync, err: control.err, total, chunk,
      inputs: job.inputs.map((a) => sharedLike(a, true)),
      outputs: job.outputs.map((a) => sharedLike(a, false)),
      inOffsets: sharedLike(Float64Array.from(job.inOffsets), true),
      outOffsets: sharedLike(Float64Array.from(job.outOffsets), true),
      nOuter: job.nOuter, nInner: job.nInner, nSlots: job.inputs.length, nOut: job.outputs.length,
    },
  };
}

function post(pw: readonly PoolWorker[], src: string, t: Task): void {
  pw.forEach((w, k) => {
    const { send, forget } = toSend(w, t.message.key);
    w.worker.postMessage({ ...t.message, ...participant(t.control, k), ...(send ? { src, forget } : {}) });
  });
}

function copyOut(t: Task, job: KernelJob): void {
  job.outputs.forEach((o, k) => o.set(t.message.outputs[k]!));
}

/** Runs `kernel` (whose source is `src`) over the job on `threads` threads, this one included, blocking. */
export function runPooled(job: KernelJob, key: string, src: string, kernel: RowKernel, threads: number): void {
  const t = task(job, key, threads);
  const pw = workers.take(threads - 1);
  post(pw, src, t);
  const m = t.message;
  const rows = (b: number, i0: number, i1: number): void =>
    kernel(m.inputs, m.inOffsets.subarray(b * m.nSlots, (b + 1) * m.nSlots), m.nInner, i0, i1, m.outputs, m.outOffsets.subarray(b * m.nOut, (b + 1) * m.nOut));
  let ms: number;
  try {
    ms = runShare(t.control, rows);
  } catch (e) {
    abandon(t.control, pw);
    throw e;
  }
  joinWorkers(t.control, pw, "JS", rows, ms);
  copyOut(t, job);
}

/** Runs the job entirely on worker threads; the returned promise settles when they are done. */
export async function runPooledAsync(job: KernelJob, key: string, src: string, threads: number): Promise<void> {
  const t = task(job, key, threads);
  const pw = workers.take(Math.max(1, threads));
  post(pw, src, t);
  await joinWorkersAsync(t.control, pw, "JS");
  copyOut(t, job);
}
