/**
 * The public API that every host shares; the entry points (index.ts for Node, browser.ts) add
 * their host and its backends to it. Nothing here imports a `node:` module.
 */
export { KeOpsError, KeOpsParseError } from "./errors.js";
export {
  Tensor, tensor, zeros, ones, rand, randn, lastSeed,
  type DType, type FloatDType, type TensorData, type TensorLike, type NestedArray, type TensorOptions, type RandomOptions,
} from "./tensor.js";
export { LazyTensor, type MatmulOptions, type Operand, type Reduced, type SumSoftMaxWeightOptions } from "./lazy/lazytensor.js";
export type { Solved, SolvedAsync } from "./solve/lazy.js";
export type { Cat } from "./formula/node.js";
export { Vi, Vj, Pm } from "./lazy/helpers.js";
export { ComplexLazyTensor, type ComplexOperand } from "./complex/lazy.js";
export type { KeOpsFunction } from "./lazy/keopsfunction.js";
export { genred, type GenredOptions, type GenredReductionOp, type GenredResult } from "./lazy/genred.js";
export type {
  ReduceOptions, KReduceOptions, LogSumExpOptions, CallOptions, VjpOptions, LongWorkOptions, Progress, InnerOptions, WithAxis,
} from "./lazy/options.js";
export { KeOpsAbortError } from "./lazy/progress.js";
export { backendInfo, type BackendInfo, type BackendName } from "./backends/registry.js";
export { setThreads } from "./backends/workers.js";
export { SolveConvergenceError, kernelSolve, type KernelSolveOptions, type SolveFunction, type SolveOptions } from "./solve/index.js";
export type { SumScheme, ReductionAlias, ReductionName } from "./reductions/types.js";
export type { BackendCaps, CallMode } from "./compile/program.js";
export {
  gridCluster, sortClusters, clusterRanges, clusterCentroids, clusterRangesCentroids, fromMatrix, swapAxes, type Ranges,
} from "./ranges/index.js";
import "./formula/index.js";
import "./lazy/math-methods.js";
import "./autodiff/index.js";
import "./lazy/grad-methods.js";
import "./lazy/inspect.js";
