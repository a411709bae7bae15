/** The linear system that conjugate gradient solves, and its sizes: shared by the solver and the preconditioner. */
import type { ReductionCall, VarData } from "../lazy/execute.js";
import type { FloatDType } from "../tensor.js";

/** A Sum reduction linear in the variable `pInd` (of dim `Dv`, indexed by the reduced index). */
export interface LinearSystem {
  readonly call: ReductionCall;
  readonly pInd: number;
  readonly Dv: number;
  /** Data of every variable but p. */
  readonly vars: ReadonlyMap<number, VarData>;
  readonly dtype: FloatDType;
}

/** Sizes of a system with its right-hand side. */
export interface SystemShape {
  readonly M: number;
  readonly batch: readonly number[];
  readonly nBatch: number;
}
