/**
 * Partial reductions: the same state, update and merge as a reduction, but a finalize that
 * writes the raw state. A shard of a distributed run (src/distributed) computes one block of
 * rows over one block of the reduced index with it, on any backend, with no renderer change;
 * the parent merges the blocks' states with the reduction's own `merge` and finalizes them.
 *
 * Outputs: the float state components in state order (one float output of `nf` per row), then,
 * when the state has any, the int components (one int32 output of `ni` per row). The int
 * components of every reduction are inner indices (−1 for an empty slot): the parent adds the
 * block's first index to them.
 */
import { SsaBuilder } from "../ir/ssa.js";
import type { ReductionDef, ReductionName, ReductionParams, ReductionProgram } from "./types.js";

/** Which state components are floats and which ints, in state order. */
export interface StateLayout {
  /** State index of each float component, in output order. */
  readonly floats: readonly number[];
  /** State index of each int component, in output order. */
  readonly ints: readonly number[];
}

/** The float and int components of a reduction program's state. */
export function stateLayout(p: ReductionProgram): StateLayout {
  const floats: number[] = [];
  const ints: number[] = [];
  p.state.forEach((s, k) => (s.t === "i" ? ints : floats).push(k));
  return { floats, ints };
}

const partials = new WeakMap<ReductionDef, ReductionDef>();

/**
 * The partial form of `def`. Its programs keep the reduction's state, update, merge and traits
 * (so backends take the same fast paths; the finalize they take as given); the definition's name differs —
 * `Partial` + the name — so that plans and prepared calls, cached by definition name, never mix
 * the two.
 */
export function partialReduction(def: ReductionDef): ReductionDef {
  let p = partials.get(def);
  if (!p) {
    p = {
      name: `Partial${def.name}` as ReductionName,
      method: `partial ${def.method}`,
      // a shard's state is merged, never differentiated
      grad: { kind: "none" },
      check: (q) => def.check(q),
      valueShape: ({ fdim, gdim, K }) => [stateLayout(def.build({ fdim, gdim, K: K as number, scheme: "block_sum" })).floats.length],
      formula2: def.formula2,
      usesK: def.usesK,
      sumLike: def.sumLike,
      build(params: ReductionParams): ReductionProgram {
        const inner = def.build(params);
        const { floats, ints } = stateLayout(inner);
        const fin = new SsaBuilder();
        const out = [...floats.map((k) => fin.input("state", k)), ...ints.map((k) => fin.input("state", k, "i"))];
        const outputs: { shape: number[]; t: "f" | "i" }[] = [{ shape: [floats.length], t: "f" }];
        if (ints.length) outputs.push({ shape: [ints.length], t: "i" });
        return { ...inner, finalize: fin.block(out), outputs };
      },
    };
    partials.set(def, p);
  }
  return p;
}
