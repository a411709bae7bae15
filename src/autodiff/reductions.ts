/**
 * Gradients of reductions: the vector–Jacobian product of a reduction with respect to each of its
 * variables is computed by more reductions, built from `Grad` formulas.
 *
 * With g the cotangent of the output (a new variable indexed like the output rows):
 * - Sum over j: ∂/∂x_i = Σ_j Grad(F, x, g_i) (a Sum over j), ∂/∂y_j = Σ_i Grad(F, y, g_i) (the same
 *   formula summed over i), ∂/∂p = Σ_i Σ_j Grad(F, p, g_i) (rows summed on the host);
 * - LogSumExp L_i: the same with the softmax weights, e = g_i · exp(F − L_i) (and, with a weight W,
 *   Grad(F, ·, Σ g_i·W·exp(F − L_i)) + Grad(W, ·, g_i·exp(F − L_i)));
 * - SumSoftMaxWeight O_i = Σ_j p_ij W_j with p_ij = exp(F − S_i):
 *   Grad(F, ·, p·(⟨W, g_i⟩ − ⟨O_i, g_i⟩)) + Grad(W, ·, p·g_i);
 * - Min, Max, the values of MinArgMin / MaxArgMax, KMin and KMinArgKMin: the gradient flows to the
 *   selected pairs only (ties: the lowest index, the one the arg-reduction reports). The arg-reduction
 *   is run, the selected (i, j) pairs are gathered on the host into rows of a new problem, and
 *   Grad(F, ·, g·e_c) is evaluated on those rows by one more reduction, then scattered back;
 * - ArgMin, ArgMax, ArgKMin: zero.
 */
import { KeOpsError } from "../errors.js";
import { Var, apply, opByName, substitute, type Formula } from "../formula/node.js";
import { add, mul, sub } from "../formula/ops/arith.js";
import { exp } from "../formula/ops/math.js";
import { scalprod } from "../formula/ops/vector.js";
import { sum } from "../formula/ops/inner-sum.js";
import type { ReductionCall, VarData } from "../lazy/execute.js";
import { reduce, runSteps, type ReductionSteps } from "../lazy/steps.js";
import { reductionByName } from "../reductions/index.js";
import type { ReductionName } from "../reductions/types.js";
import { Tensor, allocate, type FloatDType, type TensorData } from "../tensor.js";
import { freshIndex, grad } from "./grad.js";
import {
  checkGradOut, dataIn, geometry, ownBatchIndex, sizeOf, sumToOwnBatch, toTensor, varShape, type Geometry,
} from "./layout.js";

/**
 * The vector–Jacobian product of a reduction: the gradients of ⟨reduce(call, vars), gradOut⟩
 * with respect to the variables listed in `wrt` (by index), each shaped like its variable's data
 * — (…its own batch, rows, dim), or (…its own batch, dim) for a parameter — summed over the batch
 * dims it broadcasts and, for parameters, over i and j. `gradOut` has the shape of the (values)
 * result. Computed in `dtype`. `forward`, when given, is the call's (values) result on this data,
 * which saves recomputing it (LogSumExp, SumSoftMaxWeight).
 */
export type ReductionVjp = (
  call: ReductionCall, vars: ReadonlyMap<number, VarData>, gradOut: Tensor, wrt: readonly number[], dtype: FloatDType,
  forward?: Tensor,
) => Map<number, Tensor>;

/** What every gradient computation of one call shares. */
interface Ctx {
  readonly call: ReductionCall;
  readonly vars: ReadonlyMap<number, VarData>;
  readonly geo: Geometry;
  readonly outerCat: 0 | 1;
  readonly innerCat: 0 | 1;
  readonly nOuter: number;
  readonly nInner: number;
  readonly dtype: FloatDType;
  /** The call's values, when known. */
  readonly forward: Tensor | undefined;
  /** Next free variable index. */
  next: number;
  /** How many reductions the gradient runs (announced with each, for progress: see lazy/steps.ts). */
  total: number;
}

/** Per-row shape of a call's (values) output. */
export function valueRowShape(call: ReductionCall): number[] {
  return [...call.reduction.valueShape({ fdim: call.formula.dim, gdim: call.formula2?.dim, K: call.K })];
}

/** See {@link ReductionVjp}. */
export const reductionVjp: ReductionVjp = (...a) => runSteps(reductionVjpSteps(...a));

/**
 * {@link reductionVjp} as steps: yields the reductions it needs (the forward values, the
 * arg-reduction of a selection, the gradient sums), for a blocking or an asynchronous driver.
 */
