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
  /**
   * Sums over a vector dimension of at least this many terms are rendered as loops
   * (src/compile/loops.ts); absent: the default threshold.
   */
  readonly loopMin?: number;
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

/** How a call runs: the caller waits (`blocking`), or gets a Promise (`async: true`). */
export type CallMode = "blocking" | "async";

/** A compiled kernel. */
export interface Kernel {
  /** Runs synchronously; absent on backends that run only asynchronously (GPUs). */
  run?(job: KernelJob): void;
  /** Runs off the calling thread where the backend can. */
  runAsync(job: KernelJob): Promise<void>;
}

/** A kernel that also runs blocking (the CPU backends' kernels). */
export interface BlockingKernel extends Kernel {
  run(job: KernelJob): void;
}

/** What a backend can do, declared as data: `auto` resolves each call from these. */
export interface BackendCaps {
  /** Runs blocking calls (the calling thread waits for the result). */
  readonly blocking: boolean;
  /** Runs `async: true` calls. */
  readonly async: boolean;
  /** Data types it computes in. */
  readonly dtypes: readonly FloatDType[];
  /**
   * Relative cost per pair, lower is faster: `auto` takes the cheapest backend that is available,
   * runs the call's mode and dtype, and accepts the program.
   */
  readonly cost: number;
  /** How this backend's speed compares, in words (for `backendInfo()`). */
  readonly costNote: string;
}

/** A backend: a renderer of the schedule plus a runner. */
export interface Backend {
  readonly name: string;
  /** What it can do. */
  readonly caps: BackendCaps;
  /** Why this backend cannot run on this machine, or null. */
  unavailable(): string | null;
  /**
   * Asynchronous set-up (e.g. requesting a GPU adapter): async calls await it before choosing a
   * backend; until it has settled, `unavailable()` may say that it has not.
   */
  init?(): Promise<void>;
  /** Why this backend cannot run this program (beyond its caps), or null. */
  declines(p: KernelProgram): string | null;
  /** Compiles (or fetches from its cache) the program, blocking; absent on async-only backends. */
  compile?(p: KernelProgram): Kernel;
  /**
   * Compiles without keeping the calling thread busy where the backend can (native: the C++
   * compiler runs as a child process). Used by `async: true` calls; absent: `compile`.
   */
  compileAsync?(p: KernelProgram): Promise<Kernel>;
}

/** Elements per output row of each output. */
export function outputRowSizes(p: KernelProgram): number[] {
  return p.red.outputs.map((o) => sizeOf(o.shape));
}

/** A backend that compiles and runs blocking calls (the CPU backends). */
export interface BlockingBackend extends Backend {
  compile(p: KernelProgram): BlockingKernel;
}
