/**
 * SolveFunction: a solve packaged as a callable, the way a reduction becomes a KeOpsFunction.
 * Returned by `kernelSolve` and by `K.solve(b, { call: false })` (or when K has symbolic
 * variables); its `vjp` gives the gradients with respect to every argument.
 */
import { INSPECT } from "../inspect.js";
import { checkMode } from "../backends/registry.js";
import { KeOpsError, argError, said } from "../errors.js";
import type { Cat } from "../formula/node.js";
import type { ReductionCall, VarData } from "../lazy/execute.js";
import { argumentData, tuple } from "../lazy/keopsfunction.js";
import { Tensor, asTensor, type FloatDType, type TensorLike } from "../tensor.js";
import type { CgResult } from "./cg.js";
import { solveParams, type SolveOptions, type SolveParams } from "./options.js";
import { checkRanges } from "../ranges/index.js";
import {
  checkDtype, expandBatch, solveFlat, solveFlatAsync, systemShape, toTensor, type LinearSystem, type SystemShape,
} from "./system.js";
import { solveBackwardSteps } from "./vjp.js";
import { runSteps, runStepsAsync, type ReductionSteps } from "../lazy/steps.js";
import { sumToOwnBatch } from "../autodiff/layout.js";

/** Everything a solve is made of. */
export interface SolveSpec {
  /** The Sum reduction, linear in `Var(pInd, Dv, call.axis)`. */
  readonly call: ReductionCall;
  readonly pInd: number;
  readonly Dv: number;
  /** Data of the fixed variables. */
  readonly fixed: ReadonlyMap<number, VarData>;
  /** Call arguments: symbolic variables [ind, dim, cat] in call order. */
  readonly args: readonly (readonly [number, number, Cat])[];
  /** Position of the right-hand side among the arguments (kernelSolve), or undefined. */
  readonly bPos: number | undefined;
  /** The right-hand side when it is fixed (LazyTensor.solve). */
  readonly b: Tensor | undefined;
  readonly dtype: FloatDType | undefined;
  /** Default options (those given when the function was made). */
  readonly options: SolveOptions;
  /** What `toString` prints. */
  readonly printed: string;
}

/** A solve as a callable: arguments in order, then optional options (alpha, eps, …). */
export interface SolveFunction {
  /** Solves for the given arguments; the options override those given when it was made. */
  (...args: (TensorLike | SolveOptions)[]): Tensor;
  /**
   * Gradients of ⟨a, gradOut⟩ (a = this function's result) with respect to each argument, shaped
   * like it: the right-hand side's is another solve, each variable of K's one more reduction.
   * With `async: true` in the options, a Promise of them, every reduction run as an async call
   * (so on an async-only backend, webgpu, too).
   */
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts?: SolveOptions & { async?: false }): Tensor[];
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts: SolveOptions & { async: true }): Promise<Tensor[]>;
  vjp(args: readonly TensorLike[], gradOut: TensorLike, opts?: SolveOptions): Tensor[] | Promise<Tensor[]>;
  /** Same, with each reduction run off the calling thread. */
  callAsync(...args: (TensorLike | SolveOptions)[]): Promise<Tensor>;
  /** Iterations and residual of the latest solve (forward, then the backward one after a vjp). */
  readonly last: { iterations: number; residual: number } | undefined;
  /** The formula of the reduction applied at every iteration. */
  readonly formula: string;
  /** Prints like a KeOps LazyTensor with its reduction. */
  toString(): string;
}

/** A solve that ran, with what its backward pass needs. */
export interface Forward {
  readonly a: Tensor;
  readonly x: Float64Array;
  readonly result: CgResult;
  readonly sys: LinearSystem;
  readonly shape: SystemShape;
  readonly params: SolveParams;
  /** The right-hand side as given (its shape gives b̄'s). */
  readonly b: Tensor;
}

function isOptions(x: unknown): x is SolveOptions {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x) && !(x instanceof Tensor);
}

/** The right-hand side as (…batch, M, Dv): a vector (M,) is a single column when Dv = 1. */
export function rhsOf(b: Tensor, Dv: number, what: string): Tensor {
  if (b.ndim === 1 && Dv === 1) return b.reshape([b.shape[0]!, 1]);
  if (b.ndim < 2) argError(what, Dv === 1 ? "a tensor of shape (…, M, 1) or (M,)" : `a tensor of shape (…, M, ${Dv})`, b);
  return b;
}