export function* reductionVjpSteps(...[call, vars, gradOut, wrt, dtype, forward]: Parameters<ReductionVjp>): ReductionSteps<Map<number, Tensor>> {
  if (call.reduction.grad.kind === "unsupported") throw new KeOpsError(call.reduction.grad.why);
  const geo = geometry(vars.values());
  const axis = call.axis;
  const ctx: Ctx = {
    call, vars, geo, dtype, forward,
    outerCat: (1 - axis) as 0 | 1,
    innerCat: axis,
    nOuter: axis === 1 ? geo.M : geo.N,
    nInner: axis === 1 ? geo.N : geo.M,
    next: Math.max(freshIndex(call.formula, ...(call.formula2 ? [call.formula2] : [])), ...[...vars.keys()].map((k) => k + 1)),
    total: 0,
  };
  const rowShape = valueRowShape(call);
  checkGradOut(gradOut, [...geo.batch, ctx.nOuter, ...rowShape]);
  const nodes = new Map<number, Formula>();
  for (const f of call.formula2 ? [call.formula, call.formula2] : [call.formula]) for (const v of f.vars()) nodes.set(v.ind, v);
  const out = new Map<number, Tensor>();
  const live: Formula[] = [];
  for (const ind of wrt) {
    const v = vars.get(ind);
    if (!v) throw new KeOpsError(`vjp: no data for variable ${ind}`);
    const node = nodes.get(ind);
    if (node && call.reduction.grad.kind !== "none") live.push(node);
    else out.set(ind, toTensor(new Float64Array(sizeOf(varShape(v))), varShape(v), dtype));
  }
  if (live.length === 0) return out;
  const g = dataIn(gradOut, dtype);
  const rule = call.reduction.grad;
  ctx.total = reductionCount(ctx, live);
  const grads = rule.kind === "selected" ? yield* selectedPairs(ctx, rule.via, g, live) : yield* pairSums(ctx, g, live);
  for (const [ind, t] of grads) out.set(ind, t);
  return out;
}

/**
 * How many reductions the gradient with respect to `live` runs: the forward values or the
 * selection it needs ({@link pairSums}, {@link selectedPairs}), then the sums of {@link sumsOf}
 * (one per reduced axis).
 */
function reductionCount(ctx: Ctx, live: readonly Formula[]): number {
  const rule = ctx.call.reduction.grad.kind;
  if (rule === "selected") return 1 + sumsCount(live.length);
  const values = ctx.forward && ctx.forward.dtype !== "int32" ? 0 : 1;
  const before = rule === "logSumExp" ? values : rule === "softMaxWeight" ? 1 + values : 0;
  const axes = new Map<0 | 1, number>();
  for (const v of live) {
    const ax = sumAxis(ctx, v);
    axes.set(ax, (axes.get(ax) ?? 0) + 1);
  }
  return before + [...axes.values()].reduce((a, n) => a + sumsCount(n), 0);
}

/** The axis a gradient's Sum reduces: the outer index for an inner variable, else the call's. */
function sumAxis(ctx: Ctx, v: Formula): 0 | 1 {
  return v.cat === ctx.innerCat ? ctx.outerCat : ctx.call.axis;
}

/** Runs a Sum reduction of `formula` over `axis`; the result as (…batch, rows, dim). */
function* sumOf(ctx: Ctx, formula: Formula, axis: 0 | 1, vars: ReadonlyMap<number, VarData>): ReductionSteps<Tensor> {
  const red = reductionByName("Sum")!;
  return (yield* reduce({ formula, reduction: red, axis, K: 1, opts: ctx.call.opts }, vars, ctx.dtype, ctx.total)) as Tensor;
}

/** A new variable indexed like the output rows, with the data `data` of `dim` components per row. */
function outerVar(ctx: Ctx, vars: Map<number, VarData>, data: TensorData, dim: number, name: string): Formula {
  const ind = ctx.next++;
  vars.set(ind, { data, cat: ctx.outerCat, dim, rows: ctx.nOuter, batch: ctx.geo.batch, name });
  return Var(ind, dim, ctx.outerCat);
}

/** Runs a reduction of the call's family on the call's data (forward values needed by a gradient). */
function* run(ctx: Ctx, name: ReductionName, formula: Formula, formula2?: Formula): ReductionSteps<Tensor | [Tensor, Tensor]> {
  const c = ctx.call;
  return yield* reduce({ formula, formula2, reduction: reductionByName(name)!, axis: c.axis, K: c.K, opts: c.opts }, ctx.vars, ctx.dtype, ctx.total);
}

