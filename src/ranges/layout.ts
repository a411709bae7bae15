/** The block-sparse layout of one call: the ranges checked against its sizes, and its slots. */
import { KeOpsError } from "../errors.js";
import type { KernelProgram } from "../compile/program.js";
import type { RangedLayout } from "./run.js";
import { checkRangeSizes, type RangesSpec } from "./spec.js";

/** Sizes of a call, as execute computes them. */
export interface RangedSizes {
  readonly batch: readonly number[];
  readonly nOuter: number;
  readonly nInner: number;
}

/**
 * The layout of a block-sparse run reducing over `axis` (1: the first three arrays, 0: the last
 * three). KeOps allows no batch dimensions with ranges; neither does keops-ts.
 */
export function rangedLayout(spec: RangesSpec, axis: 0 | 1, sizes: RangedSizes, program: KernelProgram, rowSizes: readonly number[]): RangedLayout {
  if (sizes.batch.length)
    throw new KeOpsError(`ranges: block-sparse reductions take no batch dimensions (as in KeOps), got batch dimensions (${sizes.batch.join(", ")})`);
  const M = axis === 1 ? sizes.nOuter : sizes.nInner, N = axis === 1 ? sizes.nInner : sizes.nOuter;
  checkRangeSizes(spec, M, N);
  return {
    triple: axis === 1 ? spec.overJ : spec.overI,
    slots: program.slots,
    rowSizes,
    isIndex: program.red.outputs.map((o) => o.t === "i"),
    dtype: program.dtype,
  };
}
