/**
 * Online, stable log-sum-exp family: a running (max m, scaled sums s) state.
 * LogSumExp (optionally weighted: log Σ exp(f)·g) and SumSoftMaxWeight (Σ exp(f)·g / Σ exp(f)).
 */
import { KeOpsError } from "../errors.js";
import { SsaBuilder } from "../ir/ssa.js";
import type { ReductionDef, ReductionName, ReductionProgram, ShiftExpGroup } from "./types.js";

/**
 * Folds (f, weights g) into (m, s): m' = max(m, f), s' = s·e^(m−m') + g·e^(f−m').
 * A state with m = −∞ holds s = 0; −∞ values contribute nothing; +∞ gives +∞; NaN propagates to s.
 * One exp per pair, branch-free (SIMD lanes take either side): e^(−|f−m|) is e^(m−f) when f > m
 * and e^(f−m) otherwise, bit for bit (rounding is symmetric: m − f = −(f − m) exactly); in the
 * empty and equal cases (where it would read e^(−∞) or e^(∞−∞)) the selects use 0 or 1 instead.
 */
function foldShiftExp(b: SsaBuilder, m: number, s: readonly number[], f: number, g: readonly number[]): number[] {
  const ninf = b.c(-Infinity);
  const bigger = b.cmp("gt", f, m); // f > m: rescale the old sums (NaN f: false)
  const e = b.un("exp", b.un("neg", b.un("abs", b.bin("sub", f, m))));
  const rescale = b.select(b.cmp("eq", m, ninf), b.c(0), e);
  const scaleNew = b.select(b.cmp("eq", f, ninf), b.c(0), b.select(b.cmp("eq", f, m), b.c(1), e));
  const out = [b.select(bigger, f, m)];
  for (let k = 0; k < s.length; k++) {
    const ifBigger = b.bin("add", b.bin("mul", s[k]!, rescale), g[k]!);
    const ifNot = b.bin("add", s[k]!, b.bin("mul", g[k]!, scaleNew));
    out.push(b.select(bigger, ifBigger, ifNot));
  }
  return out;
}

/** Merges (m1, s1) and (m2, s2). */
function mergeShiftExp(b: SsaBuilder, m1: number, s1: readonly number[], m2: number, s2: readonly number[]): number[] {
  const ninf = b.c(-Infinity);
  const m = b.bin("max", m1, m2);
  const weight = (mk: number): number =>
    b.select(b.cmp("eq", mk, ninf), b.c(0), b.select(b.cmp("eq", mk, m), b.c(1), b.un("exp", b.bin("sub", mk, m))));
  const w1 = weight(m1);
  const w2 = weight(m2);
  return [m, ...s1.map((x, k) => b.bin("add", b.bin("mul", x, w1), b.bin("mul", s2[k]!, w2)))];
}

/**
 * Builds a program of `groups` independent (m, s[width]) accumulators; `inputs(grp)` gives each
 * group's exponent f and weights g as formula-value indices (null: a weight of 1), `finish(b, m, s)`
 * its outputs. The layout is declared as the program's `shiftExp` trait.
 */
