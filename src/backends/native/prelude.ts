/**
 * The C++ prelude of every generated kernel: GCC/Clang vector-extension helpers, overloaded so
 * one rendered expression works on scalars (`float`, `double`) and on SIMD vectors, and the
 * vectorisable float32 exp/log polynomials (Cephes-derived, ≤ 2 ulp, tested over the whole range).
 *
 * Only <cmath>, <cstdint>, <cstdlib>, <cstring> are included: compiling the kernel stays fast.
 */
export const CXX_PRELUDE = String.raw`
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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
  uint64_t w[sizeof(M) / 8]; __builtin_memcpy(w, &m, sizeof m); uint64_t r = 0;
  for (int k = 0; k < (int)(sizeof(M) / 8); k++) r |= w[k];
  return r != 0;
}
template<class X> KI X k_load(const typename kt<X>::E* p) { X v; __builtin_memcpy(&v, p, sizeof v); return v; }

/* The error function of the SSA definition (Numerical Recipes' erfc fit). */
KI double k_erf_d(double x) {
  double z = std::fabs(x), t = 1 / (1 + 0.5 * z);
  double r = t * std::exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
    t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

/* float32 exp: x = n ln2 + r (Cody-Waite), Cephes' degree-7 polynomial, 2^n applied in two
   steps so that subnormal results round once; overflow/underflow fall out of the arithmetic. */
template<class X> KI X k_exp32v(X x) {
  typedef decltype(x < x) M;
  X z = x > 89.0f ? 89.0f - X{} : x;
  z = z < -104.0f ? -104.0f - X{} : z;
  X t = z * 1.44269504088896341f;
  M n = __builtin_convertvector(t + (t < 0.0f ? -0.5f - X{} : 0.5f - X{}), M);
  X nf = __builtin_convertvector(n, X);
  X r = z - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  X p = 1.9875691500e-4f - X{};
  p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f; p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f; p = p * r + 5.0000001201e-1f;
  X y = p * (r * r) + r + 1.0f;
  M n1 = n >> 1, n2 = n - n1;
  y = y * (X)((n1 + 127) << 23);
  y = y * (X)((n2 + 127) << 23);
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

/* exp and log: the polynomials on float vectors, libm elsewhere. */
KI float k_exp(float x) { return std::exp(x); }
KI double k_exp(double x) { return std::exp(x); }
template<class X> KI X k_exp(X x) {
  if constexpr (sizeof(typename kt<X>::E) == 4) return k_exp32v(x);
  else return map1(x, [](double v) { return std::exp(v); });
}
KI float k_log(float x) { return std::log(x); }
KI double k_log(double x) { return std::log(x); }
template<class X> KI X k_log(X x) {
  if constexpr (sizeof(typename kt<X>::E) == 4) return k_log32v(x);
  else return map1(x, [](double v) { return std::log(v); });
}

#define KMAP1(name, expr) \
  KI float name(float v) { return (float)(expr); } \
  KI double name(double v) { return (double)(expr); } \
  template<class X> KI X name(X x) { return map1(x, [](auto v) { return (decltype(v))(expr); }); }
#define KMAP2(name, expr) \
  KI float name(float v, float w) { return (float)(expr); } \
  KI double name(double v, double w) { return (double)(expr); } \
  template<class X> KI X name(X x, X y) { return map2(x, y, [](auto v, auto w) { return (decltype(v))(expr); }); }
KMAP1(k_sqrt, std::sqrt(v))
KMAP1(k_sin, std::sin(v)) KMAP1(k_cos, std::cos(v)) KMAP1(k_tan, std::tan(v))
KMAP1(k_asin, std::asin(v)) KMAP1(k_acos, std::acos(v)) KMAP1(k_atan, std::atan(v))
KMAP1(k_sinh, std::sinh(v)) KMAP1(k_cosh, std::cosh(v)) KMAP1(k_tanh, std::tanh(v))
KMAP1(k_log1p, std::log1p(v)) KMAP1(k_expm1, std::expm1(v))
KMAP1(k_floor, std::floor(v)) KMAP1(k_round, std::round(v)) KMAP1(k_erf, k_erf_d(v))
KMAP2(k_atan2, std::atan2(v, w)) KMAP2(k_pow, std::pow(v, w))

/* |x| (clears the sign bit, as Math.abs), sign (NaN → NaN), NaN-propagating min/max with
   Math.min's signed zeros. */
KI float k_abs(float x) { return std::fabs(x); }
KI double k_abs(double x) { return std::fabs(x); }
template<class X> KI X k_abs(X x) { typedef decltype(x < x) M; return (X)((M)x & ~(M)((typename kt<X>::E)-0.0 - X{})); }
template<class X> KI X k_sign(X x) {
  typedef typename kt<X>::E E;
  X r = x > (E)0 ? (E)1 - X{} : x; r = x < (E)0 ? (E)-1 - X{} : r; return x == (E)0 ? (E)0 - X{} : r;
}
KI float k_sign(float x) { return x > 0 ? 1.0f : x < 0 ? -1.0f : x == 0 ? 0.0f : x; }
KI double k_sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x == 0 ? 0.0 : x; }
template<class S> KI S k_mins(S a, S b) { return a != a ? a : b != b ? b : a == b ? (std::signbit(a) ? a : b) : a < b ? a : b; }
template<class S> KI S k_maxs(S a, S b) { return a != a ? a : b != b ? b : a == b ? (std::signbit(a) ? b : a) : a > b ? a : b; }
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
