/**
 * State layouts of the reductions that the native renderer specialises (read from the program,
 * checked against the layouts built in src/reductions/logsumexp.ts and kmin.ts): any other layout
 * makes these return null and the generic SSA update is used.
 */
import type { KernelProgram } from "../../compile/program.js";

/** One (max, scaled sums) group of a log-sum-exp state: state indices and the formula values. */
export interface ShiftExpGroup {
  readonly m: number;
  readonly s: readonly number[];
  /** The exponent's formula value. */
  readonly f: number;
  /** Each sum's weight: a formula value, or null for 1. */
  readonly g: readonly (number | null)[];
}

/**
 * The state layout of the log-sum-exp family (as built by src/reductions/logsumexp.ts), or null
 * for any other reduction: the renderer then takes one max pass and one exp-sum pass per tile,
 * one exp per pair instead of the online update's two.
 */
export function shiftExpLayout(p: KernelProgram): ShiftExpGroup[] | null {
  const { red } = p;
  const outs = p.body.out.length, nS = red.state.length;
  let groups: ShiftExpGroup[];
  if (red.name === "LogSumExp" && nS === 2 * outs)
    groups = Array.from({ length: outs }, (_, c) => ({ m: 2 * c, s: [2 * c + 1], f: c, g: [null] }));
  else if (red.name === "LogSumExp" && nS === outs)
    groups = [{ m: 0, s: Array.from({ length: outs - 1 }, (_, k) => 1 + k), f: 0, g: Array.from({ length: outs - 1 }, (_, k) => 1 + k) }];
  else if (red.name === "SumSoftMaxWeight" && nS === outs + 1)
    groups = [{ m: 0, s: Array.from({ length: outs }, (_, k) => 1 + k), f: 0, g: [null, ...Array.from({ length: outs - 1 }, (_, k) => 1 + k)] }];
  else return null;
  for (const grp of groups) {
    if (red.state[grp.m]!.init !== -Infinity || grp.s.some((k) => red.state[k]!.init !== 0)) return null;
  }
  return groups;
}

/** K of the K-min family's state layout (as built by src/reductions/kmin.ts), or null. */
export function kminLayout(p: KernelProgram): number | null {
  const { red } = p;
  if (red.name !== "KMin" && red.name !== "ArgKMin" && red.name !== "KMinArgKMin") return null;
  const D = p.body.out.length, n = red.state.length / 2, K = n / D;
  if (!Number.isInteger(K) || K < 1) return null;
  const ok = red.state.every((st, k) => (k < n ? st.t === "f" && st.init === Infinity : st.t === "i" && st.init === -1));
  return ok ? K : null;
}
