/**
 * Complex numbers, as KeOps stores them: a complex vector of dimension k is a real vector of
 * dimension 2k holding interleaved (re, im) pairs. Each op has keopscore's name and lowers to real
 * SSA, so every backend runs it unchanged. Gradients are the real vector–Jacobian products on the
 * interleaved pairs, which is KeOps's convention (d(f·g)/df applied to c is conj(g)·c).
 * Binary ops broadcast a single complex number (dimension 2) against a complex vector.
 */
import { KeOpsError } from "../../errors.js";
import { apply, defineOp, defineMacro, type Formula, type LowerContext, type OpDef } from "../node.js";
import type { OpExtra } from "./common.js";
import { add, intCst, inv, minus, mul, sub } from "./arith.js";
import { SqrtOp } from "./math.js";
import { Atan2Op } from "./trig.js";

function even(name: string, d: number): void {
  if (d % 2 !== 0) throw new KeOpsError(`${name}: expected a complex operand (an even dimension of interleaved (re, im) pairs), got dimension ${d}`);
}

/** Dimension rule of a complex binary op: equal even dims, or one of them 2 (a complex scalar). */
function complexBroadcast(name: string, [a, b]: readonly number[]): number {
  even(name, a!);
  even(name, b!);
  if (a !== b && a !== 2 && b !== 2)
    throw new KeOpsError(`${name}: operands must have the same complex dimension or one of them 1, got real dimensions ${a} and ${b}`);
  return Math.max(a!, b!);
}

/** Pair p of an operand broadcast to the output: [re, im] SSA values. */
function pair(x: readonly number[], p: number): [number, number] {
  return x.length === 2 ? [x[0]!, x[1]!] : [x[2 * p]!, x[2 * p + 1]!];
}

type PairFn = (ctx: LowerContext, x: [number, number], y: [number, number]) => [number, number];

/** A complex element-wise binary op (with broadcasting of a complex scalar) from its action on one pair. */
function complexBinary(name: string, f: PairFn, vjp: NonNullable<OpDef["vjp"]>): OpDef {
  return defineOp({
    name,
    arity: 2,
    nattrs: 0,
    vjp,
    dim: (dims) => complexBroadcast(name, dims),
    lower: (ctx, [x, y], _a, dim) => {
      const out: number[] = [];
      for (let p = 0; p < dim / 2; p++) out.push(...f(ctx, pair(x!, p), pair(y!, p)));
      return out;
    },
  });
}

/** A complex unary op (dimension kept) from its action on one pair. */
function complexUnary(name: string, f: (ctx: LowerContext, x: [number, number]) => [number, number], extra: OpExtra): OpDef {
  return defineOp({
    name,
    arity: 1,
    nattrs: 0,
    ...extra,
    dim: ([d]) => (even(name, d!), d!),
    lower: (ctx, [x], _a, dim) => {
      const out: number[] = [];
      for (let p = 0; p < dim / 2; p++) out.push(...f(ctx, pair(x!, p)));
      return out;
    },
  });
}

/** An op from complex (2k) to real (k), from its action on one pair. */
function complexToReal(name: string, f: (ctx: LowerContext, x: [number, number]) => number, extra: OpExtra): OpDef {
  return defineOp({
    name,
    arity: 1,
    nattrs: 0,
    ...extra,
    dim: ([d]) => (even(name, d!), d! / 2),
    lower: (ctx, [x], _a, dim) => Array.from({ length: dim }, (_, p) => f(ctx, pair(x!, p))),
  });
}

/** An op from real (k) to complex (2k), from its action on one component. */
function realToComplex(name: string, f: (ctx: LowerContext, x: number) => [number, number], extra: OpExtra): OpDef {
  return defineOp({
    name,
    arity: 1,
    nattrs: 0,
    ...extra,
    dim: ([d]) => 2 * d!,
    lower: (ctx, [x]) => x!.flatMap((v) => f(ctx, v)),
  });
}

/** A macro op: the formula of ordinary ops it stands for (as keopscore defines it). */
function complexMacro(name: string, arity: number, dim: (dims: readonly number[]) => number, expand: (args: readonly Formula[]) => Formula): OpDef {
  return defineMacro({
    name,
    arity,
    nattrs: 0,
    dim,
    expand: (self) => expand(self.args),
  });
}

