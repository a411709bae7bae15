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

const raw = (b: SsaBuilder, m: number, s: number[]): number[] => [m, ...s];

/** (max_j F, Σ_j exp(F − max)), F scalar: output dimension 2. An empty range gives (−∞, 0). */
export const MaxSumShiftExpReduction: ReductionDef = {
  name: "Max_SumShiftExp",
  formula2: "none",
  usesK: false,
  sumLike: true,
  build({ fdim, scheme }): ReductionProgram {
    if (fdim !== 1) throw new KeOpsError(`Max_SumShiftExp: expected a scalar formula (dimension 1), got dimension ${fdim}`);
    return shiftExpProgram("Max_SumShiftExp", 1, 1, (b) => ({ f: b.input("fval", 0), g: [b.c(1)] }), raw, 2, scheme !== "direct_sum");
  },
};

/** (max_j F, Σ_j exp(F − max)·G), F scalar, G the weight: output dimension 1 + dim G. */
export const MaxSumShiftExpWeightReduction: ReductionDef = {
  name: "Max_SumShiftExpWeight",
  formula2: "required",
  usesK: false,
  sumLike: true,
  build({ fdim, gdim, scheme }): ReductionProgram {
    if (fdim !== 1) throw new KeOpsError(`Max_SumShiftExpWeight: expected a scalar formula (dimension 1), got dimension ${fdim}`);
    const D = gdim!;
    return shiftExpProgram(
      "Max_SumShiftExpWeight", 1, D,
      (b) => ({ f: b.input("fval", 0), g: Array.from({ length: D }, (_, k) => b.input("fval", 1 + k)) }),
      raw, 1 + D, scheme !== "direct_sum",
    );
  },
};

/** pykeops's other reduction names: the same reductions (and the same gradients). */
export const REDUCTION_ALIASES: Readonly<Record<ReductionAlias, ReductionDef>> = {
  LogSumExpWeight: { ...LogSumExpReduction, formula2: "required" },
  SoftMax: SumSoftMaxWeightReduction,
};
