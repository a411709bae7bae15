/**
 * The reduction of a vector formula in the form its loop over the components takes. A reduction
 * applied per component (Min, ArgMin, MinArgMin, Max … K-min, LogSumExp of a vector formula)
 * declares, besides its generic blocks, a guard or a fast path that couple the components: the
 * guard of the min/max and K-min families is an OR over every component ("did any component
 * change?"), LogSumExp's shift-exp fast path keeps one group per component. A renderer that loops
 * over the components (src/compile/vout.ts `vectorState`) needs each component's update on its own,
 * so for a formula of at least the loop threshold's dimension:
 * - a guard the reduction declares a shortcut (`guardShortcut`) is dropped, with the sorted-K fast
 *   path that relies on it: the update then runs for every pair, per component exactly as guarded
 *   (the skipped pairs left the state unchanged), and partial states merge in index order;
 * - a shift-exp declaration of one group per component is dropped: the generic update (the same
 *   online log-sum-exp, one exponential per pair and component, branch-free) is looped.
 * Below the threshold, and for every other reduction, the program is unchanged.
 */
import type { ReductionProgram } from "../reductions/types.js";

/** The reduction `red` of a `D`-dimensional formula as its vector loop takes it (itself when unchanged). */
export function loopForm(red: ReductionProgram, D: number, loopMin: number): ReductionProgram {
  if (D < Math.max(2, loopMin)) return red;
  const t = red.traits;
  const unguard = t?.guardShortcut === true && red.update.guard !== undefined;
  const perComponentShift = (t?.shiftExp?.length ?? 0) >= D;
  if (!unguard && !perComponentShift) return red;
  const { sortedK, shiftExp, ...rest } = t!;
  const traits = { ...rest, ...(sortedK && !unguard ? { sortedK } : {}), ...(shiftExp && !perComponentShift ? { shiftExp } : {}) };
  const update = unguard ? { code: red.update.code, out: red.update.out } : red.update;
  return { ...red, update, traits };
}
