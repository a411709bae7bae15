/** Arithmetic: + − × ÷, unary minus, integer constants. */
import { apply, defineOp, fmtNum, type Formula } from "../node.js";
import { binarySsa, unaryOp, unarySsa } from "./common.js";
import { unbroadcast } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";

export const AddOp = binarySsa("Add", "add", {
  infix: "+",
  vjp: ([a, b], _t, _s, g) => [unbroadcast(g, a!.dim), unbroadcast(g, b!.dim)],
});
export const SubtractOp = binarySsa("Subtract", "sub", {
  infix: "-",
  vjp: ([a, b], _t, _s, g) => [unbroadcast(g, a!.dim), unbroadcast(minus(g), b!.dim)],
});
export const MultOp = binarySsa("Mult", "mul", {
  infix: "*",
  vjp: ([a, b], _t, _s, g) => [unbroadcast(mul(g, b!), a!.dim), unbroadcast(mul(g, a!), b!.dim)],
});
export const DivideOp = binarySsa("Divide", "div", {
  infix: "/",
  // d(a/b) = da/b − (a/b)·db/b
  vjp: ([a, b], _t, self, g) => [unbroadcast(div(g, b!), a!.dim), unbroadcast(minus(div(mul(g, self), b!)), b!.dim)],
});
export const MinusOp = unarySsa("Minus", "neg", { vjp: (_a, _t, _s, g) => [minus(g)] });

/** `IntCst(n)`: an integer constant, folded at compile time. */
export const IntCstOp = defineOp({
  name: "IntCst",
  arity: 0,
  nattrs: 1,
  dim: ([], [n]) => {
    if (!Number.isSafeInteger(n)) throw new KeOpsError(`IntCst: expected an integer, got ${n}`);
    return 1;
  },
  lower: (ctx, _a, [n]) => [ctx.b.c(n!)],
  print: (_a, [n]) => `IntCst(${fmtNum(n!)})`,
});

/** `IntInv(n)`: the constant 1/n (n a non-zero integer). */
export const IntInvOp = defineOp({
  name: "IntInv",
  arity: 0,
  nattrs: 1,
  dim: ([], [n]) => {
    if (!Number.isSafeInteger(n) || n === 0) throw new KeOpsError(`IntInv: expected a non-zero integer, got ${n}`);
    return 1;
  },
  lower: (ctx, _a, [n]) => [ctx.b.c(1 / n!)],
});

/** `Zero(D)`: the zero vector of dimension D. */
export const ZeroOp = defineOp({
  name: "Zero",
  arity: 0,
  nattrs: 1,
  dim: ([], [d]) => {
    if (!Number.isSafeInteger(d) || d! < 1) throw new KeOpsError(`Zero: expected a dimension ≥ 1, got ${d}`);
    return d!;
  },
  lower: (ctx, _a, [d]) => Array.from({ length: d! }, () => ctx.b.c(0)),
});

/** `Inv(x)`: 1/x. */
export const InvOp = unaryOp("Inv", (ctx, x) => ctx.b.bin("div", ctx.b.c(1), x), {
  vjp: (_a, _t, self, g) => [minus(mul(g, mul(self, self)))],
});

export const add = (a: Formula, b: Formula): Formula => apply(AddOp, [a, b]);
export const sub = (a: Formula, b: Formula): Formula => apply(SubtractOp, [a, b]);
export const mul = (a: Formula, b: Formula): Formula => apply(MultOp, [a, b]);
export const div = (a: Formula, b: Formula): Formula => apply(DivideOp, [a, b]);
export const minus = (a: Formula): Formula => apply(MinusOp, [a]);
export const intCst = (n: number): Formula => apply(IntCstOp, [], [n]);
export const intInv = (n: number): Formula => apply(IntInvOp, [], [n]);
export const zero = (d: number): Formula => apply(ZeroOp, [], [d]);
export const inv = (a: Formula): Formula => apply(InvOp, [a]);
