/**
 * Options objects: their types, and the one checker every public method runs on them (an unknown
 * key is a {@link KeOpsError} naming it and the closest accepted key: a typo never silently does
 * something else).
 */
import { KeOpsError, argError, said } from "../errors.js";
import { checkKeys } from "../check-options.js";
import type { BackendName } from "../backends/registry.js";
import type { SumScheme } from "../reductions/types.js";
import type { FloatDType } from "../tensor.js";
import { checkRanges, type Ranges, type RangesSpec } from "../ranges/index.js";

import type { Progress } from "./progress.js";

export type { Progress } from "./progress.js";

/**
 * Progress and cancellation of long work, accepted by every reduction, KeOpsFunction call and
 * solve. A run asked for either is cut into row chunks (each 0.2–0.6 s of work) with the
 * callback and the signal looked at between chunks.
 *
 * - `onProgress` is called at most a few times per second and once at the end with `fraction: 1`.
 * - `signal`: once aborted, the run stops within about a second (the chunk under way finishes)
 *   and throws (or rejects with) a {@link KeOpsError} whose `name` is `"AbortError"`. An `async:
 *   true` run yields to the event loop between chunks, so an abort from a timer or an event is
 *   seen. A blocking run does not let the event loop run: it sees only a signal aborted before the
 *   call or from inside `onProgress`.
 */
export interface LongWorkOptions {
  /** Called with the progress of the run (a few times per second at most; last with fraction 1). */
  onProgress?: (p: Progress) => void;
  /** Stops the run when aborted (a KeOpsError named "AbortError"). */
  signal?: AbortSignal;
}

/** Options every reduction accepts. */
export interface ReduceOptions extends LongWorkOptions {
  /** 0 reduces over i, 1 over j (offset by the number of batch dims). */
  axis?: number;
  /** Alias of `axis`, as in PyTorch. */
  dim?: number;
  /** false: return a {@link KeOpsFunction} instead of computing. */
  call?: boolean;
  /** Backend: "auto" (default), "js", "native", "wasm". */
  backend?: BackendName;
  /** Accumulator precision (default: the data's dtype). */
  dtypeAcc?: FloatDType | "auto";
  /** Summation scheme of sum-like reductions (default block_sum). */
  sumScheme?: SumScheme | "auto";
  /** true: return a Promise; the work runs off the calling thread. */
  async?: boolean;
  /**
   * Block-sparse reduction, as pykeops: `[ranges_i, slices_i, redranges_j, ranges_j, slices_j,
   * redranges_i]` (int32 tensors; build them with `fromMatrix`). The first three serve reductions
   * over j (and gradients with respect to i-variables), the last three reductions over i.
   */
  ranges?: Ranges;
}

/** Options of the K-min family. */
export interface KReduceOptions extends ReduceOptions {
  /** Number of smallest values kept, 1 … the reduced length. */
  K: number;
}

/** Options of logsumexp. */
export interface LogSumExpOptions extends ReduceOptions {
  /** Optional weight: log Σ exp(F)·weight. */
  weight?: unknown;
}

/** Options accepted when calling a compiled reduction (a {@link KeOpsFunction}), last argument. */
export interface CallOptions extends LongWorkOptions {
  /** Backend of this call (overrides the one the function was made with). */
  backend?: BackendName;
  /** Block-sparse reduction for this call (see {@link ReduceOptions.ranges}). */
  ranges?: Ranges;
}

/**
 * Options of {@link KeOpsFunction.vjp}, last argument. `onProgress` and `signal` (else the
 * function's own) watch the whole gradient: one progress sequence over its reductions, ending at 1.
 */
export interface VjpOptions extends LongWorkOptions {
  /**
   * true: `vjp` returns a Promise and its reductions run off the calling thread, as `async: true`
   * calls do (required by an async-only backend: webgpu).
   */
  async?: boolean;
  /** Backend of the gradient's reductions (overrides the one the function was made with). */
  backend?: BackendName;
}

/** Options that pick a reduction's axis: the reduction overloads return a result only with one. */
export type WithAxis = { axis: number } | { dim: number };

/** Options of the inner (vector) form of sum/min/max/argmin/argmax: no axis, or −1. */
export interface InnerOptions {
  axis?: -1;
  dim?: -1;
}

