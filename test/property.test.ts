/**
 * Property-based, against the dense float64 reference, on every backend: every reduction (Sum
 * with each summation scheme, LogSumExp with and without a weight, SumSoftMaxWeight, Min, Max,
 * ArgMin, ArgMax, MinArgMin, MaxArgMax, KMin, ArgKMin, KMinArgKMin), with K, weights, batch
 * dimensions, both axes, both dtypes, at reduced sizes across the vector widths, the tiles
 * (wasm 1024, JS and native up to 4096) and the thread thresholds.
 *
 * Two kinds of random formulas (depth ≤ 4) built through the public LazyTensor methods:
 * - real formulas over normal data (each op squashed into its domain), for the value reductions;
 *   float64 takes every op, float32 only the continuous ones (a float32 rounding landing across a
 *   jump of floor/step/comparisons is not rare over thousands of pairs);
 * - integer formulas over small integer data (exact in both dtypes: ties are real ties), for the
 *   arg-reductions, compared exactly, lowest index first.
 * Sums are compared per element within rtol·Σ|terms| (the reference of the formula's absolute
 * value). The seed of a failing run is printed (fast-check's seed and path: replay with
 * KEOPS_TEST_PROPERTY_SEED / fast-check's `path`).
 */
import { test } from "node:test";
import fc from "fast-check";
import { LazyTensor, Vi, Vj, Pm, type Tensor } from "../src/index.js";
import type { FloatDType } from "../src/tensor.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, testBackends, Data } from "./util.js";

type L = LazyTensor<boolean>;
const D = 3;
/** Leaves: x_i (dim 3), y_j (dim 3), p (dim 3), and their first components. */
const leaves: (() => L)[] = [() => Vi(0, D), () => Vj(1, D), () => Pm(2, D), () => Vi(0, D).elem(1), () => Vj(1, D).elem(2), () => Pm(2, D).elem(0)];

type Unary = (a: L) => L;
type Binary = (a: L, b: L) => L;
/** Unary methods kept within a tame domain (inputs are squashed where the op needs it). */
export const UNARY: Record<string, Unary> = {
  neg: (a) => a.neg(),
  abs: (a) => a.abs(),
  exp: (a) => a.neg().abs().neg().exp(), // exp(−|a|) stays in (0, 1]
  log: (a) => a.abs().add(1).log(),
  sqrt: (a) => a.abs().sqrt(),
  rsqrt: (a) => a.abs().add(1).rsqrt(),
  square: (a) => a.square(),
  pow3: (a) => a.pow(3),
  powm2: (a) => a.square().add(1).pow(-2),
  powf: (a) => a.abs().add(0.5).pow(1.5),
  inv: (a) => a.square().add(1).inv(),
  sqnorm2: (a) => a.sqnorm2(),
  norm2: (a) => a.norm2(),
  normalize: (a) => (a.ndim > 1 ? a.normalize() : a),
  sum: (a) => a.sum(),
  min: (a) => a.min(),
  max: (a) => a.max(),
  argmin: (a) => a.argmin(),
  argmax: (a) => a.argmax(),
  elem0: (a) => a.elem(0),
  extract: (a) => (a.ndim >= 2 ? a.extract(1, a.ndim - 1) : a),
  sin: (a) => a.sin(),
  cos: (a) => a.cos(),
  tan: (a) => a.tanh().tan(),
  asin: (a) => a.tanh().mul(0.9).asin(),
  acos: (a) => a.tanh().mul(0.9).acos(),
  atan: (a) => a.atan(),
  sinh: (a) => a.tanh().sinh(),
  cosh: (a) => a.tanh().cosh(),
  tanh: (a) => a.tanh(),
  erf: (a) => a.erf(),
  log1p: (a) => a.abs().log1p(),
  expm1: (a) => a.tanh().expm1(),
  sigmoid: (a) => a.sigmoid(),
  softplus: (a) => a.softplus(),
  xlogx: (a) => a.abs().xlogx(),
  sinxdivx: (a) => a.sinxdivx(),
  relu: (a) => a.relu(),
  step: (a) => a.step(),
  sign: (a) => a.sign(),
  floor: (a) => a.mul(3.7).floor(),
  round: (a) => a.mul(3.7).round(),
  clamp: (a) => a.clamp(-0.5, 0.75),
  clampint: (a) => a.mul(4).clampint(-1, 2),
  oneHot: (a) => (a.ndim === 1 ? a.tanh().add(1).mul(2).oneHot(4) : a),
  concat: (a) => a.concat(a.elem(0)),
  tensorprod: (a) => (a.ndim <= 3 ? a.tensorprod(a) : a),
};
export const BINARY: Record<string, Binary> = {
  add: (a, b) => a.add(b as never),
  sub: (a, b) => a.sub(b as never),
  mul: (a, b) => a.mul(b as never),
  div: (a, b) => a.div(b.square().add(1) as never),
  dot: (a, b) => (a.ndim === b.ndim ? a.dot(b as never) : a.mul(b as never)),
  int: (a) => a.mul(2),
  float: (a) => a.add(0.75),
  atan2: (a, b) => a.atan2(b as never),
  lt: (a, b) => a.lt(b as never),
  ge: (a, b) => a.ge(b as never),
  eq: (a, b) => a.mul(2).round().eq(b.mul(2).round() as never),
  ifelse: (a, b) => a.ifelse(b as never, b.neg() as never),
  mod: (a, b) => a.mod(b.abs().add(0.5) as never),
  sqdist: (a, b) => (a.ndim === b.ndim ? a.sqdist(b as never) : a.mul(b as never)),
  weightedsqnorm: (a, b) => (b.ndim === 1 || b.ndim === a.ndim ? a.weightedsqnorm(b.square() as never) : a),
  matvecmult: (a, b) => (a.ndim === b.ndim * b.ndim ? a.matvecmult(b as never) : a.add(b as never)),
  powf: (a, b) => a.abs().add(0.5).pow(b.tanh() as never),
};

