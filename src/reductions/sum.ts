/** Sum reduction with the three KeOps summation schemes. */
import { SsaBuilder } from "../ir/ssa.js";
import type { ReductionDef, ReductionProgram } from "./types.js";

export const SumReduction: ReductionDef = {
  name: "Sum",
  method: "sum",
  grad: { kind: "sum" },
  formula2: "none",
  usesK: false,
  sumLike: true,
  check: () => {},
  valueShape: ({ fdim }) => [fdim],
  build({ fdim: D, scheme }): ReductionProgram {
    const kahan = scheme === "kahan_scheme";
    // state: D partial sums, then (kahan) D compensations
    const state = Array.from({ length: kahan ? 2 * D : D }, () => ({ t: "f" as const, init: 0 }));
    const up = new SsaBuilder();
    const mg = new SsaBuilder();
    const fin = new SsaBuilder();
    const upOut: number[] = [];
    const mgOut: number[] = [];
    if (!kahan) {
      for (let c = 0; c < D; c++) {
        upOut.push(up.bin("add", up.input("state", c), up.input("fval", c)));
        mgOut.push(mg.bin("add", mg.input("state", c), mg.input("other", c)));
      }
    } else {
      // Kahan: s += y with compensation c; merge folds the other's compensated sum the same way.
      const step = (b: SsaBuilder, s: number, comp: number, x: number): [number, number] => {
        const y = b.bin("sub", x, comp);
        const t = b.bin("add", s, y);
        return [t, b.bin("sub", b.bin("sub", t, s), y)];
      };
      const sums: number[] = [];
      const comps: number[] = [];
      const msums: number[] = [];
      const mcomps: number[] = [];
      for (let c = 0; c < D; c++) {
        const [s, k] = step(up, up.input("state", c), up.input("state", D + c), up.input("fval", c));
        sums.push(s);
        comps.push(k);
        const other = mg.bin("sub", mg.input("other", c), mg.input("other", D + c));
        const [ms, mk] = step(mg, mg.input("state", c), mg.input("state", D + c), other);
        msums.push(ms);
        mcomps.push(mk);
      }
      upOut.push(...sums, ...comps);
      mgOut.push(...msums, ...mcomps);
    }
    const finOut = Array.from({ length: D }, (_, c) => fin.input("state", c));
    return {
      name: "Sum",
      state,
      update: up.block(upOut),
      merge: mg.block(mgOut),
      finalize: fin.block(finOut),
      outputs: [{ shape: [D], t: "f" }],
      tiled: scheme === "block_sum",
    };
  },
};
