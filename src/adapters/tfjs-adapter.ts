/**
 * The TensorFlow.js adapter (`keops-ts/tfjs`), the counterpart of `pykeops.torch`: LazyTensors
 * built from `tf.Tensor`s with the same construction rules, whose reductions and `solve` return
 * `tf.Tensor`s that are differentiable with `tf.grad`, `tf.grads`, `tf.valueAndGrad` and
 * `tf.variableGrads` (through `tf.customGrad`, the gradient being keops-ts's own vector–Jacobian
 * product: more reductions).
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { LazyTensor } from "keops-ts/tfjs";
 * const gx = tf.grad((x: tf.Tensor) => {
 *   const xi = new LazyTensor(tf.expandDims(x, 1)), xj = new LazyTensor(tf.expandDims(x, 0));
 *   const K = xi.sub(xj).square().sum(-1).neg().exp();
 *   return tf.sum(tf.square(K.solve(b, { alpha: 0.1 })));
 * })(x);
 * ```
 * TensorFlow.js computes in float32: data are copied from the tf.Tensors (`dataSync`) when a
 * LazyTensor is built. `@tensorflow/tfjs-core` is a peer dependency of this entry point only.
 *
 * This file is the adapter itself; its entry points `tfjs.ts` (Node) and `tfjs.browser.ts` add the host.
 */
import * as tf from "@tensorflow/tfjs-core";
import { KeOpsError, argError, said } from "../errors.js";
import { LazyTensor as CoreLazyTensor, Pm as corePm, Tensor, Vi as coreVi, Vj as coreVj, type TensorLike } from "../api.js";
import type { KeOpsFunction } from "../lazy/keopsfunction.js";
import { specOf } from "../lazy/keopsfunction.js";
import type { KReduceOptions, LogSumExpOptions, ReduceOptions } from "../lazy/options.js";
import type { ReductionName } from "../reductions/types.js";
import { reductionVjp } from "../autodiff/reductions.js";
import { bindingData } from "../autodiff/vjp.js";
import { solveWithVjp } from "../solve/lazy.js";
import type { SolveOptions } from "../solve/options.js";
import type { VarData } from "../lazy/execute.js";

type Core = CoreLazyTensor<boolean>;

/** The tf.Tensor each keops-ts tensor was copied from. */
const tfSource = new WeakMap<Tensor, tf.Tensor>();

/** A keops-ts tensor holding a copy of a tf.Tensor's values (float32 stays float32, int32 stays int32). */
export function fromTf(x: tf.Tensor): Tensor {
  if (x.dtype !== "float32" && x.dtype !== "int32") argError("x", "a float32 (or int32) tf.Tensor", said(`a ${x.dtype} tf.Tensor`));
  const v = x.dataSync();
  const t = new Tensor(x.dtype === "int32" ? Int32Array.from(v as Int32Array) : Float32Array.from(v as Float32Array), x.shape);
  tfSource.set(t, x);
  return t;
}

/** A tf.Tensor with a keops-ts tensor's values (float64 values are rounded to float32, tf's precision). */
export function toTf(t: Tensor): tf.Tensor {
  if (t.dtype === "int32") return tf.tensor(t.data as Int32Array, [...t.shape], "int32");
  return tf.tensor(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), [...t.shape], "float32");
}

/** A tf-flavoured value as its keops-ts counterpart (LazyTensors become views that reduce to tf.Tensors). */
function unwrap(a: unknown): unknown {
  if (a instanceof LazyTensor) return tfView(a.core);
  if (a instanceof tf.Tensor) return fromTf(a);
  return a;
}

/** A keops-ts result as its tf-flavoured counterpart. */
function wrap(r: unknown): unknown {
  if (r instanceof CoreLazyTensor) return LazyTensor.fromCore(r);
  if (r instanceof Tensor) return toTf(r);
  if (Array.isArray(r) && r.every((e) => e instanceof Tensor)) return r.map((e) => toTf(e as Tensor));
  if (r instanceof Promise) return r.then(wrap);
  return r;
}

/**
 * A view of a core LazyTensor whose reductions (every one goes through the internal `reduce`)
 * return tf.Tensors wired into tf's gradient tape.
 */
function tfView(core: Core): Core {
  return Object.create(core, {
    reduce: { value: (name: ReductionName, o: ReduceOptions, extra?: { K?: number; formula2?: Core }) => tfReduce(core, name, o, extra) },
  }) as Core;
}

