/**
 * LazyTensor: the front end. A formula over parameters, i-variables and j-variables, with the
 * data bound to it; nothing is computed until a reduction is asked for.
 */
import { argError, said } from "../errors.js";
import { Var, apply, substitute, type Cat, type Formula, type OpDef } from "../formula/node.js";
import { AddOp, DivideOp, IntCstOp, MinusOp, MultOp, SubtractOp } from "../formula/ops/arith.js";
import { AbsOp, ExpOp, LogOp, PowOp, PowfOp, RsqrtOp, SqrtOp, SquareOp } from "../formula/ops/math.js";
import { ArgMaxOp, ArgMinOp, ElemOp, ExtractOp, MaxOp, MinOp, ScalprodOp, SqNorm2Op } from "../formula/ops/vector.js";
import { SumOp } from "../formula/ops/inner-sum.js";
import { reductionByName } from "../reductions/index.js";
import type { ReductionName } from "../reductions/types.js";
import { Tensor, asTensor, type FloatDType, type TensorData, type TensorLike } from "../tensor.js";
import {
  bindVariable, broadcastBatch, commonDtype, isSymbolic, numberVariables, type Binding, type LazyState,
} from "./bindings.js";
import { execute, executeAsync, type ReductionResult, type VarData } from "./execute.js";
import { makeKeOpsFunction, tuple, type KeOpsFunction } from "./keopsfunction.js";
import { lazySolve, type Solved, type SolvedAsync } from "../solve/lazy.js";
import type { SolveFunction } from "../solve/function.js";
import type { SolveOptions } from "../solve/options.js";
import { assignedRanges, mergeRanges, transposedRanges, type Ranges } from "../ranges/index.js";
import {
  REDUCE_KEYS, checkInner, execOptions, normaliseOptions, requireAxis,
  type InnerOptions, type KReduceOptions, type LogSumExpOptions, type ReduceOptions, type WithAxis,
} from "./options.js";

/** Options of {@link LazyTensor.matmul}: those of a sum reduction but the axis. */
export type MatmulOptions = Omit<ReduceOptions, "axis" | "dim">;

/** Options of {@link LazyTensor.sumsoftmaxweightReduction}: the weight and a reduction's options. */
export interface SumSoftMaxWeightOptions extends ReduceOptions {
  /** The values averaged with the softmax weights. */
  weight: Operand;
}

/** Anything a binary method accepts besides a LazyTensor: numbers, number arrays, 1-D tensors. */
export type Operand = LazyTensor<boolean> | number | readonly number[] | Tensor | Float32Array | Float64Array;

type Or<A extends boolean, B extends boolean> = A extends true ? true : B extends true ? true : false;

/**
 * What a reduction returns: a function when symbolic or `call: false`, a Promise with `async:
 * true`, either a Promise or the result when `async` is a `boolean` known only at run time.
 */
export type Reduced<S extends boolean, O, T> = O extends { call: false }
  ? KeOpsFunction<T>
  : S extends true
    ? KeOpsFunction<T>
    : O extends { async: true }
      ? Promise<T>
      : O extends { async: boolean }
        ? boolean extends O["async"] ? T | Promise<T> : T
        : T;

type State = LazyState;

function floatDtype(t: Tensor, what: string): FloatDType {
  if (t.dtype === "int32") argError(what, "float32 or float64 data", said("int32 data"));
  return t.dtype;
}

/** The list of numbers of a parameter given as a number, an array or a 1-D tensor; undefined otherwise. */
function numberList(x: unknown): readonly number[] | undefined {
  if (typeof x === "number") return [x];
  if (Array.isArray(x) && x.length > 0 && x.every((e) => typeof e === "number")) return x;
  return undefined;
}

function isSymbolicTriple(x: unknown): x is [number, number, Cat] {
  return (
    Array.isArray(x) && x.length === 3 && x.every((e) => Number.isInteger(e) && e >= 0) &&
    x[1] >= 1 && x[2] <= 2
  );
}

function fromData(source: Tensor | readonly number[], cat: Cat, dim: number, rows: number, batch: readonly number[], dtype: FloatDType | undefined): State {
  const { v, binding } = bindVariable({ source, cat, dim, rows, batch });
  return {
    f: v,
    binds: new Map([[v.ind, binding]]),
    ni: cat === 0 ? rows : undefined,
    nj: cat === 1 ? rows : undefined,
    batch,
    dtype,
  };
}