/** Ops with jumps: left out of float32 formulas. */
const JUMPS = new Set(["step", "sign", "floor", "round", "clampint", "oneHot", "argmin", "argmax", "lt", "ge", "eq", "ifelse", "mod", "relu"]);

/** A random formula tree as a recipe (so fast-check can shrink it). */
type Recipe = { leaf: number } | { un: string; a: Recipe } | { bin: string; a: Recipe; b: Recipe };
function recipes(un: string[], bin: string[], nLeaves: number): fc.Arbitrary<Recipe> {
  return fc.letrec<{ r: Recipe }>((tie) => ({
    r: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.record({ leaf: fc.integer({ min: 0, max: nLeaves - 1 }) }),
      fc.record({ un: fc.constantFrom(...un), a: tie("r") }),
      fc.record({ bin: fc.constantFrom(...bin), a: tie("r"), b: tie("r") }),
    ),
  })).r.filter((r) => depth(r) <= 4);
}

function depth(r: Recipe): number {
  return "leaf" in r ? 0 : "un" in r ? 1 + depth(r.a) : 1 + Math.max(depth(r.a), depth(r.b));
}

function build(r: Recipe, un: Record<string, Unary>, bin: Record<string, Binary>, lv: readonly (() => L)[]): L {
  if ("leaf" in r) return lv[r.leaf]!();
  if ("un" in r) return un[r.un]!(build(r.a, un, bin, lv));
  const a = build(r.a, un, bin, lv), b = build(r.b, un, bin, lv);
  if (a.ndim !== b.ndim && a.ndim !== 1 && b.ndim !== 1) return a; // incompatible dims: keep a
  return bin[r.bin]!(a, b);
}

/** Integer formulas: exact in float32 and float64 over small integers. */
const INT_UNARY: Record<string, Unary> = {
  neg: (a) => a.neg(), abs: (a) => a.abs(), square: (a) => a.square(), relu: (a) => a.relu(),
  sum: (a) => a.sum(), min: (a) => a.min(), max: (a) => a.max(), elem0: (a) => a.elem(0), double: (a) => a.mul(2),
};
const INT_BINARY: Record<string, Binary> = {
  add: (a, b) => a.add(b as never), sub: (a, b) => a.sub(b as never), mul: (a, b) => a.mul(b as never),
};