/** The tf.Tensors a formula's bound data came from, with their variable indices. */
function tfInputs(fixed: Iterable<[number, { source: unknown }]>): { ind: number; x: tf.Tensor; t: Tensor }[] {
  const out: { ind: number; x: tf.Tensor; t: Tensor }[] = [];
  for (const [ind, b] of fixed) {
    const x = b.source instanceof Tensor ? tfSource.get(b.source) : undefined;
    if (x) out.push({ ind, x, t: b.source as Tensor });
  }
  return out;
}

/** Runs a reduction of `core` and returns tf.Tensors, differentiable with respect to its tf inputs. */
function tfReduce(core: Core, name: ReductionName, o: ReduceOptions, extra?: { K?: number; formula2?: Core }): unknown {
  const fn = core.reduce(name, { ...o, call: false, async: false }, extra) as KeOpsFunction<Tensor | [Tensor, Tensor]>;
  const spec = specOf(fn);
  if (o.call === false || spec.symbolic.length > 0) return fn;
  const raw = fn();
  const [vals, inds] = Array.isArray(raw) ? raw : [raw, undefined];
  let out: tf.Tensor | [tf.Tensor, tf.Tensor];
  if (vals.dtype === "int32") out = toTf(vals);
  else {
    const inputs = tfInputs(spec.fixed);
    const value = inputs.length === 0 ? toTf(vals) : tf.customGrad(() => ({
      value: toTf(vals),
      gradFunc: (dy: tf.Tensor) => {
        const vars = new Map<number, VarData>();
        for (const [ind, b] of spec.fixed) vars.set(ind, bindingData(ind, b));
        const g = reductionVjp(spec.call, vars, fromTf(dy), inputs.map((i) => i.ind), spec.dtype ?? "float32", vals);
        return inputs.map((i) => tf.tensor(Float32Array.from(g.get(i.ind)!.data), i.x.shape, "float32"));
      },
    }))(...inputs.map((i) => i.x));
    out = inds ? [value, toTf(inds)] : value;
  }
  return o.async ? Promise.resolve(out) : out;
}

/** Reduction options of the tf adapter. */
export type TfReduceOptions = ReduceOptions;

/** A value a tf-flavoured method accepts where keops-ts takes a LazyTensor or a tensor. */
type TfArg<A> = A extends CoreLazyTensor<boolean> ? A | LazyTensor : A extends Tensor ? A | tf.Tensor : A;
type TfArgs<A extends readonly unknown[]> = { [K in keyof A]: TfArg<A[K]> };
/** A keops-ts result in its tf flavour: LazyTensors wrapped, Tensors as tf.Tensors (as `wrap` does at run time). */
type Wrapped<R> = R extends CoreLazyTensor<boolean>
  ? LazyTensor
  : R extends Tensor
    ? tf.Tensor
    : R extends readonly [Tensor, Tensor]
      ? [tf.Tensor, tf.Tensor]
      : R extends Promise<infer P>
        ? Promise<Wrapped<P>>
        : R;
/**
 * Methods declared by hand: those with overloads (the inner sum/min/max/argmin/argmax or their
 * reductions), options holding a LazyTensor (logsumexp's weight), solve, matmul and internals.
 * Every other method — the reductions included, read from the core LazyTensor — is forwarded.
 */
type Special = "sum" | "logsumexp" | "min" | "max" | "argmin" | "argmax" | "matmul" | "solve" | "op" | "reduce" | "toString";
/** The core LazyTensor with data (not symbolic): its reductions return tensors. */
type CoreData = CoreLazyTensor<false>;
/** Every other LazyTensor method, with LazyTensor and Tensor results and operands in their tf flavour. */
type OpMethods = {
  [K in Exclude<keyof CoreData, Special> as CoreData[K] extends (...a: never[]) => unknown ? K : never]: CoreData[K] extends (...a: infer A) => infer R
    ? (...a: TfArgs<A>) => Wrapped<R>
    : never;
};

/** The forwarded methods (declaration merging with the class below). */
export interface LazyTensor extends OpMethods {}

/**
 * A keops-ts LazyTensor over tf.Tensors (pykeops.torch's LazyTensor): same construction rules
 * (`new LazyTensor(x)` with x of shape (…, M, 1, D), (…, 1, N, D) or (…, 1, 1, D); `(x, axis)`
 * with a 2-D x; numbers, arrays, `[ind, dim, cat]`), same operations; reductions and `solve`
 * return tf.Tensors.
 */
export class LazyTensor {
  /** The keops-ts LazyTensor. */
  readonly core: Core;

