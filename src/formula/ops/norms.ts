/** Norms and distances: Norm2, Normalize, SqDist, WeightedSqNorm, WeightedSqDist. */
import { apply, defineOp, type Formula, type LowerContext } from "../node.js";
import { broadcastDims, comp } from "./common.js";
import { add, intCst, minus, mul, sub } from "./arith.js";
import { rsqrt, square } from "./math.js";
import { matvecmult, tensorprod, vecmatmult } from "./tensor.js";
import { scalprod, sqnorm2 } from "./vector.js";
import { total, unbroadcast } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";

/** KeOps's Rsqrt of a scalar SSA value: 1/√s, 0 at 0. */
function rsqrtValue(ctx: LowerContext, s: number): number {
  const b = ctx.b;
  return b.select(b.cmp("eq", s, b.c(0)), b.c(0), b.un("rsqrt", s));
}

function sqnormValues(ctx: LowerContext, x: readonly number[]): number {
  return total(ctx.b, x.map((v) => ctx.b.bin("mul", v, v)));
}

/** `Norm2(x)`: Euclidean norm. */
export const Norm2Op = defineOp({
  name: "Norm2",
  arity: 1,
  nattrs: 0,
  dim: () => 1,
  lower: (ctx, [x]) => [ctx.b.un("sqrt", sqnormValues(ctx, x!))],
  vjp: ([x], _t, _s, g) => [mul(g, normalize(x!))],
});

/** `Normalize(x)`: x / |x| (0 for the zero vector, as KeOps's Rsqrt(SqNorm2(x))·x). */
export const NormalizeOp = defineOp({
  name: "Normalize",
  arity: 1,
  nattrs: 0,
  dim: ([d]) => d!,
  lower: (ctx, [x]) => {
    const r = rsqrtValue(ctx, sqnormValues(ctx, x!));
    return x!.map((v) => ctx.b.bin("mul", v, r));
  },
  // J = (I − n nᵀ)/|x|:  ḡ = (g − n (n·g)) / |x|
  vjp: ([x], _t, self, g) => {
    const r = rsqrt(sqnorm2(x!));
    const ng = self.dim === 1 ? mul(self, g) : scalprod(self, g);
    return [mul(r, sub(g, mul(ng, self)))];
  },
});

/** `SqDist(x,y)`: Σ (x − y)², broadcasting dim 1. */
export const SqDistOp = defineOp({
  name: "SqDist",
  arity: 2,
  nattrs: 0,
  dim: (dims) => (broadcastDims("SqDist", dims), 1),
  lower: (ctx, [x, y]) => {
    const D = Math.max(x!.length, y!.length);
    const b = ctx.b;
    const d = Array.from({ length: D }, (_, c) => b.bin("sub", comp(x!, c), comp(y!, c)));
    return [sqnormValues(ctx, d)];
  },
  vjp: ([x, y], _t, _s, g) => {
    const d = mul(mul(intCst(2), g), sub(x!, y!));
    return [unbroadcast(d, x!.dim), unbroadcast(minus(d), y!.dim)];
  },
});

/** Checks the weight's dimension against the vector's: 1 (isotropic), D (diagonal) or D² (full). */
function weightDims(name: string, sdim: number, D: number): number {
  if (sdim !== 1 && sdim !== D && sdim !== D * D)
    throw new KeOpsError(
      `${name}: expected weights s of dimension 1 (isotropic), D (diagonal) or D² (full symmetric matrix) for vectors of dimension D = ${D}, got dimension ${sdim}`,
    );
  return 1;
}

/** Σ_cd x_c s_cd x_d with s isotropic, diagonal or full. */
function weightedValues(ctx: LowerContext, s: readonly number[], x: readonly number[]): number {
  const b = ctx.b;
  const D = x.length;
  if (s.length === 1) return b.bin("mul", s[0]!, sqnormValues(ctx, x));
  if (s.length === D) return total(b, x.map((v, c) => b.bin("mul", s[c]!, b.bin("mul", v, v))));
  const terms: number[] = [];
  for (let c = 0; c < D; c++) for (let d = 0; d < D; d++) terms.push(b.bin("mul", b.bin("mul", x[c]!, s[c * D + d]!), x[d]!));
  return total(b, terms);
}

