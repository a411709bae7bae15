/**
 * Planning: a numbered formula + reduction → a kernel program (always reducing over the inner
 * index; axis 0 swaps the roles of i and j), with the program cache (bounded, src/compile/lru.ts).
 */
import { KeOpsError } from "../errors.js";
import { dagKey, type Formula } from "../formula/node.js";
import type { ReductionDef, SumScheme } from "../reductions/types.js";
import type { FloatDType } from "../tensor.js";
import { lowerFormulas } from "./lower.js";
import { LruCache } from "./lru.js";
import { LOOP_MIN_DIM, loopMinDim } from "./loops.js";
import { blockedEnabled } from "./blocked.js";
import type { KernelProgram, SlotRole } from "./program.js";

/** Everything that defines a kernel. */
export interface PlanRequest {
  readonly formula: Formula;
  readonly formula2?: Formula;
  readonly reduction: ReductionDef;
  /** 0: reduce over i; 1: reduce over j. */
  readonly axis: 0 | 1;
  readonly K: number;
  readonly scheme: SumScheme;
  readonly dtype: FloatDType;
  readonly accDtype: FloatDType;
}

/** A planned kernel: the program and, per input slot, the variable it reads. */
export interface Plan {
  readonly program: KernelProgram;
  /** Variable node of each slot. */
  readonly slotVars: readonly Formula[];
}

const plans = new LruCache<string, Plan>();

/** Role of a variable of category `cat` when reducing over `axis`. */
export function roleOf(cat: number, axis: 0 | 1): SlotRole {
  if (cat === 2) return "param";
  return cat === axis ? "inner" : "outer";
}

/** Plans (or fetches from the cache) the kernel of a request. */
export function plan(req: PlanRequest): Plan {
  // a threshold set by KEOPS_TS_LOOP_MIN and KEOPS_TS_BLOCKED=0 are part of the key (the defaults leave keys as they were)
  const loopMin = loopMinDim();
  const key = [
    req.reduction.name, req.axis, req.reduction.usesK ? req.K : "", req.reduction.sumLike ? req.scheme : "",
    req.dtype, req.accDtype, dagKey(req.formula2 ? [req.formula, req.formula2] : [req.formula]),
    ...(loopMin === LOOP_MIN_DIM ? [] : [`loops>=${loopMin}`]),
    // renderers read KEOPS_TS_BLOCKED when they render: a kernel compiled under one setting is not the other's
    ...(blockedEnabled() ? [] : ["unblocked"]),
  ].join("|");
  const hit = plans.get(key);
  if (hit) return hit;
  const formulas = req.formula2 ? [req.formula, req.formula2] : [req.formula];
  const seen = new Map<number, Formula>();
  for (const f of formulas)
    for (const v of f.vars()) {
      const prev = seen.get(v.ind);
      if (prev && prev !== v)
        throw new KeOpsError(`formula: variable ${v.ind} is used as both ${prev} and ${v}`);
      seen.set(v.ind, v);
    }
  const slotVars = [...seen.values()].sort((a, b) => a.ind - b.ind);
  const slotIndex = new Map(slotVars.map((v, s) => [v.ind, s]));
  const roles = slotVars.map((v) => roleOf(v.cat, req.axis));
  const levelOf: Record<SlotRole, number> = { param: 0, outer: 1, inner: 2 };
  const body = lowerFormulas(formulas, (ind) => slotIndex.get(ind)!, (s) => levelOf[roles[s]!]);
  const red = req.reduction.build({
    fdim: req.formula.dim,
    gdim: req.formula2?.dim,
    K: req.K,
    scheme: req.scheme,
  });
  const program: KernelProgram = {
    key,
    dtype: req.dtype,
    accDtype: req.accDtype,
    slots: slotVars.map((v, s) => ({ role: roles[s]!, dim: v.dim })),
    body,
    red,
    ...(loopMin === LOOP_MIN_DIM ? {} : { loopMin }),
  };
  const p = { program, slotVars };
  plans.set(key, p);
  return p;
}
