/**
 * Float64 evaluations of the ops of issue 18 (SqNormIso, SqNormDiag, SymSqNorm, BSpline,
 * DifferenceMatrix, SoftDTW_SqDist and its gradient, StrongMult), merged into the oracle's
 * REF_OPS table by reference.ts. Written the plain way, independently of the SSA lowering.
 */
import type { RefOp } from "./reference.js";

type Vec = number[];

/** Σ_cd x_c s_cd x_d with s a scalar, a diagonal or a full row-major matrix. */
function weighted(s: Vec, x: Vec): number {
  const D = x.length;
  let r = 0;
  for (let c = 0; c < D; c++)
    for (let d = 0; d < D; d++) {
      const w = s.length === 1 ? (c === d ? s[0]! : 0) : s.length === D ? (c === d ? s[c]! : 0) : s[c * D + d]!;
      r += x[c]! * w * x[d]!;
    }
  return r;
}

/** Cox–de Boor: B_{i,0} = [t_i ≤ x < t_{i+1}], B_{i,k} = ω_{i,k} B_{i,k−1} + (1 − ω_{i+1,k}) B_{i+1,k−1}. */
export function bsplineRef(t: Vec, x: number, order: number): Vec {
  const omega = (i: number, k: number): number => (t[i]! < t[i + k]! ? (x - t[i]!) / (t[i + k]! - t[i]!) : 0);
  let B: number[] = Array.from({ length: t.length - 1 }, (_, i) => (t[i]! <= x && x < t[i + 1]! ? 1 : 0));
  for (let k = 1; k <= order; k++)
    B = Array.from({ length: t.length - 1 - k }, (_, i) => omega(i, k) * B[i]! + (1 - omega(i + 1, k)) * B[i + 1]!);
  return B;
}

/** The soft-DTW table (squared difference cost, plain cumulative sums on the first row and column). */
function softDtw(x: Vec, y: Vec, gamma: number): number[][] {
  const n = x.length, m = y.length;
  const r = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  const smin = (...v: number[]): number => {
    const mn = Math.min(...v);
    return mn - gamma * Math.log(v.reduce((s, a) => s + Math.exp(-(a - mn) / gamma), 0));
  };
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      const d = (x[i]! - y[j]!) ** 2;
      r[i]![j] = i === 0 && j === 0 ? d : i === 0 ? d + r[0]![j - 1]! : j === 0 ? d + r[i - 1]![0]! : d + smin(r[i - 1]![j - 1]!, r[i]![j - 1]!, r[i - 1]![j]!);
    }
  return r;
}

/** ∂r[n−1][m−1]/∂(x, y): the expected alignment by reverse accumulation over the table. */
function softDtwGrad(x: Vec, y: Vec, gamma: number): Vec {
  const n = x.length, m = y.length;
  const r = softDtw(x, y, gamma);
  const adj = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  adj[n - 1]![m - 1] = 1;
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) {
      const a = adj[i]![j]!;
      if (i === 0 && j === 0) continue;
      if (i === 0) adj[0]![j - 1]! += a;
      else if (j === 0) adj[i - 1]![0]! += a;
      else {
        const p = [[i - 1, j - 1], [i, j - 1], [i - 1, j]] as const;
        const v = p.map(([a2, b2]) => r[a2]![b2]!);
        const mn = Math.min(...v);
        const w = v.map((q) => Math.exp(-(q - mn) / gamma));
        const s = w.reduce((u, q) => u + q, 0);
        p.forEach(([a2, b2], k) => (adj[a2]![b2]! += (a * w[k]!) / s));
      }
    }
  const gx = x.map((xi, i) => y.reduce((s, yj, j) => s + 2 * (xi - yj) * adj[i]![j]!, 0));
  const gy = y.map((yj, j) => x.reduce((s, xi, i) => s - 2 * (xi - yj) * adj[i]![j]!, 0));
  return [...gx, ...gy];
}

const bc = (x: Vec, c: number): number => (x.length === 1 ? x[0]! : x[c]!);

export const PARITY_REF_OPS: Record<string, RefOp> = {
  SqNormIso: ([s, x]) => [weighted(s!, x!)],
  SqNormDiag: ([s, x]) => [weighted(s!, x!)],
  SymSqNorm: ([s, x]) => [weighted(s!, x!)],
  BSpline: ([t, x], [k]) => bsplineRef(t!, x![0]!, k!),
  DifferenceMatrix: ([x, y]) => y!.flatMap((yj) => x!.map((xi) => xi - yj)),
  SoftDTW_SqDist: ([x, y, g]) => {
    const r = softDtw(x!, y!, g![0]!);
    return [r[x!.length - 1]![y!.length - 1]!];
  },
  GradSoftDTW_SqDist: ([x, y, g]) => softDtwGrad(x!, y!, g![0]!),
  StrongMult: ([a, b], _t, dim) => Array.from({ length: dim }, (_, c) => (bc(a!, c) === 0 ? 0 : bc(a!, c) * bc(b!, c))),
};
