/**
 * Conjugate gradient on the host, in float64: (alpha·Id + K) x = b for several independent systems
 * at once (every column of every batch entry), with one application of K for all of them per
 * iteration. K is only seen through `matvec`.
 */
import { KeOpsError } from "../errors.js";

/** How the flat vectors are laid out: (nBatch, M, Dv) row-major; system s = (batch, column). */
export interface CgLayout {
  readonly nBatch: number;
  readonly M: number;
  readonly Dv: number;
}

/** K·p for every system at once (same layout as p). */
export type MatVec = (p: Float64Array) => Float64Array;

/** z = P⁻¹ r for every system at once (an approximation of (alpha·Id + K)⁻¹, symmetric positive definite). */
export interface Preconditioner {
  apply(r: Float64Array): Float64Array;
}

/** Options of {@link conjugateGradient} (already validated). */
export interface CgOptions {
  readonly alpha: number;
  readonly eps: number;
  readonly maxIter: number;
  /** Called after every iteration with the iteration number (from 1) and the residual reached. */
  readonly onIteration?: (iteration: number, residual: number) => void;
  readonly precond?: Preconditioner;
}

/** What a solve returns. */
export interface CgResult {
  readonly x: Float64Array;
  /** Number of applications of K. */
  readonly iterations: number;
  /** Largest root-mean-square residual over the systems, √(‖b − (αI+K)x‖² / M). */
  readonly residual: number;
}

/**
 * Raised when conjugate gradient stops without converging: the iteration cap was reached, or
 * K turned out not to be positive definite (a direction p with pᵀ(αI+K)p ≤ 0).
 */
export class SolveConvergenceError extends KeOpsError {
  override name = "SolveConvergenceError";
  constructor(
    message: string,
    /** Iterations done. */
    readonly iterations: number,
    /** Root-mean-square residual reached (the worst system). */
    readonly residual: number,
  ) {
    super(message);
  }
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toExponential(3) : String(x));

/**
 * Solves (alpha·Id + K) x = b by conjugate gradient (preconditioned when `precond` is given).
 * Each system stops on KeOps's rule applied to it, ‖r‖² < M·eps² (so the whole b satisfies
 * KeOps's ‖r‖² < size(b)·eps²); a converged system is frozen (its direction set to 0).
 * Throws a {@link SolveConvergenceError} after `maxIter` iterations, or at once when a direction
 * of non-positive curvature shows that alpha·Id + K is not positive definite.
 */
export function conjugateGradient(matvec: MatVec, b: Float64Array, layout: CgLayout, o: CgOptions): CgResult {
  const steps = cgSteps(b, layout, o);
  let r = steps.next();
  while (!r.done) r = steps.next(matvec(r.value));
  return r.value;
}

/** {@link conjugateGradient} with an asynchronous K·p (a reduction run off the calling thread). */
export async function conjugateGradientAsync(matvec: (p: Float64Array) => Promise<Float64Array>, b: Float64Array, layout: CgLayout, o: CgOptions): Promise<CgResult> {
  const steps = cgSteps(b, layout, o);
  let r = steps.next();
  while (!r.done) r = steps.next(await matvec(r.value));
  return r.value;
}

/**
 * The conjugate-gradient iteration as a generator: it yields each direction p and is resumed with
 * K·p, so that one loop serves the synchronous and the asynchronous drivers.
 */
