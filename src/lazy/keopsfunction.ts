/**
 * KeOpsFunction: a compiled reduction, callable with its symbolic variables in index order.
 * Returned by reductions with `call: false` or over symbolic variables, and by `genred`.
 */
import { KeOpsError, argError } from "../errors.js";
import type { Cat } from "../formula/node.js";
import { asTensor, type FloatDType, type Tensor, type TensorLike } from "../tensor.js";
import type { Binding } from "./bindings.js";
import { execute, executeAsync, type ReductionCall, type VarData } from "./execute.js";
import type { CallOptions } from "./options.js";

/** A callable reduction. `T` is what a call returns: a Tensor or [values, indices]. */
export interface KeOpsFunction<T = Tensor | [Tensor, Tensor]> {
  /** Computes the reduction; the arguments are the symbolic variables in index order, then optional options. */
  (...args: (TensorLike | CallOptions)[]): T;
  /** Same, off the calling thread. */
  callAsync(...args: (TensorLike | CallOptions)[]): Promise<T>;
  /** The KeOps formula string. */
  readonly formula: string;
  /** The second formula (weight), if any. */
  readonly formula2: string | undefined;
  /** Reduction name (as genred takes it). */
  readonly reductionOp: string;
  /** 0 reduces over i, 1 over j. */
  readonly axis: 0 | 1;
  /** Symbolic variables [ind, dim, cat], in order of appearance. */
  readonly symbolicVariables: readonly (readonly [number, number, Cat])[];
  /**
   * Gradients of ⟨f(args), gradOut⟩ with respect to each argument (symbolic variables in index
   * order): one tensor per argument, shaped like it (parameters summed over i and j).
   */
  vjp(args: readonly TensorLike[], gradOut: TensorLike): Tensor[];
  /** Prints like pykeops. */
  toString(): string;
}

/** The implementation of `vjp`, provided by the autodiff module. */
export type VjpImpl = (spec: FunctionSpec, args: readonly TensorLike[], gradOut: TensorLike) => Tensor[];
let vjpImpl: VjpImpl = () => {
  throw new KeOpsError("vjp: automatic differentiation is not available in this build");
};
/** @internal installs the vjp implementation (src/autodiff). */
export function setVjpImpl(f: VjpImpl): void {
  vjpImpl = f;
}

/** What a KeOpsFunction is made of. */
export interface FunctionSpec {
  readonly call: ReductionCall;
  readonly fixed: ReadonlyMap<number, Binding>;
  readonly symbolic: readonly (readonly [number, number, Cat])[];
  /** Text of the "shape" line. */
  readonly shape: readonly number[];
  readonly dtype: FloatDType | undefined;
}

function fixedData(fixed: ReadonlyMap<number, Binding>): Map<number, VarData> {
  const m = new Map<number, VarData>();
  for (const [ind, b] of fixed)
    m.set(ind, {
      data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data,
      cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
    });
  return m;
}

/** Interprets a call argument as the data of symbolic variable (ind, dim, cat). */
export function argumentData(x: TensorLike, ind: number, dim: number, cat: Cat, pos: number): VarData {
  const name = `argument ${pos} (Var(${ind},${dim},${cat}))`;
  if (typeof x === "number" && cat === 2) x = [x];
  if (Array.isArray(x) && cat === 2 && x.every((e) => typeof e === "number")) {
    if (x.length !== dim) argError(name, `${dim} number(s)`, x);
    return { data: x as number[], cat, dim, rows: 1, batch: [], name };
  }
  const t = asTensor(x, name);
  if (t.dtype === "int32") argError(name, "float32 or float64 data", `@int32 data`);
  const sh = t.shape;
  if (cat === 2) {
    if (sh.length < 1 || sh[sh.length - 1] !== dim) argError(name, `a tensor of shape (…, ${dim})`, t);
    return { data: t.data, cat, dim, rows: 1, batch: sh.slice(0, -1), name };
  }
  if (sh.length < 2 || sh[sh.length - 1] !== dim) argError(name, `a tensor of shape (…, rows, ${dim})`, t);
  return { data: t.data, cat, dim, rows: sh[sh.length - 2]!, batch: sh.slice(0, -2), name };
}

function isOptions(x: unknown): x is CallOptions {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x) && !("shape" in x && "data" in x);
}

/** Formats a pykeops-style tuple, `(50, 30, 4)`. */
export function tuple(xs: readonly number[]): string {
  return xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`;
}

/** Builds a callable from a spec. */
export function makeKeOpsFunction<T>(spec: FunctionSpec): KeOpsFunction<T> {
  const base = fixedData(spec.fixed);
  const order = [...spec.symbolic].sort((a, b) => a[0] - b[0]);
  const bind = (args: unknown[]): { vars: Map<number, VarData>; call: ReductionCall } => {
    let call = spec.call;
    if (args.length && isOptions(args[args.length - 1])) {
      const o = args.pop() as CallOptions;
      if (o.backend !== undefined) call = { ...call, opts: { ...call.opts, backend: o.backend } };
    }
    if (args.length !== order.length)
      argError("arguments", `${order.length} tensor(s), for ${order.length ? order.map(([i, d, c]) => `Var(${i},${d},${c})`).join(", ") : "no symbolic variable"}`, `@${args.length}`);
    const vars = new Map(base);
    order.forEach(([ind, dim, cat], k) => vars.set(ind, argumentData(args[k] as TensorLike, ind, dim, cat, k)));
    return { vars, call };
  };
  const fn = ((...args: unknown[]) => {
    const { vars, call } = bind(args);
    return execute(call, vars, spec.dtype) as T;
  }) as KeOpsFunction<T>;
  const props = {
    callAsync: (...args: unknown[]) => {
      try {
        const { vars, call } = bind(args);
        return executeAsync(call, vars, spec.dtype) as Promise<T>;
      } catch (e) {
        return Promise.reject(e);
      }
    },
    formula: spec.call.formula.toString(),
    formula2: spec.call.formula2?.toString(),
    reductionOp: spec.call.reduction.name,
    axis: spec.call.axis,
    symbolicVariables: spec.symbolic,
    vjp: (args: readonly TensorLike[], gradOut: TensorLike) => vjpImpl(spec, args, gradOut),
    toString: () => describeFunction(spec),
  };
  for (const [k, v] of Object.entries(props)) Object.defineProperty(fn, k, { value: v, enumerable: true });
  registerSpec(fn, spec);
  return fn;
}

/** The pykeops printout of a reduction. */
export function describeFunction(spec: FunctionSpec): string {
  const c = spec.call;
  const lines = ["KeOps LazyTensor", `    formula: ${c.formula}`];
  if (spec.symbolic.length) lines.push(`    symbolic variables: ${spec.symbolic.map(([i, d, k]) => `Var(${i}, ${d}, ${k})`).join(", ")}`);
  lines.push(`    shape: ${tuple(spec.shape)}`);
  lines.push(`    reduction: ${c.reduction.name} (axis=${c.axis})`);
  if (c.formula2) lines.push(`        formula2: ${c.formula2}`);
  if (c.reduction.usesK) lines.push(`        opt_arg: ${c.K}`);
  return lines.join("\n");
}

const specs = new WeakMap<object, FunctionSpec>();
/** @internal the spec behind a KeOpsFunction (for tests and adapters). */
export function specOf(f: KeOpsFunction<unknown>): FunctionSpec {
  const s = specs.get(f);
  if (!s) throw new KeOpsError("not a KeOpsFunction");
  return s;
}
/** @internal */
export function registerSpec(f: object, s: FunctionSpec): void {
  specs.set(f, s);
}
