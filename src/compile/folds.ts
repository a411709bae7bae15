/**
 * Folds over a vector dimension other than sums, as loops: the chains of `mul`, `min`, `max` and
 * `select` that a product of components, or the inner Min / Max / ArgMin / ArgMax (a left-to-right
 * scan of compare-and-select steps, src/formula/ops/vector.ts), lower to. Run by the vector-loop
 * pass (src/compile/loops.ts) after the sums are rolled.
 *
 * A chain is a run of instructions of one op, each reading the previous one as one operand (the
 * same operand position all along): v₀, v₁ = F(v₀, t₁), …, v_m. Its steps s…e roll into a loop
 * (`acc = v_{s−1}; for c < e − s + 1: acc = F(acc, t(s + c))`) when the steps are isomorphic:
 * one template (src/compile/terms.ts) in which the previous value is an accumulator leaf. The
 * accumulator starts at the value before the loop (the first term itself when s = 1), not at an
 * identity element: the loop executes exactly the operations of the unrolled fold, in its order,
 * NaN and ±Inf included, so results are bit-identical.
 *
 * Several chains advance in one loop when their steps read each other's previous values: ArgMax
 * is two chains (the best value, its index) whose steps share the comparison. A step's constant
 * that is affine in the position (the index c of ArgMax, an exact integer) is a counter: one more
 * accumulator, stepped by an exact float addition. So no new instruction is needed.
 *
 * Not rolled (left unrolled: never wrong, only slower to compile): chains whose intermediate
 * values are read outside the fold, chains whose steps read each other in a cycle, folds nested in
 * another loop, fewer than the threshold's number of folded values.
 */
import { loopRegions, type Block, type Instr, type Opcode } from "../ir/ssa.js";
import { emitTerm, liveFrom, matcher, opTemplate, sharedOf, templateLevel, type Tpl } from "./terms.js";

/** The ops of the folds rolled here, with the operand positions the chain may run through. */
const FOLD_OPS: ReadonlyMap<Opcode, readonly number[]> = new Map<Opcode, number[]>([
  ["mul", [0, 1]], ["min", [0, 1]], ["max", [0, 1]], ["select", [1, 2]],
]);

/** A counter's values stay exact integers in float32: |value| ≤ 2²⁴. */
const EXACT_INT = 2 ** 24;

/** A chain: vals[0] the value before the first step, vals[k] = op(…, vals[k − 1] at operand q, …). */
interface Chain {
  readonly vals: readonly number[];
  readonly q: number;
}

/** A fold: chains rolled into one loop of `count` iterations, chain ch's from its step start. */
interface Group {
  readonly count: number;
  /** Chain id → first step in the loop. */
  readonly start: ReadonlyMap<number, number>;
  /** Chain id → its step's template. */
  readonly tpl: ReadonlyMap<number, Tpl>;
  /** The chains in the order of their `next`s (a `next` precedes those of the accumulators its value reads). */
  readonly order: readonly number[];
}

type AccLeaf = Tpl & { kind: "acc" };
type IndexLeaf = Tpl & { kind: "index" };

/**
 * The chains of ≥ minDim − 1 steps outside the loop regions, the latest first (dead ones too: the
 * best value of an ArgMax is one, its last step unused).
 */
