/**
 * Cluster utilities that build the `ranges` of block-sparse reductions, as pykeops's
 * `pykeops.numpy.cluster` / `pykeops.torch.cluster`: label points by grid cell, sort them so that
 * each cluster is contiguous, take each cluster's [start, end) range and centroid, and turn a
 * cluster-to-cluster boolean matrix into the six arrays of the `ranges` option.
 */
import { argError, said } from "../errors.js";
import { Tensor, allocate, asTensor, type FloatDType, type TensorLike } from "../tensor.js";
import type { Ranges } from "./spec.js";

function points(x: TensorLike, name: string): Tensor {
  const t = asTensor(x, name);
  if (t.ndim !== 2) argError(name, "a tensor of shape (M, D)", t);
  return t;
}

function labels(lab: TensorLike, M: number | undefined, name = "lab"): Int32Array {
  const t = asTensor(lab, name);
  if (!(t.ndim === 1 || (t.ndim === 2 && t.shape[1] === 1))) argError(name, "a tensor of shape (M,) of labels", t);
  if (M !== undefined && t.shape[0] !== M) argError(name, `${M} labels, one per point`, said(`${t.shape[0]}`));
  const d = t.data;
  for (let k = 0; k < d.length; k++)
    if (!Number.isInteger(d[k]!) || d[k]! < 0) argError(name, "non-negative integer labels", said(`${d[k]} at position ${k}`));
  return d instanceof Int32Array ? d : Int32Array.from(d);
}

/**
 * Labels points by the cubic cell ("voxel") of side `size` (a number, or one per dimension) that
 * holds them: two points share a label if and only if they share a cell. Labels are compact, in
 * [0, C) for C non-empty cells, numbered in the order pykeops's `grid_cluster` gives them (for
 * D > 3, which pykeops declines, in the lexicographic order of the cells). Returns (M,) int32.
 */
export function gridCluster(x: TensorLike, size: number | readonly number[] | TensorLike): Tensor {
  const t = points(x, "x");
  const [M, D] = t.shape as [number, number];
  const sizes = typeof size === "number" ? Array(D).fill(size) as number[] : Array.from(asTensor(size as TensorLike, "size").data);
  if (sizes.length !== D) argError("size", `a number or ${D} numbers (one per dimension)`, size);
  for (const s of sizes) if (!(s > 0) || !Number.isFinite(s)) argError("size", "positive cell sizes", said(String(s)));
  const cells = new Float64Array(M * D);
  for (let i = 0; i < M; i++)
    for (let d = 0; d < D; d++) {
      const v = Math.floor(t.data[i * D + d]! / sizes[d]!);
      if (!Number.isFinite(v)) argError("x", "finite coordinates", said(`${t.data[i * D + d]} at row ${i}`));
      cells[i * D + d] = v;
    }
  const keyOrder = (a: number, b: number): number => {
    if (D <= 3) return gridKey(cells, a, D) - gridKey(cells, b, D);
    for (let d = 0; d < D; d++) {
      const c = cells[a * D + d]! - cells[b * D + d]!;
      if (c !== 0) return c;
    }
    return 0;
  };
  const order = Array.from({ length: M }, (_, i) => i).sort(keyOrder);
  const out = new Int32Array(M);
  let label = -1;
  for (let k = 0; k < M; k++) {
    if (k === 0 || keyOrder(order[k - 1]!, order[k]!) !== 0) label++;
    out[order[k]!] = label;
  }
  return new Tensor(out, [M]);
}

/** pykeops's cell key: the cell coordinates weighted by 2^20, 2^10, 1 (the last dimension weighs 1). */
function gridKey(cells: Float64Array, i: number, D: number): number {
  let k = 0;
  for (let d = 0; d < D; d++) k = k * 1024 + cells[i * D + d]!;
  return k;
}

/**
 * Sorts points (one tensor, or several sharing the rows) by label, so that every cluster is
 * contiguous; returns the sorted points and the sorted labels (a stable sort).
 */
