/** The `ranges` a LazyTensor carries (pykeops's `K.ranges = …`): checking, merging, swapping. */
import { KeOpsError } from "../errors.js";
import { Tensor, asTensor } from "../tensor.js";
import { swapAxes } from "./cluster.js";
import { checkRanges, type Ranges } from "./spec.js";

/** The value of an assignment `K.ranges = r`: checked ranges, or undefined for null/undefined (dense). */
export function assignedRanges(r: unknown): Ranges | undefined {
  if (r === undefined || r === null) return undefined;
  checkRanges(r);
  return r as Ranges;
}

function sameRanges(a: Ranges, b: Ranges): boolean {
  if (a === b) return true;
  return a.every((x, k) => {
    const y = b[k]!;
    if (x === y) return true;
    const tx = x instanceof Tensor ? x : asTensor(x, "ranges"), ty = y instanceof Tensor ? y : asTensor(y, "ranges");
    return tx.size === ty.size && tx.data.every((v, e) => v === ty.data[e]);
  });
}

/** The ranges of an operation's result: those of its operands, which must agree (as in pykeops). */
export function mergeRanges(a: Ranges | undefined, b: Ranges | undefined, what: string): Ranges | undefined {
  if (!a) return b;
  if (!b || sameRanges(a, b)) return a;
  throw new KeOpsError(`${what}: operands with different ranges (block-sparsity patterns); give both the same K.ranges, or none to one of them`);
}

/** The ranges of the transposed LazyTensor (i and j halves swapped). */
export function transposedRanges(r: Ranges | undefined): Ranges | undefined {
  return r && swapAxes(r);
}
