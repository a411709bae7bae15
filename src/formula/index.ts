/** The formula IR and every op family (importing this registers all ops). */
export * from "./node.js";
export * from "./ops/arith.js";
export * from "./ops/math.js";
export * from "./ops/vector.js";
