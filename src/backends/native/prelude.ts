/**
 * The C++ prelude of every generated kernel: GCC/Clang vector-extension helpers, overloaded so
 * one rendered expression works on scalars (`float`, `double`) and on SIMD vectors, and the
 * vectorisable exp (float32: Cephes-derived, ≤ 2 ulp; float64: ≤ 1 ulp) and float32 log polynomials, tested over the whole range.
 *
 * No header is included (GCC/Clang builtins only): compiling a kernel takes a fraction of a second.
 */
export const CXX_PRELUDE = String.raw`
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __SIZE_TYPE__ size_t;
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define K_AVX512 1
typedef float k_v16sf __attribute__((vector_size(64)));
typedef int k_v16si __attribute__((vector_size(64)));
typedef long long k_v8di __attribute__((vector_size(64)));
typedef double k_v8df __attribute__((vector_size(64)));
#endif

#define KI static inline __attribute__((always_inline))

template<class X> struct kt { typedef __typeof__(((X*)0)[0][0] + ((X*)0)[0][0]) E; enum { N = sizeof(X) / sizeof(E) }; };

/* Lane-wise application of a scalar function (GCC vectorises the simple ones: sqrt, floor...). */
template<class X, class Fn> KI X map1(X x, Fn f) {
  typedef typename kt<X>::E E; E a[kt<X>::N]; __builtin_memcpy(a, &x, sizeof x);
  for (int l = 0; l < (int)kt<X>::N; l++) a[l] = f(a[l]);
  __builtin_memcpy(&x, a, sizeof x); return x;
}
template<class X, class Fn> KI X map2(X x, X y, Fn f) {
  typedef typename kt<X>::E E; E a[kt<X>::N], b[kt<X>::N]; __builtin_memcpy(a, &x, sizeof x); __builtin_memcpy(b, &y, sizeof y);
  for (int l = 0; l < (int)kt<X>::N; l++) a[l] = f(a[l], b[l]);
  __builtin_memcpy(&x, a, sizeof x); return x;
}
/* Whether any lane of a mask is set. */
template<class M> KI bool k_any(M m) {
#ifdef K_AVX512
  if constexpr (sizeof(M) == 64 && sizeof(m[0]) == 4) return __builtin_ia32_ptestmd512((k_v16si)m, (k_v16si)m, (unsigned short)-1) != 0;
  if constexpr (sizeof(M) == 64 && sizeof(m[0]) == 8) return __builtin_ia32_ptestmq512((k_v8di)m, (k_v8di)m, (unsigned char)-1) != 0;
#endif
  uint64_t w[sizeof(M) / 8]; __builtin_memcpy(w, &m, sizeof m); uint64_t r = 0;
  for (int k = 0; k < (int)(sizeof(M) / 8); k++) r |= w[k];
  return r != 0;
}
/* The set lanes of a mask as bits (lane l → bit l). */
template<class M> KI uint64_t k_bits(M m) {
#ifdef K_AVX512
  if constexpr (sizeof(M) == 64 && sizeof(m[0]) == 4) return __builtin_ia32_ptestmd512((k_v16si)m, (k_v16si)m, (unsigned short)-1);
  if constexpr (sizeof(M) == 64 && sizeof(m[0]) == 8) return __builtin_ia32_ptestmq512((k_v8di)m, (k_v8di)m, (unsigned char)-1);
#endif
  uint64_t b = 0;
  for (int l = 0; l < (int)(sizeof(M) / sizeof(m[0])); l++) b |= (uint64_t)(m[l] != 0) << l;
  return b;
}
template<class X> KI X k_load(const typename kt<X>::E* p) { X v; __builtin_memcpy(&v, p, sizeof v); return v; }

/* The error function: libm's, to double precision like the SSA definition's. */
KI double k_erf_d(double x) { return __builtin_erf(x); }

/* e^z / 2^nf for nf = round(z / ln2): Cody-Waite reduction r = z − nf·ln2, Cephes' polynomial. */
template<class X> KI X k_exp32_poly(X z, X nf) {
  X r = z - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  X p = 1.9875691500e-4f - X{};
  p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f; p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f; p = p * r + 5.0000001201e-1f;
  return p * (r * r) + r + 1.0f;
}
/* float32 exp: x = n ln2 + r (Cody-Waite), Cephes' degree-7 polynomial, then y·2^n. With
   AVX-512: min/max clamps (NaN passes through), vrndscale, vscalef (gradual underflow built in).
   Elsewhere: magic-number rounding and 2^n applied in two steps so subnormal results round once. */
template<class X> KI X k_exp32v(X x) {
  typedef decltype(x < x) M;
#ifdef K_AVX512
  if constexpr (sizeof(X) == 64) {
    X z = (X)__builtin_ia32_maxps512_mask((k_v16sf)(-104.0f - X{}), (k_v16sf)x, (k_v16sf)x, (unsigned short)-1, 4);
    z = (X)__builtin_ia32_minps512_mask((k_v16sf)(89.0f - X{}), (k_v16sf)z, (k_v16sf)z, (unsigned short)-1, 4);
    X nf = (X)__builtin_ia32_rndscaleps_mask((k_v16sf)(z * 1.44269504088896341f), 0, (k_v16sf)z, (unsigned short)-1, 4);
    X y = k_exp32_poly(z, nf);
    return (X)__builtin_ia32_scalefps512_mask((k_v16sf)y, (k_v16sf)nf, (k_v16sf)y, (unsigned short)-1, 4);
  }
#endif
  X z = x > 89.0f ? 89.0f - X{} : x;
  z = z < -104.0f ? -104.0f - X{} : z;
  X k = z * 1.44269504088896341f + 12582912.0f;
  M n = (M)k - 0x4B400000;
  X nf = k - 12582912.0f;
  X y = k_exp32_poly(z, nf);
  M n1 = n >> 1, n2 = n - n1;
  y = y * (X)((n1 + 127) << 23);
  y = y * (X)((n2 + 127) << 23);
  return x != x ? x : y;
}
/* e^z / 2^nf for nf = round(z / ln2), float64: Cody-Waite reduction with fdlibm's split of ln2,
   then the Taylor polynomial of degree 13 on |r| ≤ ln2/2 (truncation < 2^-60). */
template<class X> KI X k_exp64_poly(X z, X nf) {
  X r = z - nf * 6.93147180369123816490e-01;
  r = r - nf * 1.90821492927058770002e-10;
  X p = 1.6059043836821613e-10 - X{};
  p = p * r + 2.08767569878680990e-09; p = p * r + 2.50521083854417188e-08;
  p = p * r + 2.75573192239858907e-07; p = p * r + 2.75573192239858907e-06;
  p = p * r + 2.48015873015873016e-05; p = p * r + 1.98412698412698413e-04;
  p = p * r + 1.38888888888888889e-03; p = p * r + 8.33333333333333333e-03;
  p = p * r + 4.16666666666666667e-02; p = p * r + 1.66666666666666667e-01;
  p = p * r + 0.5;
  return p * (r * r) + r + 1.0;
}
/* float64 exp on vectors (≤ 1 ulp against libm over [−750, 715], specials included): as the
   float32 one, clamped to [−746, 710] (NaN passes through), 2^n by vscalefpd with AVX-512, else
   in two steps so that a subnormal result rounds once. */
template<class X> KI X k_exp64v(X x) {
  typedef decltype(x < x) M;
#ifdef K_AVX512
  if constexpr (sizeof(X) == 64) {
    X z = (X)__builtin_ia32_maxpd512_mask((k_v8df)(-746.0 - X{}), (k_v8df)x, (k_v8df)x, (unsigned char)-1, 4);
    z = (X)__builtin_ia32_minpd512_mask((k_v8df)(710.0 - X{}), (k_v8df)z, (k_v8df)z, (unsigned char)-1, 4);
    X nf = (X)__builtin_ia32_rndscalepd_mask((k_v8df)(z * 1.4426950408889634), 0, (k_v8df)z, (unsigned char)-1, 4);
    X y = k_exp64_poly(z, nf);
    return (X)__builtin_ia32_scalefpd512_mask((k_v8df)y, (k_v8df)nf, (k_v8df)y, (unsigned char)-1, 4);
  }
#endif
  X z = x > 710.0 ? 710.0 - X{} : x;
  z = z < -746.0 ? -746.0 - X{} : z;
  X k = z * 1.4426950408889634 + 6755399441055744.0;
  M n = (M)k - 0x4338000000000000LL;
  X nf = k - 6755399441055744.0;
  X y = k_exp64_poly(z, nf);
  M n1 = n >> 1, n2 = n - n1;
  y = y * (X)((n1 + 1023) << 52);
  y = y * (X)((n2 + 1023) << 52);
  return x != x ? x : y;
}
/* float32 log: x = m 2^e with m in [√½, √2), Cephes' degree-9 polynomial; subnormals rescaled. */
template<class X> KI X k_log32v(X x) {
  typedef decltype(x < x) M;
  M sub = x < 1.17549435e-38f;
  X xs = sub ? x * 8388608.0f : x;
  M bits = (M)xs;
  M e = ((bits >> 23) & 0xff) - 126;
  X m = (X)((bits & 0x007fffff) | 0x3f000000);
  e = sub ? e - 23 : e;
  M small = m < 0.707106781186547524f;
  X ef = __builtin_convertvector(small ? e - 1 : e, X);
  X f = small ? m + m - 1.0f : m - 1.0f;
  X z = f * f;
  X y = 7.0376836292e-2f - X{};
  y = y * f - 1.1514610310e-1f; y = y * f + 1.1676998740e-1f; y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f; y = y * f - 1.6668057665e-1f; y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f; y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  y = y + ef * -2.12194440e-4f;
  y = y - z * 0.5f;
  X res = f + y;
  res = res + ef * 0.693359375f;
  res = x == 0.0f ? -INFINITY - X{} : res;
  res = x < 0.0f ? NAN - X{} : res;
  res = x == INFINITY ? INFINITY - X{} : res;
  return x != x ? x : res;
}

/* exp: the polynomials on vectors (float32, float64); log: on float32 vectors; libm elsewhere. */
#define KF1(name) KI float m_##name(float v) { return __builtin_##name##f(v); } KI double m_##name(double v) { return __builtin_##name(v); }
#define KF2(name) KI float m_##name(float v, float w) { return __builtin_##name##f(v, w); } KI double m_##name(double v, double w) { return __builtin_##name(v, w); }
KF1(exp) KF1(log) KF1(sqrt) KF1(sin) KF1(cos) KF1(tan) KF1(asin) KF1(acos) KF1(atan) KF1(sinh) KF1(cosh) KF1(tanh)
KF1(log1p) KF1(expm1) KF1(floor) KF1(round) KF1(fabs) KF2(atan2) KF2(pow)
KI float k_exp(float x) { return m_exp(x); }
KI double k_exp(double x) { return m_exp(x); }
template<class X> KI X k_exp(X x) {
  if constexpr (sizeof(typename kt<X>::E) == 4) return k_exp32v(x);
  else return k_exp64v(x);
}
KI float k_log(float x) { return m_log(x); }
KI double k_log(double x) { return m_log(x); }
template<class X> KI X k_log(X x) {
  if constexpr (sizeof(typename kt<X>::E) == 4) return k_log32v(x);
  else return map1(x, [](double v) { return m_log(v); });
}

#define KMAP1(name, expr) \
  KI float name(float v) { return (float)(expr); } \
  KI double name(double v) { return (double)(expr); } \
  template<class X> KI X name(X x) { return map1(x, [](auto v) { return (decltype(v))(expr); }); }
#define KMAP2(name, expr) \
  KI float name(float v, float w) { return (float)(expr); } \
  KI double name(double v, double w) { return (double)(expr); } \
  template<class X> KI X name(X x, X y) { return map2(x, y, [](auto v, auto w) { return (decltype(v))(expr); }); }
KMAP1(k_sqrt, m_sqrt(v))
KMAP1(k_sin, m_sin(v)) KMAP1(k_cos, m_cos(v)) KMAP1(k_tan, m_tan(v))
KMAP1(k_asin, m_asin(v)) KMAP1(k_acos, m_acos(v)) KMAP1(k_atan, m_atan(v))
KMAP1(k_sinh, m_sinh(v)) KMAP1(k_cosh, m_cosh(v)) KMAP1(k_tanh, m_tanh(v))
KMAP1(k_log1p, m_log1p(v)) KMAP1(k_expm1, m_expm1(v))
KMAP1(k_floor, m_floor(v)) KMAP1(k_round, m_round(v)) KMAP1(k_erf, k_erf_d(v))
/* pow as Math.pow: a NaN exponent gives NaN, and so does (±1)^±∞ (C's pow gives 1). */
template<class S> KI S k_pows(S v, S w) { return w != w ? w : ((v == 1 || v == -1) && __builtin_isinf(w)) ? (S)NAN : m_pow(v, w); }
KMAP2(k_atan2, m_atan2(v, w)) KMAP2(k_pow, k_pows(v, w))

/* |x| (clears the sign bit, as Math.abs), sign (NaN → NaN), NaN-propagating min/max with
   Math.min's signed zeros. */
KI float k_abs(float x) { return m_fabs(x); }
KI double k_abs(double x) { return m_fabs(x); }
template<class X> KI X k_abs(X x) { typedef decltype(x < x) M; return (X)((M)x & ~(M)((typename kt<X>::E)-0.0 - X{})); }
template<class X> KI X k_sign(X x) {
  typedef typename kt<X>::E E;
  X r = x > (E)0 ? (E)1 - X{} : x; r = x < (E)0 ? (E)-1 - X{} : r; return x == (E)0 ? (E)0 - X{} : r;
}
KI float k_sign(float x) { return x > 0 ? 1.0f : x < 0 ? -1.0f : x == 0 ? 0.0f : x; }
KI double k_sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x == 0 ? 0.0 : x; }
template<class S> KI S k_mins(S a, S b) { return a != a ? a : b != b ? b : a == b ? (__builtin_signbit(a) ? a : b) : a < b ? a : b; }
template<class S> KI S k_maxs(S a, S b) { return a != a ? a : b != b ? b : a == b ? (__builtin_signbit(a) ? b : a) : a > b ? a : b; }
KI float k_min(float a, float b) { return k_mins(a, b); }
KI double k_min(double a, double b) { return k_mins(a, b); }
KI float k_max(float a, float b) { return k_maxs(a, b); }
KI double k_max(double a, double b) { return k_maxs(a, b); }
template<class X> KI X k_min(X a, X b) {
  typedef decltype(a < b) M;
  X r = a < b ? a : b; r = a == b ? (X)((M)a | (M)b) : r; r = b != b ? b : r; return a != a ? a : r;
}
template<class X> KI X k_max(X a, X b) {
  typedef decltype(a < b) M;
  X r = a > b ? a : b; r = a == b ? (X)((M)a & (M)b) : r; r = b != b ? b : r; return a != a ? a : r;
}
`;
