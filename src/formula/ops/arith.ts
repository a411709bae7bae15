/** Arithmetic: + − × ÷, unary minus, integer constants. */
import { apply, defineOp, fmtNum, type Formula } from "../node.js";
import { binarySsa, unarySsa } from "./common.js";
import { unbroadcast } from "./vector.js";
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

export const add = (a: Formula, b: Formula): Formula => apply(AddOp, [a, b]);
export const sub = (a: Formula, b: Formula): Formula => apply(SubtractOp, [a, b]);
export const mul = (a: Formula, b: Formula): Formula => apply(MultOp, [a, b]);
export const div = (a: Formula, b: Formula): Formula => apply(DivideOp, [a, b]);
export const minus = (a: Formula): Formula => apply(MinusOp, [a]);
export const intCst = (n: number): Formula => apply(IntCstOp, [], [n]);
