/**
 * Vector outputs as loops: a formula whose output has D ≥ the loop threshold components that are
 * D alike per-component expressions (`K·b_j[c]`, `b_j[c]·x_i[c]`, `exp(x_i[c] − y_j[c])`: one
 * template of src/compile/loops.ts, its loads affine in c), reduced by a plain sum (state[c] +=
 * f[c], merged state[c] + other[c], finalized as the state itself; direct_sum or block_sum), is
 * rendered as one loop over c with the state as an array instead of D named values and D copies of
 * the update, merge and finalize code. Per component the operations and their order are those of
 * the unrolled kernel, so results are bit-identical.
 *
 * This module recognises the case and writes the loop's instructions (backend-neutral); each
 * renderer emits the loop around them and keeps the state as an array.
 *
 * The general form ({@link vectorState}, which every renderer takes where the plain form does not
 * apply) covers the other reductions whose state is a few scalars shared by every component plus
 * groups of D per-component values: SumSoftMaxWeight and LogSumExp with a D-dimensional weight
 * (state m, s, w[D]), the Kahan sum (s[D], compensation[D]), and the reductions applied per
 * component in the form src/compile/loop-form.ts gives them (Min/Max and their arg forms: v[D],
 * i[D]; the K-min family: K runs of values and K of indices; LogSumExp of a vector formula: m[D],
 * s[D]). Each of the update, merge and finalize blocks is
 * split into the instructions computed once (the shared state's new values and what every
 * component reads, like the rescaling factors) and one template per group whose leaves are the
 * group's `state c`, `other c`, the body's looped `fval c` and shared values.
 */
import { LOOP_MIN_DIM, loopRegions } from "./loops.js";
import { emitTerm, inputLeaf, matcher, sharedOf, type Tpl } from "./terms.js";
import type { Block, Instr } from "../ir/ssa.js";
import type { ReductionProgram, ShiftExpGroup } from "../reductions/types.js";

/** A vector output rendered as a loop over its components. */
export interface VectorOutput {
  /** D: the body's outputs, the state's and the output row's components. */
  readonly count: number;
  /** Body output c (and the update's fval c) as a function of c. */
  readonly term: Tpl;
  /** Body instructions still needed outside the loop (1), the rest only feed the looped outputs. */
  readonly live: Uint8Array;
}

/** Whether `v` of `b` is the instruction `op` with the given operands / immediates. */
function is(b: Block, v: number, op: string, k?: number): boolean {
  const ins = b.code[v]!;
  return ins.op === op && (k === undefined || ins.k[0] === k);
}

/** Each `out[c]` of the block is `add(state c, <second> c)` (in this operand order). */
function perComponentAdd(b: Block, second: "fval" | "other", D: number): boolean {
  return b.out.length === D && b.out.every((v, c) => {
    const ins = b.code[v]!;
    return ins.op === "add" && ins.t === "f" && is(b, ins.a[0]!, "state", c) && is(b, ins.a[1]!, second, c);
  });
}

/**
 * The looped form of a program's vector output (see the file's comment), or null when the body
 * (after the earlier passes) and reduction do not match. `nSlots`: the program's input slots
 * (loads of extra slots, e.g. blocked distances, stay outside the template).
 */
export function vectorOutput(body: Block, red: ReductionProgram, nSlots: number, minDim = LOOP_MIN_DIM): VectorOutput | null {
  const D = body.out.length;
  if (D < Math.max(2, minDim) || red.traits?.shiftExp || red.traits?.sortedK || red.update.guard !== undefined) return null;
  if (red.state.length !== D || red.state.some((s) => s.t !== "f" || !Object.is(s.init, red.state[0]!.init))) return null;
  if (red.outputs.length !== 1 || red.outputs[0]!.t !== "f" || red.outputs[0]!.shape.reduce((a, b) => a * b, 1) !== D) return null;
  if (!perComponentAdd(red.update, "fval", D) || !perComponentAdd(red.merge, "other", D)) return null;
  if (red.finalize.out.length !== D || !red.finalize.out.every((v, c) => is(red.finalize, v, "state", c))) return null;
  const term = matcher(body.code)(body.out);
  if (!term || readsExtra(term, nSlots)) return null;
  const shared = new Set<number>();
  sharedOf(term, shared);
  return { count: D, term, live: liveBody(body, shared) };
}

function readsExtra(t: Tpl, nSlots: number): boolean {
  if (t.kind === "load") return t.slot >= nSlots;
  return t.kind === "op" && t.args.some((a) => readsExtra(a, nSlots));
}

