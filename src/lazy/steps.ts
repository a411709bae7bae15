/**
 * Computations made of several reductions (gradients, a solve's backward pass) written once, as
 * generators: each yields the reductions it needs and is resumed with their results, so that one
 * body serves a blocking driver ({@link runSteps}: `execute`) and an asynchronous one
 * ({@link runStepsAsync}: `executeAsync`, which an async-only backend such as webgpu requires).
 *
 * Progress and cancellation of the whole computation (`watch`): every reduction runs under the
 * computation's signal, and reports into one progress sequence — step k of n covers the fractions
 * k/n … (k+1)/n, n being the number of reductions the computation announced (`total`, at least
 * the steps seen so far) — instead of each reduction's own 0 → 1.
 */
import type { FloatDType } from "../tensor.js";
import { execute, executeAsync, type ReductionCall, type ReductionResult, type VarData } from "./execute.js";
import { Reporter, throwIfAborted, type Progress, type Watch } from "./progress.js";

/** One reduction a computation asks to have run. */
export interface ReductionRequest {
  readonly call: ReductionCall;
  readonly vars: ReadonlyMap<number, VarData>;
  readonly dtype: FloatDType;
  /** How many reductions the computation runs in all, when it knows (for progress). */
  readonly total?: number;
}

/** A computation that yields reductions to run and returns `T`. */
export type ReductionSteps<T> = Generator<ReductionRequest, T, ReductionResult>;

/** Asks for one reduction and returns its result: `const r = yield* reduce(call, vars, dtype)`. */
export function* reduce(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype: FloatDType, total?: number): ReductionSteps<ReductionResult> {
  return yield total === undefined ? { call, vars, dtype } : { call, vars, dtype, total };
}

/** The computation's watch spread over its reductions (see the file's comment). */
class StepWatch {
  private readonly reporter: Reporter;
  private readonly t0 = Date.now();
  private step = 0;
  /** Pairs per second of the latest report (an estimate of the pairs done, for the last report). */
  private pace = 0;
  constructor(private readonly watch: Watch | undefined) {
    this.reporter = new Reporter(watch?.onProgress);
  }

  /**
   * The request's call with the computation's signal and a progress callback for its step; the
   * call as it is when the driver was given no watch (the computation watches itself: solve).
   */
  call(r: ReductionRequest): ReductionCall {
    const w = this.watch;
    if (!w) return r.call;
    throwIfAborted(w.signal, "the gradient");
    const k = this.step++;
    const n = Math.max(r.total ?? 0, k + 1);
    const onProgress = w.onProgress
      ? (p: Progress): void => {
          this.pace = p.pairsPerSecond;
          const f = (k + p.fraction) / n;
          const dt = (Date.now() - this.t0) / 1000;
          this.reporter.report(f, p.pairsPerSecond * dt, false, { pairsPerSecond: p.pairsPerSecond, secondsLeft: f > 0 ? (dt * (1 - f)) / f : Infinity });
        }
      : undefined;
    return { ...r.call, opts: { ...r.call.opts, onProgress, signal: w.signal } };
  }

  /** The last report (fraction 1). */
  done(): void {
    if (!this.watch) return;
    throwIfAborted(this.watch.signal, "the gradient");
    this.reporter.done((this.pace * (Date.now() - this.t0)) / 1000);
  }
}

/** Runs the steps with blocking reductions, under `watch` when given (progress and cancellation of the whole). */
export function runSteps<T>(steps: ReductionSteps<T>, watch?: Watch): T {
  const w = new StepWatch(watch);
  let r = steps.next();
  while (!r.done) r = steps.next(execute(w.call(r.value), r.value.vars, r.value.dtype));
  w.done();
  return r.value;
}

/** Runs the steps with each reduction run off the calling thread (`async: true`), under `watch`. */
export async function runStepsAsync<T>(steps: ReductionSteps<T>, watch?: Watch): Promise<T> {
  const w = new StepWatch(watch);
  let r = steps.next();
  while (!r.done) r = steps.next(await executeAsync(w.call(r.value), r.value.vars, r.value.dtype));
  w.done();
  return r.value;
}