function stateOf(x: unknown, axis: number | undefined): State {
  // numbers and lists of numbers: integer constants and parameters without a dtype
  if (typeof x === "number") {
    if (axis !== undefined && axis !== 2) argError("axis", "2 or nothing for a number", axis);
    if (Number.isSafeInteger(x)) return { f: apply(IntCstOp, [], [x]), binds: new Map(), ni: undefined, nj: undefined, batch: [], dtype: undefined };
    return fromData([x], 2, 1, 1, [], undefined);
  }
  if (isSymbolicTriple(x) && axis === undefined) {
    const [ind, dim, cat] = x;
    return { f: Var(ind, dim, cat), binds: new Map(), ni: undefined, nj: undefined, batch: [], dtype: undefined };
  }
  const list = numberList(x);
  if (list) {
    if (axis !== undefined && axis !== 2) argError("axis", "2 or nothing for a list of numbers", axis);
    return fromData([...list], 2, list.length, 1, [], undefined);
  }
  if (!(x instanceof Tensor) && !ArrayBuffer.isView(x) && !Array.isArray(x))
    argError("x", "a number, an array of numbers, a Tensor or [ind, dim, cat]", x);
  const t = asTensor(x as TensorLike, "x");
  const dtype = floatDtype(t, "x");
  const sh = t.shape;
  if (sh.length >= 3) {
    if (axis !== undefined) argError("axis", "nothing for a tensor of 3 or more dimensions (the axis is read from its shape)", axis);
    const [a, b, D] = sh.slice(-3) as [number, number, number];
    const batch = sh.slice(0, -3);
    if (a === 1 && b === 1) return fromData(t, 2, D, 1, batch, dtype);
    if (a === 1) return fromData(t, 1, D, b, batch, dtype);
    if (b === 1) return fromData(t, 0, D, a, batch, dtype);
    argError("x", "a shape (…, M, 1, D), (…, 1, N, D) or (…, 1, 1, D)", t);
  }
  if (sh.length === 2 && axis !== 2) {
    if (axis !== 0 && axis !== 1) argError("axis", "0 or 1 for a 2-D tensor", axis);
    return fromData(t, axis, sh[1]!, sh[0]!, [], dtype);
  }
  if (sh.length <= 1 || axis === 2) {
    if (axis !== undefined && axis !== 2) argError("axis", "2 or nothing for a 1-D tensor", axis);
    const D = sh.length === 0 ? 1 : sh[sh.length - 1]!;
    if (D === 0) argError("x", "a non-empty parameter", t);
    return fromData(t, 2, D, 1, sh.slice(0, -1), dtype);
  }
  return argError("x", "a tensor of 0 to 3+ dimensions", t);
}

function combine(states: readonly State[], f: Formula, what: string): State {
  const binds = new Map<number, Binding>();
  let ni: number | undefined, nj: number | undefined;
  let batch: number[] = [];
  let dtype: FloatDType | undefined;
  let ranges: Ranges | undefined;
  for (const s of states) {
    ranges = mergeRanges(ranges, s.ranges, what);
    for (const [k, b] of s.binds) binds.set(k, b);
    if (s.ni !== undefined) {
      if (ni !== undefined && ni !== s.ni) argError(what, `i-variables with the same number of rows M`, said(`M = ${ni} and M = ${s.ni}`));
      ni = s.ni;
    }
    if (s.nj !== undefined) {
      if (nj !== undefined && nj !== s.nj) argError(what, `j-variables with the same number of rows N`, said(`N = ${nj} and N = ${s.nj}`));
      nj = s.nj;
    }
    batch = broadcastBatch(batch, s.batch, what);
    dtype = commonDtype(dtype, s.dtype, what);
  }
  return { f, binds, ni, nj, batch, dtype, ranges };
}

/**
 * A symbolic M×N (×D) tensor: a formula and the data it reads. `S` is true when the formula has
 * symbolic variables (so reductions return a {@link KeOpsFunction}).
 */
export class LazyTensor<S extends boolean = false> {
  /** @internal */
  readonly st: State;

  /**
   * Creates a LazyTensor, as pykeops does: a number (integer → `IntCst`, else a parameter), an
   * array of numbers or a 1-D tensor (a parameter), a 2-D tensor with `axis` 0 (i) or 1 (j), a
   * tensor of shape (…, M, 1, D), (…, 1, N, D) or (…, 1, 1, D), or `[ind, dim, cat]` (symbolic).
   * A 3-element array of non-negative integers with dim ≥ 1 and cat ≤ 2 is read as symbolic; give
   * such a parameter as a typed array or tensor.
   */
  constructor(x: unknown, axis?: number) {
    this.st = x instanceof LazyTensor ? x.st : stateOf(x, axis);
  }

  /** @internal */
  static fromState<S extends boolean>(st: State): LazyTensor<S> {
    const l = Object.create(LazyTensor.prototype) as LazyTensor<S>;
    (l as { st: State }).st = st;
    return l;
  }

