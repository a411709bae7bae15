/**
 * A vector state looped over its components on wasm (src/compile/vout.ts, `vectorState`: shared
 * scalars plus groups of D per-component values). The shared components are vector locals as in
 * the unrolled kernel (one set per copy u, given by the renderer); the groups live in memory, one
 * v128 per (copy u, group g, component c) at `base + ((u·G + g)·D + c)·16`: the row's totals T at
 * `tRow`, the tile partials S (block_sum) at scratch + `sAt`. Each split block (update, merge,
 * finalize) runs its shared part, then one loop over c reading group components from memory into
 * locals, computing every run's term, and only then storing them (a masked step keeps the old
 * lanes), then assigns the shared outputs. The update's loop is the body's: the body's term of
 * every copy is computed there. The row finishes as the unrolled kernel does: the copies merged
 * in order, then the lanes by halves, finalized on lane 0. Per component the operations and their
 * order are those of the unrolled kernel, so results are bit-identical.
 */
import type { Block } from "../../ir/ssa.js";
import type { ReductionProgram } from "../../reductions/types.js";
import { loopedBlock, loopedBody, type LoopedBlock, type SplitBlock, type VectorState } from "../../compile/vout.js";
import { I32, V128 } from "./encoder.js";
import { OP, SIMD } from "./asm.js";
import type { Ctx, Gen, Repr } from "./values.js";
import type { StepCopy } from "./vout.js";

/** A state's memory: its groups at local `base` + `off`, its shared components in locals (per copy). */
interface Place {
  readonly base: number;
  readonly off: number;
  readonly shared: readonly (readonly number[])[];
}

/** A split block extended by its loop (see src/compile/vout.ts `loopedBlock`), as a block the generator emits. */
interface Looped {
  readonly src: Block;
  readonly sp: SplitBlock;
  readonly code: Block;
  readonly lb: LoopedBlock;
}

/** The size estimate of a vector state's kernel for `declines` (as the unrolled kernel's: 5 per body value, 4 per update value …). */
export function vectorStateSize(body: Block, red: ReductionProgram, vs: VectorState): number {
  const count = (b: Block, sp: SplitBlock): number => sp.outside.reduce((a, x) => a + x, 0) + loopedBlock(b, sp, vs.count).code.length - b.code.length;
  const looped = loopedBody(body, vs).code.length - body.code.length;
  return 5 * (vs.live.reduce((a, b) => a + b, 0) + looped + 16) + 4 * count(red.update, vs.update) + 3 * count(red.merge, vs.merge) + count(red.finalize, vs.finalize);
}

/** The looped vector state's code (see the file's comment). */
export class WasmVectorState {
  /** Bytes of one set of group states (U copies × G groups × D components). */
  readonly setBytes: number;
  /** Byte address of the current row's group totals (an i32 local). */
  readonly tRow: number;
  private readonly body: Block;
  private readonly bodyOut: readonly number[];
  private readonly nb: number;
  private readonly bLoop: number;
  private readonly bTerm: number;
  private readonly up: Looped;
  private readonly mg: Looped;
  private readonly fin: Looped;
  private readonly tmp: number[][];
  private readonly O: number[];
  private readonly oth: number[];

  /** `T`, `S`: the shared components' locals of the totals and the tile partials, per copy; `sAt`: scratch offset of the partials' groups. */
  constructor(
    private readonly g: Gen,
    body: Block,
    private readonly vs: VectorState,
    private readonly T: readonly (readonly number[])[],
    private readonly S: readonly (readonly number[])[],
    private readonly sAt: number,
  ) {
    const { red } = g.p;
    const D = vs.count;
    const lb = loopedBody(body, vs);
    this.body = { code: lb.code, out: [] };
    this.bodyOut = body.out;
    this.nb = body.code.length;
    this.bLoop = lb.loop;
    this.bTerm = lb.term;
    const looped = (src: Block, sp: SplitBlock): Looped => {
      const l = loopedBlock(src, sp, D);
      return { src, sp, code: { code: l.code, out: [] }, lb: l };
    };
    this.up = looped(red.update, vs.update);
    this.mg = looped(red.merge, vs.merge);
    this.fin = looped(red.finalize, vs.finalize);
    this.setBytes = g.U * vs.groups * D * 16;
    const f = g.f;
    this.tRow = f.local(I32);
    this.tmp = Array.from({ length: g.U }, () => Array.from({ length: vs.groups }, () => f.local(V128)));
    this.O = Array.from({ length: vs.first }, () => f.local(V128));
    this.oth = Array.from({ length: vs.first }, () => f.local(V128));
  }

  /** The totals of every row at scratch + `at` (rows without blocks). */
  fixedRow(at: number): void {
    this.g.a.get(this.g.scratchP).i32(at).op(OP.i32Add).set(this.tRow);
  }

