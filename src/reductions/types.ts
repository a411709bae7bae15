/**
 * A reduction is written once, in SSA terms: accumulator state, `init`, `update` (fold one pair),
 * `merge` (combine two partial states: tiles, lanes, threads) and `finalize`.
 */
import type { Block, VT } from "../ir/ssa.js";

/** KeOps reduction names. */
export type ReductionName =
  | "Sum" | "LogSumExp" | "SumSoftMaxWeight"
  | "Min" | "Max" | "ArgMin" | "ArgMax" | "MinArgMin" | "MaxArgMax"
  | "KMin" | "ArgKMin" | "KMinArgKMin"
  | "Max_SumShiftExp" | "Max_SumShiftExpWeight";

/** Other names of reductions, as pykeops accepts them (`SoftMax` is `SumSoftMaxWeight`). */
export type ReductionAlias = "LogSumExpWeight" | "SoftMax";

/** Summation schemes, as in KeOps. */
export type SumScheme = "direct_sum" | "block_sum" | "kahan_scheme";

/** The reduction part of a kernel program. */
export interface ReductionProgram {
  readonly name: ReductionName;
  /** State components, their types and initial values. */
  readonly state: readonly { readonly t: VT; readonly init: number }[];
  /**
   * Folds one pair: reads `state`, `fval` (the body's outputs) and `idx` (j); `out` is the new
   * state. When `guard` is set, it is a value of the block: where it is 0 the state is unchanged,
   * so a renderer may skip the rest of the block (the update is correct either way).
   */
  readonly update: Block & { readonly guard?: number };
  /** Combines state `other` into `state` (the `other` partial covers later indices). */
  readonly merge: Block;
  /** State → output components, the outputs concatenated. */
  readonly finalize: Block;
  /** Each output's per-row shape (`[D]`, `[K]` or `[K, D]`) and type. */
  readonly outputs: readonly { readonly shape: readonly number[]; readonly t: VT }[];
  /** Accumulate each tile of j in a fresh partial state, merged into the total (block_sum). */
  readonly tiled: boolean;
}

/** What a reduction's builder gets. */
export interface ReductionParams {
  /** Dimension of the formula. */
  readonly fdim: number;
  /** Dimension of the second formula (weight), when given. */
  readonly gdim?: number;
  /** K of the K-min family. */
  readonly K: number;
  readonly scheme: SumScheme;
}

/** Declaration of one reduction. */
export interface ReductionDef {
  readonly name: ReductionName;
  /** Whether a second formula is taken (LogSumExp's weight, SumSoftMaxWeight's values). */
  readonly formula2: "none" | "optional" | "required";
  /** Whether K (`optArg`) is taken. */
  readonly usesK: boolean;
  /** Whether the default summation scheme applies (sum-like reductions). */
  readonly sumLike: boolean;
  build(p: ReductionParams): ReductionProgram;
}
