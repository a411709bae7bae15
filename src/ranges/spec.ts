/**
 * Block-sparse reductions (pykeops's `ranges`): the six integer arrays, checked.
 *
 * `[ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i]`, as pykeops defines them:
 * for a reduction over j (axis 1), output rows `i ∈ [ranges_i[k,0], ranges_i[k,1])` reduce over
 * the j in the ranges `redranges_j[l]` for `l ∈ [slices_i[k−1], slices_i[k])` (slices_i[−1] = 0);
 * the last three arrays do the same for reductions over i (axis 0), and for the gradients with
 * respect to j-variables.
 */
import { argError, said } from "../errors.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";

/**
 * The `ranges` option: six int32 tensors (or nested integer arrays),
 * `[ranges_i (Mc,2), slices_i (Mc,), redranges_j (Mcc,2), ranges_j (Nc,2), slices_j (Nc,), redranges_i (Ncc,2)]`.
 */
export type Ranges = readonly [TensorLike, TensorLike, TensorLike, TensorLike, TensorLike, TensorLike];

/** One half of the ranges: the output blocks and the reduction ranges of each. */
export interface RangeTriple {
  /** [start, end) of each output block, interleaved (2·blocks). */
  readonly blocks: Int32Array;
  /** End (exclusive) of each block's slice of `reduced`; the first start is 0. */
  readonly slices: Int32Array;
  /** [start, end) of each reduction range, interleaved. */
  readonly reduced: Int32Array;
}

/** Checked ranges: the triple for reductions over j (axis 1) and the one over i (axis 0). */
export interface RangesSpec {
  /** Used by reductions over j: blocks of i, ranges of j. */
  readonly overJ: RangeTriple;
  /** Used by reductions over i: blocks of j, ranges of i. */
  readonly overI: RangeTriple;
}

const NAMES = ["ranges_i", "slices_i", "redranges_j", "ranges_j", "slices_j", "redranges_i"] as const;

function intArray(x: TensorLike, k: number, pairs: boolean): Int32Array {
  const name = `ranges[${k}] (${NAMES[k]})`;
  const given = x;
  if (x instanceof Tensor && x.dtype !== "int32") argError(name, "an int32 tensor", said(`a ${x.dtype} tensor`));
  if (ArrayBuffer.isView(x) && !(x instanceof Int32Array)) argError(name, "an int32 tensor or an Int32Array", x);
  // nested arrays are read in float64 (exact), then checked to be int32 values
  const t = x instanceof Tensor || ArrayBuffer.isView(x) ? asTensor(x, name) : asTensor(x, name, "float64");
  const d = t.data;
  for (let e = 0; e < d.length; e++)
    if (!Number.isInteger(d[e]!) || Math.abs(d[e]!) > 2 ** 31 - 1) argError(name, "int32 integers", said(`${d[e]} at position ${e}`));
  const sh = t.shape;
  if (pairs) {
    const ok = (sh.length === 2 && sh[1] === 2) || (sh.length === 1 && sh[0] === 0);
    if (!ok) argError(name, "a shape (n, 2) of [start, end) pairs", given);
  } else if (!(sh.length === 1 || (sh.length === 2 && sh[1] === 1))) argError(name, "a shape (n,)", given);
  return d instanceof Int32Array ? d : Int32Array.from(d);
}

function triple(r: Ranges, at: number): RangeTriple {
  const blocks = intArray(r[at]!, at, true);
  const slices = intArray(r[at + 1]!, at + 1, false);
  const reduced = intArray(r[at + 2]!, at + 2, true);
  if (slices.length * 2 !== blocks.length)
    argError(`ranges[${at + 1}] (${NAMES[at + 1]})`, `one entry per block of ${NAMES[at]} (${blocks.length / 2})`, said(`${slices.length} entries`));
  let prev = 0;
  for (let k = 0; k < slices.length; k++) {
    const s = slices[k]!;
    if (s < prev || s > reduced.length / 2)
      argError(`ranges[${at + 1}] (${NAMES[at + 1]})`, `non-decreasing slice ends in [0, ${reduced.length / 2}] (the number of ranges in ${NAMES[at + 2]})`, said(`${s} at position ${k}`));
    prev = s;
  }
  return { blocks, slices, reduced };
}

/** Checks the structure of a `ranges` option (shapes, integers, slices); sizes are checked at the run. */
export function checkRanges(r: unknown): RangesSpec {
  if (!Array.isArray(r) || r.length !== 6)
    argError("ranges", "an array of six int32 tensors [ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i]", r);
  const rr = r as unknown as Ranges;
  return { overJ: triple(rr, 0), overI: triple(rr, 3) };
}

function checkPairs(a: Int32Array, n: number, name: string, noOverlap: boolean): void {
  for (let k = 0; k < a.length; k += 2) {
    const s = a[k]!, e = a[k + 1]!;
    if (s < 0 || e < s || e > n) argError(name, `[start, end) pairs with 0 ≤ start ≤ end ≤ ${n}`, said(`[${s}, ${e}] at row ${k / 2}`));
  }
  if (!noOverlap || a.length <= 2) return;
  const order = Array.from({ length: a.length / 2 }, (_, k) => k).filter((k) => a[2 * k]! < a[2 * k + 1]!).sort((x, y) => a[2 * x]! - a[2 * y]!);
  let last = -1;
  for (const q of order) {
    if (last >= 0 && a[2 * q]! < a[2 * last + 1]!)
      argError(name, "output blocks that do not overlap", said(`rows ${last} [${a[2 * last]}, ${a[2 * last + 1]}] and ${q} [${a[2 * q]}, ${a[2 * q + 1]}]`));
    if (last < 0 || a[2 * q + 1]! > a[2 * last + 1]!) last = q;
  }
}

/** Checks the ranges against the sizes M (i) and N (j). */
export function checkRangeSizes(spec: RangesSpec, M: number, N: number): void {
  checkPairs(spec.overJ.blocks, M, "ranges[0] (ranges_i)", true);
  checkPairs(spec.overJ.reduced, N, "ranges[2] (redranges_j)", false);
  checkPairs(spec.overI.blocks, N, "ranges[3] (ranges_j)", true);
  checkPairs(spec.overI.reduced, M, "ranges[5] (redranges_i)", false);
}