/** A solve ready to run: the validated system and right-hand side, and how to wrap the result. */
interface Prepared {
  readonly sys: LinearSystem;
  readonly shape: SystemShape;
  readonly rhs: Float64Array;
  readonly params: SolveParams;
  finish(result: CgResult): Forward;
}

/** Validates the call arguments of `spec` and prepares its solve. */
function prepare(spec: SolveSpec, args: readonly TensorLike[], opts: SolveOptions | undefined): Prepared {
  const params = solveParams({ ...spec.options, ...opts });
  if (args.length !== spec.args.length)
    argError("arguments", `${spec.args.length} tensor(s), for ${spec.args.map(([i, d, c]) => `Var(${i},${d},${c})`).join(", ") || "no variable"}`, said(`${args.length}`));
  const vars = new Map(spec.fixed);
  let bGiven = spec.b;
  spec.args.forEach(([ind, dim, cat], k) => {
    if (k === spec.bPos) bGiven = asTensor(args[k]!, `b (argument ${k})`);
    else vars.set(ind, argumentData(args[k]!, ind, dim, cat, k));
  });
  if (!bGiven) throw new KeOpsError("solve: no right-hand side b");
  const b = bGiven;
  const bName = spec.bPos === undefined ? "b" : `b (argument ${spec.bPos})`;
  let dtype = spec.dtype;
  for (const v of vars.values()) if (!Array.isArray(v.data)) dtype ??= v.data instanceof Float64Array ? "float64" : "float32";
  checkDtype(b, dtype, bName);
  const dt = dtype ?? (b.dtype as FloatDType);
  const b3 = rhsOf(b, spec.Dv, bName);
  // a backend given at call time overrides the one the function was made with; ranges likewise
  const backend = opts?.backend ?? spec.call.opts.backend;
  const rangesOpt = opts?.ranges ?? spec.options.ranges;
  const ranges = rangesOpt === undefined ? spec.call.opts.ranges : checkRanges(rangesOpt);
  if (ranges && params.precond === "nystrom")
    argError("precond", `"none" with ranges (the Nyström preconditioner samples rows of the dense K)`, params.precond);
  const call = backend === spec.call.opts.backend && ranges === spec.call.opts.ranges ? spec.call : { ...spec.call, opts: { ...spec.call.opts, backend, ranges } };
  const sys: LinearSystem = { call, pInd: spec.pInd, Dv: spec.Dv, vars, dtype: dt };
  const shape = systemShape(sys, b3, bName);
  const outShape = b.ndim === 1 && shape.batch.length === 0 ? [shape.M] : [...shape.batch, shape.M, spec.Dv];
  return {
    sys, shape, params, rhs: expandBatch(b3, shape.batch),
    finish: (result) => ({ a: toTensor(result.x, dt, outShape), x: result.x, result, sys, shape, params, b }),
  };
}

/** Runs the solve of `spec` on call arguments. */
export function forward(spec: SolveSpec, args: readonly TensorLike[], opts: SolveOptions | undefined): Forward {
  const p = prepare(spec, args, opts);
  checkMode(p.sys.call.opts.backend, "blocking"); // also when there is nothing to solve
  return p.finish(solveFlat(p.sys, p.shape, p.rhs, p.params));
}

/** {@link forward} with the reductions run off the calling thread. */
export async function forwardAsync(spec: SolveSpec, args: readonly TensorLike[], opts: SolveOptions | undefined): Promise<Forward> {
  const p = prepare(spec, args, opts);
  return p.finish(await solveFlatAsync(p.sys, p.shape, p.rhs, p.params));
}

/**
 * Backward pass: gradients of ⟨a, gradOut⟩ with respect to b (shaped like b) and to the variables
 * `wrt` of K (shaped like their data).
 */
export function backward(f: Forward, gradOut: TensorLike, wrt: readonly number[]): Backward {
  return runSteps(backwardSteps(f, gradOut, wrt));
}

/** What {@link backward} gives. */
interface Backward {
  readonly b: Tensor;
  readonly vars: Map<number, Tensor>;
  readonly result: CgResult;
}

/** {@link backward} as steps (for a blocking or an asynchronous driver). */
function* backwardSteps(f: Forward, gradOut: TensorLike, wrt: readonly number[]): ReductionSteps<Backward> {
  const g = asTensor(gradOut, "gradOut");
  if (g.size !== f.a.size || g.ndim !== f.a.ndim || g.shape.some((s, k) => s !== f.a.shape[k]))
    argError("gradOut", `a tensor of the solution's shape (${f.a.shape.join(", ")})`, g);
  const ga = Float64Array.from(g.data);
  const gr = yield* solveBackwardSteps(f.sys, f.shape, f.x, ga, f.params, wrt);
  const b3 = rhsOf(f.b, f.sys.Dv, "b");
  const own = b3.shape.slice(0, -2);
  const gb = sumToOwnBatch(gr.b, f.shape.batch, own, f.shape.M * f.sys.Dv);
  return { b: toTensor(gb, f.sys.dtype, f.b.shape), vars: gr.vars, result: gr.bSolve };
}