  constructor(x: tf.Tensor | TensorLike | number | readonly number[] | LazyTensor | Core, axis?: number) {
    if (x instanceof LazyTensor) this.core = x.core;
    else if (x instanceof CoreLazyTensor) this.core = x;
    else this.core = new CoreLazyTensor(x instanceof tf.Tensor ? fromTf(x) : x, axis);
  }

  /** Wraps a keops-ts LazyTensor. */
  static fromCore(core: Core): LazyTensor {
    return new LazyTensor(core);
  }

  /** The KeOps formula string. */
  get formula(): string { return this.core.formula; }
  /** `(…batch, M, N)` with the vector dim appended when it is not 1. */
  get shape(): number[] { return this.core.shape; }
  /** Vector dimension of the formula. */
  get ndim(): number { return this.core.ndim; }
  /** Number of batch dimensions. */
  get nbatchdims(): number { return this.core.nbatchdims; }
  /** Float dtype of the data. */
  get dtype(): string | undefined { return this.core.dtype; }
  /** Symbolic variables [ind, dim, cat]. */
  get symbolicVariables(): [number, number, number][] { return this.core.symbolicVariables; }
  /** Prints as pykeops prints. */
  toString(): string { return this.core.toString(); }

  private call(name: string, args: readonly unknown[]): unknown {
    const view = tfView(this.core) as unknown as Record<string, (...a: unknown[]) => unknown>;
    return wrap(view[name]!(...args.map(unwrap)));
  }

