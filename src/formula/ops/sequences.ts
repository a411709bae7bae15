/**
 * Ops on two vectors seen as sequences: `DifferenceMatrix(x,y)` (all differences x_i − y_j) and
 * `SoftDTW_SqDist(x,y,γ)` (the soft dynamic-time-warping discrepancy with the squared difference
 * as ground cost, KeOps's), with its gradient op `GradSoftDTW_SqDist`.
 */
import { KeOpsError } from "../../errors.js";
import type { SsaBuilder } from "../../ir/ssa.js";
import { apply, defineOp, type Formula } from "../node.js";
import { add, intCst, minus, mul } from "./arith.js";
import { sumT } from "./inner-sum.js";
import { matvecmult, vecmatmult } from "./tensor.js";
import { extract } from "./vector.js";

/**
 * `DifferenceMatrix(x,y)`: the n·m differences x_i − y_j of x (dimension n) and y (dimension m),
 * at component j·n + i (pykeops's `difference_matrix`).
 */
export const DifferenceMatrixOp = defineOp({
  name: "DifferenceMatrix",
  arity: 2,
  nattrs: 0,
  dim: ([n, m]) => n! * m!,
  lower: (ctx, [x, y]) => y!.flatMap((yj) => x!.map((xi) => ctx.b.bin("sub", xi, yj))),
  // ∂/∂x_i = Σ_j g[j·n+i] (1ᵀG, G as an m×n matrix), ∂/∂y_j = −Σ_i g[j·n+i] (−G·1)
  vjp: ([x, y], _t, _s, g) => [vecmatmult(sumT(intCst(1), y!.dim), g), minus(matvecmult(g, sumT(intCst(1), x!.dim)))],
});

/** The soft-min of (a, b, c) at temperature γ: min − γ·log Σ exp((min − ·)/γ). */
function softMin3(b: SsaBuilder, a: number, c: number, d: number, gamma: number): number {
  const m = b.bin("min", b.bin("min", a, c), d);
  const term = (v: number): number => b.un("exp", b.bin("div", b.bin("sub", m, v), gamma));
  const s = b.bin("add", b.bin("add", term(a), term(c)), term(d));
  return b.bin("sub", m, b.bin("mul", gamma, b.un("log", s)));
}

/** The squared differences d[i][j] = (x_i − y_j)² and the soft-DTW table r[i][j] (KeOps's recursion). */
function softDtwTable(b: SsaBuilder, x: readonly number[], y: readonly number[], gamma: number): { d2: number[][]; r: number[][] } {
  const n = x.length, m = y.length;
  const d2 = x.map((xi) => y.map((yj) => {
    const d = b.bin("sub", xi, yj);
    return b.bin("mul", d, d);
  }));
  const r: number[][] = Array.from({ length: n }, () => new Array<number>(m));
  for (let j = 0; j < m; j++)
    for (let i = 0; i < n; i++) {
      const dij = d2[i]![j]!;
      if (i === 0 && j === 0) r[i]![j] = dij;
      else if (j === 0) r[i]![j] = b.bin("add", dij, r[i - 1]![0]!);
      else if (i === 0) r[i]![j] = b.bin("add", dij, r[0]![j - 1]!);
      else r[i]![j] = b.bin("add", dij, softMin3(b, r[i - 1]![j - 1]!, r[i]![j - 1]!, r[i - 1]![j]!, gamma));
    }
  return { d2, r };
}

function checkGamma(name: string, dims: readonly number[]): void {
  if (dims[2] !== 1) throw new KeOpsError(`${name}: expected a scalar gamma (dimension 1), got dimension ${dims[2]}`);
}

/**
 * `SoftDTW_SqDist(x,y,γ)`: the soft-DTW discrepancy between the sequences x (dimension n) and y
 * (dimension m) with the squared difference as cost: r[i][j] = (x_i − y_j)² + softmin_γ(r[i−1][j−1],
 * r[i][j−1], r[i−1][j]), the first row and column plain cumulative sums, as KeOps. Differentiable
 * with respect to x and y (through {@link GradSoftDTW_SqDistOp}); not with respect to γ (a
 * KeOpsError, as KeOps).
 */
