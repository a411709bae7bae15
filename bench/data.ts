/**
 * Seeded benchmark data, shared by keops-ts and the peers (the same float32 arrays). Made here,
 * without keops-ts, so that the peers run whatever state the library is in.
 */
import { W7_M, W7_N, W8_SIZE, type Workload } from "./workloads.js";

/** Inputs of one figure: x (M × D), y (N × D), b (N × Dv), float32 row-major. */
export interface Data {
  readonly M: number;
  readonly N: number;
  readonly D: number;
  readonly Dv: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly b: Float32Array;
  /** W7 only: the bandwidths σ (dim 4). */
  readonly sigmas?: Float32Array;
}

/** xorshift32 uniforms in [0, 1). */
function uniforms(seed: number): () => number {
  let s = (Math.imul(seed, 2654435761) >>> 0) || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

/** `rows × dim` float32 values, uniform in [0, 1) or standard normal (Box–Muller). */
function fill(rows: number, dim: number, seed: number, normal: boolean): Float32Array {
  const u = uniforms(seed);
  const a = new Float32Array(rows * dim);
  for (let k = 0; k < a.length; k++)
    a[k] = normal ? Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) : u();
  return a;
}

/** The data of workload `w` at `size`. W6 solves on y = x; W7 uses the tutorial's 50 × 30 uniform data. */
export function makeData(w: Workload, size: number, seed: number): Data {
  if (w.id === "W7") {
    const x = fill(W7_M, w.D, seed, false), y = fill(W7_N, w.D, seed + 1, false), b = fill(W7_N, w.Dv, seed + 2, false);
    return { M: W7_M, N: W7_N, D: w.D, Dv: w.Dv, x, y, b, sigmas: new Float32Array([0.5, 1.0, 2.0, 4.0]) };
  }
  const M = w.id === "W8" ? W8_SIZE : size;
  const x = fill(M, w.D, seed, true);
  const y = w.id === "W6" ? x : fill(M, w.D, seed + 1, true);
  const b = fill(M, Math.max(1, w.Dv), seed + 2, true);
  return { M, N: M, D: w.D, Dv: Math.max(1, w.Dv), x, y, b };
}

/** `count` distinct rows of 0 … M−1, chosen by a seeded generator (all rows when M ≤ count). */
export function checkRows(M: number, count: number, seed: number): number[] {
  if (M <= count) return Array.from({ length: M }, (_, i) => i);
  const next = uniforms(seed);
  const set = new Set<number>();
  while (set.size < count) set.add(Math.floor(next() * M));
  return [...set].sort((a, b) => a - b);
}
