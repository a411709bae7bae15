/** Seeded benchmark data, shared by keops-ts and the peers (the same float32 arrays). */
import { rand, randn } from "../src/index.js";
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

/** The data of workload `w` at `size`. W6 solves on y = x; W7 uses the tutorial's 50 × 30 uniform data. */
export function makeData(w: Workload, size: number, seed: number): Data {
  if (w.id === "W7") {
    const x = rand([W7_M, w.D], { seed }).data as Float32Array;
    const y = rand([W7_N, w.D], { seed: seed + 1 }).data as Float32Array;
    const b = rand([W7_N, w.Dv], { seed: seed + 2 }).data as Float32Array;
    return { M: W7_M, N: W7_N, D: w.D, Dv: w.Dv, x, y, b, sigmas: new Float32Array([0.5, 1.0, 2.0, 4.0]) };
  }
  const M = w.id === "W8" ? W8_SIZE : size;
  const x = randn([M, w.D], { seed }).data as Float32Array;
  const y = w.id === "W6" ? x : (randn([M, w.D], { seed: seed + 1 }).data as Float32Array);
  const b = randn([M, Math.max(1, w.Dv)], { seed: seed + 2 }).data as Float32Array;
  return { M, N: M, D: w.D, Dv: Math.max(1, w.Dv), x, y, b };
}

/** `count` distinct rows of 0 … M−1, chosen by a seeded generator (all rows when M ≤ count). */
export function checkRows(M: number, count: number, seed: number): number[] {
  if (M <= count) return Array.from({ length: M }, (_, i) => i);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const set = new Set<number>();
  while (set.size < count) set.add(Math.floor(next() * M));
  return [...set].sort((a, b) => a - b);
}
