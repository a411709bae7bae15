/**
 * A vector output looped over its components on wasm (src/compile/vout.ts): instead of D state
 * vectors per unrolled copy (locals), the states live in the thread's scratch memory, one v128
 * per (copy u, component c): the row's totals T (at `tRow`) and, for block_sum, the tile
 * partials S (at scratch + `sAt`). Per step of j, after the body's code outside the loop, one
 * loop over c computes every copy's term and updates `X[u][c] = X[u][c] + term_u(c)` (a masked
 * vector keeps its old lanes); tiles merge `T[u][c] + S[u][c]`; the row finishes per component
 * as the unrolled kernel does (copies in order, then the lanes by halves) and stores lane 0.
 */
import type { Block } from "../../ir/ssa.js";
import { loopedBody, type VectorOutput } from "../../compile/vout.js";
import { I32, V128 } from "./encoder.js";
import { OP, SIMD } from "./asm.js";
import type { Ctx, Gen, Repr } from "./values.js";

/** One vector copy of a step: its inputs and the values the body's code gave it. */
export interface StepCopy {
  readonly u: number;
  readonly ctx: Ctx;
  readonly vals: Map<number, Repr>;
}

/** The looped vector output's code (see the file's comment). */
export class WasmVectorOutput {
  /** Bytes of one set of states (U copies × D components). */
  readonly setBytes: number;
  /** Byte address of the current row's totals (an i32 local: set by {@link rowAt} or {@link fixedRow}). */
  readonly tRow: number;
  private readonly looped: Block;
  private readonly first: number;
  private readonly loop: number;
  private readonly term: number;
  private readonly c: number;
  private readonly addr: number;
  private readonly addr2: number;
  private readonly v: number;

  /** `sAt`: scratch offset of the tile partials (block_sum). */
  constructor(
    private readonly g: Gen,
    body: Block,
    private readonly vo: VectorOutput,
    private readonly init: number,
    private readonly sAt: number,
  ) {
    const lb = loopedBody(body, vo);
    // the loop's `end` after the term (the updates are emitted between them)
    this.looped = { code: [...lb.code, { op: "end", a: [], k: [lb.loop], t: "i", level: 2 }], out: [] };
    this.first = body.code.length;
    this.loop = lb.loop;
    this.term = lb.term;
    this.setBytes = g.U * vo.count * 16;
    const f = g.f;
    this.tRow = f.local(I32);
    this.c = f.local(I32);
    this.addr = f.local(I32);
    this.addr2 = f.local(I32);
    this.v = f.local(V128);
  }

  /** The totals of every row at scratch + `at` (rows without blocks). */
  fixedRow(at: number): void {
    this.g.a.get(this.g.scratchP).i32(at).op(OP.i32Add).set(this.tRow);
  }

  /** The totals of the row whose saved-state area starts at local `saved` + `at`. */
  rowAt(saved: number, at: number): void {
    this.g.a.get(saved).i32(at).op(OP.i32Add).set(this.tRow);
  }

  /** A loop over the components: `each` with `addr` = base + 16·c (and `addr2` = base2 + 16·c). */
  private forC(base: number, base2: number | null, each: () => void): void {
    const { a } = this.g;
    a.i32(0).set(this.c);
    a.openLoop();
    this.at(this.c, base, base2);
    each();
    a.get(this.c).i32(1).op(OP.i32Add).tee(this.c).i32(this.vo.count).op(OP.i32GeS).brIf(1);
    a.closeLoop();
  }

  /** addr = base + 16·c (and addr2 = base2 + 16·c), c an i32 local. */
  private at(c: number, base: number, base2: number | null): void {
    const { a } = this.g;
    a.get(c).i32(4).op(OP.i32Shl).get(base).op(OP.i32Add).set(this.addr);
    if (base2 !== null) a.get(c).i32(4).op(OP.i32Shl).get(base2).op(OP.i32Add).set(this.addr2);
  }

  /** Every copy's states (totals, or the tile partials) set to the reduction's initial value. */
  initStates(which: "T" | "S"): void {
    const { a, L, U } = this.g;
    const [base, off] = which === "T" ? [this.tRow, 0] : [this.g.scratchP, this.sAt];
    this.forC(base, null, () => {
      for (let u = 0; u < U; u++) {
        a.get(this.addr);
        L.f(this.init);
        a.vmem(SIMD.store, 0, off + u * this.vo.count * 16);
      }
    });
  }

  /** The loop over c of one step of j: the copies' terms, each added to its state (`tiled`: the partials). */
  step(copies: readonly StepCopy[], tiled: boolean, masked: boolean): void {
    const { a, L } = this.g;
    const g = this.g;
    const [base, off] = tiled ? [g.scratchP, this.sAt] : [this.tRow, 0];
    copies.forEach(({ u, ctx, vals }, n) => {
      if (n > 0) vals.set(this.loop, copies[0]!.vals.get(this.loop)!);
      g.emitBlock("b", this.looped, u, ctx, vals, (m) => m >= this.first && m < this.looped.code.length - 1);
    });
    const c = (copies[0]!.vals.get(this.loop) as { local: number }).local;
    this.at(c, base, null);
    for (const { u, vals } of copies) {
      const o = off + u * this.vo.count * 16;
      a.get(this.addr);
      a.get(this.addr).vmem(SIMD.load, 0, o);
      g.push(vals.get(this.term)!, "f");
      L.op("add");
      if (masked) a.get(this.addr).vmem(SIMD.load, 0, o).get(g.mask).v(SIMD.bitselect);
      a.vmem(SIMD.store, 0, o);
    }
    g.emitBlock("b", this.looped, copies[0]!.u, copies[0]!.ctx, copies[0]!.vals, (m) => m === this.looped.code.length - 1);
  }

  /** The tile partials folded into the totals (the merge T + S per copy and component). */
  mergeTile(): void {
    const { a, L, U } = this.g;
    this.forC(this.tRow, this.g.scratchP, () => {
      for (let u = 0; u < U; u++) {
        const o = u * this.vo.count * 16;
        a.get(this.addr);
        a.get(this.addr).vmem(SIMD.load, 0, o);
        a.get(this.addr2).vmem(SIMD.load, 0, this.sAt + o);
        L.op("add");
        a.vmem(SIMD.store, 0, o);
      }
    });
  }

  /**
   * The row's outputs: per component, the copies summed in order (`unrolled`), then the lanes by
   * halves (`lanes`), lane 0 stored at `outRow` + c · bytes.
   */
  finish(outRow: number, unrolled: boolean, lanes: boolean): void {
    const { a, L, U } = this.g;
    this.forC(this.tRow, null, () => {
      a.get(this.addr).vmem(SIMD.load, 0, 0).set(this.v);
      for (let u = 1; u < U && unrolled; u++) {
        a.get(this.v).get(this.addr).vmem(SIMD.load, 0, u * this.vo.count * 16);
        L.op("add").set(this.v);
      }
      for (let half = L.W / 2; half >= 1 && lanes; half /= 2) {
        a.get(this.v).get(this.v).get(this.v).shuffle(L.rotation(half));
        L.op("add").set(this.v);
      }
      a.get(this.c).i32(L.shift).op(OP.i32Shl).get(outRow).op(OP.i32Add);
      a.get(this.v);
      if (L.mode === "f32") a.lane(SIMD.f32x4ExtractLane, 0).mem(OP.f32Store, 2, 0);
      else a.lane(SIMD.f64x2ExtractLane, 0).mem(OP.f64Store, 3, 0);
    });
  }
}