// ---- real ↔ complex ----------------------------------------------------------------------------

export const ComplexRealOp: OpDef = complexToReal("ComplexReal", (_c, [re]) => re, { vjp: (_a, _t, _s, g) => [real2complex(g)] });
export const ComplexImagOp: OpDef = complexToReal("ComplexImag", (_c, [, im]) => im, { vjp: (_a, _t, _s, g) => [imag2complex(g)] });
export const Real2ComplexOp: OpDef = realToComplex("Real2Complex", (ctx, x) => [x, ctx.b.c(0)], { vjp: (_a, _t, _s, g) => [complexReal(g)] });
export const Imag2ComplexOp: OpDef = realToComplex("Imag2Complex", (ctx, x) => [ctx.b.c(0), x], { vjp: (_a, _t, _s, g) => [complexImag(g)] });

/** `ComplexSquareAbs(z)`: re² + im² per pair. */
export const ComplexSquareAbsOp: OpDef = complexToReal("ComplexSquareAbs", (ctx, [re, im]) => {
  const b = ctx.b;
  return b.bin("add", b.bin("mul", re, re), b.bin("mul", im, im));
}, {
  // d/dre = 2·re·c, d/dim = 2·im·c
  vjp: ([z], _t, _s, g) => [mul(intCst(2), mul(z!, add(real2complex(g), imag2complex(g))))],
});

/** `ComplexExp1j(x)`: e^{ix} = (cos x, sin x) for a real x. */
export const ComplexExp1jOp: OpDef = realToComplex("ComplexExp1j", (ctx, x) => [ctx.b.un("cos", x), ctx.b.un("sin", x)], {
  // d/dx = −sin x·c_re + cos x·c_im
  vjp: (_a, _t, self, g) => [sub(mul(complexImag(g), complexReal(self)), mul(complexReal(g), complexImag(self)))],
});

// ---- complex → complex -------------------------------------------------------------------------

export const ConjOp: OpDef = complexUnary("Conj", (ctx, [re, im]) => [re, ctx.b.un("neg", im)], { vjp: (_a, _t, _s, g) => [conj(g)] });

/** `ComplexExp(z)`: e^z = e^re (cos im, sin im). */
export const ComplexExpOp: OpDef = complexUnary("ComplexExp", (ctx, [re, im]) => {
  const b = ctx.b;
  const r = b.un("exp", re);
  return [b.bin("mul", r, b.un("cos", im)), b.bin("mul", r, b.un("sin", im))];
}, { vjp: (_a, _t, self, g) => [complexMult(conj(self), g)] });

/** `ComplexSum(z)`: the sum of the pairs of a complex vector (dimension 2). */
export const ComplexSumOp: OpDef = defineOp({
  name: "ComplexSum",
  arity: 1,
  nattrs: 0,
  vjp: ([z], _t, _s, g) => [complexSumT(g, z!.dim)],
  dim: ([d]) => (even("ComplexSum", d!), 2),
  lower: (ctx, [x]) => {
    const b = ctx.b;
    let re = x![0]!, im = x![1]!;
    for (let p = 1; p < x!.length / 2; p++) (re = b.bin("add", re, x![2 * p]!), im = b.bin("add", im, x![2 * p + 1]!));
    return [re, im];
  },
});

/** `ComplexSumT(z, D)`: a complex number repeated into a complex vector of real dimension D. */
export const ComplexSumTOp: OpDef = defineOp({
  name: "ComplexSumT",
  arity: 1,
  nattrs: 1,
  vjp: (_a, _t, _s, g) => [complexSum(g)],
  dim: ([d], [D]) => {
    if (d !== 2) throw new KeOpsError(`ComplexSumT: expected a complex scalar (dimension 2), got dimension ${d}`);
    if (!Number.isInteger(D) || D! < 2 || D! % 2 !== 0) throw new KeOpsError(`ComplexSumT: expected an even dimension ≥ 2, got ${D}`);
    return D!;
  },
  lower: (_ctx, [x], _a, dim) => Array.from({ length: dim }, (_, c) => x![c % 2]!),
});

/** The cotangent of a broadcast complex operand: summed over pairs when it was a complex scalar. */
function unbroadcastComplex(g: Formula, dim: number): Formula {
  return dim === 2 && g.dim > 2 ? complexSum(g) : g;
}