type InputTpl = Extract<Tpl, { kind: "input" }>;

/** A reduction block split for a loop over the components (see {@link vectorState}). */
export interface SplitBlock {
  /** Instructions computed outside the loop (1): the shared outputs and what the templates share. */
  readonly outside: Uint8Array;
  /** Per run of looped outputs, the template of its component c. */
  readonly terms: readonly Tpl[];
}

/** A vector state rendered as a loop over its components (see the file's comment). */
export interface VectorState extends VectorOutput {
  /** The body's looped outputs are `fbase + c` (the term); the ones before are scalars shared by every component. */
  readonly fbase: number;
  /**
   * The state: components `0 … first − 1` are shared scalars, group g holds component c at
   * `first + g·count + c`.
   */
  readonly first: number;
  readonly groups: number;
  /** Outputs of update and merge: the shared state's (computed once), then one run per group. */
  readonly update: SplitBlock;
  readonly merge: SplitBlock;
  /**
   * The finalize: its runs in output order, each output's row being whole runs of `count`
   * components (one run for most reductions; K for the K-min family, whose (K, D) rows hold slot k
   * of component c at k·D + c).
   */
  readonly finalize: SplitBlock;
  /** Where each finalize run goes: output `output`, components `offset + c` of its row. */
  readonly outRuns: readonly { readonly output: number; readonly offset: number }[];
}

/**
 * The general looped form of a program's vector state (see the file's comment), or null. It
 * includes the plain sums of {@link vectorOutput}; a renderer that takes it renders every block of
 * the reduction split. Not recognised: guarded updates (the min/max families keep their guard,
 * which reads every component, below the loop threshold only: src/compile/loop-form.ts), sorted-K
 * states, a `shiftExp` declaration other than one group whose looped
 * sums are weighted by the looped body outputs, groups whose components differ in type or
 * initial value.
 */
export function vectorState(body: Block, red: ReductionProgram, nSlots: number, minDim = LOOP_MIN_DIM): VectorState | null {
  const size = (o: { readonly shape: readonly number[] }): number => o.shape.reduce((a, b) => a * b, 1);
  // D: the first output's row, or the body's outputs when that row is several runs (K-min: K·D)
  const D = red.outputs.length ? Math.min(size(red.outputs[0]!), body.out.length) : 0;
  if (D < Math.max(2, minDim) || red.traits?.sortedK || red.update.guard !== undefined || red.outputs.some((o) => size(o) % D !== 0)) return null;
  const nS = red.state.length, G = Math.floor(nS / D), first = nS - G * D, fbase = body.out.length - D;
  if (G < 1 || fbase < 0 || fbase >= D) return null;
  for (let k = first; k < nS; k++) {
    const s = red.state[k]!, s0 = red.state[k - ((k - first) % D)]!;
    if (s.t !== s0.t || !Object.is(s.init, s0.init)) return null;
  }
  const sx = red.traits?.shiftExp;
  if (sx && !(G === 1 && sx.length === 1 && shiftExpLoops(sx[0]!, first, fbase, nS))) return null;
  const term = matcher(body.code)(body.out.slice(fbase));
  if (!term || readsExtra(term, nSlots)) return null;
  const looped = (ins: Instr): boolean => (ins.op === "fval" ? ins.k[0]! >= fbase : (ins.op === "state" || ins.op === "other") && ins.k[0]! >= first);
  const leafOk = (t: InputTpl): boolean =>
    t.stride === 1 && (t.op === "fval" ? t.base === fbase : t.base >= first && t.base < nS && (t.base - first) % D === 0);
  const runs = (n: number, from: number): number[] => Array.from({ length: n }, (_, r) => from + r * D);
  const update = splitBlock(red.update, first, runs(G, first), D, looped, leafOk);
  const merge = splitBlock(red.merge, first, runs(G, first), D, looped, leafOk);
  const outRuns = red.outputs.flatMap((o, output) => Array.from({ length: size(o) / D }, (_, r) => ({ output, offset: r * D })));
  const finalize = splitBlock(red.finalize, 0, runs(outRuns.length, 0), D, looped, leafOk);
  if (!update || !merge || !finalize) return null;
  const shared = new Set<number>(body.out.slice(0, fbase));
  sharedOf(term, shared);
  return { count: D, term, live: liveBody(body, shared), fbase, first, groups: G, update, merge, finalize, outRuns };
}

