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
 * rows done by workers, workers inside a task; from word 8 on, one claim per participant (the
 * calling thread 0, worker n at 8 + n): 1 + the first row of the chunk it is computing, 0 when
 * none. (`runChunks` and `finishTask` spell them as numbers: they run in the workers as source
 * text, without this module.)
 */
const DONE = 0, NEXT = 1, FAILED = 2, BY_WORKERS = 3, ACTIVE = 4, CLAIMS = 8;

/** The shared control block of one parallel run (words: see above), and the run's shape. */
export interface Control {
  readonly sync: Int32Array;
  readonly err: SharedArrayBuffer;
  /** Work rows (batch-major), rows per outer block, rows per chunk. */
  readonly total: number;
  readonly nOuter: number;
  readonly chunk: number;
  /** Tests: the worker slot told to stop dead (the calling thread waits for its claim before its own share). */
  dieSlot?: number;
}

/** A fresh control block for a run of `total` rows in chunks of `chunk`, on `threads` threads at most. */
export function newControl(total: number, nOuter: number, chunk: number, threads: number): Control {
  return { sync: new Int32Array(new SharedArrayBuffer(4 * (CLAIMS + 1 + Math.max(1, threads)))), err: new SharedArrayBuffer(4096), total, nOuter, chunk };
}

/**
 * Takes chunks of `chunk` rows from the shared counter until `total` rows (batch-major: row r is
 * row r mod nOuter of batch ⌊r / nOuter⌋) are handed out; `run(b, i0, i1)` computes rows i0..i1 of
 * batch b. Participant `slot` (0: the calling thread; n ≥ 1: worker n) records the chunk it holds
 * in its claim word, and counts the chunk's rows (a worker: also as its own) only if the claim is
 * still its own at the end: a chunk whose worker stalled (died) may have been taken over, and is
 * then counted by whoever took it. Wakes the caller at the end. `die` (tests only): the worker
 * stops dead holding its first chunk, as a thread that dies mid-chunk.
 */