  /** Vector dimension of the formula (pykeops's `ndim`). */
  get ndim(): number {
    return this.st.f.dim;
  }
  /** Number of batch dimensions. */
  get nbatchdims(): number {
    return this.st.batch.length;
  }
  /** Batch dimensions. */
  get batchdims(): readonly number[] {
    return this.st.batch;
  }
  /** Float dtype of the data, undefined while only numbers and symbolic variables are involved. */
  get dtype(): FloatDType | undefined {
    return this.st.dtype;
  }
  /** `(…batch, M, N)` with the vector dim appended when it is not 1 (M, N are 1 when unknown). */
  get shape(): number[] {
    return this.shapeOf(this.st);
  }
  private shapeOf(st: State): number[] {
    const s = [...st.batch, st.ni ?? 1, st.nj ?? 1];
    if (this.st.f.dim !== 1) s.push(this.st.f.dim);
    return s;
  }
  /** The KeOps formula string (variables numbered as pykeops numbers them). */
  get formula(): string {
    return numberVariables([this.st.f], this.st.binds).formulas[0]!.toString();
  }
  /** The symbolic variables [ind, dim, cat], in order of appearance. */
  get symbolicVariables(): [number, number, Cat][] {
    return this.st.f.vars().filter(isSymbolic).map((v) => [v.ind, v.dim, v.cat]);
  }
  /**
   * Block-sparsity pattern used by this LazyTensor's reductions when they are given no `ranges`
   * option (pykeops's `K.ranges = from_matrix(…)`; `undefined` or `null` restores the dense
   * reduction). Carried by operations on it; `t()` swaps its halves.
   */
  get ranges(): Ranges | undefined {
    return this.st.ranges;
  }
  set ranges(r: Ranges | undefined | null) {
    (this as { st: State }).st = { ...this.st, ranges: assignedRanges(r) };
  }
  /** @internal the formula node (with placeholder variables). */
  get node(): Formula {
    return this.st.f;
  }

  /** Prints exactly as pykeops prints. */
  toString(): string {
    const lines = ["KeOps LazyTensor", `    formula: ${this.formula}`];
    const sym = this.symbolicVariables;
    if (sym.length) lines.push(`    symbolic variables: ${sym.map(([i, d, c]) => `Var(${i}, ${d}, ${c})`).join(", ")}`);
    lines.push(`    shape: ${tuple(this.shape)}`);
    return lines.join("\n");
  }

  // ---- building blocks -----------------------------------------------------------------------

  /** @internal applies an op to this and other operands. */
  op<R extends boolean = S>(def: OpDef, others: readonly Operand[] = [], attrs: readonly number[] = []): LazyTensor<R> {
    if (others.some(isComplexLazy) && !isComplexLazy(this)) {
      const r = complexOperandHook(def, this, others);
      if (r) return r as LazyTensor<R>;
    }
    const states = [this.st, ...others.map((o, k) => operandState(o, `operand ${k + 1} of ${def.name}`))];
    const f = apply(def, states.map((s) => s.f), attrs);
    return LazyTensor.fromState<R>(combine(states, f, def.name));
  }

  // ---- arithmetic ----------------------------------------------------------------------------

