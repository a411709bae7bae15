/**
 * The inner sum over the vector dimension, its adjoint (a scalar repeated D times), and the
 * cotangent of a broadcast operand: below the arithmetic ops, which need `unbroadcast`.
 */
import { apply, defineOp, type Formula } from "../node.js";
import { intAttr } from "./common.js";
import { KeOpsError } from "../../errors.js";

/** Sum of the components, left to right. */
export function total(b: { bin(op: "add", x: number, y: number): number }, xs: readonly number[]): number {
  let s = xs[0]!;
  for (let k = 1; k < xs.length; k++) s = b.bin("add", s, xs[k]!);
  return s;
}

/** `Sum(x)`: sum over the vector dimension. */
export const SumOp = defineOp({
  name: "Sum",
  arity: 1,
  nattrs: 0,
  dim: () => 1,
  lower: (ctx, [x]) => [total(ctx.b, x!)],
  vjp: ([x], _t, _s, g) => [sumT(g, x!.dim)],
});

/** `SumT(x,D)`: a scalar repeated D times (the adjoint of Sum). */
export const SumTOp = defineOp({
  name: "SumT",
  arity: 1,
  nattrs: 1,
  dim: ([d], [n]) => {
    if (d !== 1) throw new KeOpsError(`SumT: expected a scalar operand (dimension 1), got dimension ${d}`);
    return intAttr("SumT", "dimension D to be", n!, 1, 2 ** 31 - 1);
  },
  lower: (_ctx, [x], [n]) => Array.from({ length: n! }, () => x![0]!),
  vjp: (_a, _t, _s, g) => [sum(g)],
});

export const sum = (a: Formula): Formula => apply(SumOp, [a]);
export const sumT = (a: Formula, D: number): Formula => (D === 1 ? a : apply(SumTOp, [a], [D]));

/**
 * The cotangent of an operand of dimension `dim` from the cotangent `g` of a broadcasting op's
 * output: `g` itself, or `Sum(g)` when the operand was a broadcast scalar.
 */
export function unbroadcast(g: Formula, dim: number): Formula {
  return dim === 1 && g.dim !== 1 ? sum(g) : g;
}
