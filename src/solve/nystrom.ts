/**
 * Nyström preconditioner for (alpha·Id + K), as Falkon builds its own: m landmark rows S chosen at
 * random, K ≈ K_nm K_mm⁻¹ K_mn, and
 *   P = alpha·Id + K_nm K_mm⁻¹ K_mn,   P⁻¹ r = (r − K_nm (alpha·K_mm + K_mn K_nm)⁻¹ K_mn r) / alpha
 * (Woodbury). K_nm (M × m per batch entry) is computed once by reductions over the landmark
 * rows, with the unknown set to one-hot columns; applying P⁻¹ is then
 * O(M·m) per column on the host, against O(M²) for an iteration. It assumes the formula is K·b
 * with K scalar (every column of b treated alike: one factorisation serves all columns); for any
 * other formula linear in b it is a worse preconditioner, never a wrong answer as long as it stays
 * positive definite.
 */
import { KeOpsError } from "../errors.js";
import { Var, substitute, type Formula } from "../formula/node.js";
import { execute, type VarData } from "../lazy/execute.js";
import { Rng } from "../random.js";
import { allocate, sizeOf, type Tensor } from "../tensor.js";
import type { Preconditioner } from "./cg.js";
import type { LinearSystem, SystemShape } from "./types.js";

/** Default number of landmarks. */
export const DEFAULT_RANK = 200;
/** Largest K_nm kept in memory, in float64 elements (≈ 200 MB): the rank shrinks to fit. */
const MAX_ELEMENTS = 2.5e7;

/** m distinct rows of 0 … M−1, seeded (the same landmarks for the same sizes). */
function landmarks(M: number, m: number): Int32Array {
  const rng = new Rng(0x5eed + M);
  const perm = Int32Array.from({ length: M }, (_, i) => i);
  for (let k = 0; k < m; k++) {
    const j = k + Math.floor(rng.uniform() * (M - k));
    const t = perm[k]!;
    perm[k] = perm[j]!;
    perm[j] = t;
  }
  return perm.slice(0, m).sort();
}

/** The rows S of a variable's data (every batch entry of its own). */
function restrictRows(v: VarData, rows: Int32Array, dtype: "float32" | "float64"): VarData {
  const nOwn = sizeOf(v.batch);
  const src = v.data as ArrayLike<number>;
  const out = allocate(dtype, nOwn * rows.length * v.dim);
  for (let b = 0; b < nOwn; b++)
    for (let s = 0; s < rows.length; s++)
      for (let c = 0; c < v.dim; c++) out[(b * rows.length + s) * v.dim + c] = src[(b * v.rows + rows[s]!) * v.dim + c]!;
  return { ...v, data: out, rows: rows.length };
}

/** Landmark columns computed per reduction when the formula is K·b with K scalar. */
const WIDTH = 16;

/**
 * The formula computing `w` columns of K_nm per reduction: for K·b with K scalar, b replaced by a
 * variable of dim WIDTH (one kernel of its own, compiled once); otherwise the system's own formula
 * (Dv columns per reduction, one per component of b).
 */
function columnsFormula(sys: LinearSystem): { f: Formula; w: number } {
  const { call, pInd } = sys;
  try {
    const f = substitute(call.formula, (v) => (v.ind === pInd ? Var(pInd, WIDTH, call.axis) : undefined));
    if (f.dim === WIDTH) return { f, w: WIDTH };
  } catch (e) {
    if (!(e instanceof KeOpsError)) throw e;
  }
  return { f: call.formula, w: sys.Dv };
}

/**
 * K_nm for every batch entry: (nBatch, M, m) float64, column t being K(·, S_t): reductions over
 * the landmark rows only, the unknown set to one-hot columns.
 */
function kernelColumns(sys: LinearSystem, shape: SystemShape, S: Int32Array): Float64Array {
  const { M, nBatch } = shape;
  const m = S.length;
  const axis = sys.call.axis;
  const { f, w } = columnsFormula(sys);
  const inner = new Map<number, VarData>();
  for (const [ind, v] of sys.vars) inner.set(ind, v.cat === axis ? restrictRows(v, S, sys.dtype) : v);
  const Knm = new Float64Array(nBatch * M * m);
  for (let t0 = 0; t0 < m; t0 += w) {
    const c = Math.min(w, m - t0);
    const onehot = allocate(sys.dtype, m * w);
    for (let t = 0; t < c; t++) onehot[(t0 + t) * w + t] = 1;
    const vars = new Map(inner);
    vars.set(sys.pInd, { data: onehot, cat: axis, dim: w, rows: m, batch: [], name: "landmark columns" });
    const out = (execute({ ...sys.call, formula: f }, vars, sys.dtype) as Tensor).data;
    for (let b = 0; b < nBatch; b++)
      for (let i = 0; i < M; i++)
        for (let t = 0; t < c; t++) Knm[(b * M + i) * m + t0 + t] = out[(b * M + i) * w + t]!;
  }
  return Knm;
}