function findChains(code: readonly Instr[], inRegion: Uint8Array, minDim: number): { chains: Chain[]; chainOf: Int32Array; posOf: Int32Array } {
  const chains: Chain[] = [];
  const chainOf = new Int32Array(code.length).fill(-1), posOf = new Int32Array(code.length);
  const alike = (a: Instr, b: Instr): boolean =>
    a.op === b.op && a.t === b.t && a.a.length === b.a.length && a.k.length === b.k.length && a.k.every((x, q) => x === b.k[q]);
  for (let n = code.length - 1; n >= 0; n--) {
    const top = code[n]!;
    const positions = FOLD_OPS.get(top.op);
    if (!positions || top.t !== "f" || inRegion[n] || chainOf[n] >= 0) continue;
    let best: Chain | null = null;
    for (const q of positions) {
      const vals = [n];
      for (let cur = n; ;) {
        const prev = code[cur]!.a[q]!;
        vals.push(prev);
        if (!alike(code[prev]!, top) || inRegion[prev] || chainOf[prev] >= 0) break;
        cur = prev;
      }
      if (!best || vals.length > best.vals.length) best = { vals: vals.reverse(), q };
    }
    if (best!.vals.length < minDim) continue;
    best!.vals.forEach((v, k) => {
      if (k === 0) return;
      chainOf[v] = chains.length;
      posOf[v] = k;
    });
    chains.push(best!);
  }
  return { chains, chainOf, posOf };
}

/** What a block needs: its outputs and its loop regions (kept whole). */
function rootsOf(block: Block, inRegion: Uint8Array): number[] {
  const roots = [...block.out];
  inRegion.forEach((r, n) => r && roots.push(n));
  return roots;
}

/** The accumulator and index leaves of a template. */
function leavesOf(t: Tpl, acc: AccLeaf[], index: IndexLeaf[]): void {
  if (t.kind === "acc") acc.push(t);
  else if (t.kind === "index") index.push(t);
  else if (t.kind === "op") for (const a of t.args) leavesOf(a, acc, index);
}

/**
 * The block with its D-step folds rolled into loops (see the file's comment), or the block itself
 * when none is found. `minDim`: the fewest values a rolled fold combines.
 */
