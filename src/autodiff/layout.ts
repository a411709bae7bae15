/**
 * Host-side layout helpers of the reduction gradients: sizes and batch of a call's data, batch
 * broadcasting of a variable, conversions between VarData, Tensors and float64 arrays.
 */
import { argError } from "../errors.js";
import { broadcastBatch, ownBatchIndex } from "../lazy/bindings.js";

export { ownBatchIndex, sizeOf };
import type { VarData } from "../lazy/execute.js";
import { Tensor, allocate, sizeOf, type FloatDType, type TensorData } from "../tensor.js";

/** Sizes M, N and the broadcast batch shape of a call's data. */
export interface Geometry {
  readonly M: number;
  readonly N: number;
  readonly batch: readonly number[];
  readonly nBatch: number;
}

/** M, N (1 where no variable sets them) and the broadcast batch of the variables. */
export function geometry(vars: Iterable<VarData>): Geometry {
  let M = 1, N = 1;
  let batch: number[] = [];
  for (const v of vars) {
    if (v.cat === 0) M = v.rows;
    else if (v.cat === 1) N = v.rows;
    if (v.batch.length) batch = broadcastBatch(batch, v.batch, v.name);
  }
  return { M, N, batch, nBatch: sizeOf(batch) };
}


/** Sums a full-batch array of `rowSize`-element entries down to the variable's own batch. */
export function sumToOwnBatch(x: ArrayLike<number>, batch: readonly number[], own: readonly number[], rowSize: number): Float64Array {
  const idx = ownBatchIndex(own, batch);
  const out = new Float64Array(sizeOf(own) * rowSize);
  for (let b = 0; b < idx.length; b++) {
    const o = idx[b]! * rowSize, s = b * rowSize;
    for (let e = 0; e < rowSize; e++) out[o + e]! += x[s + e]!;
  }
  return out;
}

/** The shape of a variable's gradient: (…own batch, rows, dim), or (…own batch, dim) for a parameter. */
export function varShape(v: VarData): number[] {
  return v.cat === 2 ? [...v.batch, v.dim] : [...v.batch, v.rows, v.dim];
}

/** A tensor of `dtype` from float64 values. */
export function toTensor(x: ArrayLike<number>, shape: readonly number[], dtype: FloatDType): Tensor {
  const d = allocate(dtype, x.length);
  for (let k = 0; k < x.length; k++) d[k] = x[k]!;
  return new Tensor(d, shape);
}

/** The values of a tensor in `dtype` storage (shared when it already is). */
export function dataIn(t: Tensor, dtype: FloatDType): TensorData {
  if (t.dtype === dtype) return t.data;
  const d = allocate(dtype, t.data.length);
  d.set(t.data);
  return d;
}

/** VarData of a new variable of the full batch with `rows` rows. */
export function newVar(data: TensorData, cat: 0 | 1, dim: number, rows: number, batch: readonly number[], name: string): VarData {
  return { data, cat, dim, rows, batch, name };
}

/** Checks a cotangent's shape against the expected output shape. */
export function checkGradOut(gradOut: Tensor, expected: readonly number[]): void {
  const sh = gradOut.shape;
  if (sh.length !== expected.length || sh.some((s, k) => s !== expected[k]))
    argError("gradOut", `a tensor of shape (${expected.join(", ")}) (the shape of the result)`, gradOut);
  if (gradOut.dtype === "int32") argError("gradOut", "float32 or float64 values", gradOut);
}