const REAL_UN = Object.keys(UNARY), REAL_BIN = Object.keys(BINARY);
const realRecipe = { float64: recipes(REAL_UN, REAL_BIN, leaves.length), float32: recipes(REAL_UN.filter((k) => !JUMPS.has(k)), REAL_BIN.filter((k) => !JUMPS.has(k)), leaves.length) };
const intRecipe = recipes(Object.keys(INT_UNARY), Object.keys(INT_BINARY), leaves.length);

/** Reduced sizes: empty, one, around vector widths and the tiles; and a few large ones across the thread thresholds. */
const reducedSize = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, 15, 16, 17, 63, 64, 65, 1023, 1024, 1025) },
  { weight: 2, arbitrary: fc.constantFrom(4095, 4096, 4097) },
);
const outerSize = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(0, 1, 3, 9) }, { weight: 1, arbitrary: fc.constant(67) });

type Red = "Sum" | "LogSumExp" | "LogSumExpW" | "SumSoftMaxWeight" | "Min" | "Max" | "KMin" | "ArgMin" | "ArgMax" | "MinArgMin" | "MaxArgMax" | "ArgKMin" | "KMinArgKMin";
const VALUE_REDS: Red[] = ["Sum", "LogSumExp", "LogSumExpW", "SumSoftMaxWeight", "Min", "Max", "KMin"];
const ARG_REDS: Red[] = ["ArgMin", "ArgMax", "MinArgMin", "MaxArgMax", "ArgKMin", "KMinArgKMin", "KMin", "Min", "Max"];

interface Case {
  kind: "real" | "int";
  r: Recipe;
  red: Red;
  M: number;
  N: number;
  axis: 0 | 1;
  batch: number;
  K: number;
  scheme: "direct_sum" | "block_sum" | "kahan_scheme";
  seed: number;
}

function caseArb(dtype: FloatDType): fc.Arbitrary<Case> {
  const common = {
    M: outerSize, N: reducedSize, axis: fc.constantFrom<0 | 1>(0, 1),
    batch: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(2) }),
    K: fc.integer({ min: 1, max: 5 }), scheme: fc.constantFrom("direct_sum", "block_sum", "kahan_scheme") as fc.Arbitrary<Case["scheme"]>,
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  };
  return fc.oneof(
    fc.record({ kind: fc.constant("real" as const), r: realRecipe[dtype], red: fc.constantFrom(...VALUE_REDS), ...common }),
    fc.record({ kind: fc.constant("int" as const), r: intRecipe, red: fc.constantFrom(...ARG_REDS), ...common }),
  );
}

/** The formula of a case: every symbolic variable appears (a fixed call signature), scalar where the reduction needs it. */
function formulaOf(c: Case): { F: L; G: L } {
  let F = c.kind === "real" ? build(c.r, UNARY, BINARY, leaves) : build(c.r, INT_UNARY, INT_BINARY, leaves);
  if (c.red === "LogSumExpW" || c.red === "SumSoftMaxWeight") F = F.elem(0);
  const zero = Vi(0, D).elem(0).mul(0).add(Vj(1, D).elem(0).mul(0)).add(Pm(2, D).elem(0).mul(0));
  F = F.add(zero as never);
  // the weight: positive for LogSumExp (log of a positive sum), signed for SumSoftMaxWeight
  const G = c.red === "LogSumExpW" ? Vj(1, D).exp() : Vj(1, D).add(Vi(0, D).elem(1));
  return { F, G };
}