export const SoftDTW_SqDistOp = defineOp({
  name: "SoftDTW_SqDist",
  arity: 3,
  nattrs: 0,
  dim: (dims) => (checkGamma("SoftDTW_SqDist", dims), 1),
  lower: (ctx, [x, y, gamma]) => {
    const { r } = softDtwTable(ctx.b, x!, y!, gamma![0]!);
    return [r[x!.length - 1]![y!.length - 1]!];
  },
  gradT: ([x, y, gamma], _t, self, g, gradOf) => {
    if (gradOf(gamma!, intCst(0)) !== undefined)
      throw new KeOpsError(`SoftDTW_SqDist: not differentiable with respect to gamma (as in KeOps), in ${self}`);
    const G = mul(apply(GradSoftDTW_SqDistOp, [x!, y!, gamma!]), g);
    const gx = gradOf(x!, extract(G, 0, x!.dim)), gy = gradOf(y!, extract(G, x!.dim, y!.dim));
    return gx && gy ? add(gx, gy) : (gx ?? gy);
  },
});

/**
 * `GradSoftDTW_SqDist(x,y,γ)`: the gradient of SoftDTW_SqDist with respect to (x, y), concatenated
 * (dimension n + m): the expected alignment e[i][j] = ∂r[n−1][m−1]/∂r[i][j] by the backward
 * recursion, then ∂/∂x_i = Σ_j 2(x_i − y_j)·e[i][j], ∂/∂y_j = −Σ_i 2(x_i − y_j)·e[i][j]. Its own
 * derivative is not available (a KeOpsError, as KeOps).
 */
export const GradSoftDTW_SqDistOp = defineOp({
  name: "GradSoftDTW_SqDist",
  arity: 3,
  nattrs: 0,
  dim: (dims) => (checkGamma("GradSoftDTW_SqDist", dims), dims[0]! + dims[1]!),
  lower: (ctx, [x, y, gs]) => {
    const b = ctx.b;
    const gamma = gs![0]!;
    const n = x!.length, m = y!.length;
    const { d2, r } = softDtwTable(b, x!, y!, gamma);
    // weight of r[p] in the soft-min of cell (i, j): exp((r[i][j] − d2[i][j] − r[p]) / γ)
    const w = (i: number, j: number, p: number): number =>
      b.un("exp", b.bin("div", b.bin("sub", b.bin("sub", r[i]![j]!, d2[i]![j]!), p), gamma));
    const e: number[][] = Array.from({ length: n }, () => new Array<number>(m));
    for (let j = m - 1; j >= 0; j--)
      for (let i = n - 1; i >= 0; i--) {
        if (i === n - 1 && j === m - 1) {
          e[i]![j] = b.c(1);
          continue;
        }
        const terms: number[] = [];
        // successors: (i+1, j) reads r[i][j] as its r[i−1][j]; (i, j+1) as r[i][j−1]; (i+1, j+1) as r[i−1][j−1]
        if (i + 1 < n) terms.push(j === 0 ? e[i + 1]![j]! : b.bin("mul", e[i + 1]![j]!, w(i + 1, j, r[i]![j]!)));
        if (j + 1 < m) terms.push(i === 0 ? e[i]![j + 1]! : b.bin("mul", e[i]![j + 1]!, w(i, j + 1, r[i]![j]!)));
        if (i + 1 < n && j + 1 < m) terms.push(b.bin("mul", e[i + 1]![j + 1]!, w(i + 1, j + 1, r[i]![j]!)));
        e[i]![j] = terms.reduce((s, t) => b.bin("add", s, t));
      }
    const two = b.c(2);
    const gx = x!.map((xi, i) => y!.map((yj, j) => b.bin("mul", b.bin("mul", two, b.bin("sub", xi, yj)), e[i]![j]!)).reduce((s, t) => b.bin("add", s, t)));
    const gy = y!.map((yj, j) => b.un("neg", x!.map((xi, i) => b.bin("mul", b.bin("mul", two, b.bin("sub", xi, yj)), e[i]![j]!)).reduce((s, t) => b.bin("add", s, t))));
    return [...gx, ...gy];
  },
  gradT: (_a, _t, self) => {
    throw new KeOpsError(`GradSoftDTW_SqDist: its derivative (the second derivative of SoftDTW_SqDist) is not available (as in KeOps), in ${self}`);
  },
});

export const differenceMatrix = (x: Formula, y: Formula): Formula => apply(DifferenceMatrixOp, [x, y]);
export const softdtwSqdist = (x: Formula, y: Formula, gamma: Formula): Formula => apply(SoftDTW_SqDistOp, [x, y, gamma]);
