/** Vector operations: inner sum, squared norm, scalar product, element and slice, and their adjoints. */
import { apply, defineOp, type Formula } from "../node.js";
import type { SsaBuilder } from "../../ir/ssa.js";
import { intAttr, sameDims } from "./common.js";
import { intCst, mul } from "./arith.js";
import { sum, total } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";




/** `SqNorm2(x)`: squared Euclidean norm. */
export const SqNorm2Op = defineOp({
  name: "SqNorm2",
  arity: 1,
  nattrs: 0,
  dim: () => 1,
  lower: (ctx, [x]) => [total(ctx.b, x!.map((v) => ctx.b.bin("mul", v, v)))],
  vjp: ([x], _t, _s, g) => [mul(intCst(2), mul(g, x!))],
});

/** `(x | y)`: scalar product of two vectors of the same dimension. */
export const ScalprodOp = defineOp({
  name: "Scalprod",
  arity: 2,
  nattrs: 0,
  infix: "|",
  dim: (dims) => (sameDims("Scalprod", dims), 1),
  lower: (ctx, [x, y]) => [total(ctx.b, x!.map((v, c) => ctx.b.bin("mul", v, y![c]!)))],
  vjp: ([x, y], _t, _s, g) => [mul(g, y!), mul(g, x!)],
});

/** `Elem(x,m)`: component m. */
export const ElemOp = defineOp({
  name: "Elem",
  arity: 1,
  nattrs: 1,
  dim: ([d], [m]) => (intAttr("Elem", "index m to be", m!, 0, d! - 1), 1),
  lower: (_ctx, [x], [m]) => [x![m!]!],
  vjp: ([x], [m], _s, g) => [elemT(g, x!.dim, m!)],
});

/** `ElemT(x,D,m)`: the scalar x at component m of a zero vector of dimension D (the adjoint of Elem). */
export const ElemTOp = defineOp({
  name: "ElemT",
  arity: 1,
  nattrs: 2,
  dim: ([d], [n, m]) => {
    if (d !== 1) throw new KeOpsError(`ElemT: expected a scalar operand (dimension 1), got dimension ${d}`);
    intAttr("ElemT", "dimension D to be", n!, 1, 2 ** 31 - 1);
    intAttr("ElemT", "index m to be", m!, 0, n! - 1);
    return n!;
  },
  lower: (ctx, [x], [n, m]) => Array.from({ length: n! }, (_, c) => (c === m ? x![0]! : ctx.b.c(0))),
  vjp: (_a, [, m], _s, g) => [elem(g, m!)],
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
  vjp: ([x], [start], _s, g) => [extractT(g, start!, x!.dim)],
});

/** `ExtractT(x,start,D)`: x placed at components start … of a zero vector of dimension D (the adjoint of Extract). */
export const ExtractTOp = defineOp({
  name: "ExtractT",
  arity: 1,
  nattrs: 2,
  dim: ([d], [start, n]) => {
    intAttr("ExtractT", "dimension D to be", n!, 1, 2 ** 31 - 1);
    intAttr("ExtractT", "start to be", start!, 0, n! - d!);
    return n!;
  },
  lower: (ctx, [x], [start], dim) =>
    Array.from({ length: dim }, (_, c) => (c >= start! && c < start! + x!.length ? x![c - start!]! : ctx.b.c(0))),
  vjp: ([x], [start], _s, g) => [extract(g, start!, x!.dim)],
});

/** `Concat(a,b)`: the components of a, then those of b. */
export const ConcatOp = defineOp({
  name: "Concat",
  arity: 2,
  nattrs: 0,
  dim: ([a, b]) => a! + b!,
  lower: (_ctx, [a, b]) => [...a!, ...b!],
  vjp: ([a, b], _t, _s, g) => [extract(g, 0, a!.dim), extract(g, a!.dim, b!.dim)],
});

/** `OneHot(x,D)`: the vector of dimension D with 1 at component round(x), 0 elsewhere (x scalar). */
export const OneHotOp = defineOp({
  name: "OneHot",
  arity: 1,
  nattrs: 1,
  dim: ([d], [n]) => {
    if (d !== 1) throw new KeOpsError(`OneHot: expected a scalar operand (dimension 1), got dimension ${d}`);
    return intAttr("OneHot", "dimension D to be", n!, 1, 2 ** 31 - 1);
  },
  lower: (ctx, [x], [n]) => {
    const r = ctx.b.un("round", x![0]!);
    return Array.from({ length: n! }, (_, k) => ctx.b.cmp("eq", r, ctx.b.c(k)));
  },
  vjp: () => [undefined],
});

/**
 * The inner minimum or maximum over the vector dimension and its index: a left-to-right scan;
 * ties go to the lowest index and NaN counts as the smallest value for min and the largest for
 * max (the first NaN wins), as keops-ts's Min/Max reductions pin it.
 */
function scanExtremum(b: SsaBuilder, xs: readonly number[], op: "lt" | "gt"): [number, number] {
  let best = xs[0]!;
  let at = b.c(0);
  for (let k = 1; k < xs.length; k++) {
    const x = xs[k]!;
    const better = b.or(b.cmp(op, x, best), b.and(b.isnan(x), b.not(b.isnan(best))));
    best = b.select(better, x, best);
    at = b.select(better, b.c(k), at);
  }
  return [best, at];
}

function innerExtremum(name: string, op: "lt" | "gt", arg: boolean) {
  return defineOp({
    name,
    arity: 1,
    nattrs: 0,
    dim: () => 1,
    lower: (ctx, [x]) => [scanExtremum(ctx.b, x!, op)[arg ? 1 : 0]],
    vjp: ([x], _t, _s, g) => {
      if (arg || x!.dim === 1) return [arg ? undefined : g];
      const at = apply(op === "lt" ? ArgMinOp : ArgMaxOp, [x!]);
      return [mul(apply(OneHotOp, [at], [x!.dim]), g)];
    },
  });
}

/** `Min(x)`: the smallest component. */
export const MinOp = innerExtremum("Min", "lt", false);
/** `Max(x)`: the largest component. */
export const MaxOp = innerExtremum("Max", "gt", false);
/** `ArgMin(x)`: the index of the smallest component (a float; ties: the lowest index). */
export const ArgMinOp = innerExtremum("ArgMin", "lt", true);
/** `ArgMax(x)`: the index of the largest component. */
export const ArgMaxOp = innerExtremum("ArgMax", "gt", true);

export const sqnorm2 = (a: Formula): Formula => apply(SqNorm2Op, [a]);
export const scalprod = (a: Formula, b: Formula): Formula => apply(ScalprodOp, [a, b]);
export const elem = (a: Formula, m: number): Formula => apply(ElemOp, [a], [m]);
export const extract = (a: Formula, start: number, len: number): Formula => apply(ExtractOp, [a], [start, len]);
/** `SumT(a, D)`, or `a` itself when D = 1. */
export const elemT = (a: Formula, D: number, m: number): Formula => apply(ElemTOp, [a], [D, m]);
export const extractT = (a: Formula, start: number, D: number): Formula =>
  start === 0 && a.dim === D ? a : apply(ExtractTOp, [a], [start, D]);

