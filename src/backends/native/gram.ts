/**
 * Host linear algebra of the Nyström preconditioner (src/solve/nystrom.ts) in C++, registered by
 * the Node entry point (src/backends/host.ts): the Gram
 * product B += KᵀK of the float32 M × m matrix K = K_nm, accumulated in float64 (products of
 * float32 values are exact in float64, so B is KᵀK to float64 rounding: the Woodbury form needs
 * B to match the K it is applied with), and the two products Kᵀr and K·u of each application.
 * Not a reduction (no formula: K is data), so it is one fixed source, compiled once per
 * compiler and cached like a kernel; null where the native backend is unavailable (the caller
 * keeps its JavaScript loops).
 *
 * The Gram product: panels of PANEL rows converted to float64, then register blocks of GR rows s
 * × GW vectors of columns t accumulated over the panel's rows (one broadcast K_is per s, one
 * vector load per t-vector, GR·GW FMAs), lower triangle only (t ≤ s, rounded up to the block),
 * blocks of s spread over the threads (each thread writes its own rows of B).
 */
import type { GramProducts } from "../host.js";
import { threadCount } from "../workers.js";
import { loadNative, nativeBackend } from "./index.js";
import { SIG_SYMBOL, SIG_VALUE } from "./render.js";
import { buildLibrary } from "./toolchain.js";

/** Rows per panel, register block (rows s × vectors of t). */
const PANEL = 128, GR = 6, GW = 2;

const SOURCE = String.raw`
typedef __INT64_TYPE__ int64_t;
typedef __SIZE_TYPE__ size_t;
#if defined(__AVX512F__)
#define GV 8
#elif defined(__AVX__)
#define GV 4
#else
#define GV 2
#endif
typedef double vd __attribute__((vector_size(GV * 8)));
#define PANEL ${PANEL}
#define GR ${GR}
#define GW ${GW}
extern "C" int ${SIG_SYMBOL}(void) { return ${SIG_VALUE}; }

static inline vd vload(const double* p) { vd v; __builtin_memcpy(&v, p, sizeof v); return v; }

extern "C" void keops_ts_gram(const float* K, int64_t M, int m, double* B, int threads) {
  const int W = GW * GV;
  const int nsb = (m + GR - 1) / GR;
  int mp = nsb * GR > m ? nsb * GR : m;
  mp = (mp + W - 1) / W * W;
  double* P = (double*)__builtin_malloc(sizeof(double) * (size_t)PANEL * mp);
  for (int64_t i0 = 0; i0 < M; i0 += PANEL) {
    const int rows = M - i0 < PANEL ? (int)(M - i0) : PANEL;
    #pragma omp parallel num_threads(threads)
    {
      #pragma omp for schedule(static)
      for (int r = 0; r < rows; r++) {
        const float* src = K + (i0 + r) * (int64_t)m;
        double* dst = P + (int64_t)r * mp;
        for (int t = 0; t < m; t++) dst[t] = src[t];
        for (int t = m; t < mp; t++) dst[t] = 0;
      }
      #pragma omp for schedule(dynamic, 1)
      for (int sb = nsb - 1; sb >= 0; sb--) {
        const int s0 = sb * GR;
        for (int t0 = 0; t0 < m && t0 < s0 + GR; t0 += W) {
          vd acc[GR][GW];
          for (int u = 0; u < GR; u++) for (int v = 0; v < GW; v++) acc[u][v] = vd{};
          const double* row = P;
          for (int r = 0; r < rows; r++, row += mp) {
            vd y[GW];
            for (int v = 0; v < GW; v++) y[v] = vload(row + t0 + v * GV);
            for (int u = 0; u < GR; u++) {
              const vd x = row[s0 + u] - vd{};
              for (int v = 0; v < GW; v++) acc[u][v] += x * y[v];
            }
          }
          for (int u = 0; u < GR; u++) {
            const int s = s0 + u;
            if (s >= m) break;
            double a[GW * GV];
            __builtin_memcpy(a, acc[u], sizeof a);
            for (int l = 0; l < W && t0 + l <= s; l++) B[(int64_t)s * m + t0 + l] += a[l];
          }
        }
      }
    }
  }
  __builtin_free(P);
}

extern "C" void keops_ts_gram_tmul(const float* K, int64_t M, int m, const double* r, double* u, int threads) {
  for (int t = 0; t < m; t++) u[t] = 0;
  #pragma omp parallel num_threads(threads)
  {
    double* part = (double*)__builtin_malloc(sizeof(double) * (size_t)m);
    for (int t = 0; t < m; t++) part[t] = 0;
    #pragma omp for schedule(static)
    for (int64_t i = 0; i < M; i++) {
      const double ri = r[i];
      const float* row = K + i * m;
      for (int t = 0; t < m; t++) part[t] += (double)row[t] * ri;
    }
    #pragma omp critical
    for (int t = 0; t < m; t++) u[t] += part[t];
    __builtin_free(part);
  }
}

extern "C" void keops_ts_gram_mul(const float* K, int64_t M, int m, const double* u, double* z, int threads) {
  #pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < M; i++) {
    const float* row = K + i * m;
    double s = 0;
    for (int t = 0; t < m; t++) s += (double)row[t] * u[t];
    z[i] = s;
  }
}
`;

type Fn = (...args: unknown[]) => void;
let cached: GramProducts | null | undefined;

/** The native products, built at first use; null when the native backend is unavailable or the build fails. */
export function nativeGram(): GramProducts | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (nativeBackend.unavailable() !== null) return cached;
  const protos = [
    "void keops_ts_gram(const float* K, int64_t M, int m, double* B, int threads)",
    "void keops_ts_gram_tmul(const float* K, int64_t M, int m, const double* r, double* u, int threads)",
    "void keops_ts_gram_mul(const float* K, int64_t M, int m, const double* u, double* z, int threads)",
  ];
  try {
    const fns = (file: string): Fn[] | null => loadNative(file, protos) as Fn[] | null;
    const { file } = buildLibrary(SOURCE, ["-O3"], (f) => fns(f) !== null);
    const f = fns(file);
    if (!f) return cached;
    const [gram, tmul, mul] = f as [Fn, Fn, Fn];
    const rows = (K: Float32Array, off: number, M: number, m: number): Float32Array => K.subarray(off, off + M * m);
    cached = {
      gram: (K, off, M, m, B) => {
        if (M > 0 && m > 0) gram(rows(K, off, M, m), M, m, B, threadCount());
      },
      tmul: (K, off, M, m, r, u) => {
        if (m > 0) tmul(rows(K, off, M, m), M, m, r, u, threadCount());
      },
      mul: (K, off, M, m, u, z) => {
        if (M > 0) mul(rows(K, off, M, m), M, m, u, z, threadCount());
      },
    };
  } catch {
    cached = null;
  }
  return cached;
}
