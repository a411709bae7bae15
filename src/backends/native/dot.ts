/**
 * The native side of blocked distances (src/compile/blocked.ts): the C++ that fills the
 * precomputed inputs of a rewritten body.
 * - norms, once per batch: Σ_c v_c² of an outer slot per row, of an inner slot per column (from
 *   its transposed coordinates);
 * - dot tiles, per block of rows and tile of columns (the tile's columns first packed D × JT):
 *   G(i, j) = Σ_c x_ic·y_jc by a register-blocked micro-kernel — DOT_RI rows × DOT_RJ vectors of
 *   columns (6 × 2) in 12 accumulators, one FMA per (row, column, c), each loaded y vector used by
 *   6 rows, each broadcast x by 2 vectors; c is a loop (not unrolled: D only changes a loop
 *   bound, so a D = 1000 formula compiles as fast as D = 16).
 * The renderer reads them with {@link extraLoad}.
 */
import type { ExtraInput } from "../../compile/blocked.js";

export { blockedEnabled } from "../../compile/blocked.js";

/** The micro-kernel's block: rows × vectors of columns (env KEOPS_TS_DOT_BLOCK="4x4" to experiment; 6 × 2 measured best at D = 64 among 4×2, 4×3, 4×4, 6×2, 8×2). */
const blockEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KEOPS_TS_DOT_BLOCK?.split("x").map(Number);
export const DOT_RI = blockEnv?.[0] || 6;
export const DOT_RJ = blockEnv?.[1] || 2;

/** The micro-kernel, emitted once per translation unit that needs it (KDT: the element type, VT: its vector). */
export const DOT_TILE_FN = `
/* RI rows × RJ vectors of G: acc[r][v] += x[r][c]·y[c][v] over c (RI·RJ accumulators in registers) */
template<int RI, int RJ> static inline void k_dot_block(const KDT* __restrict X, int D, const KDT* __restrict Y, int64_t ldy, KDT* __restrict G, int ldg) {
  VT acc[RI][RJ];
  _Pragma("GCC unroll 16") for (int r = 0; r < RI; r++) _Pragma("GCC unroll 16") for (int v = 0; v < RJ; v++) acc[r][v] = VT{};
  const KDT* y = Y;
  for (int c = 0; c < D; c++, y += ldy) {
    VT yv[RJ];
    _Pragma("GCC unroll 16") for (int v = 0; v < RJ; v++) yv[v] = k_load<VT>(y + v * V);
    _Pragma("GCC unroll 16") for (int r = 0; r < RI; r++) {
      const VT xb = X[(int64_t)r * D + c] - VT{};
      _Pragma("GCC unroll 16") for (int v = 0; v < RJ; v++) acc[r][v] += xb * yv[v];
    }
  }
  _Pragma("GCC unroll 16") for (int r = 0; r < RI; r++) _Pragma("GCC unroll 16") for (int v = 0; v < RJ; v++) __builtin_memcpy(G + (int64_t)r * ldg + v * V, &acc[r][v], sizeof(VT));
}
/* G[r·ldg + jj] = Σ_c X[r·D + c]·Y[c·ldy + jj] for r < nr, jj < jn (jn a multiple of V) */
static void k_dot_tile(const KDT* __restrict X, const KDT* __restrict Y, int64_t ldy, int D, int nr, int jn, KDT* __restrict G, int ldg) {
  int r = 0;
  for (; r + DOT_RI <= nr; r += DOT_RI) {
    int jj = 0;
    for (; jj + DOT_RJ * V <= jn; jj += DOT_RJ * V) k_dot_block<DOT_RI, DOT_RJ>(X + (int64_t)r * D, D, Y + jj, ldy, G + (int64_t)r * ldg + jj, ldg);
    for (; jj < jn; jj += V) k_dot_block<DOT_RI, 1>(X + (int64_t)r * D, D, Y + jj, ldy, G + (int64_t)r * ldg + jj, ldg);
  }
  for (; r < nr; r++) {
    int jj = 0;
    for (; jj + DOT_RJ * V <= jn; jj += DOT_RJ * V) k_dot_block<1, DOT_RJ>(X + (int64_t)r * D, D, Y + jj, ldy, G + (int64_t)r * ldg + jj, ldg);
    for (; jj < jn; jj += V) k_dot_block<1, 1>(X + (int64_t)r * D, D, Y + jj, ldy, G + (int64_t)r * ldg + jj, ldg);
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
    alloc.push(`      ${T}* YP${k} = (${T}*)__builtin_malloc(sizeof(${T}) * ${e.D} * JT + 64);`);
    free.push(`      __builtin_free(G${k});`, `      __builtin_free(YP${k});`);
  });
  return { alloc, free };
}

/** Per tile (jt … je) of a block (rows i0 … i1): fills the dot tiles. */
export function dotTileCode(extra: readonly ExtraInput[], P: (slot: number) => string, yBase: (slot: number) => number, ind: string): string[] {
  const L: string[] = [];
  extra.forEach((e, k) => {
    if (e.kind !== "dot") return;
    // the tile's columns packed coordinate by coordinate (D × JT contiguous: no page per coordinate)
    L.push(`${ind}{ const int jn = (je - jt + V - 1) / V * V; for (int c = 0; c < ${e.D}; c++) __builtin_memcpy(YP${k} + (int64_t)c * JT, ybuf + (int64_t)(${yBase(e.inner)} + c) * NP + jt, sizeof(KDT) * jn);`);
    L.push(`${ind}  k_dot_tile(${P(e.outer)} + (int64_t)i0 * ${e.D}, YP${k}, JT, ${e.D}, i1 - i0, jn, G${k}, JT); }`);
  });
  return L;
}

/** The expression a body `load` of extra input `k` reads (vector of V columns at j, row i). */
export function extraLoad(e: ExtraInput, k: number, T: string): string {
  if (e.kind === "dot") return `k_load<VT>(G${k} + (int64_t)(i - i0) * JT + (j - jt))`;
  return e.role === "outer" ? `((${T})${buf(k)}[i] - VT{})` : `k_load<VT>(${buf(k)} + j)`;
}
