/** Options of reductions and their validation. */
import { argError } from "../errors.js";
import type { BackendName } from "../backends/registry.js";
import type { SumScheme } from "../reductions/types.js";
import type { FloatDType } from "../tensor.js";
import { checkRanges, type Ranges, type RangesSpec } from "../ranges/index.js";

/** Options every reduction accepts. */
export interface ReduceOptions {
  /** 0 reduces over i, 1 over j (offset by the number of batch dims). */
  axis?: number;
  /** Alias of `axis`, as in PyTorch. */
  dim?: number;
  /** false: return a {@link KeOpsFunction} instead of computing. */
  call?: boolean;
  /** Backend: "auto" (default), "js", "native", "wasm". */
  backend?: BackendName;
  /** Accumulator precision (default: the data's dtype). */
  dtypeAcc?: FloatDType | "auto";
  /** Summation scheme of sum-like reductions (default block_sum). */
  sumScheme?: SumScheme | "auto";
  /** true: return a Promise; the work runs off the calling thread. */
  async?: boolean;
  /**
   * Block-sparse reduction, as pykeops: `[ranges_i, slices_i, redranges_j, ranges_j, slices_j,
   * redranges_i]` (int32 tensors; build them with `fromMatrix`). The first three serve reductions
   * over j (and gradients with respect to i-variables), the last three reductions over i.
   */
  ranges?: Ranges;
}

/** Options of the K-min family. */
export interface KReduceOptions extends ReduceOptions {
  /** Number of smallest values kept, 1 … the reduced length. */
  K: number;
}

/** Options of logsumexp. */
export interface LogSumExpOptions extends ReduceOptions {
  /** Optional weight: log Σ exp(F)·weight. */
  weight?: unknown;
}

/** Options accepted when calling a compiled reduction. */
export interface CallOptions {
  backend?: BackendName;
  /** Block-sparse reduction for this call (see {@link ReduceOptions.ranges}). */
  ranges?: Ranges;
}

/** Validated execution options. */
export interface ExecOptions {
  readonly backend: BackendName | undefined;
  readonly dtypeAcc: FloatDType | undefined;
  readonly scheme: SumScheme;
  /** Checked `ranges` option: block-sparse when set. */
  readonly ranges?: RangesSpec;
}

const schemes = ["direct_sum", "block_sum", "kahan_scheme"];

/** Validates the execution-related options. */
export function execOptions(o: ReduceOptions): ExecOptions {
  if (o.dtypeAcc !== undefined && o.dtypeAcc !== "auto" && o.dtypeAcc !== "float32" && o.dtypeAcc !== "float64")
    argError("dtypeAcc", `"float32", "float64" or "auto"`, o.dtypeAcc);
  if (o.sumScheme !== undefined && o.sumScheme !== "auto" && !schemes.includes(o.sumScheme))
    argError("sumScheme", `one of "direct_sum", "block_sum", "kahan_scheme"`, o.sumScheme);
  if (o.call !== undefined && typeof o.call !== "boolean") argError("call", "a boolean", o.call);
  if (o.async !== undefined && typeof o.async !== "boolean") argError("async", "a boolean", o.async);
  return {
    backend: o.backend,
    dtypeAcc: o.dtypeAcc === "auto" ? undefined : o.dtypeAcc,
    scheme: o.sumScheme === undefined || o.sumScheme === "auto" ? "block_sum" : o.sumScheme,
    ranges: o.ranges === undefined ? undefined : checkRanges(o.ranges),
  };
}

/** Normalises `axis` / `dim` / a bare number into options. */
export function normaliseOptions<O extends ReduceOptions>(x: number | O | undefined): O {
  if (x === undefined) return {} as O;
  if (typeof x === "number") return { axis: x } as O;
  if (typeof x !== "object" || x === null) argError("options", "an axis number or an options object", x);
  if (x.axis !== undefined && x.dim !== undefined && x.axis !== x.dim)
    argError("axis", `the same value as dim (${x.dim})`, x.axis);
  return x;
}