  /** `this + other`. */
  add<T extends boolean = false>(other: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Or<S, T>> {
    if (other === 0) return this as LazyTensor<Or<S, T>>;
    return this.op(AddOp, [other]);
  }
  /** `this - other`. */
  sub<T extends boolean = false>(other: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Or<S, T>> {
    if (other === 0) return this as LazyTensor<Or<S, T>>;
    return this.op(SubtractOp, [other]);
  }
  /** `this * other` (element-wise, broadcasting dim 1). */
  mul<T extends boolean = false>(other: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Or<S, T>> {
    if (other === 1) return this as LazyTensor<Or<S, T>>;
    if (other === -1) return this.neg() as LazyTensor<Or<S, T>>;
    return this.op(MultOp, [other]);
  }
  /** `this / other`. */
  div<T extends boolean = false>(other: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Or<S, T>> {
    if (other === 1) return this as LazyTensor<Or<S, T>>;
    return this.op(DivideOp, [other]);
  }
  /** `-this`. */
  neg(): LazyTensor<S> {
    return this.op(MinusOp);
  }
  /** `|this|`. */
  abs(): LazyTensor<S> {
    return this.op(AbsOp);
  }
  /** Element-wise exponential. */
  exp(): LazyTensor<S> {
    return this.op(ExpOp);
  }
  /** Element-wise natural logarithm. */
  log(): LazyTensor<S> {
    return this.op(LogOp);
  }
  /** Element-wise square root. */
  sqrt(): LazyTensor<S> {
    return this.op(SqrtOp);
  }
  /** Element-wise square. */
  square(): LazyTensor<S> {
    return this.op(SquareOp);
  }
  /**
   * `this ** p`, with pykeops's rules: 2 → Square, 0.5 → Sqrt, −0.5 → Rsqrt, other integers →
   * Pow, anything else (a float or a LazyTensor) → Powf.
   */
  pow<T extends boolean = false>(p: number | LazyTensor<T>): LazyTensor<Or<S, T>> {
    if (p === 2) return this.square() as LazyTensor<Or<S, T>>;
    if (p === 0.5) return this.sqrt() as LazyTensor<Or<S, T>>;
    if (p === -0.5) return this.op(RsqrtOp);
    if (typeof p === "number" && Number.isSafeInteger(p)) return this.op(PowOp, [], [p]);
    if (typeof p !== "number" && !(p instanceof LazyTensor)) argError("p", "a number or a LazyTensor", p);
    return this.op(PowfOp, [p]);
  }

  // ---- vector operations ---------------------------------------------------------------------

  /** Squared Euclidean norm over the vector dimension. */
  sqnorm2(): LazyTensor<S> {
    return this.op(SqNorm2Op);
  }
  /** Scalar product `(this | other)` (pykeops `|`). */
  dot<T extends boolean = false>(other: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Or<S, T>> {
    return this.op(ScalprodOp, [other]);
  }
  /** Component `k` (pykeops `x[k]`). */
  elem(k: number): LazyTensor<S> {
    return this.op(ElemOp, [], [k]);
  }
  /** Components start … start+len−1 (pykeops `x[start:start+len]`). */
  extract(start: number, len: number): LazyTensor<S> {
    return this.op(ExtractOp, [], [start, len]);
  }
  /** Components start … end−1 (pykeops `x[start:end]`); negative indices count from the end. */
  slice(start: number, end?: number): LazyTensor<S> {
    const D = this.ndim;
    const norm = (k: number): number => (k < 0 ? D + k : k);
    const s = norm(start);
    const e = end === undefined ? D : norm(end);
    return this.extract(s, e - s);
  }

  // ---- reductions ----------------------------------------------------------------------------

  /**
   * Sum. With no axis (or axis −1, or the vector axis): the sum over the vector dimension, a new
   * LazyTensor. With axis 0 or 1: the sum reduction over i or j.
   */
  sum(): LazyTensor<S>;
  sum(axis: -1): LazyTensor<S>;
  sum(options: InnerOptions): LazyTensor<S>;
  sum<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  sum(options: ReduceOptions): LazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  sum(axisOrOptions?: number | ReduceOptions): unknown {
    const o = normaliseOptions(axisOrOptions, "sum", REDUCE_KEYS);
    const axis = o.axis ?? o.dim;
    if (axis === undefined || axis === -1 || axis === this.nbatchdims + 2) return checkInner(o, "sum"), this.op(SumOp);
    return this.reduce("Sum", o);
  }
  /** Sum reduction over i (axis 0) or j (axis 1). */
  sumReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("Sum", normaliseOptions(axisOrOptions)) as Reduced<S, O, Tensor>;
  }

  /** @internal runs (or packages) a reduction. */
  reduce(name: ReductionName, o: ReduceOptions, extra: { K?: number; formula2?: LazyTensor<boolean> } = {}): unknown {
    const red = reductionByName(name)!;
    const raw = requireAxis(o, name, red.usesK, this.nbatchdims);
    const axis = raw - this.nbatchdims;
    if (axis !== 0 && axis !== 1)
      argError("axis", this.nbatchdims ? `${this.nbatchdims} or ${this.nbatchdims + 1} (0 or 1 offset by ${this.nbatchdims} batch dims)` : "0 or 1", raw);
    red.check({ fdim: this.st.f.dim, gdim: extra.formula2?.st.f.dim, K: extra.K });
    const K = red.usesK ? (extra.K as number) : 1;
    const states = extra.formula2 ? [this.st, extra.formula2.st] : [this.st];
    const all = combine(states, this.st.f, name);
    // ranges assigned with `K.ranges = …` apply when the call gives none
    const ex = execOptions(o.ranges === undefined && all.ranges ? { ...o, ranges: all.ranges } : o);
    const num = numberVariables(states.map((s) => s.f), all.binds);
    const call = { formula: num.formulas[0]!, formula2: num.formulas[1], reduction: red, axis: axis as 0 | 1, K, opts: ex };
    // printed shape: pykeops shows the LazyTensor's (…, M, N, D) with D the formula's dim
    const spec = { call, fixed: num.fixed, symbolic: num.symbolic, shape: this.shapeOf(all), dtype: all.dtype };
    if (o.call === false || num.symbolic.length > 0) return makeKeOpsFunction<ReductionResult>(spec);
    const vars = new Map<number, VarData>();
    for (const [ind, b] of num.fixed)
      vars.set(ind, {
        data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data as TensorData,
        cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
      });
    if (o.async) return executeAsync(call, vars, all.dtype);
    return execute(call, vars, all.dtype);
  }

  /** Log-sum-exp over i or j (stable, online); with `weight`: log Σ exp(F)·weight. */
  logsumexp<O extends LogSumExpOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    const o = normaliseOptions<LogSumExpOptions>(axisOrOptions);
    const w = o.weight === undefined ? undefined : toLazy(o.weight as Operand, "weight");
    return this.reduce("LogSumExp", o, { formula2: w }) as Reduced<S, O, Tensor>;
  }
  /** Σ exp(F)·weight / Σ exp(F) over i or j (F scalar). */
  sumsoftmaxweight<O extends ReduceOptions & WithAxis>(weight: Operand, axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("SumSoftMaxWeight", normaliseOptions(axisOrOptions), { formula2: toLazy(weight, "weight") }) as Reduced<S, O, Tensor>;
  }
  /**
   * Minimum. With no axis (or axis −1, or the vector axis): the minimum over the vector dimension
   * (`Min`, a new LazyTensor). With axis 0 or 1: the min reduction over i or j (per component).
   */
  min(): LazyTensor<S>;
  min(axis: -1): LazyTensor<S>;
  min(options: InnerOptions): LazyTensor<S>;
  min<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  min(options: ReduceOptions): LazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  min(axisOrOptions?: number | ReduceOptions): unknown {
    return this.innerOrReduce(MinOp, "Min", axisOrOptions);
  }
  /** Maximum: over the vector dimension without an axis (`Max`), else the max reduction over i or j. */
  max(): LazyTensor<S>;
  max(axis: -1): LazyTensor<S>;
  max(options: InnerOptions): LazyTensor<S>;
  max<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  max(options: ReduceOptions): LazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  max(axisOrOptions?: number | ReduceOptions): unknown {
    return this.innerOrReduce(MaxOp, "Max", axisOrOptions);
  }
  /**
   * Index of the minimum: over the vector dimension without an axis (`ArgMin`, a float index),
   * else the argmin reduction over i or j (int32; ties: lowest index; −1 over an empty range).
   */
  argmin(): LazyTensor<S>;
  argmin(axis: -1): LazyTensor<S>;
  argmin(options: InnerOptions): LazyTensor<S>;
  argmin<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  argmin(options: ReduceOptions): LazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  argmin(axisOrOptions?: number | ReduceOptions): unknown {
    return this.innerOrReduce(ArgMinOp, "ArgMin", axisOrOptions);
  }
  /** Index of the maximum: over the vector dimension without an axis (`ArgMax`), else the argmax reduction. */
  argmax(): LazyTensor<S>;
  argmax(axis: -1): LazyTensor<S>;
  argmax(options: InnerOptions): LazyTensor<S>;
  argmax<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  argmax(options: ReduceOptions): LazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  argmax(axisOrOptions?: number | ReduceOptions): unknown {
    return this.innerOrReduce(ArgMaxOp, "ArgMax", axisOrOptions);
  }
  /** The inner vector op without an axis (or axis −1 / the vector axis), else the reduction. */
  private innerOrReduce(inner: OpDef, red: ReductionName, axisOrOptions: number | ReduceOptions | undefined): unknown {
    const method = red.toLowerCase();
    const o = normaliseOptions(axisOrOptions, method, REDUCE_KEYS);
    const axis = o.axis ?? o.dim;
    if (axis === undefined || axis === -1 || axis === this.nbatchdims + 2) return checkInner(o, method), this.op(inner);
    return this.reduce(red, o);
  }
  /** [min, argmin] in one pass. */
  minArgmin<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, [Tensor, Tensor]> {
    return this.reduce("MinArgMin", normaliseOptions(axisOrOptions)) as Reduced<S, O, [Tensor, Tensor]>;
  }
  /** [max, argmax] in one pass. */
  maxArgmax<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, [Tensor, Tensor]> {
    return this.reduce("MaxArgMax", normaliseOptions(axisOrOptions)) as Reduced<S, O, [Tensor, Tensor]>;
  }
  /** The K smallest values, sorted ascending: (M, K) for a scalar formula, (M, K, D) otherwise. */
  Kmin<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, Tensor> {
    return this.reduce("KMin", normaliseOptions(opts), { K: opts.K }) as Reduced<S, O, Tensor>;
  }
  /** Indices of the K smallest values (int32, ties to the lowest index). */
  argKmin<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, Tensor> {
    return this.reduce("ArgKMin", normaliseOptions(opts), { K: opts.K }) as Reduced<S, O, Tensor>;
  }
  /** [Kmin, argKmin] in one pass. */
  KminArgKmin<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, [Tensor, Tensor]> {
    return this.reduce("KMinArgKMin", normaliseOptions(opts), { K: opts.K }) as Reduced<S, O, [Tensor, Tensor]>;
  }

  // ---- pykeops's `*_reduction` names: always the reduction (never the inner vector op) -----------

  /** Log-sum-exp reduction (pykeops `logsumexp_reduction`): {@link logsumexp}. */
  logsumexpReduction<O extends LogSumExpOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.logsumexp(axisOrOptions);
  }
  /** Softmax-weighted sum (pykeops `sumsoftmaxweight_reduction(weight=…, axis=…)`): {@link sumsoftmaxweight}. */
  sumsoftmaxweightReduction<O extends SumSoftMaxWeightOptions & WithAxis>(opts: O): Reduced<S, O, Tensor> {
    if (typeof opts !== "object" || opts === null || opts.weight === undefined) argError("weight", "a weight (the values averaged), in the options", opts?.weight);
    const { weight, ...rest } = opts;
    return this.sumsoftmaxweight(weight, rest as ReduceOptions & WithAxis) as Reduced<S, O, Tensor>;
  }
  /** Min reduction over i or j (pykeops `min_reduction`; an axis is required). */
  minReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("Min", normaliseOptions(axisOrOptions)) as Reduced<S, O, Tensor>;
  }
  /** Max reduction (pykeops `max_reduction`). */
  maxReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("Max", normaliseOptions(axisOrOptions)) as Reduced<S, O, Tensor>;
  }
  /** Argmin reduction (pykeops `argmin_reduction`), int32. */
  argminReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("ArgMin", normaliseOptions(axisOrOptions)) as Reduced<S, O, Tensor>;
  }
  /** Argmax reduction (pykeops `argmax_reduction`), int32. */
  argmaxReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor> {
    return this.reduce("ArgMax", normaliseOptions(axisOrOptions)) as Reduced<S, O, Tensor>;
  }
  /** [min, argmin] (pykeops `min_argmin_reduction`). */
  minArgminReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, [Tensor, Tensor]> {
    return this.minArgmin(axisOrOptions);
  }
  /** [max, argmax] (pykeops `max_argmax_reduction`). */
  maxArgmaxReduction<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, [Tensor, Tensor]> {
    return this.maxArgmax(axisOrOptions);
  }
  /** The K smallest values (pykeops `Kmin_reduction`). */
  KminReduction<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, Tensor> {
    return this.Kmin(opts);
  }
  /** Indices of the K smallest values (pykeops `argKmin_reduction`). */
  argKminReduction<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, Tensor> {
    return this.argKmin(opts);
  }
  /** [Kmin, argKmin] (pykeops `Kmin_argKmin_reduction`). */
  KminArgKminReduction<O extends KReduceOptions & WithAxis>(opts: O): Reduced<S, O, [Tensor, Tensor]> {
    return this.KminArgKmin(opts);
  }

  // ---- linear operator ------------------------------------------------------------------------

  /**
   * `K @ v`, as pykeops: K a scalar formula (trailing dimension 1) seen as an M×N matrix, v of
   * shape (N,) → (M,), (N, Dv) → (M, Dv), or (…batch, N, Dv) → (…batch, M, Dv) with the batch
   * dims broadcast against K's: the Sum reduction over j of K_ij · v_j. Options: those of `sum`
   * except the axis (`sumScheme`, `dtypeAcc`, `backend`, `async`, `call`).
   */
  matmul<O extends MatmulOptions = {}>(v: TensorLike, opts?: O): Reduced<S, O, Tensor> {
    const o = (opts ?? {}) as MatmulOptions;
    if (typeof o !== "object" || o === null) argError("opts", "an options object", o);
    if ("axis" in o || "dim" in o)
      argError("opts", "no axis (K @ v always sums over j)", said(`axis ${(o as ReduceOptions).axis ?? (o as ReduceOptions).dim}`));
    if (this.ndim !== 1)
      argError("K", "a LazyTensor whose trailing dimension is 1 (a scalar formula) for K @ v", said(`shape ${tuple(this.shape)}`));
    const t = asTensor(v, "v");
    if (t.dtype === "int32") argError("v", "float32 or float64 data", said("int32 data"));
    if (t.ndim === 0) argError("v", "a tensor of shape (N,), (N, Dv) or (…batch, N, Dv)", t);
    const N = t.shape.length === 1 ? t.shape[0]! : t.shape[t.shape.length - 2]!;
    if (this.st.nj !== undefined && N !== this.st.nj)
      argError("v", `${this.st.nj} rows (K is ${tuple(this.shape)}, so v is (${this.st.nj},) or (…, ${this.st.nj}, Dv))`, said(`shape ${tuple(t.shape)}`));
    const oneD = t.ndim === 1;
    const shaped = oneD ? t.reshape([1, N, 1]) : t.reshape([...t.shape.slice(0, -2), 1, N, t.shape[t.shape.length - 1]!]);
    const Kv = this.mul(new LazyTensor(shaped));
    const out = Kv.reduce("Sum", { ...o, axis: Kv.nbatchdims + 1 });
    if (!oneD) return out as Reduced<S, O, Tensor>;
    const flat = (r: Tensor): Tensor => r.reshape([r.data.length]);
    if (out instanceof Tensor) return flat(out) as Reduced<S, O, Tensor>;
    if (out instanceof Promise) return out.then(flat) as Reduced<S, O, Tensor>;
    return argError("v", "a 2-D (N, Dv) tensor when K @ v returns a function (symbolic variables or call: false): the 1-D form reshapes a computed result", t);
  }

  /** `K @ v` (pykeops `matvec`, for scipy-style linear operators): {@link matmul}. */
  matvec<O extends MatmulOptions = {}>(v: TensorLike, opts?: O): Reduced<S, O, Tensor> {
    return this.matmul(v, opts);
  }
  /** `Kᵀ @ v` (pykeops `rmatvec`): `K.T.matmul(v)`. */
  rmatvec<O extends MatmulOptions = {}>(v: TensorLike, opts?: O): Reduced<S, O, Tensor> {
    return this.T.matmul(v, opts);
  }

  /**
   * Solves (alpha·Id + K) a = b by conjugate gradient, K = this (scalar, symmetric positive
   * definite), b of shape (…, M, Dv) or (M,): all columns in one reduction per iteration. Stops
   * when ‖r‖² < M·eps² per column (KeOps's rule), raises a `SolveConvergenceError` with the
   * residual reached after `maxIter` iterations. With `call: false` or symbolic variables (in K,
   * or b given as `Vi(ind, dim)`): a function of the symbolic variables (with a `vjp`). With
   * `async: true`: a Promise, each reduction running off the calling thread.
   */
  solve(b: LazyTensor<true>, opts?: SolveOptions): SolveFunction;
  solve(b: TensorLike | LazyTensor<boolean>, opts: SolveOptions & { call: false }): SolveFunction;
  solve(b: TensorLike | LazyTensor<boolean>, opts: SolveOptions & { async: true }): SolvedAsync<S>;
  solve(b: TensorLike | LazyTensor<boolean>, opts?: SolveOptions): Solved<S>;
  solve(b: TensorLike | LazyTensor<boolean>, opts?: SolveOptions): Tensor | SolveFunction | Promise<Tensor> {
    return lazySolve(this, b, opts);
  }

  /** The transpose, `this.t()` (pykeops's NumPy-style `K.T`). */
  get T(): LazyTensor<S> {
    return this.t();
  }

  /** Swaps the roles of i and j. */
  t(): LazyTensor<S> {
    const swap = (c: Cat): Cat => (c === 2 ? 2 : ((1 - c) as Cat));
    const binds = new Map<number, Binding>();
    const renum = new Map<number, Formula>();
    for (const v of this.st.f.vars()) {
      if (v.cat === 2) continue;
      if (isSymbolic(v)) {
        renum.set(v.uid, Var(v.ind, v.dim, swap(v.cat)));
        continue;
      }
      const b = this.st.binds.get(v.ind)!;
      const { v: nv, binding } = bindVariable({ ...b, cat: swap(b.cat) });
      binds.set(nv.ind, binding);
      renum.set(v.uid, nv);
    }
    for (const [k, b] of this.st.binds) if (b.cat === 2) binds.set(k, b);
    const f = substitute(this.st.f, (v) => renum.get(v.uid));
    return LazyTensor.fromState({ ...this.st, f, binds, ni: this.st.nj, nj: this.st.ni, ranges: transposedRanges(this.st.ranges) });
  }

  // ---- static forms --------------------------------------------------------------------------

  /** `a + b` with any operand on the left. */
  static add(a: Operand, b: Operand): LazyTensor<boolean> { return a === 0 ? toLazy(b, "b") : toLazy(a, "a").add(b as never); }
  /** `a - b` (e.g. `LazyTensor.sub(2, x)`). */
  static sub(a: Operand, b: Operand): LazyTensor<boolean> { return a === 0 ? toLazy(b, "b").neg() : toLazy(a, "a").sub(b as never); }
  /** `a * b`. */
  static mul(a: Operand, b: Operand): LazyTensor<boolean> { return a === 1 ? toLazy(b, "b") : toLazy(a, "a").mul(b as never); }
  /** `a / b` (`LazyTensor.div(1, x)` is `Inv(x)`, as pykeops's `1 / x`). */
  static div(a: Operand, b: Operand): LazyTensor<boolean> { return a === 1 ? toLazy(b, "b").inv() : toLazy(a, "a").div(b as never); }
  /** `x.exp()`. */
  static exp<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.exp(); }
  /** `x.log()`. */
  static log<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.log(); }
  /** `x.sqrt()`. */
  static sqrt<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.sqrt(); }
  /** `x.abs()`. */
  static abs<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.abs(); }
  /** `x.square()`. */
  static square<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.square(); }
  /** `x.sqnorm2()`. */
  static sqnorm2<S extends boolean>(x: LazyTensor<S>): LazyTensor<S> { return x.sqnorm2(); }
  /** `K.solve(b, opts)`: solves (alpha·Id + K) a = b by conjugate gradient. */
  static solve(K: LazyTensor<boolean>, b: LazyTensor<true>, opts?: SolveOptions): SolveFunction;
  static solve(K: LazyTensor<boolean>, b: TensorLike | LazyTensor<boolean>, opts: SolveOptions & { call: false }): SolveFunction;
  static solve<S extends boolean>(K: LazyTensor<S>, b: TensorLike | LazyTensor<boolean>, opts: SolveOptions & { async: true }): SolvedAsync<S>;
  static solve<S extends boolean>(K: LazyTensor<S>, b: TensorLike | LazyTensor<boolean>, opts?: SolveOptions): Solved<S>;
  static solve(K: LazyTensor<boolean>, b: TensorLike | LazyTensor<boolean>, opts?: SolveOptions): Tensor | SolveFunction | Promise<Tensor> {
    return lazySolve(K, b, opts);
  }
  /** `x.sum(axisOrOptions)`: the inner sum without an axis (or −1), else the sum reduction. */
  static sum<S extends boolean>(x: LazyTensor<S>, axis?: -1 | InnerOptions): LazyTensor<S>;
  static sum<S extends boolean, O extends ReduceOptions & WithAxis>(x: LazyTensor<S>, axisOrOptions: number | O): Reduced<S, O, Tensor>;
  static sum<S extends boolean>(x: LazyTensor<S>, axisOrOptions?: number | ReduceOptions): unknown {
    return x.sum(axisOrOptions as number);
  }
}

