/**
 * A linear system as keops-ts runs it: one Sum reduction whose formula is linear in an unknown
 * variable p (`K_ij · p_j` for `LazyTensor.solve`, the user's formula for `kernelSolve`), the data
 * of every other variable, and the sizes. Conjugate gradient applies it once per iteration to all
 * right-hand sides; the kernel is planned and compiled once (the program cache keys on the formula).
 */
import { KeOpsError, argError, said } from "../errors.js";
import { broadcastBatch, ownBatchIndex } from "../lazy/bindings.js";
import type { ReductionCall, VarData } from "../lazy/execute.js";
import { reduce, runSteps, runStepsAsync, type ReductionSteps } from "../lazy/steps.js";
import { Tensor, allocate, sizeOf, type FloatDType } from "../tensor.js";
import { cgSteps, type CgLayout, type CgOptions, type CgResult } from "./cg.js";
import { defaultMaxIter, type SolveParams } from "./options.js";
import { nystromPreconditioner } from "./nystrom.js";
import { Reporter, throwIfAborted } from "../lazy/progress.js";
import type { LinearSystem, SystemShape } from "./types.js";

export type { LinearSystem, SystemShape } from "./types.js";

/**
 * Checks that K is square with as many rows as b, and broadcasts the batch dims.
 * `b` has shape (…batch, M, Dv).
 */
export function systemShape(sys: LinearSystem, b: Tensor, what = "b"): SystemShape {
  const sh = b.shape;
  const M = sh[sh.length - 2]!;
  if (sh[sh.length - 1] !== sys.Dv) argError(what, `a last dimension of ${sys.Dv}`, b);
  let batch: number[] = sh.slice(0, -2);
  for (const v of sys.vars.values()) {
    if (v.cat !== 2 && v.rows !== M)
      argError(what, `${v.rows} rows, as many as K has (K is square: ${v.name} has ${v.rows} rows)`, said(`${M} rows (shape (${sh.join(", ")}))`));
    batch = broadcastBatch(batch, v.batch, what);
  }
  return { M, batch, nBatch: sizeOf(batch) };
}

/** Copies `t` (batch dims broadcastable to `batch`) into a float64 array of the full batch shape. */
export function expandBatch(t: Tensor, batch: readonly number[]): Float64Array {
  const sh = t.shape;
  const rowSize = sh[sh.length - 2]! * sh[sh.length - 1]!;
  const own = ownBatchIndex(sh.slice(0, -2), batch);
  const out = new Float64Array(own.length * rowSize);
  for (let bt = 0; bt < own.length; bt++) for (let e = 0; e < rowSize; e++) out[bt * rowSize + e] = t.data[own[bt]! * rowSize + e]!;
  return out;
}

/** The data of p as a variable of the reduction. */
export function unknownData(sys: LinearSystem, shape: SystemShape, p: Float64Array, name = "the conjugate-gradient direction"): VarData {
  const data = allocate(sys.dtype, p.length);
  data.set(p);
  return { data, cat: sys.call.axis, dim: sys.Dv, rows: shape.M, batch: shape.batch, name };
}

/** K·p for every column and batch entry, one reduction. */
function* matvec(sys: LinearSystem, shape: SystemShape, p: Float64Array): ReductionSteps<Float64Array> {
  const vars = new Map(sys.vars);
  vars.set(sys.pInd, unknownData(sys, shape, p));
  return Float64Array.from(((yield* reduce(sys.call, vars, sys.dtype)) as Tensor).data);
}

/**
 * Layout and options of the conjugate gradient; undefined when there is nothing to solve.
 * Progress (`onProgress`) is reported per iteration, its fraction measured on the residual's way
 * from ‖b‖ down to eps (log scale); the signal is looked at after each iteration and, through
 * the reductions' own chunking, inside each one.
 */
