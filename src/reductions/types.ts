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

/**
 * One (max, scaled sums) group of a log-sum-exp-like state: state `m` is a running maximum of the
 * formula value `f` (−∞ when empty), each state `s[q]` the sum Σ exp(f − m)·g[q] (0 when empty)
 * with `g[q]` a formula value, or null for 1.
 */
export interface ShiftExpGroup {
  readonly m: number;
  readonly s: readonly number[];
  readonly f: number;
  readonly g: readonly (number | null)[];
}

/**
 * What a backend may exploit, declared as data by the reduction that builds the program: backends
 * choose their fast paths from these (checked against the state layout by the schedule), never
 * from the reduction's name. Each declaration must describe exactly what the update, merge and
 * finalize blocks compute: a backend may replace the update with its own code for it.
 */
export interface ReductionTraits {
  /** The state is groups of a running max with exp-shifted sums ({@link ShiftExpGroup}). */
  readonly shiftExp?: readonly ShiftExpGroup[];
  /**
   * The state is, per formula component c, a list of K (value, index) pairs sorted ascending (NaN
   * first, ties to the lowest index, empty slots +∞ / −1 at the end): slot k of component c has
   * its value at `values + k·D + c` and its index at `indices + k·D + c` (D: the formula's
   * dimension).
   */
  readonly sortedK?: { readonly K: number; readonly values: number; readonly indices: number };
  /** Int state components that hold an inner index (−1: none yet), e.g. to offset a partial range. */
  readonly indexStates?: readonly number[];
  /**
   * The update's guard only spares work: without it, the update and the merge (which then also
   * combines partial states holding interleaved indices: lanes, unrolled copies) give the same
   * results. A vector formula's program may then be rendered unguarded, its per-component update
   * as a loop (src/compile/vout.ts `loopForm`).
   */
  readonly guardShortcut?: boolean;
}

/** The reduction part of a kernel program. */
export interface ReductionProgram {
  /** The reduction's name (for printing and reports only: backends read {@link traits}). */
  readonly name: string;
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
  /** Declarations a backend may exploit. */
  readonly traits?: ReductionTraits;
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

/**
 * How a reduction's vector-Jacobian product is computed (src/autodiff/reductions.ts implements
 * each rule once):
 * - `sum`: Σ_j Grad(F, v, g) — a Sum reduction of the gradient formula;
 * - `logSumExp`: the Sum rule weighted by the softmax exp(F − L) (and the weight's own term);
 * - `softMaxWeight`: the quotient rule of Σ exp(F)·W / Σ exp(F);
 * - `selected`: the gradient flows to the selected pairs only, found by running the reduction
 *   named `via` (which outputs values and indices);
 * - `none`: piecewise constant (indices): zero;
 * - `unsupported`: no gradient (a KeOpsError).
 */
export type GradRule =
  | { readonly kind: "sum" | "logSumExp" | "softMaxWeight" }
  | { readonly kind: "selected"; readonly via: ReductionName }
  | { readonly kind: "none" }
  /** No gradient: a vjp is a KeOpsError saying `why`. */
  | { readonly kind: "unsupported"; readonly why: string };

/** Declaration of one reduction: everything genred, LazyTensor, autodiff and the backends read. */
export interface ReductionDef {
  readonly name: ReductionName;
  /** The LazyTensor method that runs it (`argKmin`), also its name in messages. */
  readonly method: string;
  /** Other spellings genred accepts (pykeops's `Min_ArgMin`). */
  readonly aliases?: readonly string[];
  /** How its gradient is computed. */
  readonly grad: GradRule;
  /**
   * Checks the arguments of a call before anything is planned, where the user made it: throws a
   * KeOpsError naming the argument, what was expected and what was given.
   */
  check(p: { readonly fdim: number; readonly gdim?: number; readonly K: unknown }): void;
  /** Per-row shape of the values output (the first output) for a formula of dim fdim. */
  valueShape(p: { readonly fdim: number; readonly gdim?: number; readonly K: number }): readonly number[];
  /** Whether a second formula is taken (LogSumExp's weight, SumSoftMaxWeight's values). */
  readonly formula2: "none" | "optional" | "required";
  /** Whether K (`optArg`) is taken. */
  readonly usesK: boolean;
  /** Whether the default summation scheme applies (sum-like reductions). */
  readonly sumLike: boolean;
  build(p: ReductionParams): ReductionProgram;
}