/** Packages a spec as a {@link SolveFunction}. */
export function makeSolveFunction(spec: SolveSpec): SolveFunction {
  let last: { iterations: number; residual: number } | undefined;
  let cached: { args: readonly TensorLike[]; opts: SolveOptions | undefined; f: Forward } | undefined;
  const split = (args: unknown[]): [TensorLike[], SolveOptions | undefined] => {
    const a = [...args];
    const o = a.length > spec.args.length && isOptions(a[a.length - 1]) ? (a.pop() as SolveOptions) : undefined;
    return [a as TensorLike[], o];
  };
  const remember = (args: readonly TensorLike[], opts: SolveOptions | undefined, f: Forward): Forward => {
    last = { iterations: f.result.iterations, residual: f.result.residual };
    cached = { args: [...args], opts, f };
    return f;
  };
  const run = (args: readonly TensorLike[], opts: SolveOptions | undefined): Forward => remember(args, opts, forward(spec, args, opts));
  const runAsync = async (args: readonly TensorLike[], opts: SolveOptions | undefined): Promise<Forward> => remember(args, opts, await forwardAsync(spec, args, opts));
  const fn = ((...args: unknown[]) => run(...split(args)).a) as SolveFunction;
  const callAsync = async (...args: unknown[]): Promise<Tensor> => (await runAsync(...split(args))).a;
  /** The forward solve of `args`: the latest one when it was of these very arguments and options. */
  const latest = (args: readonly TensorLike[], opts: SolveOptions | undefined): Forward | undefined =>
    cached && cached.opts === opts && cached.args.length === args.length && cached.args.every((x, k) => x === args[k]) ? cached.f : undefined;
  const wrt = spec.args.filter((_, k) => k !== spec.bPos).map(([ind]) => ind);
  const vjp = ((args: readonly TensorLike[], gradOut: TensorLike, opts?: SolveOptions): Tensor[] | Promise<Tensor[]> => {
    if (opts?.async)
      return (async () => {
        const f = latest(args, opts) ?? (await runAsync(args, opts));
        return gradients(args, f, await runStepsAsync(backwardSteps(f, gradOut, wrt)));
      })();
    const f = latest(args, opts) ?? run(args, opts);
    return gradients(args, f, backward(f, gradOut, wrt));
  }) as SolveFunction["vjp"];
  /** One gradient per argument, from the backward pass. */
  const gradients = (args: readonly TensorLike[], f: Forward, g: Backward): Tensor[] => {
    last = { iterations: g.result.iterations, residual: g.result.residual };
    return spec.args.map(([ind, dim, cat], k) => {
      if (k === spec.bPos) return g.b;
      const t = g.vars.get(ind);
      if (t) return t;
      // a variable K does not depend on: zero gradient shaped like it
      const d = argumentData(args[k]!, ind, dim, cat, k);
      const n = d.data.length;
      return toTensor(new Float64Array(n), f.sys.dtype, cat === 2 ? [...d.batch, dim] : [...d.batch, d.rows, dim]);
    });
  };
  Object.defineProperty(fn, "vjp", { value: vjp, enumerable: true });
  Object.defineProperty(fn, "callAsync", { value: callAsync, enumerable: true });
  Object.defineProperty(fn, "last", { get: () => last, enumerable: true });
  Object.defineProperty(fn, "formula", { get: () => spec.call.formula.toString(), enumerable: true });
  Object.defineProperty(fn, "toString", { value: () => spec.printed });
  Object.defineProperty(fn, INSPECT, { value: () => spec.printed });
  return fn;
}

/** The printout of a solve function (pykeops style). */
export function describeSolve(formula: string, symbolic: readonly (readonly [number, number, Cat])[], shape: readonly number[], axis: number): string {
  const lines = ["KeOps LazyTensor", `    formula: ${formula}`];
  if (symbolic.length) lines.push(`    symbolic variables: ${symbolic.map(([i, d, k]) => `Var(${i}, ${d}, ${k})`).join(", ")}`);
  lines.push(`    shape: ${tuple(shape)}`);
  lines.push(`    reduction: Solve (axis=${axis})`);
  return lines.join("\n");
}
