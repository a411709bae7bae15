/**
 * Progress and cancellation of long runs, above the backends: a job is cut into chunks of outer
 * rows (each an ordinary kernel run on any backend), sized from the pairs/s measured so far to
 * take 0.2–0.6 s; between chunks the signal is looked at and progress reported. Nothing here knows
 * a backend: every backend, present or future, gets it.
 */
import { KeOpsError } from "../errors.js";
import type { KernelJob, SlotRole } from "../compile/program.js";

/** Raised when a run is stopped through its `signal`: a {@link KeOpsError} named "AbortError". */
export class KeOpsAbortError extends KeOpsError {
  override name = "AbortError";
}

/** What `onProgress` receives. */
export interface Progress {
  /** Fraction of the work done, 0 … 1 (non-decreasing; the last call has exactly 1). */
  readonly fraction: number;
  /** Kernel pairs (i, j) evaluated per second so far. */
  readonly pairsPerSecond: number;
  /** Estimated seconds left at that pace (0 at the end). */
  readonly secondsLeft: number;
}

/** What a run watches: both optional. */
export interface Watch {
  readonly onProgress?: ((p: Progress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Throws a {@link KeOpsAbortError} when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what = "the run"): void {
  if (!signal?.aborted) return;
  const r = signal.reason as unknown;
  const why = r instanceof Error ? `: ${r.message}` : r !== undefined ? `: ${String(r)}` : "";
  throw new KeOpsAbortError(`${what} was aborted through its signal${why}`);
}

/** Seconds since an arbitrary origin. */
const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now()) / 1000;

/** Smallest gap between two progress calls, in seconds (the last call, fraction 1, always comes). */
export const REPORT_GAP = 0.25;
/** Seconds of work a chunk aims at. */
let CHUNK_SECONDS = 0.2;
/** Pairs of the first chunk, before any rate is known. */
let FIRST_PAIRS = 1 << 20;

/**
 * @internal Sets the chunk sizing (for tests: tiny chunks cross every batch and row boundary);
 * returns the previous setting.
 */
export function setChunking(c: { firstPairs: number; seconds: number }): { firstPairs: number; seconds: number } {
  const old = { firstPairs: FIRST_PAIRS, seconds: CHUNK_SECONDS };
  FIRST_PAIRS = c.firstPairs;
  CHUNK_SECONDS = c.seconds;
  return old;
}

/**
 * Reports progress at most every {@link REPORT_GAP} s, with a non-decreasing fraction, and once
 * with fraction 1 at the end.
 */
export class Reporter {
  private readonly t0 = now();
  private last = -Infinity;
  private best = 0;
  constructor(private readonly onProgress: ((p: Progress) => void) | undefined) {}

  /**
   * Reports `fraction` (clamped, never below what was reported) with `pairs` done so far. The
   * pace is the average since the start, or `recent` (the latest chunk's, a better predictor
   * once the warm-up is over) when given.
   */
  report(fraction: number, pairs: number, force = false, recent?: { pairsPerSecond: number; secondsLeft: number }): void {
    if (!this.onProgress) return;
    const t = now();
    const f = Math.min(1, Math.max(this.best, Number.isFinite(fraction) ? fraction : 0));
    if (!force && (t - this.last < REPORT_GAP || f >= 1)) return;
    this.best = f;
    this.last = t;
    const dt = Math.max(t - this.t0, 1e-9);
    const pairsPerSecond = recent && f < 1 ? recent.pairsPerSecond : pairs / dt;
    const secondsLeft = f >= 1 ? 0 : recent ? recent.secondsLeft : f > 0 ? (dt * (1 - f)) / f : Infinity;
    this.onProgress({ fraction: f, pairsPerSecond, secondsLeft });
  }

  /** The last call: fraction 1. */
  done(pairs: number): void {
    this.report(1, pairs, true);
  }
}

/** What the chunking needs to know of a kernel's inputs and outputs. */
export interface ChunkLayout {
  /** Role of each input slot. */
  readonly roles: readonly SlotRole[];
  /** Elements per row of each input slot. */
  readonly dims: readonly number[];
  /** Elements per output row, per output. */
  readonly rowSizes: readonly number[];
}

/**
 * The job of rows r0 … r1 of batch b (when `nb` = 1), or of whole batches b … b+nb−1 (r0 = 0,
 * r1 = nOuter). Outputs are views on the job's arrays (so that a backend that copies its outputs
 * back writes only the chunk's rows); outer inputs of a row chunk are views on the chunk's rows.
 */
function chunkJob(job: KernelJob, l: ChunkLayout, b: number, nb: number, r0: number, r1: number): KernelJob {
  const nS = job.inputs.length;
  const nO = job.outputs.length;
  const rows = r1 - r0;
  const inputs = job.inputs.slice();
  const inOffsets = new Float64Array(nb * nS);
  for (let k = 0; k < nb; k++) for (let s = 0; s < nS; s++) inOffsets[k * nS + s] = job.inOffsets[(b + k) * nS + s]!;
  if (rows < job.nOuter)
    for (let s = 0; s < nS; s++) {
      if (l.roles[s] !== "outer") continue;
      const start = inOffsets[s]! + r0 * l.dims[s]!;
      inputs[s] = job.inputs[s]!.subarray(start, start + rows * l.dims[s]!);
      inOffsets[s] = 0;
    }
  const outputs = job.outputs.slice();
  const outOffsets = new Float64Array(nb * nO);
  for (let o = 0; o < nO; o++) {
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < nb; k++) {
      const at = job.outOffsets[(b + k) * nO + o]! + r0 * l.rowSizes[o]!;
      lo = Math.min(lo, at);
      hi = Math.max(hi, at + rows * l.rowSizes[o]!);
    }
    outputs[o] = job.outputs[o]!.subarray(lo, hi);
    for (let k = 0; k < nb; k++) outOffsets[k * nO + o] = job.outOffsets[(b + k) * nO + o]! + r0 * l.rowSizes[o]! - lo;
  }
  return { inputs, outputs, nOuter: rows, nInner: job.nInner, nBatch: nb, inOffsets, outOffsets };
}

