/** The lowered kernel program: what every backend receives. */
import type { Block } from "../ir/ssa.js";
import type { ReductionProgram } from "../reductions/types.js";
import { sizeOf, type FloatDType, type TensorData } from "../tensor.js";

/** Role of an input slot in the kernel: indexed by the output row, by the reduced index, or fixed. */
export type SlotRole = "outer" | "inner" | "param";

/**
 * One kernel: for each outer index i, fold the body's values over every inner index j into the
 * reduction state, then finalize. Always a reduction over the inner index: axis 0 reductions are
 * planned with the roles of i and j swapped.
 */
export interface KernelProgram {
  /** Cache key: identifies the program completely. */
  readonly key: string;
  /** Storage and compute precision of the inputs and float outputs. */
  readonly dtype: FloatDType;
  /** Precision of the reduction state. */
  readonly accDtype: FloatDType;
  /** Input slots: role and vector dimension; `load` k=[slot, comp] reads them. */
  readonly slots: readonly { readonly role: SlotRole; readonly dim: number }[];
  /** The formula(s), per pair; outputs read by the update block as `fval`. */
  readonly body: Block;
  readonly red: ReductionProgram;
}

/**
 * One call: every batch runs the same program with its own offsets.
 * Input slot s of batch b starts at `inOffsets[b * nSlots + s]` (in elements), with rows of
 * `slots[s].dim` elements; output o of batch b at `outOffsets[b * nOutputs + o]`, rows of
 * prod(outputs[o].shape) elements.
 */
export interface KernelJob {
  readonly inputs: readonly TensorData[];
  readonly outputs: readonly TensorData[];
  readonly nOuter: number;
  readonly nInner: number;
  readonly nBatch: number;
  readonly inOffsets: Int32Array | Float64Array;
  readonly outOffsets: Int32Array | Float64Array;
}

/** A compiled kernel. */
export interface Kernel {
  /** Runs synchronously. */
  run(job: KernelJob): void;
  /** Runs off the calling thread where the backend can. */
  runAsync(job: KernelJob): Promise<void>;
}

/** A backend: a renderer plus a runner. */
export interface Backend {
  readonly name: string;
  /** Why this backend cannot run on this machine, or null. */
  unavailable(): string | null;
  /** Why this backend cannot run this program, or null. */
  declines(p: KernelProgram): string | null;
  /** Compiles (or fetches from its cache) the program. */
  compile(p: KernelProgram): Kernel;
  /**
   * Compiles without keeping the calling thread busy where the backend can (native: the C++
   * compiler runs as a child process). Used by `async: true` calls; absent: `compile`.
   */
  compileAsync?(p: KernelProgram): Promise<Kernel>;
  /**
   * Set on a backend that runs only `async: true` calls (webgpu): the KeOpsError message a
   * blocking call with this backend raises.
   */
  readonly asyncOnly?: string;
  /**
   * Finds out whether the backend can run here when that takes asynchronous work (webgpu: the
   * adapter); awaited before an async call resolves its backend. `explicit`: the call names this
   * backend (a software GPU adapter is then acceptable).
   */
  probe?(explicit: boolean): Promise<void>;
  /** Why `auto` does not pick this available backend (webgpu: a software adapter), or null. */
  autoUnavailable?(): string | null;
  /** More about the backend here, in words (webgpu: which adapter, from where), for `backendInfo()`. */
  detail?(): string | null;
}

/** Elements per output row of each output. */
export function outputRowSizes(p: KernelProgram): number[] {
  return p.red.outputs.map((o) => sizeOf(o.shape));
}
