/**
 * Comparisons, 1 where true and 0 where false (NaN compares false, `NotEqual` true), with
 * broadcasting. KeOps's `Equal`, `NotEqual`; `<` `<=` `>` `>=` print infix as pykeops writes them.
 */
import { apply, type Formula } from "../node.js";
import { binaryOp } from "./common.js";
import type { CompareOp } from "../../ir/ssa.js";

const noGrad = () => [undefined, undefined];
const cmpOp = (name: string, op: CompareOp, infix?: string) =>
  binaryOp(name, (ctx, x, y) => ctx.b.cmp(op, x, y), { vjp: noGrad, ...(infix ? { infix } : {}) });

/** `Equal(a,b)`: a == b. */
export const EqualOp = cmpOp("Equal", "eq");
/** `NotEqual(a,b)`: a != b. */
export const NotEqualOp = cmpOp("NotEqual", "ne");
/** `(a < b)` (KeOps's LessThan). */
export const LessThanOp = cmpOp("LessThan", "lt", "<");
/** `(a <= b)` (KeOps's LessOrEqual). */
export const LessOrEqualOp = cmpOp("LessOrEqual", "le", "<=");
/** `(a > b)`. */
export const GreaterThanOp = cmpOp("GreaterThan", "gt", ">");
/** `(a >= b)`. */
export const GreaterOrEqualOp = cmpOp("GreaterOrEqual", "ge", ">=");

export const eq = (a: Formula, b: Formula): Formula => apply(EqualOp, [a, b]);
export const ne = (a: Formula, b: Formula): Formula => apply(NotEqualOp, [a, b]);
export const lt = (a: Formula, b: Formula): Formula => apply(LessThanOp, [a, b]);
export const le = (a: Formula, b: Formula): Formula => apply(LessOrEqualOp, [a, b]);
export const gt = (a: Formula, b: Formula): Formula => apply(GreaterThanOp, [a, b]);
export const ge = (a: Formula, b: Formula): Formula => apply(GreaterOrEqualOp, [a, b]);
