/** The formula IR and every op family (importing this registers all ops). */
export * from "./node.js";
export * from "./ops/arith.js";
export * from "./ops/math.js";
export * from "./ops/vector.js";
export * from "./ops/inner-sum.js";
export * from "./ops/compare.js";
export * from "./ops/trig.js";
export * from "./ops/erf.js";
export * from "./ops/piecewise.js";
export * from "./ops/norms.js";
export * from "./ops/tensor.js";
export * from "./ops/bspline.js";
export * from "./ops/sequences.js";
export * from "./ops/factorize.js";
export * from "./ops/complex.js";
