/**
 * The WGSL op table: one SSA instruction → one WGSL expression, and the prelude of helper
 * functions that give WGSL's builtins the SSA semantics (those of `evalOp` in src/ir/ssa.ts) on
 * every adapter. What the helpers work around (measured on lavapipe and SwiftShader):
 * - `x != x` may be false for NaN, `min`/`max` drop NaN, `sign(NaN)` is 0, `round` is half to
 *   even: NaN tests are bit tests, min/max/sign/round are written out;
 * - SwiftShader's exp(NaN) is +∞, log(0) is −88, tanh(±∞) is NaN: guarded;
 * - ±∞ and NaN cannot be WGSL constants: they come from the uniform block (`P.inf`, `P.nan`);
 * - a compiler may fold algebraic identities such as (s + y) − s − y = 0 (Kahan's compensation,
 *   log1p's u − 1): values that must not be reassociated are multiplied by a runtime 1 (`P.one`).
 */
import type { Instr } from "../../ir/ssa.js";

/** WGSL type of an SSA value type. */
export function wgslType(t: "f" | "i"): string {
  return t === "i" ? "i32" : "f32";
}

/** A float constant in WGSL (f32; ±∞ and NaN through the uniform block). */
export function floatLit(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return "P.nan";
  if (f === Infinity) return "P.inf";
  if (f === -Infinity) return "(-P.inf)";
  if (Object.is(f, -0)) return "(-0.0f)";
  const s = String(f);
  return f < 0 ? `(${s}f)` : `${s}f`;
}

/** An int constant in WGSL. */
export function intLit(v: number): string {
  const i = v | 0;
  return i < 0 ? `(${i}i)` : `${i}i`;
}