/** Adjoints of WeightedSqNorm(s, x) for the cotangent g: [ds, dx]. */
function weightedVjp(s: Formula, x: Formula, g: Formula): [Formula, Formula] {
  const D = x.dim;
  if (s.dim === 1) return [mul(g, sqnorm2(x)), mul(mul(intCst(2), mul(g, s)), x)];
  if (s.dim === D) return [mul(g, square(x)), mul(mul(intCst(2), mul(g, s)), x)];
  return [mul(g, tensorprod(x, x)), mul(g, add(matvecmult(s, x), vecmatmult(x, s)))];
}

/**
 * `WeightedSqNorm(s,x)`: s·|x|² (s of dim 1), Σ s_c x_c² (dim D) or xᵀ S x (dim D², row-major S):
 * KeOps's redirection to SqNormIso, SqNormDiag or SymSqNorm by the weight's dimension, with the
 * same lowering and derivative as those three.
 */
export const WeightedSqNormOp = defineOp({
  name: "WeightedSqNorm",
  arity: 2,
  nattrs: 0,
  dim: ([s, x]) => weightDims("WeightedSqNorm", s!, x!),
  lower: (ctx, [s, x]) => [weightedValues(ctx, s!, x!)],
  vjp: ([s, x], _t, _s, g) => weightedVjp(s!, x!, g),
});

/** `WeightedSqDist(s,x,y)`: WeightedSqNorm(s, x − y), x and y broadcasting dim 1. */
export const WeightedSqDistOp = defineOp({
  name: "WeightedSqDist",
  arity: 3,
  nattrs: 0,
  dim: ([s, x, y]) => weightDims("WeightedSqDist", s!, broadcastDims("WeightedSqDist", [x!, y!])),
  lower: (ctx, [s, x, y]) => {
    const D = Math.max(x!.length, y!.length);
    const d = Array.from({ length: D }, (_, c) => ctx.b.bin("sub", comp(x!, c), comp(y!, c)));
    return [weightedValues(ctx, s!, d)];
  },
  vjp: ([s, x, y], _t, _s, g) => {
    const [ds, dw] = weightedVjp(s!, sub(x!, y!), g);
    return [ds, unbroadcast(dw, x!.dim), unbroadcast(minus(dw), y!.dim)];
  },
});

/** A weighted squared norm whose weight kind is fixed by its name: KeOps's SqNormIso, SqNormDiag, SymSqNorm. */
function fixedWeightNorm(name: string, kind: string, sdimFor: (D: number) => number) {
  return defineOp({
    name,
    arity: 2,
    nattrs: 0,
    dim: ([s, x]) => {
      if (s !== sdimFor(x!))
        throw new KeOpsError(`${name}: expected weights s of dimension ${sdimFor(x!)} (${kind}) for vectors of dimension D = ${x}, got dimension ${s}`);
      return 1;
    },
    lower: (ctx, [s, x]) => [weightedValues(ctx, s!, x!)],
    vjp: ([s, x], _t, _s, g) => weightedVjp(s!, x!, g),
  });
}

/** `SqNormIso(s,x)`: s·|x|², s a scalar (KeOps's isotropic norm; WeightedSqNorm with a scalar s). */
export const SqNormIsoOp = fixedWeightNorm("SqNormIso", "a scalar", () => 1);
/** `SqNormDiag(s,x)`: Σ s_c x_c², s of x's dimension (WeightedSqNorm with a diagonal s). */
export const SqNormDiagOp = fixedWeightNorm("SqNormDiag", "D, a diagonal", (D) => D);
/** `SymSqNorm(S,x)`: Σ_cd S_cd x_c x_d, S of dimension D² (row-major; WeightedSqNorm with a full S). */
export const SymSqNormOp = fixedWeightNorm("SymSqNorm", "D², a full matrix", (D) => D * D);

export const normalize = (a: Formula): Formula => apply(NormalizeOp, [a]);
export const norm2 = (a: Formula): Formula => apply(Norm2Op, [a]);
