/** Piecewise functions: Floor, Round, Step, ReLU, Clamp, ClampInt, IfElse, Mod (KeOps's semantics). */
import { apply, defineOp, type Formula, type GradOf } from "../node.js";
import { binaryOp, componentwise, ternaryOp, unaryOp, unarySsa } from "./common.js";
import { add, div, intCst, minus, mul, sub, zero } from "./arith.js";
import { unbroadcast } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";

const noGrad = () => [undefined];

// ---- gradients that select a branch ----------------------------------------------------------

/**
 * Which operand a piecewise op's value comes from: a decision tree over conditions `cond ≥ 0`
 * (the test of IfElse), whose leaves are operands (`null`: a constant piece, zero gradient).
 */
export type Piece = Formula | null | { readonly cond: Formula; readonly pos: Piece; readonly neg: Piece };

function isLeaf(p: Piece): p is Formula | null {
  return p === null || !("cond" in p);
}

function condDims(p: Piece): number[] {
  return isLeaf(p) ? [] : [p.cond.dim, ...condDims(p.pos), ...condDims(p.neg)];
}

/** Where every condition is a scalar: the selected piece's gradient, by IfElse on the conditions. */
function selectScalar(p: Piece, cot: Formula, gradOf: GradOf): Formula | undefined {
  if (isLeaf(p)) return p === null ? undefined : gradOf(p, unbroadcast(cot, p.dim));
  const gp = selectScalar(p.pos, cot, gradOf), gn = selectScalar(p.neg, cot, gradOf);
  if (!gp && !gn) return undefined;
  const d = (gp ?? gn)!.dim;
  return apply(IfElseOp, [p.cond, gp ?? zero(d), gn ?? zero(d)]);
}

/** Each leaf's cotangent masked (selected, not multiplied) by the conditions on its path. */
function maskedLeaves(p: Piece, cot: Formula, gradOf: GradOf): Formula | undefined {
  if (isLeaf(p)) return p === null ? undefined : gradOf(p, unbroadcast(cot, p.dim));
  const z = zero(cot.dim);
  const gp = maskedLeaves(p.pos, apply(IfElseOp, [p.cond, cot, z]), gradOf);
  const gn = maskedLeaves(p.neg, apply(IfElseOp, [p.cond, z, cot]), gradOf);
  return gp && gn ? add(gp, gn) : (gp ?? gn);
}

/**
 * The gradient of a piecewise op with cotangent `g`. With scalar conditions (the usual kernel
 * case, `IfElse(D_ij − r, …)`), the full gradient of the operand the value comes from, selected
 * by the conditions — never the other pieces' gradients times 0, so `IfElse(x, Sqrt(x), x³)` at
 * x = −1 has the finite gradient 3. With a vector condition, one pass with each piece's cotangent
 * selected per component (0 where the piece is not taken); the ops whose derivative can be
 * infinite or NaN ({@link timesCotangent}) give 0 for a zero cotangent, so elementwise branches
 * stay finite too.
 */
export function piecewiseGrad(tree: Piece, g: Formula, gradOf: GradOf): Formula | undefined {
  if (g.dim === 1 || condDims(tree).every((d) => d === 1)) return selectScalar(tree, g, gradOf);
  return maskedLeaves(tree, g, gradOf);
}

/**
 * `StrongMult(a,b)`: a·b, and 0 wherever a is 0 — a "strong zero", 0·∞ = 0·NaN = 0 (keops-ts
 * helper op for derivatives, broadcasting as Mult). Linear in a, so a gradient built with it stays
 * linear in its cotangent (which `Diff`'s transposition needs).
 */
export const StrongMultOp = binaryOp(
  "StrongMult",
  (ctx, a, b) => ctx.b.select(ctx.b.cmp("eq", a, ctx.b.c(0)), ctx.b.c(0), ctx.b.bin("mul", a, b)),
  {
    vjp: ([a, b], _t, _s, g) => [
      unbroadcast(apply(StrongMultOp, [g, b!]), a!.dim),
      unbroadcast(apply(StrongMultOp, [g, a!]), b!.dim),
    ],
  },
);

/**
 * `g · d` for a derivative `d` that can be infinite or NaN (Sqrt', Log', …): 0 where the
 * cotangent g is 0 (a piece not taken, a component not reached), never 0·∞.
 */
export function timesCotangent(g: Formula, d: Formula): Formula {
  return apply(StrongMultOp, [g, d]);
}

/** `Floor(x)`. */
export const FloorOp = unarySsa("Floor", "floor", { vjp: noGrad });

