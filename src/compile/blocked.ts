/**
 * Blocked distances: finds, in a kernel program's body, the D-term sums over the vector
 * dimension that pair an outer slot with an inner slot —
 *   Σ_c (x_c − y_c)²  (SqDist, SqNorm2 of a difference)   and   Σ_c x_c·y_c  (the `|` product) —
 * for D ≥ {@link DOT_MIN_DIM}, and rewrites the body so that each reads precomputed inputs
 * instead of its 3·D per-pair instructions:
 *   Σ_c x_c·y_c      → G(i, j)                       (a "dot" tile input)
 *   Σ_c (x_c − y_c)² → NX(i) + NY(j) − 2·G(i, j)     (norms hoisted: once per row, once per column)
 * A backend that accepts the rewrite computes G for a tile of i × j as a matrix product (a
 * register-blocked micro-kernel, x·y accumulated over D by FMA, D a loop, not unrolled), the norms
 * once per call, then runs the rest of the formula and the reduction on the tile as before — for
 * every reduction, since only the body changes. The pseudo inputs are `load` instructions of slots
 * numbered after the program's own (`slots.length + k` reads `extra[k]`), of dimension 1.
 *
 * The expansion ‖x‖² + ‖y‖² − 2x·y is how FAISS and BLAS-based K-NN compute distances; in float32
 * its absolute error is ≈ 2⁻²³·(‖x‖² + ‖y‖²) instead of ≈ 2⁻²³·‖x − y‖², which matters only for
 * points much closer to each other than to the origin (K-NN rankings can then differ at near ties).
 */
import { SsaBuilder, type Block, type BinaryOp, type CompareOp, type Instr, type UnaryOp } from "../ir/ssa.js";
import type { KernelProgram } from "./program.js";

/** Smallest vector dimension blocked (below it the unrolled per-pair code is as fast). */
export const DOT_MIN_DIM = 16;

/** Whether backends block distances (`KEOPS_TS_BLOCKED=0` turns it off, to compare before/after). */
export function blockedEnabled(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KEOPS_TS_BLOCKED;
  return env !== "0";
}

/** A precomputed input of the rewritten body. */
export type ExtraInput =
  /** G(i, j) = Σ_c x_c·y_c, x = outer slot `outer`, y = inner slot `inner`, both of dim D. */
  | { readonly kind: "dot"; readonly outer: number; readonly inner: number; readonly D: number }
  /** Σ_c v_c² of slot `slot` (outer: per row, inner: per column). */
  | { readonly kind: "norm"; readonly slot: number; readonly role: "outer" | "inner"; readonly D: number };

/** A program body with its D-term sums replaced by reads of precomputed inputs. */
export interface BlockedBody {
  readonly body: Block;
  /** Input `k` is read by `load` of slot `program.slots.length + k`, component 0. */
  readonly extra: readonly ExtraInput[];
}

/** One matched sum: its root instruction, its kind and its slots. */
interface Match {
  readonly root: number;
  readonly kind: "sqdist" | "dot";
  readonly outer: number;
  readonly inner: number;
  readonly D: number;
}

/**
 * The rewritten body, or null when the body has no D-term sum to block (or the program's
 * precision is not float32/float64 throughout: the accumulator must match the data).
 */
