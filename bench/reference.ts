/**
 * float64 references on a subset of output rows, and the relative error of a result against them.
 * Each reference recomputes the checked rows exactly, in float64, from the same float32 inputs.
 */
import type { Data } from "./data.js";
import type { Output } from "./types.js";
import { KNN_K, SOLVE_ALPHA, type Workload } from "./workloads.js";

/** ‖x_i − y_j‖² in float64. */
function sqdist(d: Data, i: number, xs: ArrayLike<number>, j: number, ys: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < d.D; k++) {
    const t = xs[i * d.D + k]! - ys[j * d.D + k]!;
    s += t * t;
  }
  return s;
}

/** Row i of Σ_j exp(−‖x_i − y_j‖²) b_j (width Dv). */
function convRow(d: Data, i: number, b: ArrayLike<number> = d.b, ys: ArrayLike<number> = d.y): Float64Array {
  const out = new Float64Array(d.Dv);
  for (let j = 0; j < d.N; j++) {
    const k = Math.exp(-sqdist(d, i, d.x, j, ys));
    for (let v = 0; v < d.Dv; v++) out[v] += k * b[j * d.Dv + v]!;
  }
  return out;
}

/** The K smallest ‖x_i − y_j‖², ascending. */
function knnRow(d: Data, i: number, K: number): Float64Array {
  const best = new Float64Array(K).fill(Infinity);
  for (let j = 0; j < d.N; j++) {
    const v = sqdist(d, i, d.x, j, d.y);
    if (v >= best[K - 1]!) continue;
    let p = K - 1;
    while (p > 0 && best[p - 1]! > v) {
      best[p] = best[p - 1]!;
      p--;
    }
    best[p] = v;
  }
  return best;
}

/** log Σ_j exp(−‖x_i − y_j‖²). */
function lseRow(d: Data, i: number): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < d.N; j++) m = Math.max(m, -sqdist(d, i, d.x, j, d.y));
  let s = 0;
  for (let j = 0; j < d.N; j++) s += Math.exp(-sqdist(d, i, d.x, j, d.y) - m);
  return new Float64Array([m + Math.log(s)]);
}

/** Row i of ∂/∂x Σ_i ‖a_i‖², a = W1: Σ_j 2 (a_i·b_j) k_ij (−2)(x_i − y_j). */
function gradRow(d: Data, i: number): Float64Array {
  const a = convRow(d, i);
  const g = new Float64Array(d.D);
  for (let j = 0; j < d.N; j++) {
    const k = Math.exp(-sqdist(d, i, d.x, j, d.y));
    let ab = 0;
    for (let v = 0; v < d.Dv; v++) ab += a[v]! * d.b[j * d.Dv + v]!;
    for (let c = 0; c < d.D; c++) g[c] += 2 * ab * k * -2 * (d.x[i * d.D + c]! - d.y[j * d.D + c]!);
  }
  return g;
}

/** W7 row: Σ_j (Σ_k exp(−‖x_i − y_j‖² / σ_k²)) b_j. */
function tutorialRow(d: Data, i: number): Float64Array {
  const out = new Float64Array(d.Dv);
  const s = d.sigmas!;
  for (let j = 0; j < d.N; j++) {
    const d2 = sqdist(d, i, d.x, j, d.y);
    let k = 0;
    for (let t = 0; t < s.length; t++) k += Math.exp(-d2 / (s[t]! * s[t]!));
    for (let v = 0; v < d.Dv; v++) out[v] += k * d.b[j * d.Dv + v]!;
  }
  return out;
}

/** ‖got − want‖₂ / ‖want‖₂ over the checked rows. */
function relErr(got: number[], want: number[]): number {
  let num = 0, den = 0;
  for (let k = 0; k < want.length; k++) {
    const e = got[k]! - want[k]!;
    num += e * e;
    den += want[k]! * want[k]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * Relative error of `out` on `rows` (null where the workload has no reference: W8). KNN: the
 * distances of the returned neighbours (recomputed in float64) against the true K smallest.
 * W6: the residual ‖(alpha·Id + K) a − b‖ / ‖b‖ on the checked rows.
 */
export function relativeError(w: Workload, d: Data, out: Output, rows: readonly number[]): number | null {
  const got: number[] = [], want: number[] = [];
  const push = (i: number, ref: Float64Array, val: (c: number) => number): void => {
    for (let c = 0; c < ref.length; c++) {
      want.push(ref[c]!);
      got.push(val(c));
    }
  };
  switch (w.id) {
    case "W8":
      return null;
    case "W3": {
      const idx = out.indices!;
      for (const i of rows) {
        const ref = knnRow(d, i, KNN_K);
        push(i, ref, (c) => {
          const j = Number(idx[i * out.width + c]);
          return j >= 0 && j < d.N ? sqdist(d, i, d.x, j, d.y) : NaN;
        });
      }
      return relErr(got, want);
    }
    case "W6": {
      const a = out.values!;
      for (const i of rows) {
        const Ka = convRow(d, i, a, d.x);
        const r = new Float64Array(d.Dv);
        for (let v = 0; v < d.Dv; v++) r[v] = SOLVE_ALPHA * a[i * d.Dv + v]! + Ka[v]! - d.b[i * d.Dv + v]!;
        for (let v = 0; v < d.Dv; v++) {
          got.push(r[v]!);
          want.push(0);
        }
      }
      let num = 0, den = 0;
      for (let k = 0; k < got.length; k++) num += got[k]! * got[k]!;
      for (const i of rows) for (let v = 0; v < d.Dv; v++) den += d.b[i * d.Dv + v]! ** 2;
      return Math.sqrt(num / den);
    }
    default: {
      const row = w.id === "W4" ? lseRow : w.id === "W5" ? gradRow : w.id === "W7" ? tutorialRow : convRow;
      const vals = out.values!;
      for (const i of rows) push(i, row(d, i), (c) => vals[i * out.width + c]!);
      return relErr(got, want);
    }
  }
}