/** The call's values in the computation dtype: the given forward result, or a new run. */
function* values(ctx: Ctx): ReductionSteps<TensorData> {
  const f = ctx.forward;
  if (f && f.dtype !== "int32") return dataIn(f, ctx.dtype);
  const c = ctx.call;
  return ((yield* run(ctx, c.reduction.name, c.formula, c.formula2)) as Tensor).data;
}

/**
 * Sum, LogSumExp, SumSoftMaxWeight: the gradient with respect to v is a Sum reduction of one
 * formula `expr(v)` over pairs — over the reduced index for an outer variable or a parameter,
 * over the other index for an inner variable.
 */
function* pairSums(ctx: Ctx, g: TensorData, wrt: readonly Formula[]): ReductionSteps<Map<number, Tensor>> {
  const { call } = ctx;
  const F = call.formula;
  const W = call.formula2;
  const vars = new Map(ctx.vars);
  const rule = call.reduction.grad.kind;
  const R = W && rule !== "sum" ? W.dim : F.dim;
  const G = outerVar(ctx, vars, g, R, "gradOut");
  let expr: (v: Formula) => Formula;
  switch (rule) {
    case "sum":
      expr = (v) => grad(F, v, G);
      break;
    case "logSumExp": {
      const L = outerVar(ctx, vars, yield* values(ctx), R, "logsumexp");
      const E = exp(sub(F, L));
      if (!W) {
        expr = (v) => grad(F, v, mul(G, E));
        break;
      }
      const GE = mul(G, E);
      const ctF = R === 1 ? mul(GE, W) : sum(mul(GE, W));
      expr = (v) => add(grad(F, v, ctF), grad(W, v, GE));
      break;
    }
    case "softMaxWeight": {
      const lse = ((yield* run(ctx, "LogSumExp", F)) as Tensor).data;
      const o = yield* values(ctx);
      const rows = o.length / R;
      const c = allocate(ctx.dtype, rows) as TensorData;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let k = 0; k < R; k++) s += o[r * R + k]! * g[r * R + k]!;
        c[r] = s;
      }
      const S = outerVar(ctx, vars, lse, 1, "logsumexp");
      const C = outerVar(ctx, vars, c, 1, "<result, gradOut>");
      const P = exp(sub(F, S));
      const ctF = mul(P, sub(scalprod(W!, G), C));
      const ctW = mul(P, G);
      expr = (v) => add(grad(F, v, ctF), grad(W!, v, ctW));
      break;
    }
    default:
      throw new KeOpsError(`vjp: no gradient for the reduction ${call.reduction.name}`);
  }
  // inner variables: a Sum over the outer index; outer variables and parameters: over the reduced one
  const byAxis = new Map<0 | 1, Formula[]>();
  for (const v of wrt) {
    const ax = sumAxis(ctx, v);
    byAxis.set(ax, [...(byAxis.get(ax) ?? []), v]);
  }
  const out = new Map<number, Tensor>();
  const { batch } = ctx.geo;
  for (const [ax, vs] of byAxis) {
    const results = yield* sumsOf(ctx, vs.map(expr), ax, vars);
    vs.forEach((v, n) => {
      const d = ctx.vars.get(v.ind)!;
      const r = results[n]!;
      let x: ArrayLike<number>;
      if (v.cat !== 2) x = sumToOwnBatch(r, batch, d.batch, d.rows * d.dim);
      else {
        const perBatch = new Float64Array(ctx.geo.nBatch * d.dim);
        for (let b = 0; b < ctx.geo.nBatch; b++)
          for (let o = 0; o < ctx.nOuter; o++)
            for (let k = 0; k < d.dim; k++) perBatch[b * d.dim + k]! += r[(b * ctx.nOuter + o) * d.dim + k]!;
        x = sumToOwnBatch(perBatch, batch, d.batch, d.dim);
      }
      out.set(v.ind, toTensor(x, varShape(d), ctx.dtype));
    });
  }
  return out;
}

/** Reductions {@link sumsOf} runs for n formulas: one (their concatenation), or n without Concat. */
function sumsCount(n: number): number {
  return n > 1 && !opByName("Concat") ? n : 1;
}

/**
 * Sum reductions of several formulas over `axis`, run as one kernel on their concatenation (the
 * forward values they share are computed once per pair); each result as (…batch, rows, dim).
 */