/** Validated execution options. */
export interface ExecOptions {
  readonly backend: BackendName | undefined;
  readonly dtypeAcc: FloatDType | undefined;
  readonly scheme: SumScheme;
  /** Checked `ranges` option: block-sparse when set. */
  readonly ranges?: RangesSpec;
  readonly onProgress?: ((p: Progress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

// ---- accepted keys, per method: the one list each method's checks use ---------------------------

/** Keys of {@link LongWorkOptions}. */
export const LONG_WORK_KEYS = ["onProgress", "signal"] as const;
/** Keys every reduction accepts. */
export const REDUCE_KEYS = ["axis", "dim", "call", "backend", "dtypeAcc", "sumScheme", "async", "ranges", ...LONG_WORK_KEYS] as const;
/** Keys of the K-min family. */
export const K_REDUCE_KEYS = [...REDUCE_KEYS, "K"] as const;
/** Keys of logsumexp. */
export const LOGSUMEXP_KEYS = [...REDUCE_KEYS, "weight"] as const;
/** Keys of a KeOpsFunction call's options. */
export const CALL_KEYS = ["backend", "ranges", ...LONG_WORK_KEYS] as const;
/** Keys of `KeOpsFunction.vjp`'s options. */
export const VJP_KEYS = ["async", "backend", ...LONG_WORK_KEYS] as const;
/** Keys of the inner (vector) sum/min/max/argmin/argmax. */
export const INNER_KEYS = ["axis", "dim"] as const;

/**
 * Checks an options object of `method` ({@link checkKeys}: an unknown key is an error naming the
 * closest accepted one), then its `onProgress` and `signal` when present.
 */
export function checkOptions(o: unknown, method: string, accepted: readonly string[]): void {
  checkKeys(o, method, accepted);
  if (o !== undefined) checkLongWork(o as LongWorkOptions, method);
}

/** Validates `onProgress` and `signal` when present. */
export function checkLongWork(o: LongWorkOptions, method: string): void {
  if (o.onProgress !== undefined && typeof o.onProgress !== "function")
    argError(`${method}: onProgress`, "a function ({ fraction, pairsPerSecond, secondsLeft }) => void", o.onProgress);
  const s = o.signal as unknown;
  if (s !== undefined && (typeof s !== "object" || s === null || typeof (s as AbortSignal).aborted !== "boolean"))
    argError(`${method}: signal`, "an AbortSignal", s);
}

const schemes = ["direct_sum", "block_sum", "kahan_scheme"];

/** Validates the execution-related options. */
export function execOptions(o: ReduceOptions): ExecOptions {
  if (o.dtypeAcc !== undefined && o.dtypeAcc !== "auto" && o.dtypeAcc !== "float32" && o.dtypeAcc !== "float64")
    argError("dtypeAcc", `"float32", "float64" or "auto"`, o.dtypeAcc);
  if (o.sumScheme !== undefined && o.sumScheme !== "auto" && !schemes.includes(o.sumScheme))
    argError("sumScheme", `one of "direct_sum", "block_sum", "kahan_scheme"`, o.sumScheme);
  if (o.call !== undefined && typeof o.call !== "boolean") argError("call", "a boolean", o.call);
  if (o.async !== undefined && typeof o.async !== "boolean") argError("async", "a boolean", o.async);
  checkLongWork(o, "options");
  return {
    backend: o.backend,
    dtypeAcc: o.dtypeAcc === "auto" ? undefined : o.dtypeAcc,
    scheme: o.sumScheme === undefined || o.sumScheme === "auto" ? "block_sum" : o.sumScheme,
    ranges: o.ranges === undefined ? undefined : checkRanges(o.ranges),
    onProgress: o.onProgress,
    signal: o.signal,
  };
}

/**
 * Normalises `axis` / `dim` / a bare number into options, checking the keys against `accepted`
 * when given (a reduction checks them in {@link requireAxis}).
 */
export function normaliseOptions<O extends ReduceOptions>(x: number | O | undefined, method = "options", accepted?: readonly string[]): O {
  if (x === undefined) return {} as O;
  if (typeof x === "number") return { axis: x } as O;
  if (typeof x !== "object" || x === null) argError(`${method}: options`, "an axis number or an options object", x);
  if (accepted) checkOptions(x, method, accepted);
  if (x.axis !== undefined && x.dim !== undefined && x.axis !== x.dim)
    argError("axis", `the same value as dim (${x.dim})`, x.axis);
  return x;
}

/** The method of each reduction (KeOps's name → pykeops's method name), for messages. */
const METHOD: Readonly<Record<string, string>> = {
  Sum: "sum", LogSumExp: "logsumexp", SumSoftMaxWeight: "sumsoftmaxweight", Min: "min", Max: "max",
  ArgMin: "argmin", ArgMax: "argmax", MinArgMin: "minArgmin", MaxArgMax: "maxArgmax",
  KMin: "Kmin", ArgKMin: "argKmin", KMinArgKMin: "KminArgKmin",
};

/** The method name of reduction `name` ("ArgKMin" → "argKmin"). */
export function methodOf(name: string): string {
  return METHOD[name] ?? name;
}

/**
 * The axis of a reduction's options, after checking the options against the keys reduction
 * `name` (KeOps's name: "Sum", "ArgKMin", …) accepts. A missing axis is a clear error: with
 * `nbatch` batch dims, the axis is `nbatch` (reduce over i) or `nbatch + 1` (over j).
 */
export function requireAxis(o: ReduceOptions, name: string, usesK: boolean, nbatch: number): number {
  const method = methodOf(name);
  checkOptions(o, method, usesK ? K_REDUCE_KEYS : name === "LogSumExp" ? LOGSUMEXP_KEYS : REDUCE_KEYS);
  const raw = o.axis ?? o.dim;
  if (raw === undefined) {
    const example = usesK ? `{ K: ${(o as KReduceOptions).K ?? 3}, axis: ${nbatch + 1} }` : `{ axis: ${nbatch + 1} }`;
    argError(`${method}: axis`, `${nbatch} (reduce over i) or ${nbatch + 1} (reduce over j)${nbatch ? ` (${nbatch} batch dims come first)` : ""}, e.g. ${example}`, said("no axis"));
  }
  return raw;
}

/**
 * The inner (vector) form takes no option but the axis: a reduction option given without an
 * axis (e.g. `sum({ backend: "wasm" })`) would be ignored, so it is an error.
 */
export function checkInner(o: ReduceOptions, method: string): void {
  for (const key of Object.keys(o))
    if (!(INNER_KEYS as readonly string[]).includes(key))
      throw new KeOpsError(
        `${method}: option ${JSON.stringify(key)} needs an axis: without one (or with axis −1), ${method} is the ${method} over the vector dimension, a new LazyTensor, which takes no option; give axis: 0 or 1 for the ${method} reduction`,
      );
}
