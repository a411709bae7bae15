/**
 * `kernelSolve`: pykeops's `KernelSolve`. The formula is linear in the alias `varInvAlias`; the
 * returned function solves (alpha·Id + K) a = b where K·v is the Sum reduction of the formula with
 * v in place of that alias.
 *
 * ```ts
 * const Kinv = kernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", { axis: 1 });
 * const a = Kinv(x, x, b, { alpha: 0.1 }); // b in the place of the alias "b"
 * ```
 */
import { KeOpsError, argError, said } from "../errors.js";
import { parseAlias } from "../formula/parse.js";
import type { VarData } from "../lazy/execute.js";
import { genred, type GenredOptions } from "../lazy/genred.js";
import { specOf } from "../lazy/keopsfunction.js";
import type { Tensor } from "../tensor.js";
import { describeSolve, makeSolveFunction, type SolveFunction } from "./function.js";
import { SOLVE_KEYS, solveParams, type SolveOptions } from "./options.js";
import { checkOptions } from "../lazy/options.js";

/** Options of {@link kernelSolve}: the reduction's (axis, backend, …) and the solve's defaults. */
export interface KernelSolveOptions extends Pick<GenredOptions, "backend" | "dtypeAcc" | "sumScheme">, Omit<SolveOptions, "call"> {
  /**
   * 0 reduces over i, 1 over j. Default: the category of `varInvAlias` (the unknown is indexed
   * by the reduced index; b by the other one).
   */
  axis?: 0 | 1;
}

/**
 * A solver of (alpha·Id + K) a = b, K·v being the Sum reduction of `formula` (linear in the alias
 * `varInvAlias`). The returned {@link SolveFunction} takes one argument per alias in index order,
 * b in the place of `varInvAlias`, then optional options `{ alpha, eps, maxIter, onIteration, … }`.
 */
export function kernelSolve(formula: string, aliases: readonly string[], varInvAlias: string, opts?: KernelSolveOptions): SolveFunction {
  if (typeof varInvAlias !== "string") argError("varInvAlias", "the name of one of the aliases", varInvAlias);
  const o = opts ?? {};
  checkOptions(o, "kernelSolve", ["axis", ...SOLVE_KEYS.filter((k) => k !== "call")]);
  const { axis: axisOpt, backend, dtypeAcc, sumScheme, ...solveOpts } = o;
  solveParams(solveOpts);
  if (!Array.isArray(aliases)) argError("aliases", `an array of strings such as "x = Vi(0, 3)"`, aliases);
  const decls = aliases.map((a, k) => ({ ...parseAlias(a, `aliases[${k}]`), k }));
  const inv = decls.find((d) => d.name === varInvAlias);
  if (!inv) argError("varInvAlias", `one of the alias names ${decls.map((d) => JSON.stringify(d.name)).join(", ")}`, varInvAlias);
  if (inv.cat === 2) argError("varInvAlias", "an alias indexed by i or j (Vi or Vj)", said(`${JSON.stringify(varInvAlias)}, a parameter`));
  const axis = axisOpt ?? inv.cat;
  if (axis !== inv.cat)
    argError("axis", `${inv.cat}: the unknown ${varInvAlias} is indexed by ${inv.cat === 0 ? "i" : "j"}, the reduced index`, axis);
  const fn = genred(formula, aliases, { reductionOp: "Sum", axis, backend, dtypeAcc, sumScheme });
  const spec = specOf(fn);
  const pInd = inv.ind ?? inv.k;
  const f = spec.call.formula;
  if (!f.vars().some((v) => v.ind === pInd))
    throw new KeOpsError(`formula: does not use the unknown ${varInvAlias}; kernelSolve needs a formula linear in it`);
  if (f.dim !== inv.dim)
    throw new KeOpsError(`formula: expected dimension ${inv.dim}, the dimension of the unknown ${varInvAlias} (K·${varInvAlias} has b's shape), got ${f.dim}`);
  const fixed = new Map<number, VarData>();
  for (const [ind, b] of spec.fixed)
    fixed.set(ind, {
      data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data,
      cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
    });
  const args = [...spec.symbolic].sort((x, y) => x[0] - y[0]);
  return makeSolveFunction({
    call: spec.call,
    pInd,
    Dv: inv.dim,
    fixed,
    args,
    bPos: args.findIndex(([ind]) => ind === pInd),
    b: undefined,
    dtype: undefined,
    options: solveOpts,
    get printed() {
      return describeSolve(f.toString(), args, f.dim === 1 ? [1, 1] : [1, 1, f.dim], axis); // on demand
    },
  });
}