/** Longest a chunk may aim at, whatever the per-call overhead (an abort waits for the chunk under way). */
const MAX_CHUNK_SECONDS = 0.6;

/**
 * Walks a job's rows (batch by batch) in chunks whose size follows the measured rate: the first
 * holds ~{@link FIRST_PAIRS} pairs, each next one aims at {@link CHUNK_SECONDS} at the latest
 * chunk's pace (at most 4× the previous one). Where a call has a fixed cost (an async call's
 * hand-off to another thread: tens of ms), chunks aim at 10× the shortest chunk seen, up to
 * {@link MAX_CHUNK_SECONDS}, to keep that cost near a tenth of the run.
 */
class Chunker {
  private b = 0;
  private r = 0;
  private rows: number;
  readonly totalPairs: number;
  donePairs = 0;
  /** Pace of the latest chunk, pairs/s. */
  rate = 0;
  private shortest = Infinity;
  private started = now();
  constructor(private readonly job: KernelJob, private readonly l: ChunkLayout) {
    this.rows = Math.max(1, Math.floor(FIRST_PAIRS / Math.max(1, job.nInner)));
    this.totalPairs = job.nBatch * job.nOuter * Math.max(1, job.nInner);
  }

  get finished(): boolean {
    return this.b >= this.job.nBatch;
  }

  /** The next chunk and its pair count (its clock starts now). */
  next(): { job: KernelJob; pairs: number } {
    const { job } = this;
    const nInner = Math.max(1, job.nInner);
    let sub: KernelJob;
    if (this.r === 0 && this.rows >= job.nOuter) {
      const nb = Math.max(1, Math.min(job.nBatch - this.b, Math.floor(this.rows / job.nOuter)));
      sub = chunkJob(job, this.l, this.b, nb, 0, job.nOuter);
      this.b += nb;
    } else {
      const r1 = Math.min(job.nOuter, this.r + this.rows);
      sub = chunkJob(job, this.l, this.b, 1, this.r, r1);
      this.r = r1;
      if (r1 === job.nOuter) [this.b, this.r] = [this.b + 1, 0];
    }
    this.started = now();
    return { job: sub, pairs: sub.nBatch * sub.nOuter * nInner };
  }

  /** Records a finished chunk and sizes the next from its pace. */
  record(pairs: number): void {
    const dt = Math.max(now() - this.started, 1e-6);
    this.donePairs += pairs;
    this.rate = pairs / dt;
    this.shortest = Math.min(this.shortest, dt);
    const target = Math.min(MAX_CHUNK_SECONDS, Math.max(CHUNK_SECONDS, 10 * this.shortest));
    const want = Math.max(1, Math.floor((this.rate * target) / Math.max(1, this.job.nInner)));
    this.rows = Math.min(want, this.rows * 4);
  }

  /** The latest chunk's pace and the time left at it. */
  get pace(): { pairsPerSecond: number; secondsLeft: number } {
    return { pairsPerSecond: this.rate, secondsLeft: (this.totalPairs - this.donePairs) / Math.max(this.rate, 1e-9) };
  }
}

/** True when the run has something to watch (otherwise it runs in one piece). */
export function watched(w: Watch | undefined): w is Watch {
  return w !== undefined && (w.onProgress !== undefined || w.signal !== undefined);
}

/** Runs `job` in chunks through `run`, reporting to and stopping on `w`. */
export function runWatched(job: KernelJob, l: ChunkLayout, w: Watch, run: (j: KernelJob) => void): void {
  throwIfAborted(w.signal);
  const c = new Chunker(job, l);
  const rep = new Reporter(w.onProgress);
  for (let k = 0; !c.finished; k++) {
    const { job: sub, pairs } = c.next();
    run(sub);
    c.record(pairs);
    // the first chunk carries the warm-up (threads, a fresh module's first tier): no estimate from it alone
    if (k > 0) rep.report(c.donePairs / c.totalPairs, c.donePairs, false, c.pace);
    throwIfAborted(w.signal);
  }
  rep.done(c.donePairs);
}

/** Lets the event loop run (timers, events: an abort can come in). */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
/** Longest stretch without yielding, in seconds. */
const YIELD_GAP = 0.05;

/** {@link runWatched} for async runs: yields to the event loop between chunks. */
export async function runWatchedAsync(job: KernelJob, l: ChunkLayout, w: Watch, run: (j: KernelJob) => Promise<void>): Promise<void> {
  throwIfAborted(w.signal);
  const c = new Chunker(job, l);
  const rep = new Reporter(w.onProgress);
  let yielded = now();
  for (let k = 0; !c.finished; k++) {
    const { job: sub, pairs } = c.next();
    await run(sub);
    c.record(pairs);
    if (k > 0) rep.report(c.donePairs / c.totalPairs, c.donePairs, false, c.pace);
    if (now() - yielded > YIELD_GAP) {
      await yieldToLoop();
      yielded = now();
    }
    throwIfAborted(w.signal);
  }
  rep.done(c.donePairs);
}
