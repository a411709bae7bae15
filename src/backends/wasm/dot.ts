/**
 * The wasm side of blocked distances (src/compile/blocked.ts): a body whose D-term sums read
 * precomputed inputs, and the code that fills them.
 *
 * The rewritten body's extra input k is slot `nSlots + k` of an extended program, of dimension 1:
 * - a norm Σ_c v_c² is an ordinary outer (per row) or inner (per column) slot, computed once per
 *   call when the job is staged ({@link blockedJob});
 * - a dot tile G(i, j) = Σ_c x_ic·y_jc is an inner slot with no staged data: per block of
 *   {@link DOT_ROWS} rows and tile of JT columns, the kernel fills G in its scratch memory with a
 *   register-blocked micro-kernel ({@link emitDotTiles}: DOT_RI rows × DOT_RJ vectors of columns
 *   in DOT_RI·DOT_RJ accumulators, each y vector loaded once for DOT_RI rows, each broadcast x
 *   used for DOT_RJ vectors; c a loop, so D changes only a loop bound), then points the slot's
 *   coordinate array at the row's G so the body reads it as any inner value.
 * The products go through the FMA peephole of {@link Asm}: relaxed_madd where the engine has it,
 * mul + add otherwise. The renderer runs the rest of the body and the reduction on the tile, with
 * each row's reduction state saved in scratch memory between tiles.
 */
import { blockDots, blockedEnabled, type ExtraInput } from "../../compile/blocked.js";
import type { KernelJob, KernelProgram } from "../../compile/program.js";
import { I32, V128 } from "./encoder.js";
import { OP, SIMD } from "./asm.js";
import type { Gen } from "./values.js";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
/** The micro-kernel's block: rows × vectors of columns (env KEOPS_TS_WASM_DOT_BLOCK="4x2", to experiment). */
const blockEnv = env?.KEOPS_TS_WASM_DOT_BLOCK?.split("x").map(Number);
export const DOT_RI = blockEnv?.[0] || 4;
export const DOT_RJ = blockEnv?.[1] || 2;
/** Rows per block: the G tile holds DOT_ROWS × JT values, a y tile is reused by DOT_ROWS rows. */
export const DOT_ROWS = Number(env?.KEOPS_TS_WASM_DOT_ROWS) || 32;
/** Bytes of y coordinates per tile (the tile's columns: this / (D · bytes), between 64 and 512). */
const Y_TILE_BYTES = Number(env?.KEOPS_TS_WASM_DOT_YBYTES) || 131072;

/** A program with blocked distances, as the wasm backend runs it. */
export interface WasmBlocked {
  /** The program with the rewritten body and one slot of dimension 1 per extra input. */
  readonly program: KernelProgram;
  /** Extra input k is slot `nOwn + k` of `program`. */
  readonly extra: readonly ExtraInput[];
  /** Slots of the original program. */
  readonly nOwn: number;
  /** Columns per tile (a multiple of 16). */
  readonly JT: number;
}

const forms = new WeakMap<KernelProgram, WasmBlocked | null>();

/** The blocked form of a program (computed once per program), or null (blocking off, or nothing to block). */
export function wasmBlocked(p0: KernelProgram): WasmBlocked | null {
  if (!blockedEnabled()) return null;
  let b = forms.get(p0);
  if (b === undefined) forms.set(p0, (b = blockedForm(p0)));
  return b;
}

function blockedForm(p0: KernelProgram): WasmBlocked | null {
  const blk = blockDots(p0);
  if (!blk) return null;
  const slots = [...p0.slots, ...blk.extra.map((e) => ({ role: e.kind === "dot" ? ("inner" as const) : e.role, dim: 1 }))];
  const bytes = p0.dtype === "float64" || p0.accDtype === "float64" ? 8 : 4;
  const dims = blk.extra.reduce((s, e) => s + (e.kind === "dot" ? e.D : 0), 0);
  const JT = Math.max(64, Math.min(512, Math.floor(Y_TILE_BYTES / (dims * bytes) / 16) * 16));
  return { program: { ...p0, body: blk.body, slots }, extra: blk.extra, nOwn: p0.slots.length, JT };
}

/**
 * The job of the extended program: the norms, once per call (per distinct offset of their slot,
 * in float64 then stored in the compute precision), and an empty input for each dot tile (not
 * staged: the kernel fills it).
 */
export function blockedJob(b: WasmBlocked, job: KernelJob): KernelJob {
  const n0 = b.nOwn, n1 = b.program.slots.length;
  const inputs = [...job.inputs];
  const offsets = new Float64Array(job.nBatch * n1);
  for (let bt = 0; bt < job.nBatch; bt++) for (let s = 0; s < n0; s++) offsets[bt * n1 + s] = job.inOffsets[bt * n0 + s]!;
  b.extra.forEach((e, k) => {
    if (e.kind === "dot") {
      inputs.push(new Float64Array(0));
      return;
    }
    const rows = e.role === "outer" ? job.nOuter : job.nInner;
    const src = job.inputs[e.slot]!;
    const at = new Map<number, number>();
    for (let bt = 0; bt < job.nBatch; bt++) {
      const off = job.inOffsets[bt * n0 + e.slot]!;
      if (!at.has(off)) at.set(off, at.size * rows);
      offsets[bt * n1 + n0 + k] = at.get(off)!;
    }
    const norms = new Float64Array(at.size * rows);
    for (const [off, o] of at)
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0, q = off + r * e.D; c < e.D; c++, q++) s += src[q]! * src[q]!;
        norms[o + r] = s;
      }
    inputs.push(norms);
  });
  return { ...job, inputs, inOffsets: offsets };
}

