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
 *
 * The rank, when not given, is read off the spectrum: a pilot sample of p rows (p ≤ 1024, 2048
 * from M ≈ 3·10⁴ on) gives
 * K_pp, whose greedy pivoted Cholesky factorisation runs until the remaining trace (a bound on
 * the largest eigenvalue left), scaled by M/p (the eigenvalues of K grow with M as p's do with p),
 * falls under TAIL·alpha (TAIL = 30, 1 from M ≈ 3·10⁴ on) — the part of K the preconditioner
 * leaves to conjugate gradient then has eigenvalues ≲ TAIL·alpha, a condition number ≲ 1 + TAIL,
 * as far as the pilot sees it — or the rank reaches its memory and time cap. The pivots are the
 * landmarks (better spread than random rows, so fewer are needed). An explicit `rank` keeps
 * seeded random landmarks of exactly that rank (up to the memory cap).
 */
import { KeOpsError } from "../errors.js";
import { gramProducts, type GramProducts } from "../backends/host.js";
import { Var, substitute, type Formula } from "../formula/node.js";
import { execute, type VarData } from "../lazy/execute.js";
import { Rng } from "../random.js";
import { allocate, sizeOf, type Tensor } from "../tensor.js";
import type { Preconditioner } from "./cg.js";
import type { LinearSystem, SystemShape } from "./types.js";

/** Largest K_nm kept in memory, in elements (float32: 400 MB; rank 1000 at M = 1e5): the rank shrinks to fit. */
const MAX_ELEMENTS = 1e8;
/**
 * Largest automatic rank; and building B costs M·m²/2 multiply-adds on the host, kept ≤ GRAM_WORK
 * in JavaScript (~2e9 per second), ≤ GRAM_WORK_COMPILED with the compiled products (~2.5e10 per
 * CPU-second).
 */
const MAX_AUTO_RANK = 1000;
const GRAM_WORK = 1e10;
const GRAM_WORK_COMPILED = 1e11;
/**
 * Rows of the pilot sample whose spectrum sets the automatic rank, and the threshold: the
 * eigenvalues left to CG should stay under TAIL·alpha. For large systems (M ≥ LARGE: an
 * iteration costs ≥ 1e9 pairs) a larger pilot and a tighter threshold: the pilot's remaining
 * trace underestimates the whole set's (the pilot's points are the ones its pivots fit; points in
 * the sparse tails of the data stay unfitted), and there the landmarks are cheaper than the
 * iterations they save. Measured on W6 at M = 1e5 (alpha = 0.1, CPU seconds on 2 threads):
 * pilot 1024, TAIL 30: rank 520, 53 iterations, 136 s; 2048, 30: rank 702, 36, 104 s; 2048, 5:
 * rank 815, 33, 95 s; 2048, 1: rank 914, 30, 83 s. At M = 1e4 the larger pilot costs more than
 * it saves (1.5–1.8 → 2.1–2.6 CPU seconds, native): small systems keep 1024 and 30.
 */
const PILOT = 1024, PILOT_LARGE = 2048;
const TAIL = 30, TAIL_LARGE = 1;
const LARGE = 31623;

/**
 * The last preconditioner built in this process, for benchmarks: its rank, the pilot's size (0
 * for an explicit rank), whether the products were compiled, and the wall seconds of its parts
 * (landmark choice, K_nm, B and its factorisation).
 */
export const nystromStats = {
  rank: 0, pilot: 0, compiled: false,
  seconds: { landmarks: 0, columns: 0, factor: 0 },
};

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
 * K(rows, S) for every batch entry: (nBatch, nRows, m), column t being K(·, S_t): reductions over
 * the landmark rows only, the unknown set to one-hot columns. `rows`: the outer rows (all when
 * undefined).
 */
function kernelColumns(sys: LinearSystem, shape: SystemShape, S: Int32Array, rows?: Int32Array): Float32Array {
  const { nBatch } = shape;
  const M = rows ? rows.length : shape.M;
  const m = S.length;
  const axis = sys.call.axis;
  const { f, w } = columnsFormula(sys);
  const outer = new Map<number, VarData>();
  for (const [ind, v] of sys.vars) if (v.cat !== axis) outer.set(ind, rows && v.cat !== 2 ? restrictRows(v, rows, sys.dtype) : v);
  const Knm = new Float32Array(nBatch * M * m);
  // one reduction per group of w landmarks, over those landmarks only, b = the identity
  const onehot = allocate(sys.dtype, w * w);
  for (let t = 0; t < w; t++) onehot[t * w + t] = 1;
  for (let t0 = 0; t0 < m; t0 += w) {
    const c = Math.min(w, m - t0);
    const group = S.subarray(t0, t0 + c);
    const vars = new Map(outer);
    for (const [ind, v] of sys.vars) if (v.cat === axis) vars.set(ind, restrictRows(v, group, sys.dtype));
    vars.set(sys.pInd, { data: onehot.subarray(0, c * w), cat: axis, dim: w, rows: c, batch: [], name: "landmark columns" });
    const out = (execute({ ...sys.call, formula: f }, vars, sys.dtype) as Tensor).data;
    for (let b = 0; b < nBatch; b++)
      for (let i = 0; i < M; i++)
        for (let t = 0; t < c; t++) Knm[(b * M + i) * m + t0 + t] = out[(b * M + i) * w + t]!;
  }
  return Knm;
}

/**
 * Greedy pivoted Cholesky of the p×p matrix A (symmetric positive semi-definite, row-major):
 * pivots in order, stopping once the remaining trace (the sum of the residual's eigenvalues, a
 * bound on its largest) is ≤ `stop` or `kmax` pivots are taken. Returns the pivots and the
 * remaining trace after each one.
 */
export function pivotedCholesky(A: ArrayLike<number>, p: number, kmax: number, stop: number): { pivots: number[]; residual: number[] } {
  const d = Float64Array.from({ length: p }, (_, i) => A[i * p + i]!);
  kmax = Math.max(0, Math.min(kmax, p));
  // L row-major (p × kmax): the new column's dot products run over contiguous rows
  const L = new Float64Array(p * kmax);
  const pivots: number[] = [], residual: number[] = [];
  const taken = new Uint8Array(p);
  for (let k = 0; k < kmax; k++) {
    let q = -1, trace = 0;
    for (let i = 0; i < p; i++) {
      if (taken[i]) continue;
      trace += d[i]!;
      if (q < 0 || d[i]! > d[q]!) q = i;
    }
    if (q < 0 || !(trace > stop) || !(d[q]! > 0)) break;
    const piv = Math.sqrt(d[q]!);
    const lq = q * kmax;
    taken[q] = 1;
    L[lq + k] = piv;
    let rest = 0;
    for (let i = 0; i < p; i++) {
      if (taken[i]) continue;
      const li = i * kmax;
      let s = 0.5 * (A[i * p + q]! + A[q * p + i]!);
      for (let t = 0; t < k; t++) s -= L[li + t]! * L[lq + t]!;
      const c = s / piv;
      L[li + k] = c;
      rest += (d[i] = Math.max(0, d[i]! - c * c));
    }
    pivots.push(q);
    residual.push(rest);
  }
  return { pivots, residual };
}

/**
 * Landmarks read off the spectrum (batch entry 0's): pivoted Cholesky of K on a pilot sample,
 * up to the rank where the remaining trace, scaled to M rows, is ≤ TAIL·alpha (the large-system
 * pilot and threshold from M = LARGE on).
 */
function spectralLandmarks(sys: LinearSystem, shape: SystemShape, alpha: number, cap: number): Int32Array {
  const { M } = shape;
  const large = M >= LARGE;
  const P = landmarks(M, Math.min(M, large ? PILOT_LARGE : PILOT));
  const p = (nystromStats.pilot = P.length);
  const Kpp = kernelColumns(sys, { ...shape, nBatch: 1 }, P, P);
  const scale = M / p;
  const { pivots } = pivotedCholesky(Kpp, p, Math.min(cap, p), ((large ? TAIL_LARGE : TAIL) * alpha) / scale);
  if (!pivots.length) pivots.push(0);
  return Int32Array.from(pivots, (q) => P[q]!).sort();
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

/** Rows of K_nm packed per panel of the Gram product (m × ROWS float64: L2-sized for m ≤ 1000). */
const ROWS = 128;

/**
 * B += the lower triangle (t ≤ s, rounded up to 4 × 4 blocks) of K_mnK_nm for the M × m block of
 * K_nm at `off`: panels of ROWS rows packed column by column, then 4 × 4 blocks of dot products
 * over a panel (16 running sums in registers, 8 loads per row).
 */
export function gram(Knm: ArrayLike<number>, off: number, M: number, m: number, B: Float64Array): void {
  const mp = (m + 3) & ~3;
  const panel = new Float64Array(mp * ROWS);
  for (let i0 = 0; i0 < M; i0 += ROWS) {
    const R = Math.min(ROWS, M - i0);
    panel.fill(0);
    for (let r = 0; r < R; r++) {
      const row = off + (i0 + r) * m;
      for (let s = 0; s < m; s++) panel[s * ROWS + r] = Knm[row + s]!;
    }
    for (let s = 0; s < mp; s += 4) {
      const a0 = s * ROWS, a1 = a0 + ROWS, a2 = a1 + ROWS, a3 = a2 + ROWS;
      for (let t = 0; t <= s; t += 4) {
        const b0 = t * ROWS, b1 = b0 + ROWS, b2 = b1 + ROWS, b3 = b2 + ROWS;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let r = 0; r < R; r++) {
          const x0 = panel[a0 + r]!, x1 = panel[a1 + r]!, x2 = panel[a2 + r]!, x3 = panel[a3 + r]!;
          const y0 = panel[b0 + r]!, y1 = panel[b1 + r]!, y2 = panel[b2 + r]!, y3 = panel[b3 + r]!;
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
        const c = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let u = 0; u < 4 && s + u < m; u++)
          for (let v = 0; v < 4 && t + v < m && t + v <= s + u; v++) B[(s + u) * m + t + v]! += c[u * 4 + v]!;
      }
    }
  }
}

/** The products in JavaScript (where no compiled ones are registered, or the backend is not native). */
export const jsProducts: GramProducts = {
  gram,
  tmul(K, off, M, m, r, u) {
    u.fill(0);
    for (let i = 0; i < M; i++) {
      const ri = r[i]!;
      if (ri === 0) continue;
      const row = off + i * m;
      for (let s = 0; s < m; s++) u[s]! += K[row + s]! * ri;
    }
  },
  mul(K, off, M, m, u, z) {
    for (let i = 0; i < M; i++) {
      const row = off + i * m;
      let s = 0;
      for (let t = 0; t < m; t++) s += K[row + t]! * u[t]!;
      z[i] = s;
    }
  },
};

/** The compiled products when the system's backend may be native (`auto` or `native`), else JavaScript's. */
function productsFor(sys: LinearSystem): { products: GramProducts; compiled: boolean } {
  const backend = sys.call.opts.backend ?? "auto";
  const compiled = backend === "auto" || backend === "native" ? gramProducts() : null;
  return compiled ? { products: compiled, compiled: true } : { products: jsProducts, compiled: false };
}

/** The factor of B = alpha·K_mm + K_mnK_nm for one batch entry (a jitter is added if needed). */
function factor(Knm: Float32Array, off: number, M: number, S: Int32Array, alpha: number, products: GramProducts): Float64Array {
  const m = S.length;
  const B = new Float64Array(m * m);
  products.gram(Knm, off, M, m, B);
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
 * Builds the Nyström preconditioner: of rank min(rank, M) when `rank` is given (random landmarks),
 * else of the rank the spectrum asks for (see the top of this file); shrunk so that K_nm stays
 * under ~400 MB. alpha = 0 is replaced by a tiny positive ridge (P must be invertible).
 * The products with K_nm (B = K_mnK_nm once, K_mn r and K_nm u per application) are the compiled
 * ones of src/backends/host.ts where registered and the backend may be native, else JavaScript.
 */
export function nystromPreconditioner(sys: LinearSystem, shape: SystemShape, alpha: number, rank: number | undefined): Preconditioner & { readonly rank: number } {
  const { M, nBatch } = shape;
  const Dv = sys.Dv;
  const t0 = performance.now();
  const { products, compiled } = productsFor(sys);
  nystromStats.pilot = 0;
  const cap = Math.max(1, Math.min(M, Math.floor(MAX_ELEMENTS / Math.max(1, nBatch * M))));
  const gramWork = compiled ? GRAM_WORK_COMPILED : GRAM_WORK;
  const S = rank === undefined
    ? spectralLandmarks(sys, shape, Math.max(alpha, 1e-8), Math.min(cap, MAX_AUTO_RANK, Math.floor(Math.sqrt((2 * gramWork) / (nBatch * M)))))
    : landmarks(M, Math.min(rank, cap));
  const m = S.length;
  const t1 = performance.now();
  const Knm = kernelColumns(sys, shape, S);
  const t2 = performance.now();
  let diag = 0;
  for (let s = 0; s < m; s++) diag = Math.max(diag, Math.abs(Knm[S[s]! * m + s]!));
  const a = Math.max(alpha, 1e-8 * (diag || 1));
  const factors = Array.from({ length: nBatch }, (_, b) => factor(Knm, b * M * m, M, S, a, products));
  Object.assign(nystromStats, { rank: m, compiled, seconds: { landmarks: (t1 - t0) / 1000, columns: (t2 - t1) / 1000, factor: (performance.now() - t2) / 1000 } });
  // work arrays of the application, allocated once
  const u = new Float64Array(m), rc = new Float64Array(M), zc = new Float64Array(M);
  return {
    rank: m,
    apply(r: Float64Array): Float64Array {
      const z = new Float64Array(r.length);
      for (let b = 0; b < nBatch; b++) {
        const off = b * M * m, L = factors[b]!;
        for (let c = 0; c < Dv; c++) {
          for (let i = 0; i < M; i++) rc[i] = r[(b * M + i) * Dv + c]!;
          products.tmul(Knm, off, M, m, rc, u);
          cholSolve(L, m, u);
          products.mul(Knm, off, M, m, u, zc);
          for (let i = 0; i < M; i++) {
            const k = (b * M + i) * Dv + c;
            z[k] = (r[k]! - zc[i]!) / a;
          }
        }
      }
      return z;
    },
  };
}
