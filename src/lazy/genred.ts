/**
 * `genred`: a reduction from a KeOps formula string and its aliases, as pykeops's `Genred`.
 *
 * ```ts
 * const f = genred("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { axis: 1 });
 * f(x, y, b);
 * ```
 * Aliases are `name = Vi(dim)`, `Vi(ind, dim)`, `Vj(…)`, `Pm(…)` or `Var(ind,dim,cat)`; an omitted
 * index is the alias's position in the list (as pykeops assigns it). Variables may also be
 * written inline (`Var(0,3,0)`, `Vi(0,3)`, `Vj(1,3)`, `Pm(2,1)`; pykeops's own LazyTensor
 * reductions call Genred that way, with no alias). The returned {@link KeOpsFunction} takes one
 * argument per variable, aliased or inline, in index order (as pykeops numbers its arguments).
 *
 * Float literals are not valid in KeOps formulas; keops-ts accepts them: each becomes an extra
 * parameter (numbered after every variable of the formulas) bound to its value, as a float in a
 * LazyTensor expression does. Integer literals are `IntCst(n)`.
 */
import { KeOpsError, argError } from "../errors.js";
import { Var, substitute, type Cat, type Formula } from "../formula/node.js";
import { parseAlias, parseFormula } from "../formula/parse.js";
import { reductionByName, reductionSpellings } from "../reductions/index.js";
import type { ReductionAlias, ReductionName } from "../reductions/types.js";
import type { Tensor } from "../tensor.js";
import type { Binding } from "./bindings.js";
import type { ReductionResult } from "./execute.js";
import { makeKeOpsFunction, type KeOpsFunction } from "./keopsfunction.js";
import { LONG_WORK_KEYS, checkOptions, execOptions, type ReduceOptions } from "./options.js";

/** Reduction names genred accepts: KeOps's, and pykeops's underscore spellings. */
export type GenredReductionOp = ReductionName | ReductionAlias | "Min_ArgMin" | "Max_ArgMax" | "KMin_ArgKMin";

/** Options of {@link genred}. */
export interface GenredOptions extends Pick<ReduceOptions, "backend" | "dtypeAcc" | "sumScheme" | "onProgress" | "signal"> {
  /** The reduction (default `"Sum"`). */
  reductionOp?: GenredReductionOp;
  /** 0 reduces over i, 1 over j (default 0, as pykeops). */
  axis?: 0 | 1;
  /** K of the K-min family. */
  optArg?: number;
  /** Second formula: the weight of LogSumExp, the values of SumSoftMaxWeight. */
  formula2?: string;
}

/** The keys {@link GenredOptions} has. */
export const GENRED_KEYS = ["reductionOp", "axis", "optArg", "formula2", "backend", "dtypeAcc", "sumScheme", ...LONG_WORK_KEYS] as const;

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
 * The variables written inline in the formulas (`Var(3,1,1)`, `Vi(0,3)`, …, and a `Grad`'s
 * direction), not declared by an alias: [ind, dim, cat] in order of first appearance. A variable
 * index used with two different dimensions or categories is an error.
 */
function inlineVariables(formulas: readonly Formula[], declared: readonly (readonly [number, number, Cat])[]): [number, number, Cat][] {
  const seen = new Map<number, Formula>(declared.map(([i, d, c]) => [i, Var(i, d, c)]));
  const out: [number, number, Cat][] = [];
  formulas.forEach((g, k) => {
    for (const v of g.vars()) {
      if (v.ind < 0) continue; // a float literal's placeholder
      const prev = seen.get(v.ind);
      if (prev === v) continue;
      if (prev) throw new KeOpsError(`${k ? "formula2" : "formula"}: variable index ${v.ind} is used as both ${prev} and ${v}`);
      seen.set(v.ind, v);
      out.push([v.ind, v.dim, v.cat]);
    }
  });
  return out;
}

/**
 * A reduction of a formula string over its aliases, as pykeops's `Genred`: returns a
 * {@link KeOpsFunction} taking the formula's variables (aliased or inline) in index order.
 */
export function genred<O extends GenredOptions>(formula: string, aliases: readonly string[], opts?: O): KeOpsFunction<GenredResult<O["reductionOp"]>> {
  const o: GenredOptions = opts ?? {};
  checkOptions(o, "genred", GENRED_KEYS);
  const rawName = o.reductionOp ?? "Sum";
  const red = reductionByName(rawName);
  if (!red) argError("reductionOp", `one of ${reductionSpellings.map((s) => JSON.stringify(s)).join(", ")}`, rawName);
  const name = red.name;
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
  // float literals: placeholders while parsing (negative indices, which no formula can write),
  // then parameters numbered after every variable of the formulas, aliased or inline
  const literals: number[] = [];
  const constant = (value: number): Formula => Var(-1 - (literals.push(value) - 1), 1, 2);
  const parsed = [parseFormula(formula, { aliases: byName, constant, what: "formula" })];
  if (o.formula2 !== undefined) parsed.push(parseFormula(o.formula2, { aliases: byName, constant, what: "formula2" }));
  const inline = inlineVariables(parsed, symbolic);
  symbolic.push(...inline);
  const fixed = new Map<number, Binding>();
  const first = symbolic.reduce((m, [ind]) => Math.max(m, ind + 1), 0);
  literals.forEach((value, k) => fixed.set(first + k, { source: [value], cat: 2, dim: 1, rows: 1, batch: [] }));
  const [f, f2] = literals.length
    ? parsed.map((g) => substitute(g, (v) => (v.ind < 0 ? Var(first - 1 - v.ind, 1, 2) : undefined)))
    : parsed;
  red.check({ fdim: f!.dim, gdim: f2?.dim, K });

  const call = { formula: f!, formula2: f2, reduction: red, axis: axis as 0 | 1, K, opts: ex };
  const spec = { call, fixed, symbolic, shape: f!.dim === 1 ? [1, 1] : [1, 1, f!.dim], dtype: undefined };
  return makeKeOpsFunction<ReductionResult>(spec) as KeOpsFunction<GenredResult<O["reductionOp"]>>;
}
