/**
 * KeOpsFunction: a compiled reduction, callable with its symbolic variables in index order.
 * Returned by reductions with `call: false` or over symbolic variables, and by `genred`.
 */
import { KeOpsError, argError, said } from "../errors.js";
import type { Cat } from "../formula/node.js";
import { Tensor, asTensor, type FloatDType, type TensorLike } from "../tensor.js";
import type { Binding } from "./bindings.js";
import {
  dtypeOf, makeJob, prepareCall, sizesOf, runJob, runJobAsync, type Prepared, type ReadyJob, type ReductionCall, type VarData,
  checkCall,
} from "./execute.js";
import { INSPECT } from "../inspect.js";
import { CALL_KEYS, checkOptions, type CallOptions, type VjpOptions } from "./options.js";
import { checkRanges } from "../ranges/index.js";

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
   * With `{ async: true }`, a Promise of them: the gradient's reductions run as `async: true`
   * calls, so on an async-only backend (webgpu) too; a blocking vjp on webgpu is a KeOpsError.
   */
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts?: VjpOptions & { async?: false }): Tensor[];
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts: VjpOptions & { async: true }): Promise<Tensor[]>;
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts?: VjpOptions): Tensor[] | Promise<Tensor[]>;
  /** Prints like pykeops. */
  toString(): string;
}

/** The implementation of `vjp`, provided by the autodiff module. */
export type VjpImpl = (spec: FunctionSpec, args: readonly TensorLike[], gradOut: TensorLike, opts?: VjpOptions) => Tensor[] | Promise<Tensor[]>;
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

/** The data of a function's fixed (bound) variables by index. */
export function fixedData(fixed: ReadonlyMap<number, Binding>): Map<number, VarData> {
  const m = new Map<number, VarData>();
  for (const [ind, b] of fixed)
    m.set(ind, {
      data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data,
      cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
    });
  return m;
}

/** How argument `pos` (symbolic variable `Var(ind,dim,cat)`) is named in errors. */
function argumentName(ind: number, dim: number, cat: Cat, pos: number): string {
  return `argument ${pos} (Var(${ind},${dim},${cat}))`;
}

/** Interprets a call argument as the data of symbolic variable (ind, dim, cat). */
export function argumentData(x: TensorLike, ind: number, dim: number, cat: Cat, pos: number, name = argumentName(ind, dim, cat, pos)): VarData {
  if (typeof x === "number" && cat === 2) x = [x];
  if (Array.isArray(x) && cat === 2 && x.every((e) => typeof e === "number")) {
    if (x.length !== dim) argError(name, `${dim} number(s)`, x);
    return { data: x as number[], cat, dim, rows: 1, batch: [], name };
  }
  const t = x instanceof Tensor ? x : asTensor(x, name);
  if (t.dtype === "int32") argError(name, "float32 or float64 data", said(`int32 data`));
  const sh = t.shape;
  const n = sh.length;
  if (cat === 2) {
    if (n < 1 || sh[n - 1] !== dim) argError(name, `a tensor of shape (…, ${dim})`, t);
    return { data: t.data, cat, dim, rows: 1, batch: n > 1 ? sh.slice(0, -1) : [], name };
  }
  if (n < 2 || sh[n - 1] !== dim) argError(name, `a tensor of shape (…, rows, ${dim})`, t);
  return { data: t.data, cat, dim, rows: sh[n - 2]!, batch: n > 2 ? sh.slice(0, -2) : [], name };
}

function isOptions(x: unknown): x is CallOptions {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x) && !(x instanceof Tensor) && !("shape" in x && "data" in x);
}

