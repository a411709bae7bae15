/**
 * `genred`: a reduction from a KeOps formula string and its aliases, as pykeops's `Genred`.
 *
 * ```ts
 * const f = genred("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { axis: 1 });
 * f(x, y, b);
 * ```
 * Aliases are `name = Vi(dim)`, `Vi(ind, dim)`, `Vj(…)`, `Pm(…)` or `Var(ind,dim,cat)`; an omitted
 * index is the alias's position in the list (as pykeops assigns it). The returned
 * {@link KeOpsFunction} takes one argument per alias, in index order.
 *
 * Float literals are not valid in KeOps formulas; keops-ts accepts them: each becomes an extra
 * parameter (after the aliases' indices) bound to its value, as a float in a LazyTensor
 * expression does. Integer literals are `IntCst(n)`.
 */
import { KeOpsError, argError } from "../errors.js";
import { Var, type Cat, type Formula } from "../formula/node.js";
import { parseAlias, parseFormula } from "../formula/parse.js";
import { reductionByName } from "../reductions/index.js";
import type { ReductionAlias, ReductionName } from "../reductions/types.js";
import type { Tensor } from "../tensor.js";
import type { Binding } from "./bindings.js";
import type { ReductionResult } from "./execute.js";
import { makeKeOpsFunction, type KeOpsFunction } from "./keopsfunction.js";
import { execOptions, type ReduceOptions } from "./options.js";

/** Reduction names genred accepts: KeOps's, and pykeops's underscore spellings. */
export type GenredReductionOp = ReductionName | ReductionAlias | "Min_ArgMin" | "Max_ArgMax" | "KMin_ArgKMin";

/** Options of {@link genred}. */
export interface GenredOptions extends Pick<ReduceOptions, "backend" | "dtypeAcc" | "sumScheme"> {
  /** The reduction (default `"Sum"`). */
  reductionOp?: GenredReductionOp;
  /** 0 reduces over i, 1 over j (default 0, as pykeops). */
  axis?: 0 | 1;
  /** K of the K-min family. */
  optArg?: number;
  /** Second formula: the weight of LogSumExp, the values of SumSoftMaxWeight. */
  formula2?: string;
}

const SPELLINGS: Readonly<Record<string, ReductionName>> = {
  Min_ArgMin: "MinArgMin",
  Max_ArgMax: "MaxArgMax",
  KMin_ArgKMin: "KMinArgKMin",
};

/** The result type of a genred function for a reduction name. */
export type GenredResult<R> = R extends "MinArgMin" | "MaxArgMax" | "KMinArgKMin" | "Min_ArgMin" | "Max_ArgMax" | "KMin_ArgKMin"
  ? [Tensor, Tensor]
  : Tensor;

/** Parses the aliases: name → variable, and the list of symbolic variables. */
function parseAliases(aliases: readonly string[]): { byName: Map<string, Formula>; symbolic: [number, number, Cat][] } {
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== "string"))
    argError("aliases", `an array of strings such as "x = Vi(0, 3)"`, aliases);
  const byName = new Map<string, Formula>();
  const byInd = new Map<number, Formula>();
  const symbolic: [number, number, Cat][] = [];
  aliases.forEach((text, k) => {
    const a = parseAlias(text, `aliases[${k}]`);
    const ind = a.ind ?? k;
    const v = Var(ind, a.dim, a.cat);
    if (byName.has(a.name)) throw new KeOpsError(`aliases[${k}]: the name ${JSON.stringify(a.name)} is declared twice`);
    const prev = byInd.get(ind);
    if (prev && prev !== v) throw new KeOpsError(`aliases[${k}]: index ${ind} is already ${prev}, got ${v}`);
    byName.set(a.name, v);
    if (!prev) symbolic.push([ind, a.dim, a.cat]);
    byInd.set(ind, v);
  });
  return { byName, symbolic };
}

/**
 * A reduction of a formula string over its aliases, as pykeops's `Genred`: returns a
 * {@link KeOpsFunction} taking the aliased variables in index order.
 */
export function genred<O extends GenredOptions>(formula: string, aliases: readonly string[], opts?: O): KeOpsFunction<GenredResult<O["reductionOp"]>> {
  const o: GenredOptions = opts ?? {};
  if (typeof o !== "object" || o === null) argError("opts", "an options object", o);
  const rawName = o.reductionOp ?? "Sum";
  const name = SPELLINGS[rawName] ?? rawName;
  const red = reductionByName(name);
  if (!red) argError("reductionOp", `one of ${[...Object.keys(SPELLINGS), "Sum", "LogSumExp", "SumSoftMaxWeight", "Min", "ArgMin", "MinArgMin", "Max", "ArgMax", "MaxArgMax", "KMin", "ArgKMin", "KMinArgKMin", "LogSumExpWeight", "SoftMax", "Max_SumShiftExp", "Max_SumShiftExpWeight"].map((s) => JSON.stringify(s)).join(", ")}`, rawName);
  const axis = o.axis ?? 0;
  if (axis !== 0 && axis !== 1) argError("axis", "0 or 1", axis);
  let K = 1;
  if (red.usesK) {
    K = o.optArg as number;
    if (typeof K !== "number" || !Number.isInteger(K) || K < 1) argError("optArg", `a positive integer (K of ${name})`, o.optArg);
  } else if (o.optArg !== undefined) argError("optArg", `nothing (${name} takes no K)`, o.optArg);
  if (red.formula2 === "required" && o.formula2 === undefined) argError("formula2", `a formula string (${name} needs the values)`, o.formula2);
  if (red.formula2 === "none" && o.formula2 !== undefined) argError("formula2", `nothing (${name} takes one formula)`, o.formula2);
  const ex = execOptions(o);

  const { byName, symbolic } = parseAliases(aliases);
  // float literals: parameters after every alias index, bound to their values
  const fixed = new Map<number, Binding>();
  let next = symbolic.reduce((m, [ind]) => Math.max(m, ind + 1), 0);
  const constant = (value: number): Formula => {
    const v = Var(next, 1, 2);
    fixed.set(next++, { source: [value], cat: 2, dim: 1, rows: 1, batch: [] });
    return v;
  };
  const f = parseFormula(formula, { aliases: byName, constant, what: "formula" });
  const f2 = o.formula2 === undefined ? undefined : parseFormula(o.formula2, { aliases: byName, constant, what: "formula2" });
  if (red.formula2 === "required" && f.dim !== 1)
    throw new KeOpsError(`formula: ${name} needs a scalar formula (dimension 1), got dimension ${f.dim}`);

  const call = { formula: f, formula2: f2, reduction: red, axis: axis as 0 | 1, K, opts: ex };
  const spec = { call, fixed, symbolic, shape: f.dim === 1 ? [1, 1] : [1, 1, f.dim], dtype: undefined };
  return makeKeOpsFunction<ReductionResult>(spec) as KeOpsFunction<GenredResult<O["reductionOp"]>>;
}
