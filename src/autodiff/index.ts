/**
 * Automatic differentiation: the `Grad` / `Diff` formula nodes, the gradients of reductions, and
 * `KeOpsFunction.vjp` (importing this module installs it, and the reduction gradient that
 * `solve`'s backward pass uses).
 */
import { setVjpImpl } from "../lazy/keopsfunction.js";
import { functionVjp } from "./vjp.js";

export { GradOp, DiffOp, grad, diff, gradFormula, diffFormula, expandMacros, zeroFormula } from "./grad.js";
export { reductionVjp, valueRowShape, type ReductionVjp } from "./reductions.js";
export { functionVjp } from "./vjp.js";
export { GradMatrixOp, DivergenceOp, LaplacianOp, gradMatrix, divergence, laplacian } from "./calculus.js";

setVjpImpl(functionVjp);