export function blockDots(p: KernelProgram, minDim = DOT_MIN_DIM): BlockedBody | null {
  const code = p.body.code;
  const matches = findSums(p, minDim);
  if (!matches.length) return null;
  const extra: ExtraInput[] = [];
  const extraIndex = (e: ExtraInput): number => {
    const k = extra.findIndex((x) => JSON.stringify(x) === JSON.stringify(e));
    if (k >= 0) return k;
    extra.push(e);
    return extra.length - 1;
  };
  const nSlots = p.slots.length;
  const levelOfSlot = (slot: number): number => {
    if (slot >= nSlots) {
      const e = extra[slot - nSlots]!;
      return e.kind === "norm" && e.role === "outer" ? 1 : 2;
    }
    const role = p.slots[slot]!.role;
    return role === "param" ? 0 : role === "outer" ? 1 : 2;
  };
  const b = new SsaBuilder(levelOfSlot);
  const byRoot = new Map(matches.map((m) => [m.root, m]));
  const val = new Map<number, number>();
  const blockedValue = (m: (typeof matches)[number]): number => {
    const g = b.load(nSlots + extraIndex({ kind: "dot", outer: m.outer, inner: m.inner, D: m.D }), 0);
    if (m.kind === "dot") return g;
    const nx = b.load(nSlots + extraIndex({ kind: "norm", slot: m.outer, role: "outer", D: m.D }), 0);
    const ny = b.load(nSlots + extraIndex({ kind: "norm", slot: m.inner, role: "inner", D: m.D }), 0);
    return b.bin("sub", b.bin("add", nx, ny), b.bin("mul", b.c(2), g));
  };
  // copies in post-order (operands left to right, then the instruction), with an explicit stack:
  // a D = 1000 scan (Max, ArgMin…) is a dependency chain thousands of instructions deep
  const rec = (root: number): number => {
    const stack = [{ n: root, i: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (val.has(top.n)) {
        stack.pop();
        continue;
      }
      const m = byRoot.get(top.n), a = code[top.n]!.a;
      if (!m && top.i < a.length) {
        stack.push({ n: a[top.i++]!, i: 0 });
        continue;
      }
      stack.pop();
      val.set(top.n, m ? blockedValue(m) : copy(b, code[top.n]!, a.map((x) => val.get(x)!)));
    }
    return val.get(root)!;
  };
  const out = p.body.out.map(rec);
  return { body: b.block(out), extra };
}

/** Re-emits one instruction with new operands. */
function copy(b: SsaBuilder, ins: Instr, a: number[]): number {
  switch (ins.op) {
    case "const": return ins.t === "i" ? b.ci(ins.k[0]!) : b.c(ins.k[0]!);
    case "load": return b.load(ins.k[0]!, ins.k[1]!);
    case "idx": return b.idx();
    case "select": return b.select(a[0]!, a[1]!, a[2]!);
    case "state": case "other": case "fval": throw new Error(`blockDots: ${ins.op} in a body`);
    default:
      if (a.length === 1) return b.un(ins.op as UnaryOp, a[0]!);
      if (["lt", "le", "gt", "ge", "eq", "ne"].includes(ins.op)) return b.cmp(ins.op as CompareOp, a[0]!, a[1]!);
      return b.bin(ins.op as BinaryOp, a[0]!, a[1]!);
  }
}

/** The D-term sums of the body (outermost first, none inside another). */
function findSums(p: KernelProgram, minDim: number): Match[] {
  const code = p.body.code;
  const slotOf = (v: number): { slot: number; comp: number } | null => {
    const ins = code[v]!;
    return ins.op === "load" ? { slot: ins.k[0]!, comp: ins.k[1]! } : null;
  };
  const role = (slot: number): string => p.slots[slot]?.role ?? "";
  /** A product's factors as (outer load, inner load), either order. */
  const pairOf = (x: number, y: number): { o: { slot: number; comp: number }; i: { slot: number; comp: number } } | null => {
    const a = slotOf(x), c = slotOf(y);
    if (!a || !c) return null;
    if (role(a.slot) === "outer" && role(c.slot) === "inner") return { o: a, i: c };
    if (role(a.slot) === "inner" && role(c.slot) === "outer") return { o: c, i: a };
    return null;
  };
  /** A leaf: (x_c − y_c)² or (y_c − x_c)² → sqdist term; x_c·y_c → dot term. */
  const leaf = (v: number): { kind: "sqdist" | "dot"; outer: number; inner: number; comp: number } | null => {
    const ins = code[v]!;
    if (ins.op !== "mul" || ins.t !== "f") return null;
    const [x, y] = ins.a as [number, number];
    if (x === y && code[x]!.op === "sub") {
      const [s0, s1] = code[x]!.a as [number, number];
      const pr = pairOf(s0, s1);
      if (pr && pr.o.comp === pr.i.comp) return { kind: "sqdist", outer: pr.o.slot, inner: pr.i.slot, comp: pr.o.comp };
      return null;
    }
    const pr = pairOf(x, y);
    if (pr && pr.o.comp === pr.i.comp) return { kind: "dot", outer: pr.o.slot, inner: pr.i.slot, comp: pr.o.comp };
    return null;
  };
  const found: Match[] = [];
  const inside = new Set<number>();
  for (let n = code.length - 1; n >= 0; n--) {
    if (code[n]!.op !== "add" || inside.has(n)) continue;
    // flatten the add tree
    const leaves: number[] = [], adds: number[] = [];
    const stack = [n];
    while (stack.length) {
      const v = stack.pop()!;
      if (code[v]!.op === "add") {
        adds.push(v);
        stack.push(...code[v]!.a);
      } else leaves.push(v);
    }
    if (leaves.length < minDim) continue;
    const ls = leaves.map(leaf);
    const first = ls[0];
    if (!first) continue;
    const D = p.slots[first.outer]!.dim;
    if (D < minDim || p.slots[first.inner]!.dim !== D || leaves.length !== D) continue;
    const comps = new Set<number>();
    if (!ls.every((l) => l && l.kind === first.kind && l.outer === first.outer && l.inner === first.inner && !comps.has(l.comp) && comps.add(l.comp))) continue;
    found.push({ root: n, kind: first.kind, outer: first.outer, inner: first.inner, D });
    for (const a of adds) inside.add(a);
  }
  return found;
}
