/**
 * `K.solve(b, opts)`: (alpha·Id + K) a = b for a LazyTensor K (scalar, square, symmetric positive
 * definite), by conjugate gradient on the Sum reduction of K_ij · p_j over j.
 */
import { KeOpsError, argError, said } from "../errors.js";
import { Var, type Formula } from "../formula/node.js";
import { mul } from "../formula/ops/arith.js";
import { isSymbolic, numberVariables, type Binding, type LazyView } from "../lazy/bindings.js";
import type { ReductionCall, VarData } from "../lazy/execute.js";
import { execOptions } from "../lazy/options.js";
import { reductionByName } from "../reductions/index.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";
import {
  backward as backwardOf, describeSolve, forward, forwardAsync, makeSolveFunction, rhsOf, type Forward, type SolveFunction, type SolveSpec,
} from "./function.js";
import { solveParams, type SolveOptions } from "./options.js";

function varData(ind: number, b: Binding): VarData {
  return {
    data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data,
    cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
  };
}

/**
 * The right-hand side: a tensor, or (as pykeops writes it) a LazyTensor that is a bare
 * i-variable: bound to data (`Vi(b)`), or symbolic (`Vi(ind, dim)`, supplied at call time).
 */
function rhsSource(b: unknown): { tensor: Tensor; sym?: undefined } | { tensor?: undefined; sym: Formula } {
  const lt = b as LazyView;
  if (typeof b === "object" && b !== null && "st" in b && typeof lt.st === "object" && "f" in lt.st) {
    const f: Formula = lt.st.f;
    if (f.isVar && isSymbolic(f) && f.cat === 0) return { sym: f };
    const bind = f.isVar ? lt.st.binds.get(f.ind) : undefined;
    if (!bind || bind.cat !== 0 || Array.isArray(bind.source))
      argError("b", "a tensor of shape (M, Dv) or a LazyTensor that is an i-variable such as Vi(b) or Vi(ind, dim)", said(`a LazyTensor with formula ${lt.formula}`));
    return { tensor: new Tensor((bind.source as Tensor).data, [...bind.batch, bind.rows, bind.dim]) };
  }
  return { tensor: asTensor(b as TensorLike, "b") };
}

/** What `K.solve` builds: the spec of the solve (K's symbolic variables as arguments, b fixed). */
export function lazySolveSpec(K: LazyView, b: unknown, opts: SolveOptions | undefined): { spec: SolveSpec; bindings: Map<number, Binding> } {
  solveParams(opts);
  const st = K.st;
  if (st.f.dim !== 1)
    argError("K", "a scalar LazyTensor (formula of dim 1), such as a kernel matrix K_ij", said(`a formula of dim ${st.f.dim}`));
  if (st.ni !== undefined && st.nj !== undefined && st.ni !== st.nj)
    argError("K", "a square LazyTensor (as many i as j; solve needs K symmetric positive definite)", said(`shape (${K.shape.join(", ")})`));
  const rhs = rhsSource(b);
  const bt = rhs.tensor;
  let Dv: number;
  if (bt) {
    Dv = bt.ndim === 1 ? 1 : bt.shape[bt.ndim - 1]!;
    if (Dv < 1) argError("b", "at least one column", bt);
    rhsOf(bt, Dv, "b");
  } else {
    Dv = rhs.sym.dim;
    if (st.f.vars().some((v) => v.ind === rhs.sym.ind))
      argError("b", `a symbolic variable that K does not use (K is a formula of ${rhs.sym}: not a linear system)`, said(String(rhs.sym)));
  }
  const num = numberVariables(rhs.sym ? [st.f, rhs.sym] : [st.f], st.binds);
  const f = num.formulas[0]!;
  const inds = num.formulas.flatMap((g) => g.vars().map((v) => v.ind));
  const pInd = inds.length ? Math.max(...inds) + 1 : 0;
  const call: ReductionCall = {
    formula: mul(f, Var(pInd, Dv, 1)),
    reduction: reductionByName("Sum")!,
    axis: 1,
    K: 1,
    opts: execOptions({ backend: opts?.backend, dtypeAcc: opts?.dtypeAcc, sumScheme: opts?.sumScheme }),
  };
  const fixed = new Map<number, VarData>();
  for (const [ind, bind] of num.fixed) fixed.set(ind, varData(ind, bind));
  const args = [...num.symbolic].sort((x, y) => x[0] - y[0]);
  const shape = [...st.batch, st.ni ?? 1, st.nj ?? 1];
  const spec: SolveSpec = {
    call, pInd, Dv, fixed, args, bPos: rhs.sym ? args.findIndex(([ind]) => ind === rhs.sym.ind) : undefined, b: bt,
    dtype: st.dtype, options: { ranges: st.ranges, ...opts },
    get printed() {
      return describeSolve(call.formula.toString(), args, shape, st.batch.length + 1); // on demand: never on the hot path
    },
  };
  return { spec, bindings: num.fixed };
}

