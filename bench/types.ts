/** Shared types of the benchmark harness (bench/): what a figure is and what measuring it gives. */

/** Implementations measured: a keops-ts backend (`keops:<name>`) or a peer. */
export type ImplName = `keops:${string}` | "tfjs-cpu" | "tfjs-wasm" | "plain-js" | "faiss" | "usearch";

/** One figure to measure: a workload at one size with one implementation. */
export interface FigureSpec {
  /** Workload key, e.g. "W1", "W3-D64", "W7-reuse". */
  readonly workload: string;
  readonly impl: ImplName;
  /** M = N (W6: M; W7: the number of calls per run; W8: M = N of the tiny data). */
  readonly size: number;
  /** Warm runs after the first call. */
  readonly runs: number;
  /** Output rows checked against the float64 reference. */
  readonly checkRows: number;
  /** Seconds a figure may take; the child stops after its first warm run if the rest would exceed it. */
  readonly budgetS: number;
  readonly seed: number;
}

/** What an implementation returns from one call, for the accuracy check. */
export interface Output {
  /** Row-major values (M × width), e.g. a (M, Dv), the K-min distances, a gradient. */
  readonly values?: Float32Array | Float64Array;
  /** Row-major indices (M × K) for KNN. */
  readonly indices?: Int32Array | Float64Array;
  /** Width of one output row. */
  readonly width: number;
  /**
   * Seconds of the run as the implementation timed it itself (the FAISS peer, timed inside its
   * Python child so that the pipe and file transfers are left out); absent: timed by the harness.
   */
  readonly seconds?: number;
}

/** The measured figure (or why there is none). */
export interface FigureResult {
  readonly spec: FigureSpec;
  /** "ok", or why the figure has no timing. */
  readonly status: "ok" | "out of memory" | "skipped" | "not available" | "failed";
  /** Human-readable reason when status is not "ok". */
  readonly note?: string;
  /** Seconds of the first call (kernel compile / warm-up included). */
  readonly firstS?: number;
  /** Seconds of each warm run. */
  readonly timesS?: number[];
  readonly medianS?: number;
  readonly minS?: number;
  readonly maxS?: number;
  /** Pairs (i, j) evaluated per second, at the median (null where not meaningful). */
  readonly pairsPerS?: number | null;
  /** Peak resident memory of the child process that measured the figure, MiB (ru_maxrss). */
  readonly peakRssMiB?: number;
  /** Resident memory of that process after its imports, before any data was made, MiB. */
  readonly baseRssMiB?: number;
  /** Relative error against the float64 reference on `checkRows` rows (null: no reference). */
  readonly relErr?: number | null;
  /** Extra facts (CG iterations, tfjs flags, …). */
  readonly extra?: Record<string, string | number | boolean>;
}
