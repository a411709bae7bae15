/**
 * The order used by the min/max families: (value, index) pairs, "a beats b" when a comes first.
 * Pinned semantics: NaN beats every number (so min, max and their args report the first NaN of a
 * row, as NumPy and PyTorch do); ties go to the lowest index; an empty slot (index −1) is beaten
 * by everything.
 */
import type { SsaBuilder } from "../ir/ssa.js";

export type Direction = "min" | "max";

/** Initial value of an empty slot. */
export function emptyValue(dir: Direction): number {
  return dir === "min" ? Infinity : -Infinity;
}

/**
 * 1 where (av, ai) beats (bv, bi). With `aIsNewer`, a's index is known to be larger than b's
 * (a fresh pair against the state), which drops the index comparisons of ties.
 */
export function beats(
  b: SsaBuilder, dir: Direction, av: number, ai: number, bv: number, bi: number, aIsNewer: boolean,
): number {
  const none = b.ci(-1);
  const bEmpty = b.cmp("eq", bi, none);
  const strict = b.cmp(dir === "min" ? "lt" : "gt", av, bv);
  const aNan = b.isnan(av);
  const bNan = b.isnan(bv);
  const nanWins = b.and(aNan, b.not(bNan));
  let win = b.or(bEmpty, b.or(strict, nanWins));
  if (!aIsNewer) {
    const tie = b.or(b.cmp("eq", av, bv), b.and(aNan, bNan));
    win = b.or(win, b.and(tie, b.cmp("lt", ai, bi)));
    win = b.and(win, b.not(b.cmp("eq", ai, none)));
  }
  return win;
}