  /** The totals of the row whose saved-state area starts at local `saved` + `at`. */
  rowAt(saved: number, at: number): void {
    this.g.a.get(saved).i32(at).op(OP.i32Add).set(this.tRow);
  }

  private place(which: "T" | "S"): Place {
    return which === "T" ? { base: this.tRow, off: 0, shared: this.T } : { base: this.g.scratchP, off: this.sAt, shared: this.S };
  }

  private groupOf(k: number): number {
    return Math.floor((k - this.vs.first) / this.vs.count);
  }

  private stateT(k: number): "f" | "i" {
    return this.g.p.red.state[k]!.t;
  }

  /** Pushes the address of component c (an i32 local) of a place's groups: base + 16·c (the rest is the access's offset). */
  private addr(c: number, pl: Place): void {
    this.g.a.get(c).i32(4).op(OP.i32Shl).get(pl.base).op(OP.i32Add);
  }

  /** The memory offset of group component k of copy u in a place. */
  private offset(pl: Place, u: number, k: number): number {
    const { first, count: D, groups } = this.vs;
    return pl.off + ((u * groups + this.groupOf(k)) * D + ((k - first) % D)) * 16;
  }

  /**
   * A block's state (or other) input of copy u from a place: a shared component's local, or
   * group component k + c read from memory (rotated by `half` lanes: the lanes' merge).
   */
  private input(pl: Place, u: number, role: string, half?: number): (k: number, c?: number) => Repr {
    return (k, c) => {
      const { a, L } = this.g;
      if (c === undefined) return { local: (half === undefined ? pl.shared[u]! : this.oth)[k]!, mask: false };
      const l = this.g.valueLocal(`vs:${role}`, k, u);
      this.addr(c, pl);
      a.vmem(SIMD.load, 0, this.offset(pl, u, k)).set(l);
      if (half !== undefined) a.get(l).get(l).shuffle(L.rotation(half)).set(l);
      return { local: l, mask: false };
    };
  }

  /** Every copy's state of a place set to the reduction's initial values. */
  initStates(which: "T" | "S"): void {
    const { a, U, p } = this.g;
    const pl = this.place(which);
    const st = p.red.state;
    for (let u = 0; u < U; u++)
      for (let k = 0; k < this.vs.first; k++) {
        this.g.push({ c: st[k]!.init }, st[k]!.t);
        a.set(pl.shared[u]![k]!);
      }
    const c = this.g.scalar("vs:c", I32);
    this.forC(c, () => {
      for (let u = 0; u < U; u++)
        for (let gr = 0; gr < this.vs.groups; gr++) {
          const k = this.vs.first + gr * this.vs.count;
          this.addr(c, pl);
          this.g.push({ c: st[k]!.init }, st[k]!.t);
          a.vmem(SIMD.store, 0, this.offset(pl, u, k));
        }
    });
  }

  /** A do-while over c (an i32 local) from 0 to D − 1 around `each`. */
  private forC(c: number, each: () => void): void {
    const { a } = this.g;
    a.i32(0).set(c);
    a.openLoop();
    each();
    this.closeC(c);
  }

  /** The end of a loop over c opened by {@link forC} or by a block's `loop` instruction. */
  private closeC(c: number): void {
    this.g.a.get(c).i32(1).op(OP.i32Add).tee(c).i32(this.vs.count).op(OP.i32GeS).brIf(1);
    this.g.a.closeLoop();
  }

  /**
   * Stores the looped terms of copies (their values, all pushed into locals first: a term may read
   * a component another one overwrites) into group components c of a place; `masked`: lanes past
   * `je` keep their old values.
   */
  private storeTerms(c: number, pl: Place, terms: readonly { u: number; vals: Map<number, Repr> }[], lb: LoopedBlock, masked: boolean): void {
    const { a } = this.g;
    const G = this.vs.groups;
    const kOf = (gr: number): number => this.vs.first + gr * this.vs.count;
    for (const { u, vals } of terms)
      for (let gr = 0; gr < G; gr++) {
        this.g.push(vals.get(lb.terms[gr]!)!, this.stateT(kOf(gr)));
        a.set(this.tmp[u]![gr]!);
      }
    for (const { u } of terms)
      for (let gr = 0; gr < G; gr++) {
        const off = this.offset(pl, u, kOf(gr));
        this.addr(c, pl);
        a.get(this.tmp[u]![gr]!);
        if (masked) {
          this.addr(c, pl);
          a.vmem(SIMD.load, 0, off).get(this.g.mask).v(SIMD.bitselect);
        }
        a.vmem(SIMD.store, 0, off);
      }
  }

