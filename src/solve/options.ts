/** Options of `solve` / `kernelSolve` and their validation. */
import { argError } from "../errors.js";
import { LONG_WORK_KEYS, checkOptions, type LongWorkOptions, type Progress } from "../lazy/options.js";
import type { BackendName } from "../backends/registry.js";
import type { SumScheme } from "../reductions/types.js";
import type { FloatDType } from "../tensor.js";
import type { Ranges } from "../ranges/index.js";

/** Options of `LazyTensor.solve` and of a `kernelSolve` call. */
export interface SolveOptions extends LongWorkOptions {
  /** Ridge term: solves (alpha·Id + K) a = b. Default 1e-10 (as pykeops); must be ≥ 0. */
  alpha?: number;
  /**
   * Tolerance: stops when ‖r‖² < M·eps² for every column (KeOps's rule ‖r‖² < size(b)·eps²,
   * applied to each right-hand side). Default 1e-6; must be > 0.
   */
  eps?: number;
  /**
   * Iteration cap (default max(100, 2·M)): a solve never loops forever, unlike pykeops on an
   * indefinite K; reaching it raises a `SolveConvergenceError` with the residual reached.
   */
  maxIter?: number;
  /** Progress: called after each iteration with the residual reached (compare it with eps). */
  onIteration?: (iteration: number, residual: number) => void;
  /**
   * Preconditioner: `"none"` (default, plain conjugate gradient as KeOps) or `"nystrom"` (a
   * low-rank Nyström approximation of K on `rank` points, as Falkon does; needs K's rows to be
   * computable at chosen points, i.e. K built from variables indexed by i and j only).
   */
  precond?: "none" | "nystrom";
  /**
   * Rank of the Nyström preconditioner (random landmarks). Default: read off K's spectrum on a
   * pilot sample (pivoted Cholesky until the eigenvalues left to CG are ≲ 30·alpha — ≲ alpha on a
   * larger pilot from M ≈ 3·10⁴ on, where iterations cost more than landmarks —, at most 1000
   * landmarks, fewer when K_nm would exceed ~400 MB or building the preconditioner M·m²/2 > 1e11
   * multiply-adds — 1e10 where its products run in JavaScript: browsers, or a backend other than
   * "auto"/"native").
   */
  rank?: number;
  /** false: return a function of K's symbolic variables instead of solving now. */
  call?: boolean;
  /** true: `K.solve` returns a Promise; each reduction runs off the calling thread. */
  async?: boolean;
  /** Backend of the reductions: "auto" (default), "js", "native", … */
  backend?: BackendName;
  /** Accumulator precision of the reductions. */
  dtypeAcc?: FloatDType | "auto";
  /** Summation scheme of the reductions. */
  sumScheme?: SumScheme | "auto";
  /**
   * Block-sparse K (pykeops's `ranges`, see `ReduceOptions.ranges`): the products K·p of the
   * conjugate gradient reduce over the kept blocks only.
   */
  ranges?: Ranges;
}

/** Validated numeric options. */
export interface SolveParams {
  readonly alpha: number;
  readonly eps: number;
  readonly maxIter: number | undefined;
  readonly onIteration: ((iteration: number, residual: number) => void) | undefined;
  readonly precond: "none" | "nystrom";
  readonly rank: number | undefined;
  readonly onProgress: ((p: Progress) => void) | undefined;
  readonly signal: AbortSignal | undefined;
}

/** The keys {@link SolveOptions} has. */
export const SOLVE_KEYS = [
  "alpha", "eps", "maxIter", "onIteration", "precond", "rank", "call", "async", "backend", "dtypeAcc", "sumScheme", "ranges", ...LONG_WORK_KEYS,
] as const;

/** Default iteration cap for a system of M rows. */
export function defaultMaxIter(M: number): number {
  return Math.max(100, 2 * M);
}

/** Validates the numeric options (alpha ≥ 0, eps > 0, maxIter a positive integer, …). */
export function solveParams(o: SolveOptions | undefined): SolveParams {
  checkOptions(o, "solve", SOLVE_KEYS);
  const opts = o ?? {};
  const alpha = opts.alpha ?? 1e-10;
  if (typeof alpha !== "number" || !(alpha >= 0) || !Number.isFinite(alpha)) argError("alpha", "a finite number ≥ 0", alpha);
  const eps = opts.eps ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) argError("eps", "a finite number > 0", eps);
  const maxIter = opts.maxIter;
  if (maxIter !== undefined && (typeof maxIter !== "number" || !Number.isSafeInteger(maxIter) || maxIter < 1))
    argError("maxIter", "a positive integer", maxIter);
  if (opts.onIteration !== undefined && typeof opts.onIteration !== "function")
    argError("onIteration", "a function (iteration, residual) => void", opts.onIteration);
  if (opts.async !== undefined && typeof opts.async !== "boolean") argError("async", "a boolean", opts.async);
  if (opts.call !== undefined && typeof opts.call !== "boolean") argError("call", "a boolean", opts.call);
  const precond = opts.precond ?? "none";
  if (precond !== "none" && precond !== "nystrom") argError("precond", `"none" or "nystrom"`, precond);
  const rank = opts.rank;
  if (rank !== undefined && (typeof rank !== "number" || !Number.isSafeInteger(rank) || rank < 1))
    argError("rank", "a positive integer", rank);
  return { alpha, eps, maxIter, onIteration: opts.onIteration, precond, rank, onProgress: opts.onProgress, signal: opts.signal };
}