/** Bytes of one block's dot tiles (each DOT_ROWS × JT values), in a thread's scratch memory. */
export function dotTileBytes(b: WasmBlocked, bytes: number): number {
  return b.extra.filter((e) => e.kind === "dot").length * DOT_ROWS * b.JT * bytes;
}

/** Locals of the tile code (i32 unless said). */
export interface DotLocals {
  /** First row of the block and the end of the block. */
  readonly ib: number;
  readonly ie: number;
  /** The tile's columns jt … je. */
  readonly jt: number;
  readonly je: number;
  /** Address of the block's first dot tile. */
  readonly gBase: number;
}

/**
 * Emits the filling of every dot tile of the block (rows ib … ie, columns jt … je rounded up to
 * whole vectors; the inner arrays are padded so): G_k(r − ib, jj − jt) at
 * `gBase + (k·DOT_ROWS·JT + (r − ib)·JT + jj − jt)·bytes`.
 */
export function emitDotTiles(g: Gen, b: WasmBlocked, at: DotLocals): void {
  const { a, L, f } = g;
  const W = L.W, mb = L.bytes, JT = b.JT;
  const r = f.local(I32), jj = f.local(I32), jend = f.local(I32), c = f.local(I32);
  const px = f.local(I32), py = f.local(I32), pg = f.local(I32);
  const acc = Array.from({ length: DOT_RI }, () => Array.from({ length: DOT_RJ }, () => f.local(V128)));
  const yv = Array.from({ length: DOT_RJ }, () => f.local(V128));
  const xb = f.local(V128);
  // jend = jt + ((je − jt + W − 1) & −W)
  a.get(at.jt).get(at.je).get(at.jt).op(OP.i32Sub).i32(W - 1).op(OP.i32Add).i32(-W).op(OP.i32And).op(OP.i32Add).set(jend);
  let tileNo = 0;
  b.extra.forEach((e) => {
    if (e.kind !== "dot") return;
    const D = e.D;
    const gOff = tileNo++ * DOT_ROWS * JT * mb;
    /** ri rows from r, rj vectors of columns from jj: the accumulators, a loop over c, the stores. */
    const block = (ri: number, rj: number): void => {
      a.get(g.base[e.outer]!).get(r).i32(D * mb).op(OP.i32Mul).op(OP.i32Add).set(px);
      a.get(g.compBase[e.inner]![0]!).get(jj).i32(L.shift).op(OP.i32Shl).op(OP.i32Add).set(py);
      for (let q = 0; q < ri; q++) for (let v = 0; v < rj; v++) L.f(0).set(acc[q]![v]!);
      a.i32(D).set(c);
      a.openLoop();
      for (let v = 0; v < rj; v++) a.get(py).vmem(SIMD.load, 0, v * 16).set(yv[v]!);
      for (let q = 0; q < ri; q++) {
        a.get(px).vmem(L.mode === "f32" ? SIMD.load32Splat : SIMD.load64Splat, 0, q * D * mb).set(xb);
        // x·y + acc: fused into relaxed_madd by the peephole where the engine has it
        for (let v = 0; v < rj; v++) {
          a.get(xb).get(yv[v]!);
          L.op("mul");
          a.get(acc[q]![v]!);
          L.op("add").set(acc[q]![v]!);
        }
      }
      a.get(px).i32(mb).op(OP.i32Add).set(px);
      a.get(py).get(g.stride).op(OP.i32Add).set(py);
      a.get(c).i32(1).op(OP.i32Sub).tee(c).op(OP.i32Eqz).brIf(1);
      a.closeLoop();
      // pg = gBase + ((r − ib)·JT + jj − jt)·bytes
      a.get(r).get(at.ib).op(OP.i32Sub).i32(JT).op(OP.i32Mul).get(jj).op(OP.i32Add).get(at.jt).op(OP.i32Sub)
        .i32(L.shift).op(OP.i32Shl).get(at.gBase).op(OP.i32Add).set(pg);
      for (let q = 0; q < ri; q++) for (let v = 0; v < rj; v++) a.get(pg).get(acc[q]![v]!).vmem(SIMD.store, 0, gOff + (q * JT + v * W) * mb);
    };
    /** Rows from r in groups of ri (while a whole group fits), each over the columns. */
    const rowGroups = (ri: number): void => {
      a.openLoop();
      a.get(r).i32(ri).op(OP.i32Add).get(at.ie).op(OP.i32GtS).brIf(1);
      a.get(at.jt).set(jj);
      for (const rj of DOT_RJ > 1 ? [DOT_RJ, 1] : [1]) {
        a.openLoop();
        a.get(jj).i32(rj * W).op(OP.i32Add).get(jend).op(OP.i32GtS).brIf(1);
        block(ri, rj);
        a.get(jj).i32(rj * W).op(OP.i32Add).set(jj);
        a.closeLoop();
      }
      a.get(r).i32(ri).op(OP.i32Add).set(r);
      a.closeLoop();
    };
    a.get(at.ib).set(r);
    if (DOT_RI > 1) rowGroups(DOT_RI);
    rowGroups(1);
  });
}