/**
 * `K.solve(b, opts)`: the solution a of (alpha·Id + K) a = b (a Promise of it with `async: true`),
 * or, with `call: false` or when K or b is symbolic, a {@link SolveFunction} of the symbolic
 * variables (b's among them, as pykeops).
 */
export function lazySolve(K: LazyView, b: unknown, opts?: SolveOptions): Tensor | SolveFunction | Promise<Tensor> {
  const { spec } = lazySolveSpec(K, b, opts);
  if (opts?.call === false || spec.args.length > 0) return makeSolveFunction(spec);
  if (opts?.async) return forwardAsync(spec, [], undefined).then((f) => f.a);
  return forward(spec, [], undefined).a;
}

/** A solve of a LazyTensor with data, and its backward pass with respect to b and to K's data. */
export interface LazySolveWithVjp {
  /** The solution. */
  readonly a: Tensor;
  readonly iterations: number;
  readonly residual: number;
  /**
   * Gradients of ⟨a, gradA⟩: `b` shaped like b, and for each tensor bound in K the gradient with
   * respect to its data, keyed by that data (a tensor bound twice, as x_i and x_j, gets the sum).
   */
  backward(gradA: TensorLike): { b: Tensor; data: Map<Tensor["data"], Tensor> };
}

/**
 * `K.solve(b, opts)` with its vector–Jacobian product: the entry point of the tfjs adapter (which
 * maps K's bound tensors back to its own) and of hand-written backward passes.
 */
export function solveWithVjp(K: LazyView, b: unknown, opts?: SolveOptions): LazySolveWithVjp {
  const { spec, bindings } = lazySolveSpec(K, b, opts);
  if (spec.args.length > 0)
    throw new KeOpsError("solve: K has symbolic variables; use K.solve(b, { call: false }) and the function's vjp");
  const fw: Forward = forward(spec, [], undefined);
  return {
    a: fw.a,
    iterations: fw.result.iterations,
    residual: fw.result.residual,
    backward: (gradA) => {
      const tensors = [...bindings].filter(([, bd]) => !Array.isArray(bd.source));
      const g = backwardOf(fw, gradA, tensors.map(([ind]) => ind));
      const data = new Map<Tensor["data"], Tensor>();
      for (const [ind, bd] of tensors) {
        const src = bd.source as Tensor;
        const t = g.vars.get(ind);
        if (!t) continue;
        const prev = data.get(src.data);
        if (!prev) data.set(src.data, new Tensor(t.data, src.shape));
        else for (let k = 0; k < prev.data.length; k++) prev.data[k]! += t.data[k]!;
      }
      return { b: g.b, data };
    },
  };
}

/** What `K.solve` returns without `call: false`: a tensor, or a {@link SolveFunction} when K has symbolic variables. */
export type Solved<S extends boolean> = S extends true ? SolveFunction : Tensor;
/** What `K.solve` returns with `async: true`: a Promise, or a {@link SolveFunction} when K has symbolic variables. */
export type SolvedAsync<S extends boolean> = S extends true ? SolveFunction : Promise<Tensor>;