/** Formats a pykeops-style tuple, `(50, 30, 4)`. */
export function tuple(xs: readonly number[]): string {
  return xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`;
}

/**
 * The argument binding of a function, computed once: for each kernel input slot, either the
 * fixed data (converted to the dtype once) or the position of the call argument that feeds it.
 */
class Binder {
  private readonly order: readonly (readonly [number, number, Cat])[];
  private readonly names: readonly string[];
  private readonly fixed: readonly VarData[];
  /** Per slot (variables of the formula by index): ≥ 0 argument position, < 0 −1−(fixed position). */
  private readonly slotSource: readonly number[];
  private readonly perDtype = new Map<FloatDType, { p: Prepared; fixed: VarData[] }>();

  constructor(private readonly spec: FunctionSpec) {
    this.order = [...spec.symbolic].sort((a, b) => a[0] - b[0]);
    this.names = this.order.map(([i, d, c], k) => argumentName(i, d, c, k));
    const fixedMap = fixedData(spec.fixed);
    this.fixed = [...fixedMap.values()];
    const fixedPos = new Map([...fixedMap.keys()].map((ind, k) => [ind, k]));
    const argPos = new Map(this.order.map(([ind], k) => [ind, k]));
    const c = spec.call;
    const inds = new Set<number>();
    for (const f of c.formula2 ? [c.formula, c.formula2] : [c.formula]) for (const v of f.vars()) inds.add(v.ind);
    this.slotSource = [...inds].sort((a, b) => a - b).map((ind) => {
      const a = argPos.get(ind);
      if (a !== undefined) return a;
      const f = fixedPos.get(ind);
      if (f === undefined) throw new KeOpsError(`internal: variable ${ind} has neither data nor an argument`);
      return -1 - f;
    });
  }

  private atDtype(dtype: FloatDType): { p: Prepared; fixed: VarData[] } {
    let e = this.perDtype.get(dtype);
    if (!e) {
      const p = prepareCall(this.spec.call, dtype);
      const fixed = this.fixed.map((v) =>
        Array.isArray(v.data) ? { ...v, data: dtype === "float64" ? Float64Array.from(v.data as number[]) : Float32Array.from(v.data as number[]) } : v);
      e = { p, fixed };
      this.perDtype.set(dtype, e);
    }
    return e;
  }

  /** Validates the arguments and builds the job. */
  bind(args: unknown[]): ReadyJob {
    const made = this.spec.call.opts;
    let backend = made.backend;
    let watch = { onProgress: made.onProgress, signal: made.signal };
    let ranges = made.ranges;
    let n = args.length;
    if (n && isOptions(args[n - 1])) {
      const o = args[n - 1] as CallOptions;
      checkOptions(o, "KeOpsFunction call", CALL_KEYS);
      if (o.backend !== undefined) backend = o.backend;
      if (o.ranges !== undefined) ranges = checkRanges(o.ranges);
      watch = { onProgress: o.onProgress ?? watch.onProgress, signal: o.signal ?? watch.signal };
      n--;
    }
    const order = this.order;
    if (n !== order.length)
      argError("arguments", `${order.length} tensor(s), for ${order.length ? order.map(([i, d, c]) => `Var(${i},${d},${c})`).join(", ") : "no symbolic variable"}`, said(`${n}`));
    const given: VarData[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const [ind, dim, cat] = order[k]!;
      given[k] = argumentData(args[k] as TensorLike, ind, dim, cat, k, this.names[k]);
    }
    const dtype = dtypeOf(given, this.spec.dtype);
    const sizes = sizesOf(this.spec.call, this.fixed.length ? [...this.fixed, ...given] : given);
    const { p, fixed } = this.atDtype(dtype);
    const slots = this.slotSource.map((s) => (s >= 0 ? given[s]! : fixed[-1 - s]!));
    return makeJob(p, slots, sizes, backend, { watch, ranges, axis: this.spec.call.axis });
  }
}

/** Builds a callable from a spec. */
export function makeKeOpsFunction<T>(spec: FunctionSpec): KeOpsFunction<T> {
  checkCall(spec.call);
  const binder = new Binder(spec);
  const fn = ((...args: unknown[]) => runJob(binder.bind(args)) as T) as KeOpsFunction<T>;
  const props = {
    callAsync: (...args: unknown[]) => {
      try {
        return runJobAsync(binder.bind(args)) as Promise<T>;
      } catch (e) {
        return Promise.reject(e);
      }
    },
    reductionOp: spec.call.reduction.name,
    axis: spec.call.axis,
    symbolicVariables: spec.symbolic,
    vjp: (args: readonly TensorLike[], gradOut: TensorLike, opts?: VjpOptions) => {
      try {
        return vjpImpl(spec, args, gradOut, opts);
      } catch (e) {
        if (opts?.async) return Promise.reject(e); // an async vjp reports every mistake by rejecting
        throw e;
      }
    },
    toString: () => describeFunction(spec),
  };
  for (const [k, v] of Object.entries(props)) Object.defineProperty(fn, k, { value: v, enumerable: true });
  // printed on demand (never on the hot path: a deeply shared formula prints long)
  Object.defineProperty(fn, "formula", { get: () => spec.call.formula.toString(), enumerable: true });
  Object.defineProperty(fn, "formula2", { get: () => spec.call.formula2?.toString(), enumerable: true });
  Object.defineProperty(fn, INSPECT, { value: () => describeFunction(spec) });
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