export function rollFolds(block: Block, minDim: number): Block {
  const code = block.code;
  const inRegion = new Uint8Array(code.length);
  for (const [a, b] of loopRegions(block)) inRegion.fill(1, a, b + 1);
  // live values and their live users; loop regions are kept whole
  const live = liveFrom(code, rootsOf(block, inRegion));
  const { chains, chainOf, posOf } = findChains(code, inRegion, minDim);
  if (!chains.length) return block;
  const users: number[][] = code.map(() => []);
  code.forEach((ins, n) => live[n] && ins.a.forEach((a) => users[a]!.push(n)));
  const outputs = new Set(block.out);

  // an accumulator: consecutive values of a chain (the previous values of its steps start…);
  // an index: integer constants affine in c
  const match = matcher(code, (vs) => {
    const id = chainOf[vs[1]!]!;
    if (vs.every((v) => v === vs[0])) return undefined;
    if (id < 0) {
      if (chainOf[vs[0]!]! >= 0) return null;
      return indexOf(vs);
    }
    const ch = chains[id]!, p = posOf[vs[1]!]! - 1;
    return vs.every((v, c) => ch.vals[p + c] === v) ? { kind: "acc", chain: id, start: p + 1 } : null;
  });
  const indexOf = (vs: readonly number[]): Tpl | null | undefined => {
    if (!vs.every((v) => code[v]!.op === "const" && code[v]!.t === "f")) return undefined;
    const x = vs.map((v) => code[v]!.k[0]!), base = x[0]!, stride = x[1]! - base;
    const ok = x.every((v, c) => Number.isInteger(v) && Math.abs(v) <= EXACT_INT && v === base + stride * c);
    return ok ? { kind: "index", base, stride } : null;
  };

  /** The step template of chain `id` over steps start … start + count − 1, or null. */
  const stepTpl = (id: number, start: number, count: number): Tpl | null => {
    const { vals } = chains[id]!;
    if (start < 1 || start + count > vals.length) return null;
    return opTemplate(code, vals.slice(start, start + count), match);
  };

  /** The chains whose steps from `start` (of chain `id`) on roll into one loop of `count` iterations, or null. */
  const tryGroup = (id: number, start: number, count: number): Group | null => {
    const starts = new Map([[id, start]]), tpl = new Map<number, Tpl>(), deps = new Map<number, Set<number>>();
    for (const queue = [id]; queue.length;) {
      const ch = queue.pop()!;
      const t = stepTpl(ch, starts.get(ch)!, count);
      if (!t) return null;
      tpl.set(ch, t);
      const accs: AccLeaf[] = [];
      leavesOf(t, accs, []);
      deps.set(ch, new Set(accs.map((a) => a.chain)));
      for (const a of accs) {
        const s = starts.get(a.chain);
        if (s === undefined) {
          starts.set(a.chain, a.start);
          queue.push(a.chain);
        } else if (s !== a.start) return null;
      }
    }
    // the `next`s: a chain's before those of the other accumulators its value reads
    const order: number[] = [], state = new Map<number, 1 | 2>();
    const visit = (ch: number): boolean => {
      if (state.get(ch) === 2) return true;
      if (state.get(ch) === 1) return false;
      state.set(ch, 1);
      for (const [other, d] of deps) if (other !== ch && d.has(ch) && !visit(other)) return false;
      state.set(ch, 2);
      order.push(ch);
      return true;
    };
    for (const ch of starts.keys()) if (!visit(ch)) return null;
    return { count, start: starts, tpl, order };
  };

  /** Whether a group's loop computes values nobody else reads (its chains' last values aside). */
  const selfContained = (g: Group): boolean => {
    const dynamic = new Map<Tpl, boolean>();
    const isDyn = (t: Tpl): boolean => {
      let d = dynamic.get(t);
      if (d === undefined) dynamic.set(t, (d = t.kind === "acc" || (t.kind === "op" && t.args.some(isDyn))));
      return d;
    };
    const inside = new Set<number>();
    const walk = (t: Tpl, v: number): void => {
      if (t.kind !== "op" || !isDyn(t)) return;
      inside.add(v);
      t.args.forEach((a, q) => walk(a, code[v]!.a[q]!));
    };
    const finals = new Set<number>();
    for (const [ch, s] of g.start) {
      const { vals } = chains[ch]!;
      for (let k = s; k < s + g.count; k++) walk(g.tpl.get(ch)!, vals[k]!);
      finals.add(vals[s + g.count - 1]!);
    }
    const at = Math.max(...finals);
    const shared = new Set<number>();
    for (const t of g.tpl.values()) sharedOf(t, shared);
    for (const v of shared) if (inside.has(v)) return false;
    for (const v of inside) {
      if (finals.has(v)) {
        // the loop is emitted where its last chain ends: no value before reads another's end
        if (users[v]!.some((u) => inside.has(u) || u < at)) return false;
      } else if (outputs.has(v) || users[v]!.some((u) => !inside.has(u))) return false;
    }
    return true;
  };

  const groups: Group[] = [];
  const grouped = new Set<number>();
  chains.forEach((ch, id) => {
    const e = ch.vals.length - 1;
    if (grouped.has(id) || !live[ch.vals[e]!]) return;
    const fits = (s: number): Group | null => {
      const g = tryGroup(id, s, e - s + 1);
      return g && [...g.start.keys()].every((c) => !grouped.has(c)) ? g : null;
    };
    if (e < 2 || !fits(e - 1)) return;
    // the longest run of matching steps ending at the chain's last (bisection: a sub-run of a
    // matching run matches); the steps before it are computed unrolled, the loop starts from them
    let lo = 1, hi = e - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (fits(mid)) hi = mid;
      else lo = mid + 1;
    }
    const g = fits(lo)!;
    if (g.count + 1 < minDim || !selfContained(g)) return;
    groups.push(g);
    for (const c of g.start.keys()) grouped.add(c);
  });
  if (!groups.length) return block;
  return emitFolds(block, chains, groups, inRegion);
}

