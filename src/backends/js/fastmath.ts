/**
 * Functions embedded (as source text) into every generated JS kernel, so kernels are
 * self-contained strings that a worker thread can compile too.
 */
import { erf, roundHalfAway, sign } from "../../ir/ssa.js";

/**
 * exp for float32 kernels: range reduction x = n·ln2 + r, degree-7 polynomial (relative error
 * < 1e-8, below float32 resolution), 2^n from a table. ~2× faster than Math.exp in V8.
 */
function fexp(x: number): number {
  const t = x * 1.4426950408889634;
  if (!(t > -1074)) return x !== x ? x : 0;
  if (t > 1023) return Infinity;
  const n = Math.floor(t + 0.5); // Math.floor is much faster than Math.round in V8
  const r = x - n * 0.6931471805599453;
  const p = 1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 + r * (0.008333333333333333 + r * (0.001388888888888889 + r * 0.0001984126984126984))))));
  return p * P2[n + 1075]!;
}
declare const P2: Float64Array;

/** Source text of the prelude shared by all generated kernels. */
export const JS_PRELUDE = [
  "const P2 = new Float64Array(2101); for (let k = 0; k < 2101; k++) P2[k] = Math.pow(2, k - 1075);",
  fexp.toString(),
  erf.toString(),
  roundHalfAway.toString(),
  sign.toString(),
  "const fr = Math.fround;",
].join("\n");