export const ComplexAddOp: OpDef = complexBinary("ComplexAdd", (ctx, [a, b], [c, d]) => [ctx.b.bin("add", a, c), ctx.b.bin("add", b, d)],
  ([f, h], _t, _s, g) => [unbroadcastComplex(g, f!.dim), unbroadcastComplex(g, h!.dim)]);
export const ComplexSubtractOp: OpDef = complexBinary("ComplexSubtract", (ctx, [a, b], [c, d]) => [ctx.b.bin("sub", a, c), ctx.b.bin("sub", b, d)],
  ([f, h], _t, _s, g) => [unbroadcastComplex(g, f!.dim), unbroadcastComplex(minus(g), h!.dim)]);
export const ComplexMultOp: OpDef = complexBinary("ComplexMult", (ctx, [a, b], [c, d]) => {
  const B = ctx.b;
  return [B.bin("sub", B.bin("mul", a, c), B.bin("mul", b, d)), B.bin("add", B.bin("mul", a, d), B.bin("mul", b, c))];
}, ([f, h], _t, _s, g) => [unbroadcastComplex(complexMult(conj(h!), g), f!.dim), unbroadcastComplex(complexMult(conj(f!), g), h!.dim)]);

/** `ComplexRealScal(x, z)`: a real scalar x times a complex vector z. */
export const ComplexRealScalOp: OpDef = defineOp({
  name: "ComplexRealScal",
  arity: 2,
  nattrs: 0,
  vjp: ([x, z], _t, _s, g) => [complexReal(complexSum(complexMult(conj(z!), g))), complexRealScal(x!, g)],
  dim: ([a, b]) => {
    if (a !== 1) throw new KeOpsError(`ComplexRealScal: expected a real scalar first operand (dimension 1), got dimension ${a}`);
    even("ComplexRealScal", b!);
    return b!;
  },
  lower: (ctx, [x, z]) => z!.map((v) => ctx.b.bin("mul", x![0]!, v)),
});

// ---- macros, as keopscore defines them ---------------------------------------------------------

/** `ComplexAbs(z)` = Sqrt(ComplexSquareAbs(z)). */
export const ComplexAbsOp: OpDef = complexMacro("ComplexAbs", 1, ([d]) => (even("ComplexAbs", d!), d! / 2), ([z]) => apply(SqrtOp, [complexSquareAbs(z!)]));
/** `ComplexAngle(z)` = Atan2(ComplexImag(z), ComplexReal(z)). */
export const ComplexAngleOp: OpDef = complexMacro("ComplexAngle", 1, ([d]) => (even("ComplexAngle", d!), d! / 2), ([z]) => apply(Atan2Op, [complexImag(z!), complexReal(z!)]));
/** `ComplexDivide(f, g)` = ComplexMult(Real2Complex(Inv(ComplexSquareAbs(g))), ComplexMult(f, Conj(g))). */
export const ComplexDivideOp: OpDef = complexMacro("ComplexDivide", 2, (dims) => complexBroadcast("ComplexDivide", dims), ([f, g]) => {
  const scale = real2complex(inv(complexSquareAbs(g!)));
  const num = complexMult(f!, conj(g!));
  // a complex-vector divisor gives a vector of scales: pair by pair; a scalar one: one scale
  return complexMult(scale, num);
});

export const complexReal = (z: Formula): Formula => apply(ComplexRealOp, [z]);
export const complexImag = (z: Formula): Formula => apply(ComplexImagOp, [z]);
export const real2complex = (x: Formula): Formula => apply(Real2ComplexOp, [x]);
export const imag2complex = (x: Formula): Formula => apply(Imag2ComplexOp, [x]);
export const conj = (z: Formula): Formula => apply(ConjOp, [z]);
export const complexSquareAbs = (z: Formula): Formula => apply(ComplexSquareAbsOp, [z]);
export const complexMult = (a: Formula, b: Formula): Formula => apply(ComplexMultOp, [a, b]);
export const complexSum = (z: Formula): Formula => apply(ComplexSumOp, [z]);
export const complexSumT = (z: Formula, dim: number): Formula => apply(ComplexSumTOp, [z], [dim]);
export const complexRealScal = (x: Formula, z: Formula): Formula => apply(ComplexRealScalOp, [x, z]);
