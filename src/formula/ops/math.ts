/** Element-wise math functions. */
import { apply, defineOp, type Formula, type LowerContext } from "../node.js";
import { binaryOp, componentwise, unaryOp, unarySsa } from "./common.js";
import { add, intCst, intInv, inv, minus, mul, sub, zero } from "./arith.js";
import { IfElseOp, timesCotangent } from "./piecewise.js";
import { unbroadcast } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";

export const ExpOp = unarySsa("Exp", "exp", { vjp: (_a, _t, self, g) => [mul(g, self)] });
export const LogOp = unarySsa("Log", "log", { vjp: ([x], _t, _s, g) => [timesCotangent(g, inv(x!))] });
/** `Sqrt(x)`; its derivative is KeOps's Rsqrt(x)/2, so 0 at x = 0 (Rsqrt(0) = 0), never 0·∞ = NaN. */
export const SqrtOp = unarySsa("Sqrt", "sqrt", { vjp: ([x], _t, _s, g) => [timesCotangent(g, mul(intInv(2), rsqrt(x!)))] });
/** `Sign(x)`: 1 where x > 0, −1 where x < 0, else 0 (NaN included, as KeOps); derivative zero. */
export const SignOp = unaryOp(
  "Sign",
  (ctx, x) => {
    const b = ctx.b, z = b.c(0);
    return b.select(b.cmp("gt", x, z), b.c(1), b.select(b.cmp("lt", x, z), b.c(-1), z));
  },
  { vjp: () => [undefined] },
);
export const AbsOp = unarySsa("Abs", "abs", { vjp: ([x], _t, _s, g) => [mul(g, sign(x!))] });
export const SquareOp = unaryOp("Square", (ctx, x) => ctx.b.bin("mul", x, x), {
  vjp: ([x], _t, _s, g) => [mul(intCst(2), mul(x!, g))],
});

/** x^n for an integer n, by repeated squaring (x^0 = 1, negative n through 1/x^|n|). */
export function intPower(ctx: LowerContext, x: number, n: number): number {
  const b = ctx.b;
  let e = Math.abs(n);
  let result = b.c(1);
  let base = x;
  while (e > 0) {
    if (e & 1) result = b.bin("mul", result, base);
    e >>= 1;
    if (e > 0) base = b.bin("mul", base, base);
  }
  return n < 0 ? b.bin("div", b.c(1), result) : result;
}

/** `Pow(x,n)`: integer power. */
export const PowOp = defineOp({
  name: "Pow",
  arity: 1,
  nattrs: 1,
  dim: ([d], [n]) => {
    if (!Number.isInteger(n)) throw new KeOpsError(`Pow: expected an integer exponent, got ${n}`);
    return d!;
  },
  lower: (ctx, [x], [n], dim) => componentwise([x!], dim, (v) => intPower(ctx, v, n!)),
  vjp: ([x], [n], _s, g) => {
    if (n === 0) return [undefined];
    if (n === 1) return [g];
    return [mul(intCst(n!), mul(pow(x!, n! - 1), g))];
  },
});

/** `Rsqrt(x)`: 1/√x, and 0 at 0 (as KeOps). */
export const RsqrtOp = unaryOp(
  "Rsqrt",
  (ctx, x) => ctx.b.select(ctx.b.cmp("eq", x, ctx.b.c(0)), ctx.b.c(0), ctx.b.un("rsqrt", x)),
  { vjp: (_a, _t, self, g) => [timesCotangent(g, mul(intInv(-2), pow(self, 3)))] },
);

/** `where(v == 0, 0, f)`: IfElse(−|v|, 0, f), the 0 selected (an infinite or NaN f never leaks). */
function zeroWhereZero(v: Formula, f: Formula): Formula {
  return apply(IfElseOp, [minus(abs(v)), zero(f.dim), f]);
}

/**
 * `Powf(x,y)`: x^y for float (or varying) exponents, with broadcasting. Derivatives as KeOps's
 * (y·x^(y−1), log(x)·x^y), except where that is 0·∞ while x^y is constant there: ∂/∂x is 0 where
 * y = 0 (x^0 = 1), ∂/∂y is 0 where x = 0 (0^y = 0); KeOps gives NaN at both.
 */
export const PowfOp = binaryOp("Powf", (ctx, x, y) => ctx.b.bin("pow", x, y), {
  vjp: ([x, y], _t, self, g) => [
    unbroadcast(timesCotangent(g, zeroWhereZero(y!, mul(y!, powf(x!, sub(y!, intCst(1)))))), x!.dim),
    unbroadcast(timesCotangent(g, zeroWhereZero(x!, mul(log(x!), self))), y!.dim),
  ],
});

/** `XLogX(x)`: x·log(x), and 0 at 0 (as KeOps). */
export const XLogXOp = unaryOp(
  "XLogX",
  (ctx, x) => ctx.b.select(ctx.b.cmp("eq", x, ctx.b.c(0)), ctx.b.c(0), ctx.b.bin("mul", x, ctx.b.un("log", x))),
  { vjp: ([x], _t, _s, g) => [timesCotangent(g, add(log(x!), intCst(1)))] },
);

// ---- beyond KeOps ------------------------------------------------------------------------------

/** `Log1p(x)`: log(1 + x), accurate near 0 (keops-ts addition). */
export const Log1pOp = unarySsa("Log1p", "log1p", { vjp: ([x], _t, _s, g) => [timesCotangent(g, inv(add(intCst(1), x!)))] });
/** `Expm1(x)`: exp(x) − 1, accurate near 0 (keops-ts addition). */
export const Expm1Op = unarySsa("Expm1", "expm1", { vjp: ([x], _t, _s, g) => [mul(exp(x!), g)] });
/** `Sigmoid(x)`: 1 / (1 + exp(−x)) (keops-ts addition). */
export const SigmoidOp = unaryOp(
  "Sigmoid",
  (ctx, x) => ctx.b.bin("div", ctx.b.c(1), ctx.b.bin("add", ctx.b.c(1), ctx.b.un("exp", ctx.b.un("neg", x)))),
  { vjp: (_a, _t, self, g) => [mul(mul(self, sub(intCst(1), self)), g)] },
);
/** `Softplus(x)`: log(1 + exp(x)), computed stably as max(x, 0) + log1p(exp(−|x|)) (keops-ts addition). */
export const SoftplusOp = unaryOp(
  "Softplus",
  (ctx, x) => {
    const b = ctx.b;
    return b.bin("add", b.bin("max", x, b.c(0)), b.un("log1p", b.un("exp", b.un("neg", b.un("abs", x)))));
  },
  { vjp: ([x], _t, _s, g) => [mul(apply(SigmoidOp, [x!]), g)] },
);

export const exp = (a: Formula): Formula => apply(ExpOp, [a]);
export const log = (a: Formula): Formula => apply(LogOp, [a]);
export const sqrt = (a: Formula): Formula => apply(SqrtOp, [a]);
export const abs = (a: Formula): Formula => apply(AbsOp, [a]);
export const sign = (a: Formula): Formula => apply(SignOp, [a]);
export const square = (a: Formula): Formula => apply(SquareOp, [a]);
export const pow = (a: Formula, n: number): Formula => apply(PowOp, [a], [n]);
export const rsqrt = (a: Formula): Formula => apply(RsqrtOp, [a]);
export const powf = (a: Formula, b: Formula): Formula => apply(PowfOp, [a, b]);
export const xlogx = (a: Formula): Formula => apply(XLogXOp, [a]);