  /** The inner sum (no axis, or −1), or the Sum reduction over i (0) or j (1). */
  sum(): LazyTensor;
  sum(axis: -1): LazyTensor;
  sum(axisOrOptions: number | TfReduceOptions): tf.Tensor;
  sum(axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor {
    return this.call("sum", optArgs(axisOrOptions)) as LazyTensor | tf.Tensor;
  }
  /** Log-sum-exp reduction (optionally weighted). */
  logsumexp(axisOrOptions: number | (LogSumExpOptions & { weight?: LazyTensor | Core | tf.Tensor | number | readonly number[] })): tf.Tensor {
    return this.call("logsumexp", [typeof axisOrOptions === "object" && axisOrOptions.weight !== undefined ? { ...axisOrOptions, weight: unwrap(axisOrOptions.weight) } : axisOrOptions]) as tf.Tensor;
  }
  /** The inner minimum (no axis, or −1), or the Min reduction (gradient: to the selected pairs). */
  min(): LazyTensor;
  min(axis: -1): LazyTensor;
  min(axisOrOptions: number | TfReduceOptions): tf.Tensor;
  min(axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor { return this.call("min", optArgs(axisOrOptions)) as tf.Tensor; }
  /** The inner maximum, or the Max reduction. */
  max(): LazyTensor;
  max(axis: -1): LazyTensor;
  max(axisOrOptions: number | TfReduceOptions): tf.Tensor;
  max(axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor { return this.call("max", optArgs(axisOrOptions)) as tf.Tensor; }
  /** The inner argmin, or the ArgMin reduction (int32). */
  argmin(): LazyTensor;
  argmin(axis: -1): LazyTensor;
  argmin(axisOrOptions: number | TfReduceOptions): tf.Tensor;
  argmin(axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor { return this.call("argmin", optArgs(axisOrOptions)) as tf.Tensor; }
  /** The inner argmax, or the ArgMax reduction (int32). */
  argmax(): LazyTensor;
  argmax(axis: -1): LazyTensor;
  argmax(axisOrOptions: number | TfReduceOptions): tf.Tensor;
  argmax(axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor { return this.call("argmax", optArgs(axisOrOptions)) as tf.Tensor; }

  /** `K @ v`: Σ_j K_ij v_j, v of shape (N, Dv); differentiable in K's data and in v. */
  matmul(v: tf.Tensor | TensorLike): tf.Tensor {
    return this.mul(new LazyTensor(v, 1)).sum({ axis: this.nbatchdims + 1 });
  }

  /**
   * Solves (alpha·Id + K) a = b by conjugate gradient (K = this, symmetric positive definite); the
   * result is differentiable with respect to b and to the tf.Tensors K was built from.
   */
  solve(b: tf.Tensor | TensorLike, opts?: SolveOptions): tf.Tensor {
    if (typeof (CoreLazyTensor.prototype as { solve?: unknown }).solve !== "function")
      throw new KeOpsError("solve: not available in this build");
    const bt = b instanceof tf.Tensor ? fromTf(b) : b;
    if (opts && (opts as { call?: boolean }).call === false) throw new KeOpsError("solve: call: false is not supported by the tfjs adapter; use keops-ts's LazyTensor");
    const sv = solveWithVjp(this.core, bt, opts);
    const inputs = tfInputs(this.core.st.binds);
    const bx = b instanceof tf.Tensor ? b : undefined;
    const xs = [...inputs.map((i) => i.x), ...(bx ? [bx] : [])];
    if (xs.length === 0) return toTf(sv.a);
    return tf.customGrad(() => ({
      value: toTf(sv.a),
      gradFunc: (dy: tf.Tensor) => {
        const g = sv.backward(fromTf(dy));
        const grads = inputs.map((i) => {
          const t = g.data.get(i.t.data);
          return t ? tf.tensor(Float32Array.from(t.data), i.x.shape, "float32") : tf.zerosLike(i.x);
        });
        if (bx) grads.push(tf.tensor(Float32Array.from(g.b.data), bx.shape, "float32"));
        return grads;
      },
    }))(...xs);
  }

  /** `a + b` with any operand on the left. */
  static add(a: unknown, b: unknown): LazyTensor { return staticCall("add", [a, b]) as LazyTensor; }
  /** `a - b` (e.g. `LazyTensor.sub(2, x)`). */
  static sub(a: unknown, b: unknown): LazyTensor { return staticCall("sub", [a, b]) as LazyTensor; }
  /** `a * b`. */
  static mul(a: unknown, b: unknown): LazyTensor { return staticCall("mul", [a, b]) as LazyTensor; }
  /** `a / b`. */
  static div(a: unknown, b: unknown): LazyTensor { return staticCall("div", [a, b]) as LazyTensor; }
  /** `x.exp()`. */
  static exp(x: LazyTensor): LazyTensor { return x.exp(); }
  /** `x.sum(axisOrOptions)`. */
  static sum(x: LazyTensor, axisOrOptions?: number | TfReduceOptions): LazyTensor | tf.Tensor {
    return axisOrOptions === undefined ? x.sum() : x.sum(axisOrOptions as number);
  }
  /** `K.solve(b, opts)`. */
  static solve(K: LazyTensor, b: tf.Tensor | TensorLike, opts?: SolveOptions): tf.Tensor { return K.solve(b, opts); }
}

/** An optional axis-or-options argument as an argument list. */
function optArgs(x: unknown): unknown[] {
  return x === undefined ? [] : [x];
}

function staticCall(name: string, args: readonly unknown[]): unknown {
  const f = (CoreLazyTensor as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
  return wrap(f.apply(CoreLazyTensor, args.map(unwrap)));
}

// Every other method and static of keops-ts's LazyTensor, forwarded (LazyTensor results wrapped).
{
  const proto = LazyTensor.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(CoreLazyTensor.prototype)) {
    const d = Object.getOwnPropertyDescriptor(CoreLazyTensor.prototype, name)!;
    if (name in proto || typeof d.value !== "function") continue;
    Object.defineProperty(proto, name, {
      value: function (this: LazyTensor, ...args: unknown[]) {
        return (this as unknown as { call(n: string, a: unknown[]): unknown }).call(name, args);
      },
      writable: true, configurable: true,
    });
  }
  const statics = LazyTensor as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(CoreLazyTensor)) {
    const d = Object.getOwnPropertyDescriptor(CoreLazyTensor, name)!;
    if (name in statics || typeof d.value !== "function" || name === "fromState") continue;
    statics[name] = (...args: unknown[]) => staticCall(name, args);
  }
}

function helper(make: typeof coreVi | typeof corePm) {
  function h(ind: number, dim: number): LazyTensor;
  function h(x: tf.Tensor | TensorLike): LazyTensor;
  function h(x: tf.Tensor | TensorLike | number, dim?: number): LazyTensor {
    const core = dim !== undefined ? make(x as number, dim) : make((x instanceof tf.Tensor ? fromTf(x) : x) as TensorLike);
    return LazyTensor.fromCore(core);
  }
  return h;
}

/** An i-variable from a 2-D tf.Tensor (M, D), or the symbolic `Vi(ind, dim)`. */
export const Vi = helper(coreVi);
/** A j-variable from a 2-D tf.Tensor (N, D), or the symbolic `Vj(ind, dim)`. */
export const Vj = helper(coreVj);
/** A parameter from a 1-D tf.Tensor, or the symbolic `Pm(ind, dim)`. */
export const Pm = helper(corePm);

export { KeOpsError };
