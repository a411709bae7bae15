/**
 * What the worker pools of the JS and wasm backends share: the thread count and when threads can
 * be used, the control block of a parallel run (rows done, next row, failure text, all in shared
 * memory), the chunk loop both the calling thread and the workers run, the workers' epilogue, and
 * joining a run (blocking with Atomics.wait, or awaiting Atomics.waitAsync). Worker code is plain
 * source text started by the host (src/platform), so the functions embedded in it stay
 * self-contained.
 *
 * A run is over when all its rows are done, whoever did them: the calling thread of a blocking
 * run takes chunks too, so a worker that never started (a browser refusing Blob workers) delays
 * nothing and cannot hang it.
 */
import { KeOpsError, argError } from "../errors.js";
import { platform, type WorkerHandle } from "../platform/index.js";
import { cacheLimits } from "../compile/lru.js";

let envSeen: string | undefined;
let envThreads = 0;
let chosen: number | undefined;

/**
 * Sets how many threads the CPU backends use for a large call (the calling thread included);
 * `undefined` goes back to the default: `KEOPS_TS_THREADS` in Node, else every core.
 */
export function setThreads(n: number | undefined): void {
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) argError("n", "a positive integer or undefined", n);
  chosen = n;
}

/** Threads to use: {@link setThreads}, else `KEOPS_TS_THREADS`, else every core (read on every call: cheap, and tests change it). */
export function threadCount(): number {
  if (chosen !== undefined) return chosen;
  const env = platform().envThreads();
  if (env === undefined || env === "") return platform().cores();
  if (env !== envSeen) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new KeOpsError(`KEOPS_TS_THREADS: expected a positive integer, got ${JSON.stringify(env)}`);
    envSeen = env;
    envThreads = n;
  }
  return envThreads;
}

/** Why the workers of this process cannot be used any more (one failed to start), or undefined. */
let broken: string | undefined;

/** Why a call (blocking or async) of the JS and wasm backends runs on the calling thread alone, or null when it may use {@link threadCount} threads. */
export function singleThreadReason(async: boolean): string | null {
  const p = platform();
  return p.noWorkers() ?? (broken !== undefined ? `a worker thread failed to start: ${broken}` : null) ?? (async ? null : p.noBlocking());
}

/** Threads a call may use: {@link threadCount}, or 1 where {@link singleThreadReason} says why not. */
export function usableThreads(async: boolean): number {
  return singleThreadReason(async) === null ? threadCount() : 1;
}

/**
 * Words of the control block: rows done (by anyone), next row to hand out, failure text length,
 * rows done by workers, workers inside a task. (`runChunks` and `finishTask` spell them as
 * numbers: they run in the workers as source text, without this module.)
 */
const DONE = 0, NEXT = 1, FAILED = 2, BY_WORKERS = 3, ACTIVE = 4;

/** The shared control block of one parallel run (words: see above). */
export interface Control {
  readonly sync: Int32Array;
  readonly err: SharedArrayBuffer;
}

/** A fresh control block. */
export function newControl(): Control {
  return { sync: new Int32Array(new SharedArrayBuffer(32)), err: new SharedArrayBuffer(4096) };
}

/**
 * Takes chunks of `chunk` rows from the shared counter until `total` rows (batch-major: row r is
 * row r mod nOuter of batch ⌊r / nOuter⌋) are handed out; `run(b, i0, i1)` computes rows i0..i1 of
 * batch b. Counts the rows done (and, for a worker, its own) and wakes the caller at the end.
 */
export function runChunks(sync: Int32Array, total: number, nOuter: number, chunk: number, run: (b: number, i0: number, i1: number) => void, worker = false): void {
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
    if (worker) Atomics.add(sync, 3, end - start);
    if (Atomics.add(sync, 0, end - start) + (end - start) >= total) Atomics.notify(sync, 0);
  }
}

/** A worker's last step of a task: record its failure (if any) and stop the run, leave, wake the caller. */
function finishTask(sync: Int32Array, err: SharedArrayBuffer, failure: unknown): void {
  if (failure !== undefined) {
    const f = failure as { stack?: string } | null;
    const msg = new TextEncoder().encode(String((f && f.stack) || failure));
    const buf = new Uint8Array(err);
    const n = Math.max(1, Math.min(msg.length, buf.length));
    buf.set(msg.subarray(0, n));
    Atomics.store(sync, 1, 0x3fffffff);
    Atomics.store(sync, 2, n);
  }
  Atomics.sub(sync, 4, 1);
  Atomics.notify(sync, 0);
}

/**
 * Worker source around a task body: the body (JS statements) sees the message `m` and the
 * helpers above, and runs its chunks with `runChunks(..., true)`; `setup` is top-level code
 * (imported functions, and `kernels`, the Map of compiled kernels that `m.forget` empties).
 */
