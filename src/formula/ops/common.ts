/** Shared dimension rules and op factories for the op families. */
import { KeOpsError } from "../../errors.js";
import { defineOp, type LowerContext, type OpDef } from "../node.js";
import type { BinaryOp, UnaryOp } from "../../ir/ssa.js";

/** KeOps's "same or 1" rule: equal dims, or one of them 1 (broadcast). */
export function broadcastDims(name: string, dims: readonly number[]): number {
  const big = dims.filter((d) => d !== 1);
  if (big.some((d) => d !== big[0]))
    throw new KeOpsError(`${name}: operands must have the same dimension or dimension 1, got dimensions ${dims.join(" and ")}`);
  return big[0] ?? 1;
}

/** Requires equal dimensions. */
export function sameDims(name: string, dims: readonly number[]): number {
  if (dims.some((d) => d !== dims[0]))
    throw new KeOpsError(`${name}: operands must have the same dimension, got dimensions ${dims.join(" and ")}`);
  return dims[0]!;
}

/** Component c of an operand broadcast to the output dim. */
export function comp(x: readonly number[], c: number): number {
  return x.length === 1 ? x[0]! : x[c]!;
}

/** Maps a per-component scalar function over broadcast operands. */
export function componentwise(
  args: readonly (readonly number[])[],
  dim: number,
  f: (...xs: number[]) => number,
): number[] {
  return Array.from({ length: dim }, (_, c) => f(...args.map((a) => comp(a, c))));
}

/** Optional parts of an op declaration a factory passes through. */
export type OpExtra = Partial<Pick<OpDef, "infix" | "print" | "vjp" | "gradT">>;

/** An element-wise unary op from a scalar lowering. */
export function unaryOp(name: string, scalar: (ctx: LowerContext, x: number) => number, extra: OpExtra = {}): OpDef {
  return defineOp({
    name,
    arity: 1,
    nattrs: 0,
    ...extra,
    dim: ([d]) => d!,
    lower: (ctx, [x], _a, dim) => componentwise([x!], dim, (v) => scalar(ctx, v)),
  });
}

/** An element-wise unary op that is one SSA instruction. */
export function unarySsa(name: string, op: UnaryOp, extra: OpExtra = {}): OpDef {
  return unaryOp(name, (ctx, x) => ctx.b.un(op, x), extra);
}

/** An element-wise binary op with broadcasting, from a scalar lowering. */
export function binaryOp(
  name: string,
  scalar: (ctx: LowerContext, x: number, y: number) => number,
  extra: OpExtra = {},
): OpDef {
  return defineOp({
    name,
    arity: 2,
    nattrs: 0,
    ...extra,
    dim: (dims) => broadcastDims(name, dims),
    lower: (ctx, [x, y], _a, dim) => componentwise([x!, y!], dim, (a, b) => scalar(ctx, a, b)),
  });
}

/** An element-wise binary op that is one SSA instruction. */
export function binarySsa(name: string, op: BinaryOp, extra: OpExtra = {}): OpDef {
  return binaryOp(name, (ctx, x, y) => ctx.b.bin(op, x, y), extra);
}

/** Checks that a numeric attribute is an integer in [lo, hi]. */
export function intAttr(name: string, what: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new KeOpsError(`${name}: expected ${what} an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

/** An element-wise ternary op with broadcasting, from a scalar lowering. */
export function ternaryOp(
  name: string,
  scalar: (ctx: LowerContext, x: number, y: number, z: number) => number,
  extra: OpExtra = {},
): OpDef {
  return defineOp({
    name,
    arity: 3,
    nattrs: 0,
    ...extra,
    dim: (dims) => broadcastDims(name, dims),
    lower: (ctx, [x, y, z], _a, dim) => componentwise([x!, y!, z!], dim, (a, b, c) => scalar(ctx, a, b, c)),
  });
}
