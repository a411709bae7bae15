/** What every implementation (keops-ts backend or peer) provides to the child process. */
import type { Data } from "../data.js";
import type { Output } from "../types.js";
import type { Workload } from "../workloads.js";

/** One prepared figure: each call() is one timed run. */
export interface Runner {
  call(): Promise<Output> | Output;
  /** Facts to report (iterations, flags, …), read after the runs. */
  extra?(): Record<string, string | number | boolean>;
}

/** An implementation: `init` loads it (untimed), `setup` prepares a figure. */
export interface Impl {
  init(): Promise<Record<string, string | number | boolean>>;
  /** Prepares the figure of workload `w` at `size` (W7: calls per run) on data `d`. */
  setup(w: Workload, d: Data, size: number): Promise<Runner> | Runner;
}

/** Thrown by `setup` when a figure cannot be measured; the child reports `status` and `note`. */
export class NoFigure extends Error {
  constructor(readonly status: "out of memory" | "not available" | "skipped", readonly note: string) {
    super(note);
  }
}

/** Byte budget for dense peers' materialised M × N matrices (beyond it: "out of memory"). */
export const DENSE_LIMIT_BYTES = 4 * 2 ** 30;

/** Formats a byte count. */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}