/** Helper functions every kernel carries (unused ones cost nothing: the compiler drops them). */
export const WGSL_PRELUDE = /* wgsl */ `
fn k_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn k_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn k_min(a: f32, b: f32) -> f32 { if (k_isnan(a)) { return a; } if (k_isnan(b)) { return b; } return select(b, a, a < b); }
fn k_max(a: f32, b: f32) -> f32 { if (k_isnan(a)) { return a; } if (k_isnan(b)) { return b; } return select(b, a, a > b); }
fn k_sign(x: f32) -> f32 { if (x > 0.0f) { return 1.0f; } if (x < 0.0f) { return -1.0f; } if (x == 0.0f) { return 0.0f; } return x; }
fn k_round(x: f32) -> f32 {
  let t = trunc(x);
  if (abs(x - t) >= 0.5f) { return t + k_sign(x); }
  return t;
}
fn k_exp(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  if (x > 88.72284f) { return P.inf; }
  if (x < -103.97208f) { return 0.0f; }
  // Cody–Waite reduction x = n·ln2 + r (the runtime 1 keeps the two steps apart), Cephes' expf polynomial
  let n = floor(x * 1.44269504f + 0.5f);
  let r = (x - n * 0.693359375f) * P.one + n * 2.12194440e-4f;
  let p = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * r * r + r) + 1.0f;
  return ldexp(p, i32(n));
}
fn k_log(x: f32) -> f32 {
  if (k_isnan(x) || x < 0.0f) { return P.nan; }
  if (x == 0.0f) { return -P.inf; }
  if (k_isinf(x)) { return x; }
  // Cephes' logf (accurate near 1, where builtins lose digits)
  let fe = frexp(x);
  var m = fe.fract;
  var e = f32(fe.exp);
  if (m < 0.70710678f) { e = e - 1.0f; m = m + m - 1.0f; } else { m = m - 1.0f; }
  let z = m * m;
  var y = m * z * ((((((((7.0376836292e-2f * m - 1.1514610310e-1f) * m + 1.1676998740e-1f) * m - 1.2420140846e-1f) * m + 1.4249322787e-1f) * m - 1.6668057665e-1f) * m + 2.0000714765e-1f) * m - 2.4999993993e-1f) * m + 3.3333331174e-1f);
  y = y - 2.12194440e-4f * e - 0.5f * z;
  return (m + y) + 0.693359375f * e;
}
fn k_sqrt(x: f32) -> f32 {
  if (k_isnan(x) || x < 0.0f) { return P.nan; }
  if (k_isinf(x)) { return x; }
  return sqrt(x);
}
fn k_div(a: f32, b: f32) -> f32 {
  if (k_isnan(a) || k_isnan(b)) { return P.nan; }
  if (b == 0.0f) {
    if (a == 0.0f) { return P.nan; }
    let neg = (a < 0.0f) != ((bitcast<u32>(b) & 0x80000000u) != 0u);
    return select(P.inf, -P.inf, neg);
  }
  if (k_isinf(b)) {
    if (k_isinf(a)) { return P.nan; }
    return select(0.0f, -0.0f, (a < 0.0f) != (b < 0.0f));
  }
  return a / b;
}
fn k_tanh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let a = abs(x);
  if (a > 10.0f) { return k_sign(x); }
  if (a < 0.625f) {
    let z = x * x;
    return x + x * z * ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z - 3.33332819422e-1f);
  }
  return k_sign(x) * (1.0f - 2.0f / (k_exp(2.0f * a) + 1.0f));
}
fn k_sinh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let a = abs(x);
  if (a < 0.5f) {
    let z = x * x;
    return x * (1.0f + z / 6.0f * (1.0f + z / 20.0f * (1.0f + z / 42.0f * (1.0f + z / 72.0f * (1.0f + z / 110.0f)))));
  }
  if (a > 89.0f) { return k_sign(x) * P.inf; }
  let e = k_exp(a - 0.69314718f);
  return k_sign(x) * (e - 0.25f / e);
}
fn k_cosh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  if (abs(x) > 89.0f) { return P.inf; }
  let e = k_exp(abs(x) - 0.69314718f);
  return e + 0.25f / e;
}
fn k_expm1(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  if (abs(x) < 0.35f) {
    return x * (1.0f + x * (0.5f + x * (0.16666667f + x * (0.041666668f + x * (0.008333334f + x * (0.0013888889f + x * 0.0001984127f))))));
  }
  return k_exp(x) - 1.0f;
}
fn k_log1p(x: f32) -> f32 {
  if (k_isnan(x) || x < -1.0f) { return P.nan; }
  if (x == -1.0f) { return -P.inf; }
  if (abs(x) < 0.25f) {
    let z = x / (2.0f + x);
    let z2 = z * z;
    return 2.0f * z * (1.0f + z2 * (0.33333334f + z2 * (0.2f + z2 * (0.14285715f + z2 * 0.11111111f))));
  }
  return k_log(1.0f + x);
}
fn k_asin(x: f32) -> f32 {
  if (k_isnan(x) || abs(x) > 1.0f) { return P.nan; }
  // Cephes' asinf (builtins are ~4e-4 off on some drivers)
  let a = abs(x);
  var r: f32;
  if (a > 0.5f) {
    let z = 0.5f * (1.0f - a);
    let t = sqrt(z);
    r = 1.5707963267948966f - 2.0f * (t + t * z * k_asin_poly(z));
  } else {
    let z = a * a;
    r = a + a * z * k_asin_poly(z);
  }
  return select(r, -r, x < 0.0f);
}
fn k_asin_poly(z: f32) -> f32 {
  return (((4.2163199048e-2f * z + 2.4181311049e-2f) * z + 4.5470025998e-2f) * z + 7.4953002686e-2f) * z + 1.6666752422e-1f;
}
fn k_acos(x: f32) -> f32 {
  if (k_isnan(x) || abs(x) > 1.0f) { return P.nan; }
  if (x < -0.5f) { return 3.14159265358979f - 2.0f * k_asin(sqrt(0.5f * (1.0f + x))); }
  if (x > 0.5f) { return 2.0f * k_asin(sqrt(0.5f * (1.0f - x))); }
  return 1.5707963267948966f - k_asin(x);
}
fn k_atan(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  // Cephes' atanf
  var a = abs(x);
  var y = 0.0f;
  if (a > 2.414213562373095f) {
    y = 1.5707963267948966f;
    a = -1.0f / a;
  } else if (a > 0.4142135623730950f) {
    y = 0.7853981633974483f;
    a = (a - 1.0f) / (a + 1.0f);
  }
  let z = a * a;
  y = y + ((((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) * z - 3.33329491539e-1f) * z * a + a);
  return select(y, -y, x < 0.0f);
}
fn k_atan2(y: f32, x: f32) -> f32 {
  if (k_isnan(x) || k_isnan(y)) { return P.nan; }
  if (k_isinf(x) || k_isinf(y)) {
    let px = select(1.0f, -1.0f, x < 0.0f);
    let py = select(1.0f, -1.0f, y < 0.0f);
    if (k_isinf(x) && k_isinf(y)) { return py * select(0.7853982f, 2.3561945f, x < 0.0f); }
    if (k_isinf(y)) { return py * 1.5707964f; }
    return select(y * 0.0f, py * 3.1415927f, x < 0.0f);
  }
  if (x == 0.0f && y == 0.0f) {
    let negx = (bitcast<u32>(x) & 0x80000000u) != 0u;
    return select(y, select(3.1415927f, -3.1415927f, (bitcast<u32>(y) & 0x80000000u) != 0u), negx);
  }
  if (x == 0.0f) { return select(1.5707964f, -1.5707964f, y < 0.0f); }
  let a = k_atan(y / x);
  if (x > 0.0f) { return a; }
  return select(a + 3.1415927f, a - 3.1415927f, y < 0.0f || (y == 0.0f && (bitcast<u32>(y) & 0x80000000u) != 0u));
}
fn k_trig_ok(x: f32) -> bool { return !k_isnan(x) && !k_isinf(x); }
// Cephes' sinf/cosf: x reduced by multiples of π/4 in three steps (kept apart by the runtime 1),
// then a polynomial on [−π/4, π/4] (builtins are ~1e-3 off on some drivers)
fn k_trig_poly(r: f32, cosine: bool) -> f32 {
  let z = r * r;
  if (cosine) { return ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z - 0.5f * z + 1.0f; }
  return ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
}
fn k_trig_reduce(a: f32) -> vec2<f32> {
  var j = u32(a * 1.27323954473516f);
  var y = f32(j);
  if ((j & 1u) == 1u) { j = j + 1u; y = y + 1.0f; }
  let r = ((a - y * 0.78515625f) * P.one - y * 2.4187564849853515625e-4f) * P.one - y * 3.77489497744594108e-8f;
  return vec2<f32>(r, f32(j & 7u));
}
fn k_sin(x: f32) -> f32 {
  if (!k_trig_ok(x)) { return P.nan; }
  let rj = k_trig_reduce(abs(x));
  var j = u32(rj.y);
  var neg = x < 0.0f;
  if (j > 3u) { neg = !neg; j = j - 4u; }
  let v = k_trig_poly(rj.x, j == 1u || j == 2u);
  return select(v, -v, neg);
}
fn k_cos(x: f32) -> f32 {
  if (!k_trig_ok(x)) { return P.nan; }
  let rj = k_trig_reduce(abs(x));
  var j = u32(rj.y);
  var neg = false;
  if (j > 3u) { neg = !neg; j = j - 4u; }
  if (j > 1u) { neg = !neg; }
  let v = k_trig_poly(rj.x, !(j == 1u || j == 2u));
  return select(v, -v, neg);
}
fn k_tan(x: f32) -> f32 { if (!k_trig_ok(x)) { return P.nan; } return k_sin(x) / k_cos(x); }
fn k_floor(x: f32) -> f32 { if (k_isnan(x)) { return x; } return floor(x); }
fn k_erf(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let z = abs(x);
  if (z < 0.5f) {
    let t = x * x;
    return x * 1.1283792f * (1.0f + t * (-0.33333334f + t * (0.1f + t * (-0.023809524f + t * (0.0046296297f + t * (-0.0007575758f + t * 0.00010683761f))))));
  }
  if (z > 4.0f) { return k_sign(x); }
  // erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, relative error < 1.2e-7)
  let t = 1.0f / (1.0f + 0.5f * z);
  let p = -z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  return k_sign(x) * (1.0f - t * exp(p));
}
fn k_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0f) { return 1.0f; }
  if (k_isnan(x) || k_isnan(y)) { return P.nan; }
  let yInt = floor(y) == y && !k_isinf(y);
  let odd = yInt && abs(y) < 16777216.0f && (i32(abs(y)) & 1) == 1;
  if (x == 0.0f) {
    let negz = (bitcast<u32>(x) & 0x80000000u) != 0u && odd;
    if (y > 0.0f) { return select(0.0f, -0.0f, negz); }
    return select(P.inf, -P.inf, negz);
  }
  if (k_isinf(y)) {
    let ax = abs(x);
    if (ax == 1.0f) { return P.nan; }
    if ((ax > 1.0f) == (y > 0.0f)) { return P.inf; }
    return 0.0f;
  }
  if (x < 0.0f) {
    if (!yInt) { return P.nan; }
    let r = k_pow_pos(-x, y);
    return select(r, -r, odd);
  }
  return k_pow_pos(x, y);
}
fn k_pow_pos(x: f32, y: f32) -> f32 {
  if (k_isinf(x)) { return select(0.0f, P.inf, y > 0.0f); }
  // small integer powers by repeated squaring (exact as in C's pow for these), else exp2(y·log2 x)
  if (floor(y) == y && abs(y) <= 64.0f) {
    var n = u32(abs(y));
    var b = x;
    var r = 1.0f;
    loop {
      if ((n & 1u) == 1u) { r = r * b; }
      n = n >> 1u;
      if (n == 0u) { break; }
      b = b * b;
    }
    if (y < 0.0f) { return 1.0f / r; }
    return r;
  }
  let l = y * log2(x);
  if (l > 128.0f) { return P.inf; }
  if (l < -150.0f) { return 0.0f; }
  return exp2(l);
}
`;