export function shiftExpProgram(
  name: ReductionName,
  groups: number,
  width: number,
  inputs: (grp: number) => { f: number; g: (number | null)[] },
  finish: (b: SsaBuilder, m: number, s: number[]) => number[],
  outDim: number,
  tiled: boolean,
): ReductionProgram {
  // state: the groups' maxima m, then each group's sums (one group: m, s…; a vector formula's
  // per-component groups: m[D] then s[D], runs of D components that a vector state loops over)
  const mAt = (grp: number): number => grp;
  const sAt = (grp: number, k: number): number => groups + grp * width + k;
  const state = [
    ...Array.from({ length: groups }, () => ({ t: "f" as const, init: -Infinity })),
    ...Array.from({ length: groups * width }, () => ({ t: "f" as const, init: 0 })),
  ];
  const up = new SsaBuilder();
  const mg = new SsaBuilder();
  const fin = new SsaBuilder();
  const upOut: number[] = [];
  const mgOut: number[] = [];
  const finOut: number[] = [];
  const read = (b: SsaBuilder, kind: "state" | "other", grp: number): [number, number[]] => [
    b.input(kind, mAt(grp)),
    Array.from({ length: width }, (_, k) => b.input(kind, sAt(grp, k))),
  ];
  /** A group's new (m, s…) placed in state order. */
  const place = (into: number[], grp: number, [m, ...s]: number[]): void => {
    into[mAt(grp)] = m!;
    s.forEach((v, k) => (into[sAt(grp, k)] = v));
  };
  const declared: ShiftExpGroup[] = [];
  for (let grp = 0; grp < groups; grp++) {
    const [m, s] = read(up, "state", grp);
    const { f, g } = inputs(grp);
    declared.push({ m: mAt(grp), s: Array.from({ length: width }, (_, k) => sAt(grp, k)), f, g });
    place(upOut, grp, foldShiftExp(up, m, s, up.input("fval", f), g.map((k) => (k === null ? up.c(1) : up.input("fval", k)))));
    const [m1, s1] = read(mg, "state", grp);
    const [m2, s2] = read(mg, "other", grp);
    place(mgOut, grp, mergeShiftExp(mg, m1, s1, m2, s2));
    const [mf, sf] = read(fin, "state", grp);
    finOut.push(...finish(fin, mf, sf));
  }
  return {
    name,
    state,
    update: up.block(upOut),
    merge: mg.block(mgOut),
    finalize: fin.block(finOut),
    outputs: [{ shape: [outDim], t: "f" }],
    tiled,
    traits: { shiftExp: declared },
  };
}

/** log Σ_j exp(F) (per component of F), or log Σ_j exp(F)·G with a weight G (F scalar). */
export const LogSumExpReduction: ReductionDef = {
  name: "LogSumExp",
  method: "logsumexp",
  grad: { kind: "logSumExp" },
  formula2: "optional",
  usesK: false,
  sumLike: true,
  check: ({ fdim, gdim }) => {
    if (gdim !== undefined && fdim !== 1) throw new KeOpsError(`logsumexp: with a weight, expected a scalar formula, got dimension ${fdim}`);
  },
  valueShape: ({ fdim, gdim }) => [gdim ?? fdim],
  build({ fdim, gdim, scheme }): ReductionProgram {
    const tiled = scheme !== "direct_sum";
    const lse = (b: SsaBuilder, m: number, s: number[]): number[] => s.map((x) => b.bin("add", m, b.un("log", x)));
    if (gdim === undefined) {
      return shiftExpProgram("LogSumExp", fdim, 1, (c) => ({ f: c, g: [null] }), lse, fdim, tiled);
    }
    LogSumExpReduction.check({ fdim, gdim, K: 1 });
    return shiftExpProgram(
      "LogSumExp", 1, gdim,
      () => ({ f: 0, g: Array.from({ length: gdim }, (_, k) => 1 + k) }),
      lse, gdim, tiled,
    );
  },
};

/** Σ_j exp(F)·G / Σ_j exp(F), F scalar. An empty range gives NaN (0/0). */
export const SumSoftMaxWeightReduction: ReductionDef = {
  name: "SumSoftMaxWeight",
  method: "sumsoftmaxweight",
  grad: { kind: "softMaxWeight" },
  formula2: "required",
  usesK: false,
  sumLike: true,
  check: ({ fdim }) => {
    if (fdim !== 1) throw new KeOpsError(`sumsoftmaxweight: expected a scalar formula, got dimension ${fdim}`);
  },
  valueShape: ({ gdim }) => [gdim!],
  build({ fdim, gdim, scheme }): ReductionProgram {
    SumSoftMaxWeightReduction.check({ fdim, gdim, K: 1 });
    const D = gdim!;
    return shiftExpProgram(
      "SumSoftMaxWeight", 1, 1 + D,
      () => ({ f: 0, g: [null, ...Array.from({ length: D }, (_, k) => 1 + k)] }),
      (b, _m, s) => s.slice(1).map((x) => b.bin("div", x, s[0]!)),
      D, scheme !== "direct_sum",
    );
  },
};