export function sortClusters<X extends TensorLike | readonly TensorLike[]>(x: X, lab: TensorLike): [X extends readonly TensorLike[] ? Tensor[] : Tensor, Tensor] {
  const l = labels(lab, undefined);
  const perm = Array.from({ length: l.length }, (_, i) => i).sort((a, b) => l[a]! - l[b]! || a - b);
  const sortOne = (a: TensorLike, name: string): Tensor => {
    const t = asTensor(a, name);
    if (t.ndim < 1 || t.shape[0] !== l.length) argError(name, `${l.length} rows, one per label`, t);
    const row = t.size / l.length;
    const out = allocate(t.dtype, t.size);
    perm.forEach((p, k) => out.set(t.data.subarray(p * row, (p + 1) * row), k * row));
    return new Tensor(out, t.shape);
  };
  const sorted = Array.isArray(x) ? x.map((a, k) => sortOne(a as TensorLike, `x[${k}]`)) : sortOne(x as TensorLike, "x");
  return [sorted as X extends readonly TensorLike[] ? Tensor[] : Tensor, new Tensor(Int32Array.from(perm, (p) => l[p]!), [l.length])];
}

function counts(l: Int32Array): Int32Array {
  let C = 0;
  for (const v of l) C = Math.max(C, v + 1);
  const n = new Int32Array(C);
  for (const v of l) n[v]!++;
  return n;
}

/**
 * The [start, end) rows of each cluster of sorted points: (C, 2) int32, from the labels (or the
 * number of points per cluster `nlab`).
 */
export function clusterRanges(lab: TensorLike, nlab?: TensorLike): Tensor {
  const n = nlab === undefined ? counts(labels(lab, undefined)) : labels(nlab, undefined, "nlab");
  const out = new Int32Array(2 * n.length);
  let at = 0;
  for (let c = 0; c < n.length; c++) {
    out[2 * c] = at;
    at += n[c]!;
    out[2 * c + 1] = at;
  }
  return new Tensor(out, [n.length, 2]);
}

/** The (weighted) centroid of each cluster: (C, D), x's dtype. */
export function clusterCentroids(x: TensorLike, lab: TensorLike, opts: { weights?: TensorLike } = {}): Tensor {
  return centroidsAndWeights(points(x, "x"), lab, opts.weights).centroids;
}

function centroidsAndWeights(t: Tensor, lab: TensorLike, weights: TensorLike | undefined): { centroids: Tensor; total: Tensor } {
  const [M, D] = t.shape as [number, number];
  const l = labels(lab, M);
  const C = counts(l).length;
  let w: ArrayLike<number> | undefined;
  if (weights !== undefined) {
    const wt = asTensor(weights, "weights");
    if (wt.size !== M) argError("weights", `${M} weights, one per point`, wt);
    w = wt.data;
  }
  const dtype: FloatDType = t.dtype === "float64" ? "float64" : "float32";
  const sum = new Float64Array(C * D), tot = new Float64Array(C);
  for (let i = 0; i < M; i++) {
    const wi = w ? w[i]! : 1, c = l[i]!;
    tot[c]! += wi;
    for (let d = 0; d < D; d++) sum[c * D + d]! += wi * t.data[i * D + d]!;
  }
  const cen = allocate(dtype, C * D), total = allocate(dtype, C);
  for (let c = 0; c < C; c++) {
    total[c] = tot[c]!;
    for (let d = 0; d < D; d++) cen[c * D + d] = sum[c * D + d]! / tot[c]!;
  }
  return { centroids: new Tensor(cen, [C, D]), total: new Tensor(total, [C]) };
}

/**
 * The ranges (C, 2) int32, the centroids (C, D) and the total weight (C,) of each cluster of
 * points `x` with labels `lab` (weights default to 1), as pykeops's `cluster_ranges_centroids`.
 */
