/** The reduction registry. */
import { SumReduction } from "./sum.js";
import { LogSumExpReduction, SumSoftMaxWeightReduction } from "./logsumexp.js";
import {
  ArgMaxReduction, ArgMinReduction, MaxArgMaxReduction, MaxReduction, MinArgMinReduction, MinReduction,
} from "./minmax.js";
import { ArgKMinReduction, KMinArgKMinReduction, KMinReduction } from "./kmin.js";
import { MaxSumShiftExpReduction, MaxSumShiftExpWeightReduction, REDUCTION_ALIASES } from "./shiftexp.js";
import type { ReductionDef, ReductionName } from "./types.js";

export type { GradRule, ReductionAlias, ReductionDef, ReductionName, ReductionProgram, SumScheme } from "./types.js";

const all: ReductionDef[] = [
  SumReduction, LogSumExpReduction, SumSoftMaxWeightReduction,
  MinReduction, ArgMinReduction, MinArgMinReduction, MaxReduction, ArgMaxReduction, MaxArgMaxReduction,
  KMinReduction, ArgKMinReduction, KMinArgKMinReduction,
  MaxSumShiftExpReduction, MaxSumShiftExpWeightReduction,
];

const byName = new Map<string, ReductionDef>([
  ...all.flatMap((r) => [[r.name, r] as const, ...(r.aliases ?? []).map((a) => [a, r] as const)]),
  ...Object.entries(REDUCTION_ALIASES),
]);

/** The reduction called `name` (its KeOps name or one of its aliases), or undefined. */
export function reductionByName(name: string): ReductionDef | undefined {
  return byName.get(name);
}

/** All reduction names. */
export const reductionNames: readonly ReductionName[] = all.map((r) => r.name);

/** Every name genred accepts: the KeOps names and their aliases. */
export const reductionSpellings: readonly string[] = [...byName.keys()];