export function runChunks(sync: Int32Array, total: number, nOuter: number, chunk: number, run: (b: number, i0: number, i1: number) => void, slot = 0, die = false): void {
  for (;;) {
    const start = Atomics.add(sync, 1, chunk);
    if (start >= total) return;
    Atomics.store(sync, 8 + slot, start + 1);
    if (die) throw { keopsDie: true };
    const end = Math.min(total, start + chunk);
    let r = start;
    while (r < end) {
      const b = Math.floor(r / nOuter);
      const i0 = r - b * nOuter;
      const i1 = Math.min(nOuter, i0 + (end - r));
      run(b, i0, i1);
      r += i1 - i0;
    }
    if (Atomics.compareExchange(sync, 8 + slot, start + 1, 0) !== start + 1) continue;
    if (slot > 0) Atomics.add(sync, 3, end - start);
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
 * helpers above, and runs its chunks with `runChunks(..., m.slot, m.die)`; `setup` is top-level
 * code (imported functions, and `kernels`, the Map of compiled kernels that `m.forget` empties).
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
    if (e && e.keopsDie) {
      // tests: this thread stops here, holding its chunk, as if it had died
      if (typeof process !== "undefined" && process.exit) process.exit(1);
      close();
      return;
    }
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
  /** Why this worker is out of use (it exited, or stalled holding a chunk that was taken over). */
  dead?: string;
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
 * For tests: rows computed by worker threads (proof that workers ran), how many workers have
 * started (a browser starts a worker only when its creator's thread yields to its event loop),
 * and chunks the calling thread took over from a stalled worker.
 */
export const poolStats = { workerRows: 0, started: (): number => Atomics.load(startedWord, 0), takenOver: 0 };

/**
 * How long a blocking run waits for a worker's chunk without any progress before the calling
 * thread computes that chunk itself (the worker has died, or is stalled): `stallMs`, or 5 × the
 * time the calling thread spent on its own share when that is longer. Tests only: `dieNext`, the
 * next worker sent a task stops dead holding its first chunk; `awaitWorkers`, the calling thread
 * of a blocking run starts its share only once a worker has taken a chunk (or all are handed
 * out, or 20 s passed), so that "workers took rows" does not depend on who is faster.
 */
export const poolLimits = { stallMs: 10000, dieNext: false, awaitWorkers: false };

/** Workers running one source, started on demand, never holding the process open when idle; a dead one is replaced. */
export class WorkerSet<W extends PoolWorker = PoolWorker> {
  private all: W[] = [];
  constructor(
    private readonly source: string,
    private readonly make: (worker: WorkerHandle) => W = (worker) => ({ worker, known: new Set<string>() }) as unknown as W,
  ) {}

  /** The first `n` live workers, starting the missing ones. */
  take(n: number): W[] {
    if (this.all.some((w) => w.dead !== undefined)) this.all = this.all.filter((w) => w.dead === undefined);
    while (this.all.length < n) {
      const entry: { w?: W } = {};
      const worker = platform().spawn(
        this.source,
        (message) => {
          broken ??= message;
        },
        (code) => {
          if (entry.w) entry.w.dead ??= `it exited with code ${code}`;
        },
      );
      worker.postMessage({ hello: startedWord });
      entry.w = this.make(worker);
      this.all.push(entry.w);
    }
    return this.all.slice(0, n);
  }
}

/**
 * The message fields every worker of a run gets: its participant slot (worker k of `pw`: slot
 * k + 1) and, in tests, the order to stop dead.
 */
export function participant(c: Control, k: number): { slot: number; die?: boolean } {
  if (poolLimits.dieNext) {
    poolLimits.dieNext = false;
    c.dieSlot = k + 1;
    return { slot: k + 1, die: true };
  }
  return { slot: k + 1 };
}

/** Runs the calling thread's share of a blocking run (participant 0); returns the milliseconds it took. */
export function runShare(c: Control, run: (b: number, i0: number, i1: number) => void): number {
  if (c.dieSlot !== undefined) {
    // tests: let the worker told to die claim its chunk first (or give up after 10 s)
    const t = Date.now();
    while (Atomics.load(c.sync, CLAIMS + c.dieSlot) === 0 && Date.now() - t < 10000) Atomics.wait(c.sync, DONE, Atomics.load(c.sync, DONE), 1);
  }
  if (poolLimits.awaitWorkers) {
    const t = Date.now();
    const n = Math.floor(c.sync.length - CLAIMS - 1);
    while (!claimed(c, n) && Atomics.load(c.sync, BY_WORKERS) === 0 && Atomics.load(c.sync, NEXT) < c.total && Date.now() - t < 20000)
      Atomics.wait(c.sync, DONE, Atomics.load(c.sync, DONE), 1);
  }
  const t0 = Date.now();
  runChunks(c.sync, c.total, c.nOuter, c.chunk, run);
  return Date.now() - t0;
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

/**
 * Computes, on the calling thread, the chunks that workers claimed but have not finished: each
 * claim is taken over atomically (the worker, if it ever finishes, then does not count it; both
 * write the same values). Their workers are put out of use.
 */
function takeOver(c: Control, pw: readonly PoolWorker[], run: (b: number, i0: number, i1: number) => void): void {
  for (let k = 0; k < pw.length; k++) {
    const word = CLAIMS + k + 1;
    const v = Atomics.load(c.sync, word);
    if (v === 0 || Atomics.compareExchange(c.sync, word, v, 0) !== v) continue;
    pw[k]!.dead ??= "it stalled holding a chunk";
    const start = v - 1, end = Math.min(c.total, start + c.chunk);
    for (let r = start; r < end; ) {
      const b = Math.floor(r / c.nOuter);
      const i0 = r - b * c.nOuter;
      const i1 = Math.min(c.nOuter, i0 + (end - r));
      run(b, i0, i1);
      r += i1 - i0;
    }
    poolStats.takenOver++;
    Atomics.add(c.sync, DONE, end - start);
  }
}

/** Whether a worker of the run holds a chunk. */
function claimed(c: Control, n: number): boolean {
  for (let k = 1; k <= n; k++) if (Atomics.load(c.sync, CLAIMS + k) !== 0) return true;
  return false;
}

/**
 * Blocks until the run's rows are done (the caller took its share already, in `callerMs`);
 * rethrows a worker's failure. A worker that holds a chunk with no progress for the stall time
 * (see {@link poolLimits}) has died or stalled: the calling thread computes that chunk itself.
 */
export function joinWorkers(c: Control, pw: readonly PoolWorker[], what: string, run: (b: number, i0: number, i1: number) => void, callerMs: number): void {
  const stall = Math.max(poolLimits.stallMs, 5 * callerMs);
  let seen = Atomics.load(c.sync, DONE), since = Date.now();
  for (;;) {
    const d = Atomics.load(c.sync, DONE);
    if (finished(c, c.total)) break;
    if (d !== seen) (seen = d), (since = Date.now());
    else if (Date.now() - since >= stall) {
      takeOver(c, pw, run);
      since = Date.now();
      continue;
    }
    Atomics.wait(c.sync, DONE, d, Math.min(50, stall));
  }
  poolStats.workerRows += Atomics.load(c.sync, BY_WORKERS);
  const failure = failureText(c);
  if (failure === undefined) return;
  abandon(c, pw);
  throw new KeOpsError(`a ${what} worker thread failed: ${failure}`);
}

/**
 * After a failure: stops the run and waits (blocking) until no worker holds a chunk, so that none
 * writes into memory a later run reuses; a worker that holds one past the stall time is put out of use.
 */
export function abandon(c: Control, pw: readonly PoolWorker[]): void {
  cancel(c);
  const t0 = Date.now();
  while (claimed(c, pw.length)) {
    if (Date.now() - t0 >= poolLimits.stallMs) {
      pw.forEach((w, k) => {
        if (Atomics.load(c.sync, CLAIMS + k + 1) !== 0) w.dead ??= "it stalled holding a chunk";
      });
      return;
    }
    Atomics.wait(c.sync, DONE, Atomics.load(c.sync, DONE), 5);
  }
}

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/** {@link abandon} without blocking. */
async function abandonAsync(c: Control, pw: readonly PoolWorker[]): Promise<void> {
  cancel(c);
  const t0 = Date.now();
  while (pw.some((w, k) => w.dead === undefined && Atomics.load(c.sync, CLAIMS + k + 1) !== 0)) {
    if (Date.now() - t0 >= poolLimits.stallMs) {
      pw.forEach((w, k) => {
        if (Atomics.load(c.sync, CLAIMS + k + 1) !== 0) w.dead ??= "it stalled holding a chunk";
      });
      return;
    }
    await pause();
  }
}

/**
 * Settles when the run's rows are done by the workers `pw`. Rejects when a worker failed, could
 * not start, or died during the run (the host reports its exit): the run is stopped, and later
 * calls start new workers. A timer keeps Node's event loop alive meanwhile (a pending waitAsync
 * does not, and idle workers are unreferenced).
 */
export async function joinWorkersAsync(c: Control, pw: readonly PoolWorker[], what: string): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  let failure: string | undefined;
  try {
    while (!finished(c, c.total)) {
      if (broken !== undefined) {
        // stop the run (a late worker then takes no row), let the started ones finish their chunk
        await abandonAsync(c, pw);
        if (Atomics.load(c.sync, DONE) < c.total) failure = `a worker failed to start (${broken}); later calls run on the calling thread`;
        break;
      }
      const gone = pw.find((w) => w.dead !== undefined);
      if (gone) {
        await abandonAsync(c, pw);
        if (Atomics.load(c.sync, DONE) < c.total) failure = `a worker stopped during the run (${gone.dead}); the call is abandoned, later calls start new workers`;
        break;
      }
      const d = Atomics.load(c.sync, DONE);
      // a timeout, to notice a worker that failed to start or died; hosts without waitAsync poll
      const w = typeof Atomics.waitAsync === "function" ? Atomics.waitAsync(c.sync, DONE, d, 200) : { async: true, value: pause() };
      if (w.async) await w.value;
    }
    failure ??= failureText(c);
    if (failure !== undefined && !pw.some((w) => w.dead !== undefined)) await abandonAsync(c, pw);
  } finally {
    clearInterval(alive);
  }
  poolStats.workerRows += Atomics.load(c.sync, BY_WORKERS);
  if (failure !== undefined) throw new KeOpsError(`a ${what} worker thread failed: ${failure}`);
}