/** `Round(x,d)`: rounds to d decimals (half away from zero). */
export const RoundOp = defineOp({
  name: "Round",
  arity: 1,
  nattrs: 1,
  dim: ([dim], [d]) => {
    if (!Number.isSafeInteger(d)) throw new KeOpsError(`Round: expected an integer number of decimals, got ${d}`);
    return dim!;
  },
  lower: (ctx, [x], [d], dim) =>
    componentwise([x!], dim, (v) => {
      const b = ctx.b;
      if (d === 0) return b.un("round", v);
      const s = b.c(10 ** d!);
      return b.bin("div", b.un("round", b.bin("mul", v, s)), s);
    }),
  vjp: noGrad,
});

/** `Step(x)`: 0 where x < 0, else 1. */
export const StepOp = unaryOp("Step", (ctx, x) => ctx.b.select(ctx.b.cmp("lt", x, ctx.b.c(0)), ctx.b.c(0), ctx.b.c(1)), {
  vjp: noGrad,
});

/** `ReLU(x)`: 0 where x < 0, else x. */
export const ReLUOp = unaryOp("ReLU", (ctx, x) => ctx.b.select(ctx.b.cmp("lt", x, ctx.b.c(0)), ctx.b.c(0), x), {
  // KeOps: Step(x)·g (1 at 0), as a selection: x's gradient where x ≥ 0, else none
  gradT: ([x], _t, _s, g, gradOf) => piecewiseGrad({ cond: x!, pos: x!, neg: null }, g, gradOf),
});

/** `Clamp(x,a,b)`: a where x < a, else b where x > b, else x (broadcasting). */
export const ClampOp = ternaryOp(
  "Clamp",
  (ctx, x, a, b) => ctx.b.select(ctx.b.cmp("lt", x, a), a, ctx.b.select(ctx.b.cmp("gt", x, b), b, x)),
  {
    // as KeOps's ClampInt((x−a)/(b−a),0,1)·(b−a)+a: x's gradient on [a, b] (ends included), a's
    // where x < a, b's where x > b — selected, not masked
    gradT: ([x, a, b], _t, _s, g, gradOf) =>
      piecewiseGrad({ cond: sub(x!, a!), pos: { cond: sub(b!, x!), pos: x!, neg: b! }, neg: a! }, g, gradOf),
  },
);

/** `ClampInt(x,a,b)`: Clamp with integer bounds a ≤ b given as attributes. */
export const ClampIntOp = defineOp({
  name: "ClampInt",
  arity: 1,
  nattrs: 2,
  dim: ([d], [a, b]) => {
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b))
      throw new KeOpsError(`ClampInt: expected integer bounds a and b, got ${a} and ${b}`);
    return d!;
  },
  lower: (ctx, [x], [a, b], dim) =>
    componentwise([x!], dim, (v) => {
      const B = ctx.b, ca = B.c(a!), cb = B.c(b!);
      return B.select(B.cmp("lt", v, ca), ca, B.select(B.cmp("gt", v, cb), cb, v));
    }),
  // KeOps's DiffClampInt(x,a,b)·g (1 on [a, b], ends included), as a selection
  gradT: ([x], [a, b], _s, g, gradOf) =>
    piecewiseGrad({ cond: sub(x!, intCst(a!)), pos: { cond: sub(intCst(b!), x!), pos: x!, neg: null }, neg: null }, g, gradOf),
});

/** `IfElse(x,a,b)`: a where x ≥ 0, else b (broadcasting). */
export const IfElseOp = ternaryOp("IfElse", (ctx, x, a, b) => ctx.b.select(ctx.b.cmp("ge", x, ctx.b.c(0)), a, b), {
  // KeOps: IfElse(x, Grad(a), Grad(b)) — the taken branch's gradient, never the other's times 0
  gradT: ([x, a, b], _t, _s, g, gradOf) => piecewiseGrad({ cond: x!, pos: a!, neg: b! }, g, gradOf),
});

/** `Mod(x,n,d)`: x − n·floor((x − d)/n), the modulo with offset d (broadcasting). */
export const ModOp = ternaryOp(
  "Mod",
  (ctx, x, n, d) => {
    const b = ctx.b;
    return b.bin("sub", x, b.bin("mul", n, b.un("floor", b.bin("div", b.bin("sub", x, d), n))));
  },
  {
    vjp: ([x, n, d], _t, _s, g) => [
      unbroadcast(g, x!.dim),
      unbroadcast(minus(mul(floor(div(sub(x!, d!), n!)), g)), n!.dim),
      undefined,
    ],
  },
);

export const floor = (a: Formula): Formula => apply(FloorOp, [a]);
export const step = (a: Formula): Formula => apply(StepOp, [a]);
