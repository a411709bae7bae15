/** Min, Max and their arg- and combined forms, per component of the formula. */
import { SsaBuilder } from "../ir/ssa.js";
import { beats, emptyValue, type Direction } from "./order.js";
import type { ReductionDef, ReductionName, ReductionProgram } from "./types.js";

type Want = "value" | "index" | "both";

function minMax(name: ReductionName, method: string, dir: Direction, want: Want, aliases?: string[]): ReductionDef {
  return {
    name,
    method,
    aliases,
    grad: want === "index" ? { kind: "none" } : { kind: "selected", via: dir === "min" ? "MinArgMin" : "MaxArgMax" },
    formula2: "none",
    usesK: false,
    sumLike: false,
    check: () => {},
    valueShape: ({ fdim }) => [fdim],
    build({ fdim: D }): ReductionProgram {
      // state: D values, then D indices
      const state = [
        ...Array.from({ length: D }, () => ({ t: "f" as const, init: emptyValue(dir) })),
        ...Array.from({ length: D }, () => ({ t: "i" as const, init: -1 })),
      ];
      const up = new SsaBuilder();
      const mg = new SsaBuilder();
      const fin = new SsaBuilder();
      const upV: number[] = [], upI: number[] = [], mgV: number[] = [], mgI: number[] = [];
      const j = up.idx();
      let guard: number | undefined;
      for (let c = 0; c < D; c++) {
        const v = up.input("state", c), i = up.input("state", D + c, "i"), f = up.input("fval", c);
        const w = beats(up, dir, f, j, v, i, true);
        guard = guard === undefined ? w : up.or(guard, w);
        upV.push(up.select(w, f, v));
        upI.push(up.select(w, j, i));
        const v1 = mg.input("state", c), i1 = mg.input("state", D + c, "i");
        const v2 = mg.input("other", c), i2 = mg.input("other", D + c, "i");
        const w2 = beats(mg, dir, v2, i2, v1, i1, false);
        mgV.push(mg.select(w2, v2, v1));
        mgI.push(mg.select(w2, i2, i1));
      }
      const vals = Array.from({ length: D }, (_, c) => fin.input("state", c));
      const inds = Array.from({ length: D }, (_, c) => fin.input("state", D + c, "i"));
      const outputs = [];
      if (want !== "index") outputs.push({ shape: [D], t: "f" as const });
      if (want !== "value") outputs.push({ shape: [D], t: "i" as const });
      const finOut = want === "value" ? vals : want === "index" ? inds : [...vals, ...inds];
      return {
        name,
        state,
        update: { ...up.block([...upV, ...upI]), guard },
        merge: mg.block([...mgV, ...mgI]),
        finalize: fin.block(finOut),
        outputs,
        tiled: false,
        traits: { indexStates: Array.from({ length: D }, (_, c) => D + c), guardShortcut: true },
      };
    },
  };
}

export const MinReduction = minMax("Min", "min", "min", "value");
export const ArgMinReduction = minMax("ArgMin", "argmin", "min", "index");
export const MinArgMinReduction = minMax("MinArgMin", "minArgmin", "min", "both", ["Min_ArgMin"]);
export const MaxReduction = minMax("Max", "max", "max", "value");
export const ArgMaxReduction = minMax("ArgMax", "argmax", "max", "index");
export const MaxArgMaxReduction = minMax("MaxArgMax", "maxArgmax", "max", "both", ["Max_ArgMax"]);