function reduce(F: L, G: L, c: Case, opts: object): (...a: Tensor[]) => Tensor | [Tensor, Tensor] {
  const o = { ...opts, axis: c.axis, call: false }; // symbolic variables: batch dims come with the arguments
  const f = (() => {
    switch (c.red) {
      case "Sum": return F.sum({ ...o, sumScheme: c.scheme });
      case "LogSumExp": return F.logsumexp(o);
      case "LogSumExpW": return F.logsumexp({ ...o, weight: G });
      case "SumSoftMaxWeight": return F.sumsoftmaxweight(G, { ...o, sumScheme: c.scheme });
      case "Min": return F.min(o);
      case "Max": return F.max(o);
      case "KMin": return F.Kmin({ ...o, K: c.K });
      case "ArgMin": return F.argmin(o);
      case "ArgMax": return F.argmax(o);
      case "MinArgMin": return F.minArgmin(o);
      case "MaxArgMax": return F.maxArgmax(o);
      case "ArgKMin": return F.argKmin({ ...o, K: c.K });
      case "KMinArgKMin": return F.KminArgKmin({ ...o, K: c.K });
    }
  })();
  return f as unknown as (...a: Tensor[]) => Tensor | [Tensor, Tensor];
}

function runCase(c: Case, backend: string, dtype: FloatDType): void {
  const reduced = c.axis === 1 ? "N" : "M";
  const M = reduced === "M" ? c.N : c.M, N = reduced === "N" ? c.N : c.M;
  const K = Math.max(1, Math.min(c.K, c.N));
  const cc = { ...c, K };
  if ((c.red === "KMin" || c.red === "ArgKMin" || c.red === "KMinArgKMin") && c.N === 0) return; // K ≥ 1 needs a non-empty range
  const { F, G } = formulaOf(cc);
  const d = new Data(c.seed);
  const shape = (rows: number): number[] => (c.batch ? [c.batch, rows, D] : [rows, D]);
  const gen = (rows: number): Tensor => (c.kind === "real" ? d.randn(shape(rows), dtype) : d.randint(shape(rows), -3, 3, dtype));
  const X = gen(M), Y = gen(N), P = c.kind === "real" ? d.randn([D], dtype) : d.randint([D], -2, 2, dtype);
  const fn = reduce(F, G, cc, { backend });
  const out = fn(X, Y, P);
  const ref = reference(fn as never, X, Y, P);
  const what = `[${backend} ${dtype}] ${c.red}${c.red.includes("K") ? ` K=${K}` : ""} ${c.kind} axis=${c.axis} M=${M} N=${N} batch=${c.batch} scheme=${c.scheme}: ${F.formula}`;
  const [vals, inds] = Array.isArray(out) ? out : c.red.startsWith("Arg") ? [undefined, out] : [out, undefined];
  if (inds) assertExact(inds.data, ref.indices!, `${what} indices`);
  if (!vals) return;
  const exact = c.kind === "int" && !["Sum", "LogSumExp", "LogSumExpW", "SumSoftMaxWeight"].includes(c.red);
  if (exact) return assertExact(vals.data, ref.values!, `${what} values`);
  const rtol = dtype === "float32" ? 2e-4 : 1e-9;
  let atol: number | Float64Array = rtol;
  if (c.red === "Sum" || c.red === "SumSoftMaxWeight") {
    // a sum's rounding error scales with its terms: the reference of the absolute values
    const mag = reduce(F.abs(), G.abs(), cc, { backend: "js" });
    atol = Float64Array.from(reference(mag as never, X, Y, P).values!, (m) => rtol * (Number.isFinite(m) ? m : 0) + rtol);
  }
  assertClose(vals.data, ref.values!, { rtol, atol, what });
}

const base = process.env.KEOPS_TEST_PROPERTY_SEED ? Number(process.env.KEOPS_TEST_PROPERTY_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
for (const backend of testBackends())
  for (const dtype of ["float64", "float32"] as const)
    test(`[${backend}] ${dtype}: every reduction × random formulas × sizes across tiles and threads × batches × both axes, against the float64 reference`, () => {
      const seed = (base + (backend.length * 7 + (dtype === "float32" ? 1 : 0)) * 1_000_003) >>> 0;
      const r = fc.check(fc.property(caseArb(dtype), (c) => runCase(c, backend, dtype)), { numRuns: backend === "native" ? 15 : 30, seed }); // native: a C++ compile per random formula
      if (r.failed)
        throw new Error(`${fc.defaultReportMessage(r)}\n${r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance)}\n    [replay with KEOPS_TEST_PROPERTY_SEED=${base} (this test's fast-check seed ${seed})]`);
    });