function* sumsOf(ctx: Ctx, formulas: readonly Formula[], axis: 0 | 1, vars: ReadonlyMap<number, VarData>): ReductionSteps<ArrayLike<number>[]> {
  const concat = opByName("Concat");
  if (formulas.length === 1 || !concat) {
    const out: ArrayLike<number>[] = [];
    for (const f of formulas) out.push((yield* sumOf(ctx, f, axis, vars)).data);
    return out;
  }
  const whole = formulas.slice(1).reduce((a, f) => apply(concat, [a, f]), formulas[0]!);
  const r = (yield* sumOf(ctx, whole, axis, vars)).data;
  const width = whole.dim;
  const rows = r.length / width;
  let off = 0;
  return formulas.map((f) => {
    const out = new Float64Array(rows * f.dim);
    for (let q = 0; q < rows; q++) for (let k = 0; k < f.dim; k++) out[q * f.dim + k] = r[q * width + off + k]!;
    off += f.dim;
    return out;
  });
}

/**
 * Min, Max, KMin and their combined forms: runs the combined reduction for the selected indices,
 * gathers each selected (batch, i, j, component) into a row of a new problem where every variable
 * is an i-variable, evaluates Grad(F, v, g·e_c) on those rows (a Sum over a single j) and
 * scatters the rows back onto v's rows.
 */
function* selectedPairs(ctx: Ctx, combined: ReductionName, g: TensorData, wrt: readonly Formula[]): ReductionSteps<Map<number, Tensor>> {
  const { call, geo, nOuter, outerCat, innerCat } = ctx;
  const F = call.formula;
  const D = F.dim;
  const [, indT] = (yield* run(ctx, combined, F)) as [Tensor, Tensor];
  const idx = indT.data;
  const R = idx.length / Math.max(1, geo.nBatch * nOuter);
  // the selections
  const selB: number[] = [], selO: number[] = [], selJ: number[] = [], selR: number[] = [];
  for (let b = 0; b < geo.nBatch; b++)
    for (let o = 0; o < nOuter; o++)
      for (let r = 0; r < R; r++) {
        const j = idx[(b * nOuter + o) * R + r]!;
        if (j < 0) continue;
        selB.push(b), selO.push(o), selJ.push(j), selR.push(r);
      }
  const S = selB.length;
  // gathered data: every variable becomes an i-variable with one row per selection
  const vars = new Map<number, VarData>();
  const owner = new Map<number, Int32Array>();
  for (const v of F.vars()) {
    const d = ctx.vars.get(v.ind)!;
    const own = ownBatchIndex(d.batch, geo.batch);
    owner.set(v.ind, own);
    const rows = d.cat === 2 ? 1 : d.rows;
    const data = allocate(ctx.dtype, S * d.dim);
    const src = d.data as ArrayLike<number>;
    for (let s = 0; s < S; s++) {
      const row = d.cat === outerCat ? selO[s]! : d.cat === innerCat ? selJ[s]! : 0;
      const off = (own[selB[s]!]! * rows + row) * d.dim;
      for (let k = 0; k < d.dim; k++) data[s * d.dim + k] = src[off + k]!;
    }
    vars.set(v.ind, { data, cat: 0, dim: d.dim, rows: S, batch: [], name: d.name });
  }
  const eInd = ctx.next++;
  const e = allocate(ctx.dtype, S * D);
  for (let s = 0; s < S; s++) {
    const r = selR[s]!;
    e[s * D + (r % D)] = g[(selB[s]! * nOuter + selO[s]!) * R + r]!;
  }
  vars.set(eInd, { data: e, cat: 0, dim: D, rows: S, batch: [], name: "gradOut" });
  const toI = (x: Formula): Formula | undefined => (x.cat === 0 ? undefined : Var(x.ind, x.dim, 0));
  const Fi = substitute(F, toI);
  const E = Var(eInd, D, 0);
  const out = new Map<number, Tensor>();
  const results = yield* sumsOf(ctx, wrt.map((v) => grad(Fi, toI(v) ?? v, E)), 1, vars);
  wrt.forEach((v, n) => {
    const d = ctx.vars.get(v.ind)!;
    const rowsOf = results[n]!;
    const own = owner.get(v.ind)!;
    const x = new Float64Array(sizeOf(varShape(d)));
    for (let s = 0; s < S; s++) {
      const row = d.cat === outerCat ? selO[s]! : d.cat === innerCat ? selJ[s]! : 0;
      const rows = d.cat === 2 ? 1 : d.rows;
      const off = (own[selB[s]!]! * rows + row) * d.dim;
      for (let k = 0; k < d.dim; k++) x[off + k]! += rowsOf[s * d.dim + k]!;
    }
    out.set(v.ind, toTensor(x, varShape(d), ctx.dtype));
  });
  return out;
}
