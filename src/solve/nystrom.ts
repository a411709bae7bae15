/** Nyström preconditioner (placeholder until implemented). */
import { KeOpsError } from "../errors.js";
import type { Preconditioner } from "./cg.js";
import type { LinearSystem, SystemShape } from "./system.js";

export function nystromPreconditioner(_sys: LinearSystem, _shape: SystemShape, _alpha: number, _rank: number | undefined): Preconditioner {
  throw new KeOpsError("precond: \"nystrom\" is not available yet");
}
