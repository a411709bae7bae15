/**
 * KeOps's raw max-shifted exponential sums, the reductions under LogSumExp and SumSoftMaxWeight:
 * `Max_SumShiftExp` gives (m_i, s_i) = (max_j F, Σ_j exp(F − m_i)) and `Max_SumShiftExpWeight`
 * gives (m_i, Σ_j exp(F − m_i)·G) for a weight G, F scalar, output [m, s…] (dimension 1 + dim G)
 * as pykeops's Genred returns them; and pykeops's other names `LogSumExpWeight` (LogSumExp with
 * a required weight) and `SoftMax` (SumSoftMaxWeight).
 */
import { KeOpsError } from "../errors.js";
import type { SsaBuilder } from "../ir/ssa.js";
import { LogSumExpReduction, SumSoftMaxWeightReduction, shiftExpProgram } from "./logsumexp.js";
import type { ReductionAlias, ReductionDef, ReductionProgram } from "./types.js";

const raw = (_b: SsaBuilder, m: number, s: number[]): number[] => [m, ...s];

/** Why the raw reductions have no vector-Jacobian product here. */
const NO_GRAD = (name: string): string =>
  `vjp: ${name} has no gradient in keops-ts (KeOps's is valid only under a log-sum-exp): differentiate LogSumExp or SumSoftMaxWeight instead`;

/** (max_j F, Σ_j exp(F − max)), F scalar: output dimension 2. An empty range gives (−∞, 0). */
export const MaxSumShiftExpReduction: ReductionDef = {
  name: "Max_SumShiftExp",
  method: "Max_SumShiftExp",
  grad: { kind: "unsupported", why: NO_GRAD("Max_SumShiftExp") },
  formula2: "none",
  usesK: false,
  sumLike: true,
  check: ({ fdim }) => {
    if (fdim !== 1) throw new KeOpsError(`Max_SumShiftExp: expected a scalar formula (dimension 1), got dimension ${fdim}`);
  },
  valueShape: () => [2],
  build({ fdim, scheme }): ReductionProgram {
    MaxSumShiftExpReduction.check({ fdim, K: 1 });
    return shiftExpProgram("Max_SumShiftExp", 1, 1, () => ({ f: 0, g: [null] }), raw, 2, scheme !== "direct_sum");
  },
};

/** (max_j F, Σ_j exp(F − max)·G), F scalar, G the weight: output dimension 1 + dim G. */
export const MaxSumShiftExpWeightReduction: ReductionDef = {
  name: "Max_SumShiftExpWeight",
  method: "Max_SumShiftExpWeight",
  grad: { kind: "unsupported", why: NO_GRAD("Max_SumShiftExpWeight") },
  formula2: "required",
  usesK: false,
  sumLike: true,
  check: ({ fdim }) => {
    if (fdim !== 1) throw new KeOpsError(`Max_SumShiftExpWeight: expected a scalar formula (dimension 1), got dimension ${fdim}`);
  },
  valueShape: ({ gdim }) => [1 + gdim!],
  build({ fdim, gdim, scheme }): ReductionProgram {
    MaxSumShiftExpWeightReduction.check({ fdim, gdim, K: 1 });
    const D = gdim!;
    return shiftExpProgram("Max_SumShiftExpWeight", 1, D, () => ({ f: 0, g: Array.from({ length: D }, (_, k) => 1 + k) }), raw, 1 + D, scheme !== "direct_sum");
  },
};

/** pykeops's other reduction names: the same reductions (and the same gradients). */
export const REDUCTION_ALIASES: Readonly<Record<ReductionAlias, ReductionDef>> = {
  LogSumExpWeight: { ...LogSumExpReduction, formula2: "required" },
  SoftMax: SumSoftMaxWeightReduction,
};
