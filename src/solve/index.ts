/** Conjugate-gradient solves: `LazyTensor.solve`, `kernelSolve`, and their gradients. */
export { conjugateGradient, conjugateGradientAsync, SolveConvergenceError, type CgLayout, type CgOptions, type CgResult, type MatVec, type Preconditioner } from "./cg.js";
export { defaultMaxIter, solveParams, type SolveOptions, type SolveParams } from "./options.js";
export { makeSolveFunction, type SolveFunction, type SolveSpec } from "./function.js";
export { lazySolve, solveWithVjp, type LazySolveWithVjp, type Solved, type SolvedAsync } from "./lazy.js";
export { solveBackward, type SolveGradients } from "./vjp.js";
export { kernelSolve, type KernelSolveOptions } from "./kernelsolve.js";