/** The block with the groups' loops in place of their chains. */
function emitFolds(block: Block, chains: readonly Chain[], groups: readonly Group[], inRegion: Uint8Array): Block {
  const code = block.code;
  const inits = (g: Group): number[] => [...g.start].map(([ch, s]) => chains[ch]!.vals[s - 1]!);
  const finals = (g: Group): number[] => [...g.start].map(([ch, s]) => chains[ch]!.vals[s + g.count - 1]!);
  // a group's chains end where its last one does; what it reads from outside its loop
  const groupAt = new Map<number, Group>(), reads = new Map<number, number[]>();
  for (const g of groups) {
    const s = new Set<number>(inits(g));
    for (const t of g.tpl.values()) sharedOf(t, s);
    for (const f of finals(g)) reads.set(f, [...s]);
    groupAt.set(Math.max(...finals(g)), g);
  }
  const live = liveFrom(code, rootsOf(block, inRegion), (v) => reads.get(v) ?? code[v]!.a);
  const out: Instr[] = [];
  const map = new Int32Array(code.length).fill(-1);
  const push = (ins: Instr): number => out.push(ins) - 1;
  code.forEach((ins, n) => {
    const g = groupAt.get(n);
    if (g ? !finals(g).some((f) => live[f]) : !live[n]) return;
    if (g) {
      const accs = emitFold(g, chains, map, push, out);
      finals(g).forEach((f, k) => (map[f] = accs[k]!));
    } else if (!reads.has(n)) {
      // an earlier region's `end` names its `loop`
      map[n] = push({ ...ins, a: ins.a.map((a) => map[a]!), k: ins.op === "end" ? [map[ins.k[0]!]!] : ins.k });
    }
  });
  return { code: out, out: block.out.map((o) => map[o]!) };
}

/** Emits a group's loop region; returns its chains' accumulators (in the group's chain order). */
function emitFold(g: Group, chains: readonly Chain[], map: Int32Array, push: (ins: Instr) => number, out: readonly Instr[]): number[] {
  const level = (v: number): number => out[map[v]!]!.level;
  let L = 0;
  for (const [ch, s] of g.start) L = Math.max(L, templateLevel(g.tpl.get(ch)!, level), level(chains[ch]!.vals[s - 1]!));
  // counters: one per distinct index leaf, its constants before the region
  const indexLeaves: IndexLeaf[] = [];
  for (const t of g.tpl.values()) leavesOf(t, [], indexLeaves);
  const counters = new Map<string, { base: number; step: number; acc: number }>();
  const cst = (x: number): number => push({ op: "const", a: [], k: [x], t: "f", level: 0 });
  for (const t of indexLeaves) {
    const key = `${t.base},${t.stride}`;
    if (!counters.has(key)) counters.set(key, { base: cst(t.base), step: cst(t.stride), acc: -1 });
  }
  const accOf = new Map<number, number>();
  for (const [ch, s] of g.start) accOf.set(ch, push({ op: "acc", a: [map[chains[ch]!.vals[s - 1]!]!], k: [], t: "f", level: L }));
  for (const c of counters.values()) c.acc = push({ op: "acc", a: [c.base], k: [], t: "f", level: L });
  const loop = push({ op: "loop", a: [], k: [g.count], t: "i", level: L });
  const memo = new Map<Tpl, number>();
  const leaf = (t: Tpl & { kind: "acc" | "index" }): number =>
    t.kind === "acc" ? accOf.get(t.chain)! : counters.get(`${t.base},${t.stride}`)!.acc;
  const value = new Map<number, number>();
  for (const ch of g.start.keys()) value.set(ch, emitTerm(g.tpl.get(ch)!, loop, L, (v) => map[v]!, push, leaf, memo));
  const stepped = [...counters.values()].map((c) => [c.acc, push({ op: "add", a: [c.acc, c.step], k: [], t: "f", level: L })] as const);
  for (const ch of g.order) push({ op: "next", a: [accOf.get(ch)!, value.get(ch)!], k: [], t: "f", level: L });
  for (const [acc, v] of stepped) push({ op: "next", a: [acc, v], k: [], t: "f", level: L });
  push({ op: "end", a: [], k: [loop], t: "i", level: L });
  return [...g.start.keys()].map((ch) => accOf.get(ch)!);
}