/** A shift-exp group whose sums from `first` on are weighted by the body outputs from `fbase` on, in order. */
function shiftExpLoops(grp: ShiftExpGroup, first: number, fbase: number, nS: number): boolean {
  if (grp.m >= first || grp.f >= fbase) return false;
  let n = 0;
  const ok = grp.s.every((k, q) => {
    const g = grp.g[q];
    if (k < first) return g === null || g === undefined || g < fbase;
    n++;
    return g === fbase + (k - first);
  });
  return ok && n === nS - first;
}

/**
 * Splits a block whose outputs are `nShared` shared values then runs of D alike per-component
 * values starting at `runs`; null when a shared output or a template's shared leaf reads a
 * per-component input, or a run is not alike.
 */
function splitBlock(b: Block, nShared: number, runs: readonly number[], D: number, looped: (ins: Instr) => boolean, leafOk: (t: InputTpl) => boolean): SplitBlock | null {
  const perComp = new Uint8Array(b.code.length);
  b.code.forEach((ins, n) => {
    perComp[n] = looped(ins) || ins.a.some((a) => perComp[a]) ? 1 : 0;
  });
  const roots = b.out.slice(0, nShared);
  if (roots.some((v) => perComp[v])) return null;
  const match = matcher(b.code, inputLeaf(b.code));
  const terms: Tpl[] = [];
  for (const r of runs) {
    const t = match(b.out.slice(r, r + D));
    if (!t || !leavesOk(t, leafOk)) return null;
    terms.push(t);
  }
  const shared = new Set<number>(roots);
  for (const t of terms) sharedOf(t, shared);
  if ([...shared].some((v) => perComp[v])) return null;
  return { outside: closure(b, shared), terms };
}

function leavesOk(t: Tpl, ok: (t: InputTpl) => boolean): boolean {
  if (t.kind === "input") return ok(t);
  return t.kind !== "op" || t.args.every((a) => leavesOk(a, ok));
}

/** The instructions the given values depend on (flags). */
function closure(b: Block, roots: Iterable<number>): Uint8Array {
  const live = new Uint8Array(b.code.length);
  const stack = [...roots];
  while (stack.length) {
    const v = stack.pop()!;
    if (live[v]) continue;
    live[v] = 1;
    stack.push(...b.code[v]!.a);
  }
  return live;
}

/** The body's instructions needed outside the loop: `shared` and the earlier passes' loop regions (kept whole). */
function liveBody(body: Block, shared: Set<number>): Uint8Array {
  const roots = [...shared];
  for (const [a, b] of loopRegions(body)) for (let n = a; n <= b; n++) roots.push(n);
  return closure(body, roots);
}

/** The body's code extended by the loop of a vector output (see {@link loopedBody}). */
export interface LoopedBody {
  /** The body's instructions, then a `loop` of `count` iterations and the term's instructions. */
  readonly code: readonly Instr[];
  /** Index of the `loop` instruction (the first one after the body's; its value is c). */
  readonly loop: number;
  /** The term's value (component c of the body's output) at the loop's level. */
  readonly term: number;
}

/**
 * The body's code followed by an open `loop` region (no `end`: the renderer writes the state
 * update of component c after the term, then closes the loop) whose instructions compute
 * the output's component c from the loop index, reusing the body's values for what every
 * component shares.
 */
export function loopedBody(body: Block, vo: VectorOutput): LoopedBody {
  const { code, loop, terms } = extend(body.code, vo.count, [vo.term], 2);
  return { code, loop, term: terms[0]! };
}

/** A split reduction block's code extended by its loop (see {@link loopedBody}): the value of each run's template. */
export interface LoopedBlock {
  readonly code: readonly Instr[];
  readonly loop: number;
  readonly terms: readonly number[];
}

/**
 * The block's code followed by an open `loop` region of `count` iterations computing each run's
 * component c (its inputs read with the loop as operand: component base + stride·c; the runs'
 * common parts written once); the renderer assigns them and closes the loop.
 */
export function loopedBlock(b: Block, sp: SplitBlock, count: number): LoopedBlock {
  return extend(b.code, count, sp.terms, 3);
}

function extend(base: readonly Instr[], count: number, tpls: readonly Tpl[], level: number): { code: Instr[]; loop: number; terms: number[] } {
  const code: Instr[] = [...base];
  const push = (ins: Instr): number => code.push(ins) - 1;
  const loop = push({ op: "loop", a: [], k: [count], t: "i", level });
  const memo = new Map<Tpl, number>();
  const terms = tpls.map((t) => emitTerm(t, loop, level, (v) => v, push, undefined, memo));
  return { code, loop, terms };
}
