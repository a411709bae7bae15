/**
 * The native side of blocked distances (src/compile/blocked.ts): the C++ that fills the
 * precomputed inputs of a rewritten body.
 * - norms, once per batch: Σ_c v_c² of an outer slot per row, of an inner slot per column (from
 *   its transposed coordinates);
 * - dot tiles, per block of rows and tile of columns: G(i, j) = Σ_c x_ic·y_jc by a register-blocked
 *   micro-kernel — 4 rows × 2 vectors of columns in 8 accumulators, one FMA per (row, column, c),
 *   each loaded y vector used by 4 rows, each broadcast x by 2 vectors, c a loop (not unrolled: D
 *   only changes a loop bound, so a D = 1000 formula compiles as fast as D = 16).
 * The renderer reads them with {@link extraLoad}.
 */
import type { ExtraInput } from "../../compile/blocked.js";

/** Whether blocked distances are on (`KEOPS_TS_BLOCKED=0` turns them off, to compare). */
export function blockedEnabled(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KEOPS_TS_BLOCKED;
  return env !== "0";
}

/** The micro-kernel, emitted once per translation unit that needs it (KDT: the element type, VT: its vector). */
export const DOT_TILE_FN = `
/* G[r·ldg + jj] = Σ_c X[r·D + c]·Y[c·NP + jj] for r < nr, jj < jn (jn a multiple of V) */
static void k_dot_tile(const KDT* __restrict X, const KDT* __restrict Y, int64_t NP, int D, int nr, int jn, KDT* __restrict G, int ldg) {
  int r = 0;
  for (; r + 4 <= nr; r += 4) {
    const KDT *x0 = X + (int64_t)r * D, *x1 = x0 + D, *x2 = x1 + D, *x3 = x2 + D;
    int jj = 0;
    for (; jj + 2 * V <= jn; jj += 2 * V) {
      VT a00 = VT{}, a01 = VT{}, a10 = VT{}, a11 = VT{}, a20 = VT{}, a21 = VT{}, a30 = VT{}, a31 = VT{};
      const KDT* y = Y + jj;
      for (int c = 0; c < D; c++, y += NP) {
        const VT y0 = k_load<VT>(y), y1 = k_load<VT>(y + V);
        const VT b0 = x0[c] - VT{}, b1 = x1[c] - VT{}, b2 = x2[c] - VT{}, b3 = x3[c] - VT{};
        a00 += b0 * y0; a01 += b0 * y1; a10 += b1 * y0; a11 += b1 * y1;
        a20 += b2 * y0; a21 += b2 * y1; a30 += b3 * y0; a31 += b3 * y1;
      }
      KDT* g = G + (int64_t)r * ldg + jj;
      __builtin_memcpy(g, &a00, sizeof(VT)); __builtin_memcpy(g + V, &a01, sizeof(VT)); g += ldg;
      __builtin_memcpy(g, &a10, sizeof(VT)); __builtin_memcpy(g + V, &a11, sizeof(VT)); g += ldg;
      __builtin_memcpy(g, &a20, sizeof(VT)); __builtin_memcpy(g + V, &a21, sizeof(VT)); g += ldg;
      __builtin_memcpy(g, &a30, sizeof(VT)); __builtin_memcpy(g + V, &a31, sizeof(VT));
    }
    for (; jj < jn; jj += V) {
      VT a0 = VT{}, a1 = VT{}, a2 = VT{}, a3 = VT{};
      const KDT* y = Y + jj;
      for (int c = 0; c < D; c++, y += NP) {
        const VT y0 = k_load<VT>(y);
        a0 += (x0[c] - VT{}) * y0; a1 += (x1[c] - VT{}) * y0; a2 += (x2[c] - VT{}) * y0; a3 += (x3[c] - VT{}) * y0;
      }
      KDT* g = G + (int64_t)r * ldg + jj;
      __builtin_memcpy(g, &a0, sizeof(VT)); __builtin_memcpy(g + ldg, &a1, sizeof(VT));
      __builtin_memcpy(g + 2 * ldg, &a2, sizeof(VT)); __builtin_memcpy(g + 3 * ldg, &a3, sizeof(VT));
    }
  }
  for (; r < nr; r++) {
    const KDT* x0 = X + (int64_t)r * D;
    for (int jj = 0; jj < jn; jj += V) {
      VT a0 = VT{}, a1 = VT{};
      const KDT* y = Y + jj;
      int c = 0;
      for (; c + 2 <= D; c += 2, y += 2 * NP) { a0 += (x0[c] - VT{}) * k_load<VT>(y); a1 += (x0[c + 1] - VT{}) * k_load<VT>(y + NP); }
      if (c < D) a0 += (x0[c] - VT{}) * k_load<VT>(y);
      a0 += a1;
      __builtin_memcpy(G + (int64_t)r * ldg + jj, &a0, sizeof(VT));
    }
  }
}
`;

