/**
 * Peer: the plain JavaScript loop a user would write by hand — one thread, Math.exp, float64
 * accumulators, float32 inputs and outputs. No library, no M × N matrix.
 */
import type { Data } from "../data.js";
import type { Output } from "../types.js";
import { KNN_K, type Workload } from "../workloads.js";
import { NoFigure, type Impl, type Runner } from "./runner.js";

/** a_i = Σ_j exp(−‖x_i − y_j‖²) b_j. */
function conv(d: Data): Output {
  const { M, N, D, Dv, x, y, b } = d;
  const a = new Float32Array(M * Dv);
  const acc = new Float64Array(Dv);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) {
        const t = x[i * D + k]! - y[j * D + k]!;
        s += t * t;
      }
      const e = Math.exp(-s);
      for (let v = 0; v < Dv; v++) acc[v] += e * b[j * Dv + v]!;
    }
    a.set(acc, i * Dv);
  }
  return { values: a, width: Dv };
}

/** Indices of the K nearest y_j of each x_i, by insertion into a sorted list of K. */
function knn(d: Data): Output {
  const { M, N, D, x, y } = d;
  const K = KNN_K;
  const idx = new Int32Array(M * K);
  const best = new Float64Array(K);
  const arg = new Int32Array(K);
  for (let i = 0; i < M; i++) {
    best.fill(Infinity);
    arg.fill(-1);
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) {
        const t = x[i * D + k]! - y[j * D + k]!;
        s += t * t;
      }
      if (s >= best[K - 1]!) continue;
      let p = K - 1;
      while (p > 0 && best[p - 1]! > s) {
        best[p] = best[p - 1]!;
        arg[p] = arg[p - 1]!;
        p--;
      }
      best[p] = s;
      arg[p] = j;
    }
    idx.set(arg, i * K);
  }
  return { indices: idx, width: K };
}

/** log Σ_j exp(−‖x_i − y_j‖²), online (running max). */
function lse(d: Data): Output {
  const { M, N, D, x, y } = d;
  const out = new Float32Array(M);
  for (let i = 0; i < M; i++) {
    let m = -Infinity, s = 0;
    for (let j = 0; j < N; j++) {
      let q = 0;
      for (let k = 0; k < D; k++) {
        const t = x[i * D + k]! - y[j * D + k]!;
        q += t * t;
      }
      const v = -q;
      if (v > m) {
        s = s * Math.exp(m - v) + 1;
        m = v;
      } else s += Math.exp(v - m);
    }
    out[i] = m + Math.log(s);
  }
  return { values: out, width: 1 };
}

/** The tutorial's reduction: Σ_j (Σ_k exp(−‖x_i − y_j‖² / σ_k²)) b_j, `calls` times. */
function tutorial(d: Data, calls: number): Output {
  const { M, N, D, Dv, x, y, b } = d;
  const s2 = d.sigmas!.map((s) => s * s);
  let a = new Float32Array(0);
  for (let c = 0; c < calls; c++) {
    a = new Float32Array(M * Dv);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let q = 0;
        for (let k = 0; k < D; k++) {
          const t = x[i * D + k]! - y[j * D + k]!;
          q += t * t;
        }
        let kk = 0;
        for (let t = 0; t < s2.length; t++) kk += Math.exp(-q / s2[t]!);
        for (let v = 0; v < Dv; v++) a[i * Dv + v] += kk * b[j * Dv + v]!;
      }
  }
  return { values: a, width: Dv };
}

/** The hand-written loops. */
export const plainJsImpl: Impl = {
  init: async () => ({ threads: 1 }),
  setup(w: Workload, d: Data, size: number): Runner {
    switch (w.id) {
      case "W1":
      case "W2":
        return { call: () => conv(d) };
      case "W3":
        return { call: () => knn(d) };
      case "W4":
        return { call: () => lse(d) };
      case "W7":
        return { call: () => tutorial(d, size) };
      default:
        throw new NoFigure("not available", `no hand-written loop for ${w.key}`);
    }
  },
};
