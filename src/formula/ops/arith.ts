/** Arithmetic: + − × ÷, unary minus, integer constants. */
import { apply, defineOp, fmtNum, type Formula } from "../node.js";
import { binarySsa, unarySsa } from "./common.js";
import { KeOpsError } from "../../errors.js";

export const AddOp = binarySsa("Add", "add", { infix: "+" });
export const SubtractOp = binarySsa("Subtract", "sub", { infix: "-" });
export const MultOp = binarySsa("Mult", "mul", { infix: "*" });
export const DivideOp = binarySsa("Divide", "div", { infix: "/" });
export const MinusOp = unarySsa("Minus", "neg");

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
