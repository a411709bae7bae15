/**
 * Property-based: random formulas (depth ≤ 5) over the op set × random shapes × both axes × every
 * backend, against the dense float64 reference. The generator builds formulas through the public
 * LazyTensor methods (each op squashed into its domain where it has one), so the ops are exercised
 * in combination with each other. Discontinuous ops (floor, round, step, sign, comparisons, mod)
 * are included: with random normal data, landing within rounding of a jump is negligible.
 */
import { test } from "node:test";
import fc from "fast-check";
import { LazyTensor, Vi, Vj, Pm, type Tensor } from "../src/index.js";
import { reference } from "./reference.js";
import { assertClose, testBackends, Data } from "./util.js";

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

/** A random formula tree as a recipe (so fast-check can shrink it). */
type Recipe = { leaf: number } | { un: string; a: Recipe } | { bin: string; a: Recipe; b: Recipe };
const recipe: fc.Arbitrary<Recipe> = fc.letrec<{ r: Recipe }>((tie) => ({
  r: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ leaf: fc.integer({ min: 0, max: leaves.length - 1 }) }),
    fc.record({ un: fc.constantFrom(...Object.keys(UNARY)), a: tie("r") }),
    fc.record({ bin: fc.constantFrom(...Object.keys(BINARY)), a: tie("r"), b: tie("r") }),
  ),
})).r;

function depth(r: Recipe): number {
  return "leaf" in r ? 0 : "un" in r ? 1 + depth(r.a) : 1 + Math.max(depth(r.a), depth(r.b));
}

function build(r: Recipe): L {
  if ("leaf" in r) return leaves[r.leaf]!();
  if ("un" in r) return UNARY[r.un]!(build(r.a));
  const a = build(r.a), b = build(r.b);
  if (a.ndim !== b.ndim && a.ndim !== 1 && b.ndim !== 1) return a; // incompatible dims: keep a
  return BINARY[r.bin]!(a, b);
}

for (const backend of testBackends()) {
  test(`[${backend}] random formulas × shapes × axes against the float64 reference`, () => {
    fc.assert(
      fc.property(
        recipe.filter((r) => depth(r) <= 5),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom(0, 1),
        fc.constantFrom("Sum", "Min", "LogSumExp"),
        fc.integer(),
        (r, M, N, axis, red, seed) => {
          let F = build(r);
          // make sure every symbolic variable appears, so the call signature is fixed
          F = F.add(Vi(0, D).elem(0).mul(0).add(Vj(1, D).elem(0).mul(0)).add(Pm(2, D).elem(0).mul(0)) as never);
          const d = new Data(seed >>> 0);
          const X = d.randn([M, D], "float64"), Y = d.randn([N, D], "float64"), P = d.randn([D], "float64");
          const opts = { axis, backend: backend as never };
          const fn = (red === "Sum" ? F.sum(opts) : red === "Min" ? F.min(opts) : F.logsumexp(opts)) as unknown as (...a: Tensor[]) => Tensor;
          const out = fn(X, Y, P);
          const ref = reference(fn as never, X, Y, P);
          assertClose(out.data, ref.values!, { rtol: 1e-9, what: `${F.formula} ${red} axis=${axis} M=${M} N=${N}` });
        },
      ),
      { numRuns: 60 },
    );
  });
}
