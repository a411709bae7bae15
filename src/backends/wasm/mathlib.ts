/**
 * Vector exp and log generated inline (WebAssembly has no libm), and the list of functions
 * imported from JavaScript's Math for the rarer transcendental ops (one scalar call per lane).
 *
 * exp: x = k·ln2 + r (Cody–Waite), |r| ≤ ln2/2; float32: Cephes' degree-5 polynomial; float64:
 * fdlibm's rational form 1 + r + r·c/(2 − c). 2^k is applied in two halves so that results down
 * to the subnormals and up to overflow are right without a branch.
 * log: x = 2^e·m with m ∈ [√2/2, √2), f = m − 1, s = f/(2+f); fdlibm's polynomial in s² (float32:
 * 4 terms, float64: 7 terms); subnormal inputs are scaled first; 0, negatives, ∞ and NaN by masks.
 */
import { F64, type ValType } from "./encoder.js";
import type { Lanes } from "./lanes.js";
import { SIMD } from "./asm.js";

/** Ops computed by calling JavaScript's Math (or the SSA erf) once per lane. */
export const IMPORTED_UNARY = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf", "log1p", "expm1"] as const;
export const IMPORTED_BINARY = ["atan2", "pow"] as const;
/** Signature of an imported unary / binary function (float64 in and out). */
export const UNARY_SIG = { params: [F64] as ValType[], results: [F64] as ValType[] };
export const BINARY_SIG = { params: [F64, F64] as ValType[], results: [F64] as ValType[] };

/** Horner evaluation of c[0]·x^n + … + c[n] with x in a local; leaves the value on the stack. */
function horner(L: Lanes, x: number, c: readonly number[]): void {
  L.f(c[0]!);
  for (let k = 1; k < c.length; k++) {
    L.a.get(x);
    L.op("mul").f(c[k]!).op("add");
  }
}

/** Pushes 2^(bits) scaled vector: y·2^k1·2^(k−k1) with k (int lanes) in local `k`, y on the stack. */
function scale2(L: Lanes, k: number, k1: number): void {
  const { a } = L;
  a.get(k).i32(1).v(L.mode === "f32" ? SIMD.i32x4ShrS : SIMD.i64x2ShrS).set(k1);
  a.get(k1);
  L.i(L.bias).op("iadd");
  a.i32(L.mantissa);
  L.op("ishl").op("mul");
  a.get(k).get(k1);
  L.op("isub").i(L.bias).op("iadd");
  a.i32(L.mantissa);
  L.op("ishl").op("mul");
}

/** Emits out = exp(x) on vector locals; `t(n)` gives scratch vector locals. */
export function emitExp(L: Lanes, x: number, out: number, t: (n: number) => number): void {
  const { a } = L;
  const f32 = L.mode === "f32";
  const xc = t(0), kf = t(1), r = t(2), y = t(3), k = t(4), k1 = t(5);
  a.get(x);
  // clamp (pmin/pmax: one instruction each, and a NaN x passes through)
  L.f(f32 ? 88.8 : 709.9).op("pmin").f(f32 ? -104 : -746).op("pmax").set(xc);
  // k = round(x·log2 e) by adding 1.5·2^23 (2^52): the low bits of the sum hold k
  const magic = f32 ? 12582912 : 6755399441055744;
  a.get(xc);
  L.f(Math.LOG2E).op("mul").f(magic).op("add").tee(k);
  L.f(magic).op("sub").set(kf);
  a.get(k);
  L.f(magic).op("isub").set(k);
  if (f32) {
    // r = x − k·C1 − k·C2 (C1 has few bits: k·C1 is exact)
    a.get(xc).get(kf);
    L.f(0.693359375).op("mul").op("sub");
    a.get(kf);
    L.f(-2.12194440e-4).op("mul").op("sub").set(r);
    horner(L, r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]);
    a.get(r).get(r);
    L.op("mul").op("mul");
    a.get(r);
    L.op("add").f(1).op("add").set(y);
  } else {
    const hi = y, lo = t(6), z = t(7), c = t(8);
    a.get(xc).get(kf);
    L.f(6.93147180369123816490e-01).op("mul").op("sub").set(hi);
    a.get(kf);
    L.f(1.90821492927058770002e-10).op("mul").set(lo);
    a.get(hi).get(lo);
    L.op("sub").set(r);
    a.get(r).get(r);
    L.op("mul").set(z);
    // c = r − z·(P1 + z·(P2 + …))
    a.get(r);
    horner(L, z, [4.13813679705723846039e-08, -1.65339022054652515390e-06, 6.61375632143793436117e-05, -2.77777777770155933842e-03, 1.66666666666666019037e-01]);
    a.get(z);
    L.op("mul").op("sub").set(c);
    // y = 1 − ((lo − r·c/(2 − c)) − hi)
    L.f(1);
    a.get(lo).get(r).get(c);
    L.op("mul").f(2);
    a.get(c);
    L.op("sub").op("div").op("sub");
    a.get(hi);
    L.op("sub").op("sub").set(y);
  }
  a.get(y);
  scale2(L, k, k1);
  a.set(out);
}

