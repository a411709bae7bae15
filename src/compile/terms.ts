/**
 * Term templates of the vector-loop passes (src/compile/loops.ts, src/compile/folds.ts,
 * src/compile/vout.ts): the one expression that D alike SSA terms are, as a function of the term's
 * position c, recognised in a block's code and written back as the instructions of a loop body.
 */
import { LOOP_OPS, type Instr, type Opcode } from "../ir/ssa.js";

/** One term shape, as a function of the term's position c. */
export type Tpl =
  /** The same value in every term. */
  | { readonly kind: "shared"; readonly v: number }
  /** Component base + stride·c of a slot. */
  | { readonly kind: "load"; readonly slot: number; readonly base: number; readonly stride: number; readonly level: number }
  /**
   * Component base + stride·c of a reduction block's input (`state`, `other`, `fval`): matched
   * only with the {@link inputLeaf} rule (src/compile/vout.ts), never in a body.
   */
  | { readonly kind: "input"; readonly op: "state" | "other" | "fval"; readonly t: "f" | "i"; readonly base: number; readonly stride: number }
  /** The same op (same immediates) on the terms' operands. */
  | { readonly kind: "op"; readonly op: Opcode; readonly t: "f" | "i"; readonly k: readonly number[]; readonly args: readonly Tpl[] }
  /** A fold's accumulator (src/compile/folds.ts): value start − 1 + c of the fold's chain `chain`. */
  | { readonly kind: "acc"; readonly chain: number; readonly start: number }
  /** The float constant base + stride·c (an integer: a fold's index, src/compile/folds.ts). */
  | { readonly kind: "index"; readonly base: number; readonly stride: number };

/**
 * A tuple matched before the generic rules (`undefined`: apply them): the folds' accumulators
 * and indices. The matcher of the sums and vector outputs has none.
 */
export type Leaf = (vs: readonly number[]) => Tpl | null | undefined;

const NOT_PURE = new Set<Opcode>(["const", "load", "idx", "state", "other", "fval", ...LOOP_OPS]);

const INPUTS = new Set<Opcode>(["state", "other", "fval"]);

/**
 * The leaf rule of a reduction block's inputs (src/compile/vout.ts): a tuple of `state`, `other`
 * or `fval` components affine in the term's position is an `input` leaf (any other input: no match).
 */
export function inputLeaf(code: readonly Instr[]): Leaf {
  return (vs) => {
    const i0 = code[vs[0]!]!;
    if (!INPUTS.has(i0.op) || vs.every((v) => v === vs[0])) return undefined; // one value: shared
    const base = i0.k[0]!, stride = code[vs[1]!]!.k[0]! - base;
    const ok = vs.every((v, c) => {
      const ins = code[v]!;
      return ins.op === i0.op && ins.t === i0.t && ins.k[0] === base + stride * c;
    });
    return ok ? { kind: "input", op: i0.op as "state" | "other" | "fval", t: i0.t, base, stride } : null;
  };
}

/** Matches terms against one template (memoised per tuple of values: DAG sharing is kept). */
export function matcher(code: readonly Instr[], leaf?: Leaf): (vs: readonly number[]) => Tpl | null {
  const memo = new Map<string, Tpl | null>();
  const match = (vs: readonly number[]): Tpl | null => {
    const key = vs.join(",");
    if (memo.has(key)) return memo.get(key)!;
    memo.set(key, null);
    const r = matchNew(vs);
    memo.set(key, r);
    return r;
  };
  const matchNew = (vs: readonly number[]): Tpl | null => {
    const l = leaf?.(vs);
    if (l !== undefined) return l;
    const v0 = vs[0]!;
    if (vs.every((v) => v === v0)) return { kind: "shared", v: v0 };
    const i0 = code[v0]!;
    if (i0.op === "load") {
      const slot = i0.k[0]!, base = i0.k[1]!, stride = code[vs[1]!]!.k[1]! - base;
      const ok = vs.every((v, c) => {
        const ins = code[v]!;
        return ins.op === "load" && ins.k[0] === slot && ins.k[1] === base + stride * c;
      });
      return ok ? { kind: "load", slot, base, stride, level: i0.level } : null;
    }
    if (NOT_PURE.has(i0.op)) return null;
    const same = vs.every((v) => {
      const ins = code[v]!;
      return ins.op === i0.op && ins.t === i0.t && ins.a.length === i0.a.length && ins.k.length === i0.k.length && ins.k.every((x, q) => x === i0.k[q]);
    });
    if (!same) return null;
    return opTemplate(code, vs, match);
  };
  return match;
}

