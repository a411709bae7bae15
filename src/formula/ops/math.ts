/** Element-wise math functions. */
import { apply, defineOp, type Formula, type LowerContext } from "../node.js";
import { componentwise, unaryOp, unarySsa } from "./common.js";
import { div, intCst, mul } from "./arith.js";
import { KeOpsError } from "../../errors.js";

export const ExpOp = unarySsa("Exp", "exp", { vjp: (_a, _t, self, g) => [mul(g, self)] });
export const LogOp = unarySsa("Log", "log", { vjp: ([x], _t, _s, g) => [div(g, x!)] });
export const SqrtOp = unarySsa("Sqrt", "sqrt", { vjp: (_a, _t, self, g) => [div(g, mul(intCst(2), self))] });
/** `Sign(x)`: −1, 0 or 1 (derivative zero). */
export const SignOp = unarySsa("Sign", "sign", { vjp: () => [undefined] });
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

export const exp = (a: Formula): Formula => apply(ExpOp, [a]);
export const log = (a: Formula): Formula => apply(LogOp, [a]);
export const sqrt = (a: Formula): Formula => apply(SqrtOp, [a]);
export const abs = (a: Formula): Formula => apply(AbsOp, [a]);
export const sign = (a: Formula): Formula => apply(SignOp, [a]);
export const square = (a: Formula): Formula => apply(SquareOp, [a]);
export const pow = (a: Formula, n: number): Formula => apply(PowOp, [a], [n]);