const LOGF = {
  hi: 6.9313812256e-01, lo: 9.0580006145e-06,
  t1: [0xf89e26 * 2 ** -26, 0xccce13 * 2 ** -25], // w·(Lg2 + w·Lg4), Horner high first
  t2: [0x91e9ee * 2 ** -25, 0xaaaaaa * 2 ** -24], // z·(Lg1 + w·Lg3)
};
const LOGD = {
  hi: 6.93147180369123816490e-01, lo: 1.90821492927058770002e-10,
  t1: [1.531383769920937332e-01, 2.222219843214978396e-01, 3.999999999940941908e-01],
  t2: [1.479819860511658591e-01, 1.818357216161805012e-01, 2.857142874366239149e-01, 6.666666666666735130e-01],
};

/** Emits out = log(x) on vector locals; `t(n)` gives scratch vector locals. */
export function emitLog(L: Lanes, x: number, out: number, t: (n: number) => number): void {
  const { a } = L;
  const f32 = L.mode === "f32";
  const C = f32 ? LOGF : LOGD;
  const S = f32 ? 25 : 54;
  const small = t(0), xs = t(1), e = t(2), m = t(3), big = t(4), hfsq = t(5), s = t(6), z = t(7), w = t(8);
  a.get(x);
  L.f(f32 ? 1.1754943508222875e-38 : 2.2250738585072014e-308).op("lt").set(small);
  a.get(x);
  L.f(2 ** S).op("mul");
  a.get(x).get(small).v(SIMD.bitselect).set(xs);
  // e = exponent bits − bias − (small ? S : 0)
  a.get(xs).i32(L.mantissa);
  L.op("ishrU").i(L.bias).op("isub");
  a.get(small);
  L.i(S);
  a.v(SIMD.and);
  L.op("isub").set(e);
  // m ∈ [1, 2), then [√2/2, √2)
  a.get(xs);
  L.i(f32 ? 0x7fffff : 0xfffffffffffffn);
  a.v(SIMD.and);
  L.i(f32 ? 0x3f800000 : 0x3ff0000000000000n);
  a.v(SIMD.or).set(m);
  a.get(m);
  L.f(Math.SQRT2).op("gt").set(big);
  a.get(m);
  L.f(0.5).op("mul");
  a.get(m).get(big).v(SIMD.bitselect);
  L.f(1).op("sub").set(m); // m now holds f
  a.get(e).get(big);
  L.op("isub").set(e);
  a.get(m).get(m);
  L.op("mul").f(0.5).op("mul").set(hfsq);
  a.get(m);
  L.f(2);
  a.get(m);
  L.op("add").op("div").set(s);
  a.get(s).get(s);
  L.op("mul").set(z);
  a.get(z).get(z);
  L.op("mul").set(w);
  // R = w·t1(w) + z·t2(w)
  horner(L, w, C.t1);
  a.get(w);
  L.op("mul");
  horner(L, w, C.t2);
  a.get(z);
  L.op("mul").op("add").set(z); // z now holds R
  a.get(e);
  L.toFloat().set(e); // e now holds dk
  // dk·hi − ((hfsq − (s·(hfsq + R) + dk·lo)) − f)
  a.get(e);
  L.f(C.hi).op("mul");
  a.get(hfsq).get(s).get(hfsq).get(z);
  L.op("add").op("mul");
  a.get(e);
  L.f(C.lo).op("mul").op("add").op("sub");
  a.get(m);
  L.op("sub").op("sub").set(out);
  // specials: +∞ → +∞, 0 → −∞, x < 0 or NaN → NaN
  L.f(Infinity);
  a.get(out).get(x);
  L.f(Infinity).op("eq");
  a.v(SIMD.bitselect).set(out);
  L.f(-Infinity);
  a.get(out).get(x);
  L.f(0).op("eq");
  a.v(SIMD.bitselect).set(out);
  a.get(out);
  L.f(NaN);
  a.get(x);
  L.f(0).op("ge");
  a.v(SIMD.bitselect).set(out);
}
