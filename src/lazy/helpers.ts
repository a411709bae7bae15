/** The Vi / Vj / Pm helpers of pykeops. */
import { argError } from "../errors.js";
import { asTensor, type TensorLike } from "../tensor.js";
import { LazyTensor } from "./lazytensor.js";

function helper(cat: 0 | 1 | 2, name: string) {
  function make(ind: number, dim: number): LazyTensor<true>;
  function make(x: TensorLike): LazyTensor<false>;
  function make(x: TensorLike | number, dim?: number): LazyTensor<boolean> {
    if (dim !== undefined) {
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0) argError(`${name}: index`, "a non-negative integer", x);
      if (!Number.isInteger(dim) || dim < 1) argError(`${name}: dim`, "a positive integer", dim);
      return new LazyTensor([x, dim, cat]) as LazyTensor<boolean> as LazyTensor<true>;
    }
    if (cat === 2) {
      if (typeof x === "number") return new LazyTensor(asTensor([x], "x"), 2);
      const t = asTensor(x, `${name}: x`);
      if (t.ndim > 1) argError(`${name}: x`, "a number, an array of numbers or a 1-D tensor", t);
      return new LazyTensor(t, 2);
    }
    const t = asTensor(x, `${name}: x`);
    if (t.ndim !== 2) argError(`${name}: x`, `a 2-D tensor (rows, dim)`, t);
    return new LazyTensor(t, cat);
  }
  return make;
}

/** An i-indexed variable: `Vi(x)` with x of shape (M, D), or the symbolic `Vi(ind, dim)`. */
export const Vi = helper(0, "Vi");
/** A j-indexed variable: `Vj(y)` with y of shape (N, D), or the symbolic `Vj(ind, dim)`. */
export const Vj = helper(1, "Vj");
/** A parameter: `Pm(p)` with a number, array or 1-D tensor, or the symbolic `Pm(ind, dim)`. */
export const Pm = helper(2, "Pm");
