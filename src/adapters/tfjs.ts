/**
 * The TensorFlow.js adapter, `keops-ts/tfjs`, for Node (see ./tfjs-adapter.ts): LazyTensors built
 * from `tf.Tensor`s, reductions returning `tf.Tensor`s differentiable through `tf.grad`.
 * @packageDocumentation
 */
import "../index.js";

export * from "./tfjs-adapter.js";
