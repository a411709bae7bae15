/**
 * A vector state looped over its components on js (src/compile/vout.ts, `vectorState`: the
 * shared scalars of the state plus groups of D per-component values). The shared components are
 * `let` scalars as in the unrolled kernel, each group a Float64Array (every JS number is a double:
 * an int group holds its indices exactly). Per step of j: the body's code outside the loop, the
 * update's shared part, then one loop over c computing the body's term and every group's new
 * component c (all computed, then assigned), then the shared components assigned. block_sum tiles
 * merge with the merge block split the same way; the finalize is one loop writing each run of the
 * output rows. Per component the operations and their order are those of the unrolled kernel, so
 * results are bit-identical.
 */
import type { Block } from "../../ir/ssa.js";
import type { KernelProgram } from "../../compile/program.js";
import { loopedBlock, loopedBody, type SplitBlock, type VectorState } from "../../compile/vout.js";
import { emit, namer, type Names } from "./emit.js";

/** What the pass needs from the renderer of the whole kernel. */
export interface JsStateEnv {
  /** The program as rendered (its D-term sums rolled into loops). */
  readonly p: KernelProgram;
  readonly vs: VectorState;
  /** Tile of j (block_sum), or null: direct updates of the totals. */
  readonly tile: number | null;
  readonly fastExp: boolean;
  /** Float32 accumulation: rounding operations of the update and merge go through `fr`. */
  readonly r32: boolean;
  /** The body's value names and loads of row `row`. */
  readonly bodyNames: (block: Block, row: string) => Names;
  /** The schedule's body levels. */
  readonly perRow: ReadonlySet<number>;
  readonly perPair: ReadonlySet<number>;
  /** The initial value of state component k, as JS source. */
  readonly init: (k: number) => string;
  /** Elements per row of each output. */
  readonly rows: readonly number[];
}

/** The arrays of the groups (one per group, for the totals and, tiled, the tile partials), declared once per call. */
export function stateArrays(e: JsStateEnv): string[] {
  const { vs } = e;
  const sets = e.tile === null ? ["tL"] : ["tL", "sL"];
  return sets.flatMap((x) => Array.from({ length: vs.groups }, (_, g) => `  const ${x}${g} = new Float64Array(${vs.count});`));
}

/** State accessor: shared component k (`sh<k>`), or component k (+ c) of a group (`gr<g>[…]`). */
type Acc = (k: number, c?: string) => string;

