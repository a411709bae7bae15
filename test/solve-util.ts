/** Dense float64 helpers of the solve tests: kernel matrices from the oracle, Cholesky solves. */
import type { LazyTensor, Tensor } from "../src/index.js";
import { evalFormula } from "./reference.js";

/**
 * The dense float64 matrix of a scalar formula over x_i = Var(0, D, 0) and x_j = Var(1, D, 1),
 * evaluated by the test oracle on the rows of `x` (one batch entry: rows offset `off`).
 */
export function denseKernel(F: LazyTensor<true>, x: Tensor, M: number, D: number, off = 0): Float64Array {
  const K = new Float64Array(M * M);
  // parameters bound in F (numbers written in the formula): their values
  const param = (ind: number): number[] => {
    const b = F.st.binds.get(ind);
    if (!b || b.cat !== 2) throw new Error(`denseKernel: unexpected variable ${ind}`);
    return Array.from(Array.isArray(b.source) ? b.source : (b.source as Tensor).data, Number);
  };
  const row = (i: number): number[] => Array.from({ length: D }, (_, c) => Number(x.data[(off + i) * D + c]));
  const rows = Array.from({ length: M }, (_, i) => row(i));
  for (let i = 0; i < M; i++)
    for (let j = 0; j < M; j++) K[i * M + j] = evalFormula(F.node, (ind) => (ind === 0 ? rows[i]! : ind === 1 ? rows[j]! : param(ind)))[0]!;
  return K;
}

/** Solves (alpha·Id + K) A = B by Cholesky in float64; B is (M, Dv) row-major. */
export function choleskySolve(K: Float64Array, M: number, alpha: number, B: ArrayLike<number>, Dv: number): Float64Array {
  const L = new Float64Array(M * M);
  for (let i = 0; i < M; i++)
    for (let j = 0; j <= i; j++) {
      let s = K[i * M + j]! + (i === j ? alpha : 0);
      for (let k = 0; k < j; k++) s -= L[i * M + k]! * L[j * M + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: matrix not positive definite at ${i}`);
        L[i * M + i] = Math.sqrt(s);
      } else L[i * M + j] = s / L[j * M + j]!;
    }
  const X = new Float64Array(M * Dv);
  for (let c = 0; c < Dv; c++) {
    const y = new Float64Array(M);
    for (let i = 0; i < M; i++) {
      let s = Number(B[i * Dv + c]);
      for (let k = 0; k < i; k++) s -= L[i * M + k]! * y[k]!;
      y[i] = s / L[i * M + i]!;
    }
    for (let i = M - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < M; k++) s -= L[k * M + i]! * X[k * Dv + c]!;
      X[i * Dv + c] = s / L[i * M + i]!;
    }
  }
  return X;
}

/** Root mean square of (alpha·Id + K) a − b per column, worst column (dense float64). */
export function residualRms(K: Float64Array, M: number, alpha: number, a: ArrayLike<number>, b: ArrayLike<number>, Dv: number): number {
  let worst = 0;
  for (let c = 0; c < Dv; c++) {
    let s = 0;
    for (let i = 0; i < M; i++) {
      let r = alpha * Number(a[i * Dv + c]) - Number(b[i * Dv + c]);
      for (let j = 0; j < M; j++) r += K[i * M + j]! * Number(a[j * Dv + c]);
      s += r * r;
    }
    worst = Math.max(worst, Math.sqrt(s / Math.max(M, 1)));
  }
  return worst;
}