export function workerSource(setup: string, body: string): string {
  return `${runChunks.toString()}
${finishTask.toString()}
${setup}
onMessage((m) => {
  if (m.hello) return void Atomics.add(m.hello, 0, 1);
  Atomics.add(m.sync, 4, 1);
  let failure;
  try {
    if (m.forget) kernels.clear();
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
  readonly worker: WorkerHandle;
  readonly known: Set<string>;
}

/**
 * Records that kernel `key` goes with the next message to `w`: `send` when the worker does not
 * hold it yet; `forget` when the worker must first drop every kernel it holds (its cache is
 * bounded like the others: see src/compile/lru.ts).
 */
export function toSend(w: PoolWorker, key: string): { send: boolean; forget: boolean } {
  if (w.known.has(key)) return { send: false, forget: false };
  const forget = w.known.size >= cacheLimits.kernels;
  if (forget) w.known.clear();
  w.known.add(key);
  return { send: true, forget };
}

/** Workers that have started running (a word they increment first thing; shared where workers can run). */
const startedWord = new Int32Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(4) : new ArrayBuffer(4));

/**
 * For tests: rows computed by worker threads (proof that workers ran), and how many workers have
 * started (a browser starts a worker only when its creator's thread yields to its event loop).
 */
export const poolStats = { workerRows: 0, started: (): number => Atomics.load(startedWord, 0) };

/** Workers running one source, started on demand, never holding the process open when idle. */
export class WorkerSet<W extends PoolWorker = PoolWorker> {
  private readonly all: W[] = [];
  constructor(
    private readonly source: string,
    private readonly make: (worker: WorkerHandle) => W = (worker) => ({ worker, known: new Set<string>() }) as unknown as W,
  ) {}

  /** The first `n` workers, starting the missing ones. */
  take(n: number): W[] {
    while (this.all.length < n) {
      const worker = platform().spawn(this.source, (message) => {
        broken ??= message;
      });
      worker.postMessage({ hello: startedWord });
      this.all.push(this.make(worker));
    }
    return this.all.slice(0, n);
  }
}

/** Stops handing out rows (after a failure). */
function cancel(c: Control): void {
  Atomics.store(c.sync, NEXT, 0x3fffffff);
}

/** A worker's failure text, or undefined. */
function failureText(c: Control): string | undefined {
  const n = Atomics.load(c.sync, FAILED);
  return n === 0 ? undefined : new TextDecoder().decode(new Uint8Array(c.err).slice(0, n));
}

function finished(c: Control, total: number): boolean {
  return Atomics.load(c.sync, DONE) >= total || Atomics.load(c.sync, FAILED) > 0;
}

/** Blocks until the run's `total` rows are done (the caller took its share already); rethrows a worker's failure. */
export function joinWorkers(c: Control, total: number, what: string): void {
  for (;;) {
    const d = Atomics.load(c.sync, DONE);
    if (finished(c, total)) break;
    Atomics.wait(c.sync, DONE, d);
  }
  poolStats.workerRows += Atomics.load(c.sync, BY_WORKERS);
  const failure = failureText(c);
  if (failure === undefined) return;
  abandon(c);
  throw new KeOpsError(`a ${what} worker thread failed: ${failure}`);
}

/** After the calling thread's own share failed: stops the run and waits for the workers inside it (blocking). */
export function abandon(c: Control): void {
  cancel(c);
  while (Atomics.load(c.sync, ACTIVE) > 0) Atomics.wait(c.sync, DONE, Atomics.load(c.sync, DONE), 5);
}

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/**
 * Settles when the run's `total` rows are done by the workers. Rejects when a worker failed, or
 * could not start. A timer keeps Node's event loop alive meanwhile (a pending waitAsync does
 * not, and idle workers are unreferenced).
 */
export async function joinWorkersAsync(c: Control, total: number, what: string): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  let failure: string | undefined;
  try {
    while (!finished(c, total)) {
      if (broken !== undefined) {
        // stop the run (a late worker then takes no row), let the started ones finish their chunk
        cancel(c);
        while (Atomics.load(c.sync, ACTIVE) > 0) await pause();
        if (Atomics.load(c.sync, DONE) < total) failure = `a worker failed to start (${broken}); later calls run on the calling thread`;
        break;
      }
      const d = Atomics.load(c.sync, DONE);
      // a timeout, to notice a worker that failed to start; hosts without waitAsync poll
      const w = typeof Atomics.waitAsync === "function" ? Atomics.waitAsync(c.sync, DONE, d, 200) : { async: true, value: pause() };
      if (w.async) await w.value;
    }
    failure ??= failureText(c);
    if (failure !== undefined) {
      cancel(c);
      while (Atomics.load(c.sync, ACTIVE) > 0) await pause();
    }
  } finally {
    clearInterval(alive);
  }
  poolStats.workerRows += Atomics.load(c.sync, BY_WORKERS);
  if (failure !== undefined) throw new KeOpsError(`a ${what} worker thread failed: ${failure}`);
}
