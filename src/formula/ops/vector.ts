/** Vector operations: inner sum, squared norm, scalar product, element and slice. */
import { apply, defineOp, type Formula } from "../node.js";
import { intAttr, sameDims } from "./common.js";

/** Sum of the components, left to right. */
function total(b: { bin(op: "add", x: number, y: number): number }, xs: readonly number[]): number {
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
});

/** `SqNorm2(x)`: squared Euclidean norm. */
export const SqNorm2Op = defineOp({
  name: "SqNorm2",
  arity: 1,
  nattrs: 0,
  dim: () => 1,
  lower: (ctx, [x]) => [total(ctx.b, x!.map((v) => ctx.b.bin("mul", v, v)))],
});

/** `(x | y)`: scalar product of two vectors of the same dimension. */
export const ScalprodOp = defineOp({
  name: "Scalprod",
  arity: 2,
  nattrs: 0,
  infix: "|",
  dim: (dims) => (sameDims("Scalprod", dims), 1),
  lower: (ctx, [x, y]) => [total(ctx.b, x!.map((v, c) => ctx.b.bin("mul", v, y![c]!)))],
});

/** `Elem(x,m)`: component m. */
export const ElemOp = defineOp({
  name: "Elem",
  arity: 1,
  nattrs: 1,
  dim: ([d], [m]) => (intAttr("Elem", "index m to be", m!, 0, d! - 1), 1),
  lower: (_ctx, [x], [m]) => [x![m!]!],
});

/** `Extract(x,start,len)`: components start … start+len−1. */
export const ExtractOp = defineOp({
  name: "Extract",
  arity: 1,
  nattrs: 2,
  dim: ([d], [start, len]) => {
    intAttr("Extract", "start to be", start!, 0, d! - 1);
    return intAttr("Extract", "length to be", len!, 1, d! - start!);
  },
  lower: (_ctx, [x], [start, len]) => x!.slice(start!, start! + len!),
});

export const sum = (a: Formula): Formula => apply(SumOp, [a]);
export const sqnorm2 = (a: Formula): Formula => apply(SqNorm2Op, [a]);
export const scalprod = (a: Formula, b: Formula): Formula => apply(ScalprodOp, [a, b]);
export const elem = (a: Formula, m: number): Formula => apply(ElemOp, [a], [m]);
export const extract = (a: Formula, start: number, len: number): Formula => apply(ExtractOp, [a], [start, len]);