  /** Assigns a block's shared outputs to copy u's shared locals (all computed first; `masked`: the old lanes kept past `je`). */
  private assignShared(blk: Block, vals: Map<number, Repr>, st: readonly number[], masked: boolean): void {
    const { a } = this.g;
    for (let k = 0; k < this.vs.first; k++) {
      this.g.push(vals.get(blk.out[k]!)!, this.stateT(k));
      if (masked) a.get(st[k]!).get(this.g.mask).v(SIMD.bitselect);
      a.set(this.O[k]!);
    }
    for (let k = 0; k < this.vs.first; k++) a.get(this.O[k]!).set(st[k]!);
  }

  /** One step of j: the copies' update of the partials (`tiled`) or the totals, the body's term computed in the update's loop. */
  step(copies: readonly StepCopy[], tiled: boolean, masked: boolean): void {
    const g = this.g;
    const pl = this.place(tiled ? "S" : "T");
    const { src, sp, code, lb } = this.up;
    const ups = copies.map(({ u, ctx, vals }) => {
      const full: Ctx = {
        ...ctx,
        state: this.input(pl, u, "s"),
        fval: (k, c) => vals.get(c === undefined ? this.bodyOut[k]! : this.bTerm)!,
      };
      const uv = new Map<number, Repr>();
      g.emitBlock("u", code, u, full, uv, (n) => n < src.code.length && sp.outside[n] === 1);
      return { u, full, vals: uv };
    });
    // the body's loop head (copy 0) and every copy's term
    copies.forEach(({ u, ctx, vals }, n) => {
      if (n > 0) vals.set(this.bLoop, copies[0]!.vals.get(this.bLoop)!);
      g.emitBlock("b", this.body, u, ctx, vals, (m) => m >= this.nb);
    });
    const c = (copies[0]!.vals.get(this.bLoop) as { local: number }).local;
    for (const { u, full, vals } of ups) {
      vals.set(lb.loop, { local: c, mask: false });
      g.emitBlock("u", code, u, full, vals, (n) => n > lb.loop);
    }
    this.storeTerms(c, pl, ups, lb, masked);
    this.closeC(c);
    ups.forEach(({ u, vals }) => this.assignShared(src, vals, pl.shared[u]!, masked));
  }

  /** The split merge of copy `uo` of `other` into copy `us` of `state` (`half`: other is state's lanes rotated by half). */
  private merge(state: Place, us: number, other: Place, uo: number, half?: number): void {
    const { src, code, lb } = this.mg;
    if (half !== undefined) for (let k = 0; k < this.vs.first; k++) this.g.a.get(state.shared[us]![k]!).get(state.shared[us]![k]!).shuffle(this.g.L.rotation(half)).set(this.oth[k]!);
    const ctx: Ctx = { state: this.input(state, us, "s"), other: this.input(other, uo, "o", half) };
    const vals = new Map<number, Repr>();
    this.g.emitBlock("m", code, us, ctx, vals, (n) => n < src.code.length ? this.mg.sp.outside[n] === 1 : true);
    const c = (vals.get(lb.loop) as { local: number }).local;
    this.storeTerms(c, state, [{ u: us, vals }], lb, false);
    this.closeC(c);
    this.assignShared(src, vals, state.shared[us]!, false);
  }

  /** The tile partials folded into the totals (the merge block, per copy). */
  mergeTile(): void {
    for (let u = 0; u < this.g.U; u++) this.merge(this.place("T"), u, this.place("S"), u);
  }

  /**
   * The row's outputs: the copies merged into copy 0 in order (`unrolled`), then the lanes by
   * halves (`lanes`); the finalize's runs stored from lane 0 into the output rows.
   */
  finish(unrolled: boolean, lanes: boolean): void {
    const { a, L, U, p } = this.g;
    const T = this.place("T");
    for (let u = 1; u < U && unrolled; u++) this.merge(T, 0, T, u);
    for (let half = L.W / 2; half >= 1 && lanes; half /= 2) this.merge(T, 0, T, 0, half);
    const { src, code, lb } = this.fin;
    const vals = new Map<number, Repr>();
    this.g.emitBlock("z", code, 0, { state: this.input(T, 0, "s") }, vals, (n) => n < src.code.length ? this.fin.sp.outside[n] === 1 : true);
    const c = (vals.get(lb.loop) as { local: number }).local;
    this.vs.outRuns.forEach(({ output: o, offset }, r) => {
      const isInt = p.red.outputs[o]!.t === "i";
      a.get(c).i32(isInt ? 2 : L.shift).op(OP.i32Shl).get(this.g.outRow[o]!).op(OP.i32Add);
      this.g.push(vals.get(lb.terms[r]!)!, p.red.outputs[o]!.t);
      this.g.storeLane0(isInt, offset);
    });
    this.closeC(c);
  }
}
