/**
 * What the worker pools of the JS and wasm backends share: the thread count, the control block of
 * a parallel run (finished workers, next chunk, failure text, all in shared memory), the chunk
 * loop both the calling thread and the workers run, the workers' epilogue, and joining a run
 * (blocking with Atomics.wait, or awaiting Atomics.waitAsync). Worker code is plain source text
 * (`new Worker(src, { eval: true })`), so the functions embedded in it stay self-contained.
 */
import { Worker } from "node:worker_threads";
import os from "node:os";
import { KeOpsError } from "../errors.js";

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

/** The shared control block of one parallel run. Words of `sync`: [0] finished workers, [1] next row, [2] failure length. */
export interface Control {
  readonly sync: Int32Array;
  readonly err: SharedArrayBuffer;
}

/** A fresh control block. */
export function newControl(): Control {
  return { sync: new Int32Array(new SharedArrayBuffer(16)), err: new SharedArrayBuffer(4096) };
}

/**
 * Takes chunks of `chunk` rows from the shared counter until `total` rows (batch-major: row r is
 * row r mod nOuter of batch ⌊r / nOuter⌋) are handed out; `run(b, i0, i1)` computes rows i0..i1 of batch b.
 */
export function runChunks(sync: Int32Array, total: number, nOuter: number, chunk: number, run: (b: number, i0: number, i1: number) => void): void {
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

/** A worker's last step of a task: record its failure (if any), count itself done, wake the caller. */
function finishTask(sync: Int32Array, err: SharedArrayBuffer, failure: unknown): void {
  if (failure !== undefined) {
    const f = failure as { stack?: string } | null;
    const msg = new TextEncoder().encode(String((f && f.stack) || failure));
    const buf = new Uint8Array(err);
    const n = Math.min(msg.length, buf.length);
    buf.set(msg.subarray(0, n));
    Atomics.store(sync, 2, n);
  }
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
}

/**
 * Worker source around a task body: the body (JS statements) sees the message `m` and the
 * helpers above; `setup` is top-level code (caches, imported functions).
 */
export function workerSource(setup: string, body: string): string {
  return `const { parentPort } = require("node:worker_threads");
${runChunks.toString()}
${finishTask.toString()}
${setup}
parentPort.on("message", (m) => {
  let failure;
  try {
${body}
  } catch (e) {
    failure = e === undefined ? new Error("undefined thrown") : e;
  }
  finishTask(m.sync, m.err, failure);
});
`;
}

/** A pool worker and the kernels it has been sent. */
export interface PoolWorker {
  readonly worker: Worker;
  readonly known: Set<string>;
}

/** Workers running one source, started on demand, never holding the process open when idle. */
export class WorkerSet<W extends PoolWorker = PoolWorker> {
  private readonly all: W[] = [];
  constructor(
    private readonly source: string,
    private readonly make: (worker: Worker) => W = (worker) => ({ worker, known: new Set<string>() }) as unknown as W,
  ) {}

  /** The first `n` workers, starting the missing ones. */
  take(n: number): W[] {
    while (this.all.length < n) {
      const worker = new Worker(this.source, { eval: true });
      worker.unref();
      this.all.push(this.make(worker));
    }
    return this.all.slice(0, n);
  }
}

function failureOf(c: Control, what: string): void {
  const n = Atomics.load(c.sync, 2);
  if (n > 0) throw new KeOpsError(`a ${what} worker thread failed: ${new TextDecoder().decode(new Uint8Array(c.err).slice(0, n))}`);
}

/** Blocks until `n` workers are done; rethrows a worker's failure. */
export function joinWorkers(c: Control, n: number, what: string): void {
  for (;;) {
    const d = Atomics.load(c.sync, 0);
    if (d >= n) break;
    Atomics.wait(c.sync, 0, d);
  }
  failureOf(c, what);
}

/** Settles when the workers are done (they are kept referenced meanwhile: a pending waitAsync does not keep Node alive). */
export async function joinWorkersAsync(c: Control, workers: readonly PoolWorker[], what: string): Promise<void> {
  for (const w of workers) w.worker.ref();
  try {
    for (;;) {
      const d = Atomics.load(c.sync, 0);
      if (d >= workers.length) break;
      const w = Atomics.waitAsync(c.sync, 0, d);
      if (w.async) await w.value;
    }
  } finally {
    for (const w of workers) w.worker.unref();
  }
  failureOf(c, what);
}