export function* cgSteps(b: Float64Array, layout: CgLayout, o: CgOptions): Generator<Float64Array, CgResult, Float64Array> {
  const { nBatch, M, Dv } = layout;
  const n = nBatch * M * Dv;
  const S = nBatch * Dv;
  const x = new Float64Array(n);
  if (n === 0) return { x, iterations: 0, residual: 0 };
  const delta = M * o.eps * o.eps;
  const rms = (nr2: number): number => Math.sqrt(nr2 / M);

  // per-system dot products: system of flat index k is (k / (M·Dv)) · Dv + k % Dv
  const dots = (u: Float64Array, v: Float64Array): Float64Array => {
    const out = new Float64Array(S);
    for (let bt = 0, k = 0; bt < nBatch; bt++)
      for (let i = 0; i < M; i++)
        for (let c = 0; c < Dv; c++, k++) out[bt * Dv + c]! += u[k]! * v[k]!;
    return out;
  };
  /** Applies `f(k, s)` to every flat index of the active systems. */
  const each = (active: Uint8Array, f: (k: number, s: number) => void): void => {
    for (let bt = 0, k = 0; bt < nBatch; bt++)
      for (let i = 0; i < M; i++)
        for (let c = 0; c < Dv; c++, k++) if (active[bt * Dv + c]) f(k, bt * Dv + c);
  };

  const r = Float64Array.from(b);
  let nr2 = dots(r, r);
  const active = new Uint8Array(S);
  for (let s = 0; s < S; s++) active[s] = nr2[s]! < delta ? 0 : 1;
  let z = o.precond ? o.precond.apply(r) : r;
  let rz = o.precond ? dots(r, z) : nr2;
  const p = Float64Array.from(z);
  each(Uint8Array.from(active, (a) => 1 - a), (k) => (p[k] = 0));
  const worst = (): number => {
    let w = 0;
    for (let s = 0; s < S; s++) if (active[s]) w = Math.max(w, rms(nr2[s]!));
    return w;
  };
  let iter = 0;
  while (active.some((a) => a === 1)) {
    if (iter >= o.maxIter)
      throw new SolveConvergenceError(
        `solve: conjugate gradient did not converge in maxIter = ${o.maxIter} iterations: residual reached ${fmt(worst())} ` +
          `(root mean square of b − (alpha·Id + K)·a), needs < eps = ${fmt(o.eps)}. K must be symmetric positive definite; ` +
          `a larger alpha, eps or maxIter may help`,
        iter, worst());
    const q = Float64Array.from(yield p);
    iter++;
    for (let k = 0; k < n; k++) q[k] = q[k]! + o.alpha * p[k]!;
    const pq = dots(p, q);
    const step = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      if (!active[s]) continue;
      const c = pq[s]!;
      if (!(c > 0) || !Number.isFinite(c))
        throw new SolveConvergenceError(
          `solve: alpha·Id + K is not positive definite (conjugate gradient found a direction p with pᵀ(alpha·Id + K)p = ${fmt(c)} ` +
            `at iteration ${iter}); residual reached ${fmt(worst())}, needs < eps = ${fmt(o.eps)}. solve needs K symmetric positive definite`,
          iter, worst());
      step[s] = rz[s]! / c;
    }
    each(active, (k, s) => {
      x[k] = x[k]! + step[s]! * p[k]!;
      r[k] = r[k]! - step[s]! * q[k]!;
    });
    nr2 = dots(r, r);
    for (let s = 0; s < S; s++) if (active[s] && !Number.isFinite(nr2[s]!))
      throw new SolveConvergenceError(`solve: conjugate gradient diverged at iteration ${iter} (residual ${nr2[s]}); K must be symmetric positive definite`, iter, Infinity);
    const before = active.slice();
    for (let s = 0; s < S; s++) if (active[s] && nr2[s]! < delta) active[s] = 0;
    o.onIteration?.(iter, worstOf(before, nr2, rms));
    z = o.precond ? o.precond.apply(r) : r;
    const rzNew = o.precond ? dots(r, z) : nr2;
    each(before, (k, s) => {
      p[k] = active[s] ? z[k]! + (rzNew[s]! / rz[s]!) * p[k]! : 0;
    });
    rz = rzNew;
  }
  let res = 0;
  for (let s = 0; s < S; s++) res = Math.max(res, rms(nr2[s]!));
  return { x, iterations: iter, residual: res };
}

function worstOf(systems: Uint8Array, nr2: Float64Array, rms: (v: number) => number): number {
  let w = 0;
  for (let s = 0; s < systems.length; s++) if (systems[s]) w = Math.max(w, rms(nr2[s]!));
  return w;
}
