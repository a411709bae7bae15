/**
 * K smallest values per component, sorted ascending, ties to the lowest index: a sorted list of K
 * (value, index) pairs per component, with a branch-free insertion and a skip test against the
 * current K-th value (the update's guard).
 */
import { argError } from "../errors.js";
import { SsaBuilder } from "../ir/ssa.js";
import { beats } from "./order.js";
import type { ReductionDef, ReductionName, ReductionProgram } from "./types.js";

type Slot = [value: number, index: number];

/** Inserts (v, i) into the sorted list (a new slot k takes old k−1, the new pair, or old k). */
function insert(b: SsaBuilder, list: readonly Slot[], v: number, i: number, newer: boolean): Slot[] {
  const w = list.map(([lv, li]) => beats(b, "min", v, i, lv, li, newer));
  return list.map(([lv, li], k) => {
    const fromNew: Slot = [b.select(w[k]!, v, lv), b.select(w[k]!, i, li)];
    if (k === 0) return fromNew;
    const [pv, pi] = list[k - 1]!;
    return [b.select(w[k - 1]!, pv, fromNew[0]), b.select(w[k - 1]!, pi, fromNew[1])];
  });
}

function kMin(name: ReductionName, method: string, want: "value" | "index" | "both", aliases?: string[]): ReductionDef {
  return {
    name,
    method,
    aliases,
    grad: want === "index" ? { kind: "none" } : { kind: "selected", via: "KMinArgKMin" },
    formula2: "none",
    usesK: true,
    sumLike: false,
    check: ({ K }) => {
      if (typeof K !== "number" || !Number.isInteger(K) || K < 1) argError("K", "a positive integer", K);
    },
    valueShape: ({ fdim, K }) => (fdim === 1 ? [K as number] : [K as number, fdim]),
    build({ fdim: D, K }): ReductionProgram {
      // state layout: slot k of component c: value at k·D + c, index at D·K + k·D + c (the
      // outputs' (K, D) order; slot k of every component is a run of D, which a vector state loops over)
      const n = D * K;
      const at = (c: number, k: number): number => k * D + c;
      const state = [
        ...Array.from({ length: n }, () => ({ t: "f" as const, init: Infinity })),
        ...Array.from({ length: n }, () => ({ t: "i" as const, init: -1 })),
      ];
      const read = (b: SsaBuilder, kind: "state" | "other", c: number): Slot[] =>
        Array.from({ length: K }, (_, k) => [b.input(kind, at(c, k)), b.input(kind, n + at(c, k), "i")]);
      const up = new SsaBuilder();
      const mg = new SsaBuilder();
      const fin = new SsaBuilder();
      const j = up.idx();
      const upLists: Slot[][] = [];
      const mgLists: Slot[][] = [];
      let guard: number | undefined;
      for (let c = 0; c < D; c++) {
        const list = read(up, "state", c);
        const f = up.input("fval", c);
        const last = list[K - 1]!;
        const w = beats(up, "min", f, j, last[0], last[1], true);
        guard = guard === undefined ? w : up.or(guard, w);
        upLists.push(insert(up, list, f, j, true));
        let acc = read(mg, "state", c);
        for (const [ov, oi] of read(mg, "other", c)) acc = insert(mg, acc, ov, oi, false);
        mgLists.push(acc);
      }
      // the new state in the state's order: values then indices, slot-major
      const flat = (lists: Slot[][]): number[] => [0, 1].flatMap((q) => Array.from({ length: n }, (_, s) => lists[s % D]![Math.floor(s / D)]![q]!));
      // outputs are laid out (K, D): slot k of component c at k*D + c
      const vals: number[] = [];
      const inds: number[] = [];
      for (let k = 0; k < K; k++)
        for (let c = 0; c < D; c++) {
          vals.push(fin.input("state", at(c, k)));
          inds.push(fin.input("state", n + at(c, k), "i"));
        }
      const shape = D === 1 ? [K] : [K, D];
      const outputs = [];
      if (want !== "index") outputs.push({ shape, t: "f" as const });
      if (want !== "value") outputs.push({ shape, t: "i" as const });
      return {
        name,
        state,
        update: { ...up.block(flat(upLists)), guard },
        merge: mg.block(flat(mgLists)),
        finalize: fin.block(want === "value" ? vals : want === "index" ? inds : [...vals, ...inds]),
        outputs,
        tiled: false,
        traits: { sortedK: { K, values: 0, indices: n }, indexStates: Array.from({ length: n }, (_, k) => n + k), guardShortcut: true },
      };
    },
  };
}

export const KMinReduction = kMin("KMin", "Kmin", "value");
export const ArgKMinReduction = kMin("ArgKMin", "argKmin", "index");
export const KMinArgKMinReduction = kMin("KMinArgKMin", "KminArgKmin", "both", ["KMin_ArgKMin"]);