/** One row's pass over j, its finalize and its output writes (see the file's comment). */
export function vectorStatePass(e: JsStateEnv, row: string): string[] {
  const { p, vs, fastExp, r32 } = e;
  const { body, red } = p;
  const D = vs.count, first = vs.first;
  const f32 = p.dtype === "float32";
  const groupBase = (g: number): number => first + g * D;
  const acc = (sh: string, gr: string): Acc => (k, c) => {
    if (c === undefined && k < first) return `${sh}${k}`;
    const g = Math.floor((k - first) / D), off = (k - first) % D;
    return `${gr}${g}[${c === undefined ? off : off ? `${off} + ${c}` : c}]`;
  };
  const tN: readonly [string, string] = ["t", "tL"], sN: readonly [string, string] = e.tile === null ? tN : ["s", "sL"];
  const T = acc(tN[0], tN[1]), S = acc(sN[0], sN[1]);
  const assign = (k: number, v: string): string => (red.state[k]!.t === "i" || !r32 ? v : `fr(${v})`);
  /** A split block's writer: its shared part, its loop (its own head, or the body's loop `c`), each run's term. */
  const split = (blk: Block, sp: SplitBlock, prefix: string, label: string, given: Partial<Omit<Names, "value">>, round32: boolean, c?: string) => {
    const lb = loopedBlock(blk, sp, D);
    const n0 = blk.code.length;
    const code: Block = { code: lb.code, out: [] };
    const nm = namer(code, label, (n) => (n === lb.loop && c !== undefined ? c : `${prefix}${n}`), given);
    return {
      outside: (L: string[], ind: string): void => emit(code, nm, fastExp, (n) => n < n0 && sp.outside[n] === 1, L, ind, round32),
      /** The loop's instructions at `ind` + 2 (and, without the body's loop, its head at `ind`). */
      loop: (L: string[], ind: string): void => {
        if (c === undefined) emit(code, nm, fastExp, (n) => n === lb.loop, L, ind);
        emit(code, nm, fastExp, (n) => n > lb.loop, L, ind + "  ", round32);
      },
      c: nm.value(lb.loop),
      term: (r: number): string => nm.value(lb.terms[r]!),
      out: (k: number): string => nm.value(blk.out[k]!),
    };
  };
  /** The split merge of `other` into `state`, assigned in place. */
  const merge = (state: Acc, other: Acc, L: string[], ind: string): void => {
    const m = split(red.merge, vs.merge, "m", "merge", { state, other }, r32);
    m.outside(L, ind);
    m.loop(L, ind);
    for (let g = 0; g < vs.groups; g++) L.push(`${ind}  ${state(groupBase(g), m.c)} = ${assign(groupBase(g), m.term(g))};`);
    L.push(`${ind}}`);
    for (let k = 0; k < first; k++) L.push(`${ind}${state(k)} = ${assign(k, m.out(k))};`);
  };
  /** Every state component of the named state (shared scalars `sh<k>`, group arrays `gr<g>`) set to its initial value. */
  const initState = ([sh, gr]: readonly [string, string], L: string[], ind: string): void => {
    for (let k = 0; k < first; k++) L.push(`${ind}let ${sh}${k} = ${e.init(k)};`);
    for (let g = 0; g < vs.groups; g++) L.push(`${ind}${gr}${g}.fill(${e.init(groupBase(g))});`);
  };

  const lb = loopedBody(body, vs);
  const nb = body.code.length;
  const names = e.bodyNames({ code: lb.code, out: [] }, row);
  const live = (set: ReadonlySet<number>) => (n: number): boolean => n < nb && set.has(n) && vs.live[n] === 1;
  const c = names.value(lb.loop);
  const out: string[] = [];
  emit(body, names, fastExp, live(e.perRow), out, "    ");
  initState(tN, out, "    ");
  // the j loop's statements: the update of S (a fresh tile partial when tiled, else the totals)
  const inner: string[] = [];
  emit(body, names, fastExp, live(e.perPair), inner, "      ");
  // float32 programs round the formula's values to float32 (the body itself runs in double)
  if (f32) for (let k = 0; k < vs.fbase; k++) inner.push(`      const f${k} = fr(${names.value(body.out[k]!)});`);
  const fL = f32 ? "fL" : names.value(lb.term);
  const u = split(red.update, vs.update, "u", "update", {
    state: S,
    fval: (k, cc) => (cc !== undefined ? fL : f32 ? `f${k}` : names.value(body.out[k]!)),
  }, r32, c);
  u.outside(inner, "      ");
  // the loop's head and the term
  emit({ code: lb.code, out: [] }, names, fastExp, (n) => n === lb.loop, inner, "      ");
  emit({ code: lb.code, out: [] }, names, fastExp, (n) => n > lb.loop, inner, "        ");
  if (f32) inner.push(`        const fL = fr(${names.value(lb.term)});`);
  u.loop(inner, "      ");
  for (let g = 0; g < vs.groups; g++) inner.push(`        ${S(groupBase(g), c)} = ${assign(groupBase(g), u.term(g))};`);
  inner.push("      }");
  for (let k = 0; k < first; k++) inner.push(`      ${S(k)} = ${assign(k, u.out(k))};`);
  if (e.tile !== null) {
    out.push(`    for (let jt = 0; jt < nI; jt += ${e.tile}) {`);
    out.push(`      const je = Math.min(nI, jt + ${e.tile});`);
    initState(sN, out, "      ");
    out.push("      for (let j = jt; j < je; j++) {");
    out.push(...inner.map((l) => "  " + l));
    out.push("      }");
    merge(T, S, out, "      ");
    out.push("    }");
  } else {
    out.push("    for (let j = 0; j < nI; j++) {");
    out.push(...inner);
    out.push("    }");
  }
  const z = split(red.finalize, vs.finalize, "z", "finalize", { state: T }, false);
  z.outside(out, "    ");
  z.loop(out, "    ");
  vs.outRuns.forEach(({ output: o, offset }, r) =>
    out.push(`      r${o}[q${o} + ${row} * ${e.rows[o]!} + ${offset ? `${offset} + ` : ""}${z.c}] = ${z.term(r)};`));
  out.push("    }");
  return out;
}
