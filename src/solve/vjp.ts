/**
 * Gradients through a solve. With a = (αI + K)⁻¹ b and a cotangent ā:
 * - b̄ = (αI + K)⁻¹ ā (another solve: K is symmetric);
 * - θ̄ = −∂/∂θ ⟨b̄, K(θ)·a⟩ for every variable θ of K: the vector–Jacobian product of the Sum
 *   reduction K·a (a held fixed) with cotangent −b̄, i.e. one more reduction per variable.
 */
import { reductionVjpSteps } from "../autodiff/reductions.js";
import { runSteps, type ReductionSteps } from "../lazy/steps.js";
import type { Tensor } from "../tensor.js";
import type { CgResult } from "./cg.js";
import type { SolveParams } from "./options.js";
import { solveSteps, toTensor, unknownData, type LinearSystem, type SystemShape } from "./system.js";

/** Gradients of ⟨a, ā⟩ where a solves the system. */
export interface SolveGradients {
  /** b̄, with the layout of the solve (nBatch, M, Dv) in float64. */
  readonly b: Float64Array;
  /** The solve that produced b̄ (iterations, residual). */
  readonly bSolve: CgResult;
  /** θ̄ for each requested variable index of K. */
  readonly vars: Map<number, Tensor>;
}

/**
 * Backward pass of a solve: `a` is the solution (float64, (nBatch, M, Dv)), `gradA` its cotangent
 * (same layout), `wrt` the variable indices of K whose gradients are wanted (may be empty).
 */
export function solveBackward(...a: Parameters<typeof solveBackwardSteps>): SolveGradients {
  return runSteps(solveBackwardSteps(...a));
}

/** {@link solveBackward} as steps (for a blocking or an asynchronous driver). */
export function* solveBackwardSteps(
  sys: LinearSystem, shape: SystemShape, a: Float64Array, gradA: Float64Array, params: SolveParams, wrt: readonly number[],
): ReductionSteps<SolveGradients> {
  const gb = yield* solveSteps(sys, shape, gradA, params);
  const vars = new Map<number, Tensor>();
  const want = wrt.filter((ind) => ind !== sys.pInd);
  if (want.length === 0) return { b: gb.x, bSolve: gb, vars };
  const all = new Map(sys.vars);
  all.set(sys.pInd, unknownData(sys, shape, a, "the solution a"));
  const neg = new Float64Array(gb.x.length);
  for (let k = 0; k < neg.length; k++) neg[k] = -gb.x[k]!;
  const gradOut = toTensor(neg, sys.dtype, [...shape.batch, shape.M, sys.Dv]);
  const g = yield* reductionVjpSteps(sys.call, all, gradOut, want, sys.dtype);
  for (const ind of want) {
    const t = g.get(ind);
    if (t) vars.set(ind, t);
  }
  return { b: gb.x, bSolve: gb, vars };
}