/** Whether an operand is a ComplexLazyTensor (src/complex marks its prototype). */
function isComplexLazy(o: unknown): boolean {
  return o instanceof LazyTensor && (o as { isComplex?: boolean }).isComplex === true;
}
/** The result of a real op with a complex operand, or undefined for a complex op (built as usual). */
type ComplexOperandHook = (def: OpDef, self: LazyTensor<boolean>, others: readonly Operand[]) => LazyTensor<boolean> | undefined;
let complexOperandHook: ComplexOperandHook = (def) => argError(def.name, "real operands", said("a ComplexLazyTensor"));
/**
 * @internal installs what a real LazyTensor's op does with a complex operand (src/complex: `x.add(z)`
 * is `x.real2complex().add(z)`, as in pykeops; ops with no complex meaning are errors).
 */
export function setComplexOperandHook(h: ComplexOperandHook): void {
  complexOperandHook = h;
}

/** Converts an operand to a LazyTensor state. */
function operandState(o: Operand, what: string): State {
  if (o instanceof LazyTensor) return o.st;
  if (typeof o === "number") return stateOf(o, undefined);
  const list = numberList(o);
  if (list) return fromData([...list], 2, list.length, 1, [], undefined);
  if (o instanceof Tensor || o instanceof Float32Array || o instanceof Float64Array) {
    const t = asTensor(o, what);
    if (t.ndim > 1) argError(what, "a LazyTensor, a number, an array of numbers or a 1-D tensor", t);
    return stateOf(t, undefined);
  }
  return argError(what, "a LazyTensor, a number, an array of numbers or a 1-D tensor", o);
}

/** Any operand as a LazyTensor. */
export function toLazy(o: Operand, what: string): LazyTensor<boolean> {
  return o instanceof LazyTensor ? o : LazyTensor.fromState(operandState(o, what));
}