export function clusterRangesCentroids(x: TensorLike, lab: TensorLike, opts: { weights?: TensorLike } = {}): [Tensor, Tensor, Tensor] {
  const t = points(x, "x");
  const { centroids, total } = centroidsAndWeights(t, lab, opts.weights);
  return [clusterRanges(lab), centroids, total];
}

function pairs(r: TensorLike, name: string): Int32Array {
  const t = asTensor(r, name);
  if (!(t.ndim === 2 && t.shape[1] === 2) && !(t.ndim === 1 && t.size === 0)) argError(name, "a tensor of shape (C, 2) of [start, end) ranges", t);
  return Int32Array.from(t.data);
}

/**
 * The `ranges` option of a block-sparse reduction from cluster ranges and a boolean matrix:
 * the pairs of clusters (k, l) with `keep[k][l]` true interact, the others are skipped.
 * `keep` is (Ci, Cj): a tensor (non-zero = true) or nested arrays of booleans or numbers.
 */
export function fromMatrix(rangesI: TensorLike, rangesJ: TensorLike, keep: TensorLike | readonly (readonly boolean[])[]): [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor] {
  const ri = pairs(rangesI, "rangesI"), rj = pairs(rangesJ, "rangesJ");
  const Ci = ri.length / 2, Cj = rj.length / 2;
  const k = Array.isArray(keep) && keep.some((row) => Array.isArray(row) && row.some((v) => typeof v === "boolean"))
    ? asTensor((keep as boolean[][]).map((row) => row.map((v) => (v ? 1 : 0))), "keep")
    : asTensor(keep as TensorLike, "keep");
  if (!(k.ndim === 2 && k.shape[0] === Ci && k.shape[1] === Cj) && !(Ci * Cj === 0 && k.size === 0))
    argError("keep", `a (${Ci}, ${Cj}) matrix (clusters of i × clusters of j)`, k);
  // one row-major pass counts the kept pairs per row and per column, a second one fills both lists
  const kd = k.data;
  const slicesI = new Int32Array(Ci), slicesJ = new Int32Array(Cj);
  let total = 0;
  for (let a = 0; a < Ci; a++) {
    const base = a * Cj;
    for (let b = 0; b < Cj; b++)
      if (kd[base + b] !== 0) {
        total++;
        slicesJ[b]!++;
      }
    slicesI[a] = total;
  }
  for (let b = 1; b < Cj; b++) slicesJ[b]! += slicesJ[b - 1]!;
  const redJ = new Int32Array(2 * total), redI = new Int32Array(2 * total);
  const cursor = Int32Array.from({ length: Cj }, (_, b) => (b === 0 ? 0 : slicesJ[b - 1]!));
  let at = 0;
  for (let a = 0; a < Ci; a++) {
    const base = a * Cj;
    for (let b = 0; b < Cj; b++)
      if (kd[base + b] !== 0) {
        redJ[2 * at] = rj[2 * b]!;
        redJ[2 * at + 1] = rj[2 * b + 1]!;
        at++;
        const c = cursor[b]!++;
        redI[2 * c] = ri[2 * a]!;
        redI[2 * c + 1] = ri[2 * a + 1]!;
      }
  }
  return [
    new Tensor(ri, [Ci, 2]), new Tensor(slicesI, [Ci]), new Tensor(redJ, [total, 2]),
    new Tensor(rj, [Cj, 2]), new Tensor(slicesJ, [Cj]), new Tensor(redI, [total, 2]),
  ];
}

/** Swaps the i and j halves of a `ranges` option (undefined stays undefined), as pykeops's `swap_axes`. */
export function swapAxes<R extends Ranges | undefined>(ranges: R): R {
  if (ranges === undefined) return ranges;
  if (!Array.isArray(ranges) || ranges.length !== 6) argError("ranges", "an array of six int32 tensors", ranges);
  return [ranges[3], ranges[4], ranges[5], ranges[0], ranges[1], ranges[2]] as unknown as R;
}