/** Names the renderer gives the buffers: `EX<k>` (norms, per call), `G<k>` (dot tiles, per block). */
const buf = (k: number): string => (k < 0 ? "" : `EX${k}`);

/**
 * C++ run once per batch, after the inner slots are transposed: the norms. `P(slot)` names a
 * slot's batch data, `yBase(slot)` the index of its first transposed coordinate in `ybuf`.
 */
export function normCode(extra: readonly ExtraInput[], T: string, P: (slot: number) => string, yBase: (slot: number) => number, ind: string): string[] {
  const L: string[] = [];
  extra.forEach((e, k) => {
    if (e.kind !== "norm") return;
    if (e.role === "outer") {
      L.push(`${ind}for (int64_t i = 0; i < nOuter; i++) { const ${T}* x = ${P(e.slot)} + i * ${e.D}; ${T} s = 0; for (int c = 0; c < ${e.D}; c++) s += x[c] * x[c]; ${buf(k)}[i] = s; }`);
    } else {
      L.push(`${ind}for (int64_t j = 0; j < NP; j++) ${buf(k)}[j] = 0;`);
      L.push(`${ind}for (int c = 0; c < ${e.D}; c++) { const ${T}* __restrict y = ybuf + (int64_t)(${yBase(e.slot)} + c) * NP; ${T}* __restrict s = ${buf(k)}; for (int64_t j = 0; j < NP; j++) s[j] += y[j] * y[j]; }`);
    }
  });
  return L;
}

/** Allocation (before the batch loop) and release (after it) of the norm buffers. */
export function normBuffers(extra: readonly ExtraInput[], T: string): { alloc: string[]; free: string[] } {
  const alloc: string[] = [], free: string[] = [];
  extra.forEach((e, k) => {
    if (e.kind !== "norm") return;
    const n = e.role === "outer" ? "(size_t)nOuter + 1" : "(size_t)NP + V";
    alloc.push(`  ${T}* ${buf(k)} = (${T}*)__builtin_malloc(sizeof(${T}) * (${n}));`);
    free.push(`  __builtin_free(${buf(k)});`);
  });
  return { alloc, free };
}

/** Per block of rows: the dot tile buffers (IB × JT each), and their release. */
export function dotBuffers(extra: readonly ExtraInput[], T: string): { alloc: string[]; free: string[] } {
  const alloc: string[] = [], free: string[] = [];
  extra.forEach((e, k) => {
    if (e.kind !== "dot") return;
    alloc.push(`      ${T}* G${k} = (${T}*)__builtin_malloc(sizeof(${T}) * IB * JT + 64);`);
    free.push(`      __builtin_free(G${k});`);
  });
  return { alloc, free };
}

/** Per tile (jt … je) of a block (rows i0 … i1): fills the dot tiles. */
export function dotTileCode(extra: readonly ExtraInput[], P: (slot: number) => string, yBase: (slot: number) => number, ind: string): string[] {
  const L: string[] = [];
  extra.forEach((e, k) => {
    if (e.kind !== "dot") return;
    L.push(`${ind}k_dot_tile(${P(e.outer)} + (int64_t)i0 * ${e.D}, ybuf + (int64_t)${yBase(e.inner)} * NP + jt, NP, ${e.D}, i1 - i0, (je - jt + V - 1) / V * V, G${k}, JT);`);
  });
  return L;
}

/** The expression a body `load` of extra input `k` reads (vector of V columns at j, row i). */
export function extraLoad(e: ExtraInput, k: number, T: string): string {
  if (e.kind === "dot") return `k_load<VT>(G${k} + (int64_t)(i - i0) * JT + (j - jt))`;
  return e.role === "outer" ? `((${T})${buf(k)}[i] - VT{})` : `k_load<VT>(${buf(k)} + j)`;
}