/** In-place Cholesky of an n×n SPD matrix (lower); false if not positive definite. */
function cholesky(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= A[j * n + k]! * A[j * n + k]!;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = s / l;
    }
  }
  return true;
}

/** Solves L Lᵀ y = u in place. */
function cholSolve(L: Float64Array, n: number, u: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = u[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * u[k]!;
    u[i] = s / L[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = u[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * u[k]!;
    u[i] = s / L[i * n + i]!;
  }
}

/** The factor of B = alpha·K_mm + K_mnK_nm for one batch entry (a jitter is added if needed). */
function factor(Knm: Float64Array, off: number, M: number, S: Int32Array, alpha: number): Float64Array {
  const m = S.length;
  const B = new Float64Array(m * m);
  // lower triangle of K_mn K_nm, four rows of K_nm at a time (a quarter of the passes over B)
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const r0 = off + i * m, r1 = r0 + m, r2 = r1 + m, r3 = r2 + m;
    for (let s = 0; s < m; s++) {
      const v0 = Knm[r0 + s]!, v1 = Knm[r1 + s]!, v2 = Knm[r2 + s]!, v3 = Knm[r3 + s]!;
      const bs = s * m;
      for (let t = 0; t <= s; t++) B[bs + t]! += v0 * Knm[r0 + t]! + v1 * Knm[r1 + t]! + v2 * Knm[r2 + t]! + v3 * Knm[r3 + t]!;
    }
  }
  for (; i < M; i++) {
    const row = off + i * m;
    for (let s = 0; s < m; s++) {
      const v = Knm[row + s]!;
      for (let t = 0; t <= s; t++) B[s * m + t]! += v * Knm[row + t]!;
    }
  }
  let tr = 0;
  for (let s = 0; s < m; s++) {
    for (let t = 0; t <= s; t++) {
      const kmm = 0.5 * (Knm[off + S[s]! * m + t]! + Knm[off + S[t]! * m + s]!);
      B[s * m + t]! += alpha * kmm;
      B[t * m + s] = B[s * m + t]!;
    }
    tr += B[s * m + s]!;
  }
  for (let jitter = 1e-12; ; jitter *= 100) {
    const L = Float64Array.from(B);
    for (let s = 0; s < m; s++) L[s * m + s]! += jitter * (tr / m || 1);
    if (cholesky(L, m)) return L;
    if (jitter > 1) throw new KeOpsError(`precond: "nystrom": the landmark system is not positive definite (K must be symmetric positive definite)`);
  }
}

/**
 * Builds the Nyström preconditioner of rank min(rank, M) (default 200; shrunk so that K_nm stays
 * under ~200 MB). alpha = 0 is replaced by a tiny positive ridge (P must be invertible).
 */
export function nystromPreconditioner(sys: LinearSystem, shape: SystemShape, alpha: number, rank: number | undefined): Preconditioner {
  const { M, nBatch } = shape;
  const Dv = sys.Dv;
  const m = Math.max(1, Math.min(rank ?? DEFAULT_RANK, M, Math.floor(MAX_ELEMENTS / Math.max(1, nBatch * M))));
  const S = landmarks(M, m);
  const Knm = kernelColumns(sys, shape, S);
  let diag = 0;
  for (let s = 0; s < m; s++) diag = Math.max(diag, Math.abs(Knm[S[s]! * m + s]!));
  const a = Math.max(alpha, 1e-8 * (diag || 1));
  const factors = Array.from({ length: nBatch }, (_, b) => factor(Knm, b * M * m, M, S, a));
  return {
    apply(r: Float64Array): Float64Array {
      const z = new Float64Array(r.length);
      const u = new Float64Array(m);
      for (let b = 0; b < nBatch; b++) {
        const off = b * M * m, L = factors[b]!;
        for (let c = 0; c < Dv; c++) {
          u.fill(0);
          for (let i = 0; i < M; i++) {
            const ri = r[(b * M + i) * Dv + c]!;
            if (ri === 0) continue;
            const row = off + i * m;
            for (let s = 0; s < m; s++) u[s]! += Knm[row + s]! * ri;
          }
          cholSolve(L, m, u);
          for (let i = 0; i < M; i++) {
            const row = off + i * m;
            let s = 0;
            for (let t = 0; t < m; t++) s += Knm[row + t]! * u[t]!;
            const k = (b * M + i) * Dv + c;
            z[k] = (r[k]! - s) / a;
          }
        }
      }
      return z;
    },
  };
}