/** The prelude's functions by name, with the helpers each one calls. */
const HELPERS: ReadonlyMap<string, { code: string; calls: string[] }> = (() => {
  const m = new Map<string, { code: string; calls: string[] }>();
  const parts = WGSL_PRELUDE.split(/\n(?=fn )/).map((t) => t.trim()).filter((t) => t.startsWith("fn "));
  for (const code of parts) {
    const name = /^fn (\w+)/.exec(code)![1]!;
    const calls = [...new Set([...code.slice(name.length + 3).matchAll(/\b(k_\w+)\(/g)].map((x) => x[1]!))].filter((c) => c !== name);
    m.set(name, { code, calls });
  }
  return m;
})();

/**
 * The prelude functions a kernel's source calls (and what they call), in prelude order: shaders
 * carry only what they use (each unused helper costs compile time on software adapters).
 */
export function preludeFor(source: string): string {
  const need = new Set<string>();
  const visit = (n: string): void => {
    if (need.has(n) || !HELPERS.has(n)) return;
    need.add(n);
    for (const c of HELPERS.get(n)!.calls) visit(c);
  };
  for (const x of source.matchAll(/\b(k_\w+)\(/g)) visit(x[1]!);
  return [...HELPERS.keys()].filter((n) => need.has(n)).map((n) => HELPERS.get(n)!.code).join("\n") + "\n";
}

/** WGSL helper (or builtin) of each unary op. */
const UN: Record<string, string> = {
  abs: "abs", exp: "k_exp", log: "k_log", sqrt: "k_sqrt", sin: "k_sin", cos: "k_cos", tan: "k_tan",
  asin: "k_asin", acos: "k_acos", atan: "k_atan", sinh: "k_sinh", cosh: "k_cosh", tanh: "k_tanh",
  erf: "k_erf", log1p: "k_log1p", expm1: "k_expm1", floor: "k_floor", round: "k_round", sign: "k_sign",
};
const BIN: Record<string, string> = { min: "k_min", max: "k_max", atan2: "k_atan2", pow: "k_pow", div: "k_div" };
const INFIX: Record<string, string> = { add: "+", sub: "-", mul: "*" };
const CMP: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=" };

/** How a block's inputs and values are spelled in the kernel. */
export interface WgslNames {
  value(n: number): string;
  /** Component `comp` of a slot: a number, or a u32 expression (a vector loop's `loadc`). */
  load(slot: number, comp: number | string): string;
  idx(): string;
  /**
   * State component k; in a reduction block looped over a vector state (src/compile/vout.ts),
   * component k + c with c a u32 expression of the loop's index.
   */
  state(k: number, c?: string): string;
  other(k: number, c?: string): string;
  fval(k: number, c?: string): string;
}

/** A looped input's component offset from its base (stride · the loop's index), or undefined. */
function looped(ins: Instr, a: readonly string[]): string | undefined {
  if (!ins.a.length) return undefined;
  return ins.k[1] === 1 ? a[0] : `${ins.k[1]}u * ${a[0]}`;
}

/**
 * The WGSL expression of one instruction. `exact` marks additions and subtractions the compiler
 * must not reassociate (a reduction's compensated sums): their result is multiplied by `P.one`.
 */
export function wgslExpr(ins: Instr, nm: WgslNames, exact: boolean, isSameValue: boolean): string {
  const a = ins.a.map((v) => nm.value(v));
  switch (ins.op) {
    case "const": return ins.t === "i" ? intLit(ins.k[0]!) : floatLit(ins.k[0]!);
    case "load": return nm.load(ins.k[0]!, ins.k[1]!);
    case "loadc": return nm.load(ins.k[0]!, `(${ins.k[1]}u + ${ins.k[2] === 1 ? a[0] : `${ins.k[2]}u * ${a[0]}`})`);
    case "idx": return nm.idx();
    case "state": return nm.state(ins.k[0]!, looped(ins, a));
    case "other": return nm.other(ins.k[0]!, looped(ins, a));
    case "fval": return nm.fval(ins.k[0]!, looped(ins, a));
    // the condition is a float: NaN counts as true (≠ 0), as in the other backends
    case "select": return `select(${a[1]}, ${a[2]}, ${a[0]} == 0.0f)`;
    case "neg": return `(-${a[0]})`;
    case "rsqrt": return `k_div(1.0f, k_sqrt(${a[0]}))`;
    case "eq":
    case "ne": {
      // x == x / x != x are NaN tests: bit tests (a compiler may fold the comparison)
      const t = isSameValue && ins.t === "f" && nm.value(ins.a[0]!) !== "" ? (ins.op === "eq" ? `!k_isnan(${a[0]})` : `k_isnan(${a[0]})`) : ins.op === "eq" ? `${a[0]} == ${a[1]}` : `!(${a[0]} == ${a[1]})`;
      return `select(0.0f, 1.0f, ${t})`;
    }
    default:
      if (INFIX[ins.op]) {
        const e = `(${a[0]} ${INFIX[ins.op]} ${a[1]})`;
        return exact && ins.op !== "mul" ? `(${e} * P.one)` : e;
      }
      if (CMP[ins.op]) return `select(0.0f, 1.0f, ${a[0]} ${CMP[ins.op]} ${a[1]})`;
      if (UN[ins.op]) return `${UN[ins.op]}(${a[0]})`;
      if (BIN[ins.op]) return `${BIN[ins.op]}(${a[0]}, ${a[1]})`;
      throw new Error(`webgpu renderer: unknown op ${ins.op}`);
  }
}
