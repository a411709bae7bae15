/** Element-wise math functions. */
import { apply, defineOp, type Formula, type LowerContext } from "../node.js";
import { componentwise, unaryOp, unarySsa } from "./common.js";
import { KeOpsError } from "../../errors.js";

export const ExpOp = unarySsa("Exp", "exp");
export const LogOp = unarySsa("Log", "log");
export const SqrtOp = unarySsa("Sqrt", "sqrt");
export const AbsOp = unarySsa("Abs", "abs");
export const SquareOp = unaryOp("Square", (ctx, x) => ctx.b.bin("mul", x, x));

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
});

export const exp = (a: Formula): Formula => apply(ExpOp, [a]);
export const log = (a: Formula): Formula => apply(LogOp, [a]);
export const sqrt = (a: Formula): Formula => apply(SqrtOp, [a]);
export const abs = (a: Formula): Formula => apply(AbsOp, [a]);
export const square = (a: Formula): Formula => apply(SquareOp, [a]);
export const pow = (a: Formula, n: number): Formula => apply(PowOp, [a], [n]);