/**
 * The `op` template of alike instructions `vs` (the first one's op, type and immediates), each
 * operand position matched by `match`; null when one does not match.
 */
export function opTemplate(code: readonly Instr[], vs: readonly number[], match: (vs: readonly number[]) => Tpl | null): Tpl | null {
  const i0 = code[vs[0]!]!;
  const args: Tpl[] = [];
  for (let q = 0; q < i0.a.length; q++) {
    const t = match(vs.map((v) => code[v]!.a[q]!));
    if (!t) return null;
    args.push(t);
  }
  return { kind: "op", op: i0.op, t: i0.t, k: i0.k, args };
}

/** The shared values a template reads. */
export function sharedOf(t: Tpl, out: Set<number>): void {
  if (t.kind === "shared") out.add(t.v);
  else if (t.kind === "op") for (const a of t.args) sharedOf(a, out);
}

/**
 * Emits a template's instructions inside a loop region (`loop` is the region's `loop` value, L
 * its level; `shared` maps a shared value to the emitted block's, `leaf` an accumulator or index
 * leaf to its value); returns the term's value. An input leaf becomes its op with the loop as
 * operand, k = [base, stride] (component base + stride·index). Templates emitted with one `memo`
 * share their common parts.
 */
export function emitTerm(
  term: Tpl,
  loop: number,
  L: number,
  shared: (v: number) => number,
  push: (ins: Instr) => number,
  leaf?: (t: Tpl & { kind: "acc" | "index" }) => number,
  memo = new Map<Tpl, number>(),
): number {
  const emit = (t: Tpl): number => {
    if (t.kind === "shared") return shared(t.v);
    if (t.kind === "acc" || t.kind === "index") {
      if (!leaf) throw new Error(`emitTerm: a ${t.kind} leaf outside a fold`);
      return leaf(t);
    }
    let v = memo.get(t);
    if (v === undefined) {
      v = t.kind === "load"
        ? push({ op: "loadc", a: [loop], k: [t.slot, t.base, t.stride], t: "f", level: L })
        : t.kind === "input"
        ? push({ op: t.op, a: [loop], k: [t.base, t.stride], t: t.t, level: L })
        : push({ op: t.op, a: t.args.map(emit), k: t.k, t: t.t, level: L });
      memo.set(t, v);
    }
    return v;
  };
  return emit(term);
}

/** The loop level of a template: the highest of its loads' and shared values' (`sharedLevel`). */
export function templateLevel(t: Tpl, sharedLevel: (v: number) => number): number {
  if (t.kind === "shared") return sharedLevel(t.v);
  if (t.kind === "load") return t.level;
  if (t.kind === "op") return Math.max(0, ...t.args.map((a) => templateLevel(a, sharedLevel)));
  return 0;
}

/**
 * The instructions that `roots` need (1 in the result): an instruction v needs `reads(v)`, its
 * operands unless a rolled chain's end, which reads only its loop's outside values.
 */
export function liveFrom(code: readonly Instr[], roots: readonly number[], reads: (v: number) => readonly number[] = (v) => code[v]!.a): Uint8Array {
  const live = new Uint8Array(code.length);
  const stack = [...roots];
  while (stack.length) {
    const v = stack.pop()!;
    if (live[v]) continue;
    live[v] = 1;
    stack.push(...reads(v));
  }
  return live;
}