function cgSetup(sys: LinearSystem, shape: SystemShape, rhs: Float64Array, p: SolveParams): { sys: LinearSystem; layout: CgLayout; o: CgOptions; done(): void } | undefined {
  throwIfAborted(p.signal, "solve");
  if (shape.M === 0 || shape.nBatch === 0 || sys.Dv === 0) return undefined;
  const precond = p.precond === "nystrom" ? nystromPreconditioner(sys, shape, p.alpha, p.rank) : undefined;
  const layout = { nBatch: shape.nBatch, M: shape.M, Dv: sys.Dv };
  const pairsPerIteration = shape.nBatch * shape.M * shape.M;
  let onIteration = p.onIteration;
  let iterations = 0;
  const rep = new Reporter(p.onProgress);
  if (p.onProgress || p.signal) {
    // the worst system's starting residual: √(‖b‖² / M)
    let r0 = 0;
    const S = shape.nBatch * sys.Dv;
    const nr2 = new Float64Array(S);
    for (let k = 0; k < rhs.length; k++) nr2[Math.floor(k / (shape.M * sys.Dv)) * sys.Dv + (k % sys.Dv)]! += rhs[k]! ** 2;
    for (let s = 0; s < S; s++) r0 = Math.max(r0, Math.sqrt(nr2[s]! / shape.M));
    const span = Math.log(r0 / p.eps);
    onIteration = (it, res) => {
      iterations = it;
      p.onIteration?.(it, res);
      rep.report(span > 0 && res > 0 ? Math.log(r0 / res) / span : 1, it * pairsPerIteration);
      throwIfAborted(p.signal, "solve");
    };
    // a long reduction stops within the iteration too
    if (p.signal) sys = { ...sys, call: { ...sys.call, opts: { ...sys.call.opts, signal: p.signal } } };
  }
  return {
    sys, layout,
    o: { alpha: p.alpha, eps: p.eps, maxIter: p.maxIter ?? defaultMaxIter(shape.M), onIteration, precond },
    done: () => rep.done(iterations * pairsPerIteration),
  };
}

/**
 * Solves (alpha·Id + K) a = rhs (float64, layout (nBatch, M, Dv)) as steps: each
 * conjugate-gradient iteration asks for one reduction, K·p.
 */
export function* solveSteps(sys: LinearSystem, shape: SystemShape, rhs: Float64Array, p: SolveParams): ReductionSteps<CgResult> {
  const s = cgSetup(sys, shape, rhs, p);
  if (!s) return { x: new Float64Array(rhs.length), iterations: 0, residual: 0 };
  const steps = cgSteps(rhs, s.layout, s.o);
  let r = steps.next();
  while (!r.done) r = steps.next(yield* matvec(s.sys, shape, r.value));
  s.done();
  return r.value;
}

/** {@link solveSteps} with blocking reductions. */
export function solveFlat(sys: LinearSystem, shape: SystemShape, rhs: Float64Array, p: SolveParams): CgResult {
  return runSteps(solveSteps(sys, shape, rhs, p));
}

/**
 * {@link solveSteps} with each reduction run off the calling thread (the Nyström preconditioner's
 * setup, when asked for, still runs on it).
 */
export function solveFlatAsync(sys: LinearSystem, shape: SystemShape, rhs: Float64Array, p: SolveParams): Promise<CgResult> {
  return runStepsAsync(solveSteps(sys, shape, rhs, p));
}

/** Float64 values → a tensor of the system's dtype. */
export function toTensor(x: Float64Array, dtype: FloatDType, shape: readonly number[]): Tensor {
  const d = allocate(dtype, x.length);
  d.set(x);
  return new Tensor(d, shape);
}

/** Checks a right-hand side's dtype against the system's. */
export function checkDtype(t: Tensor, dtype: FloatDType | undefined, what: string): void {
  if (t.dtype === "int32") argError(what, "float32 or float64 data", said("int32 data"));
  if (dtype && t.dtype !== dtype)
    throw new KeOpsError(`${what}: expected ${dtype} data like K's (all tensors of a formula share one dtype; use tensor.astype), got ${t.dtype}`);
}
