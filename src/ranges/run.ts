/**
 * Running a block-sparse reduction with the ordinary kernel of the dense one.
 *
 * For each output block (rows [a, b) of the outer index), the kept inner ranges are gathered into
 * one contiguous buffer per inner input (or passed as a view when they are one contiguous range),
 * the outer inputs and the outputs are passed as views of the block's rows, and the kernel runs on
 * that (b − a) × (kept inner) sub-problem. Arg-reduction indices, relative to the gathered list,
 * are mapped back to the original inner index. Rows in no block reduce over nothing: the
 * reduction's empty value (sum 0, min +∞, argmin −1, …). The work is the kept pairs, plus a copy
 * of the kept inner rows per block; nothing is O(M·N).
 */
import type { BlockingKernel, Kernel, KernelJob, SlotRole } from "../compile/program.js";
import { Reporter, throwIfAborted, type Watch } from "../lazy/progress.js";
import { allocate, type FloatDType, type TensorData } from "../tensor.js";
import type { RangeTriple } from "./spec.js";

/** What the ranged run needs besides the dense job. */
export interface RangedLayout {
  readonly triple: RangeTriple;
  /** Role and vector dimension of each input slot. */
  readonly slots: readonly { readonly role: SlotRole; readonly dim: number }[];
  /** Elements per output row, per output. */
  readonly rowSizes: readonly number[];
  /** Whether each output holds indices of the reduced axis. */
  readonly isIndex: readonly boolean[];
  readonly dtype: FloatDType;
}

/** One sub-problem: a job, and the map of its reduced indices back to the original ones. */
interface Piece {
  readonly job: KernelJob;
  readonly rows: readonly [number, number];
  /** Original inner index = base + k (one contiguous range), or list[k]. */
  readonly base: number;
  readonly list: Int32Array | undefined;
}

/** Merges the inner ranges of block k (adjacent ranges joined, empty ones dropped). */
function innerRanges(t: RangeTriple, k: number): number[] {
  const from = k === 0 ? 0 : t.slices[k - 1]!, to = t.slices[k]!;
  const out: number[] = [];
  for (let l = from; l < to; l++) {
    const s = t.reduced[2 * l]!, e = t.reduced[2 * l + 1]!;
    if (e <= s) continue;
    if (out.length && out[out.length - 1] === s) out[out.length - 1] = e;
    else out.push(s, e);
  }
  return out;
}

/** The output blocks in row order, with the rows in no block as blocks of no inner range (−1). */
function blocksInOrder(t: RangeTriple, nOuter: number): [number, number, number][] {
  const blocks: [number, number, number][] = [];
  for (let k = 0; k < t.slices.length; k++) if (t.blocks[2 * k]! < t.blocks[2 * k + 1]!) blocks.push([t.blocks[2 * k]!, t.blocks[2 * k + 1]!, k]);
  blocks.sort((x, y) => x[0] - y[0]);
  const out: [number, number, number][] = [];
  let at = 0;
  for (const b of blocks) {
    if (b[0] > at) out.push([at, b[0], -1]);
    out.push(b);
    at = b[1];
  }
  if (at < nOuter) out.push([at, nOuter, -1]);
  return out;
}

/** The sub-problems of a job, built one at a time (gather buffers are reused between pieces). */
function* pieces(job: KernelJob, lay: RangedLayout): Generator<Piece> {
  const nSlots = lay.slots.length, nOut = lay.rowSizes.length;
  const inOffsets = new Float64Array(nSlots), outOffsets = new Float64Array(nOut);
  const buffers: (TensorData | undefined)[] = new Array(nSlots);
  for (const [a, b, k] of blocksInOrder(lay.triple, job.nOuter)) {
    const ranges = k < 0 ? [] : innerRanges(lay.triple, k);
    let total = 0;
    for (let r = 0; r < ranges.length; r += 2) total += ranges[r + 1]! - ranges[r]!;
    const contiguous = ranges.length <= 2;
    const base = ranges.length ? ranges[0]! : 0;
    const inputs = lay.slots.map(({ role, dim }, s) => {
      const data = job.inputs[s]!;
      if (role === "param") return data;
      if (role === "outer") return data.subarray(a * dim, b * dim);
      if (contiguous) return data.subarray(base * dim, (base + total) * dim);
      let buf = buffers[s];
      if (!buf || buf.length < total * dim) buffers[s] = buf = allocate(lay.dtype, total * dim);
      let at = 0;
      for (let r = 0; r < ranges.length; r += 2) {
        buf.set(data.subarray(ranges[r]! * dim, ranges[r + 1]! * dim), at);
        at += (ranges[r + 1]! - ranges[r]!) * dim;
      }
      return buf.subarray(0, total * dim);
    });
    let list: Int32Array | undefined;
    if (!contiguous && lay.isIndex.some((x) => x)) {
      list = new Int32Array(total);
      let at = 0;
      for (let r = 0; r < ranges.length; r += 2) for (let j = ranges[r]!; j < ranges[r + 1]!; j++) list[at++] = j;
    }
    const outputs = job.outputs.map((o, q) => o.subarray(a * lay.rowSizes[q]!, b * lay.rowSizes[q]!));
    yield { job: { inputs, outputs, nOuter: b - a, nInner: total, nBatch: 1, inOffsets, outOffsets }, rows: [a, b], base, list };
  }
}

/** Maps the index outputs of a piece that has run back to the original inner indices. */
function mapIndices(p: Piece, lay: RangedLayout): void {
  lay.isIndex.forEach((isIdx, q) => {
    if (!isIdx) return;
    const o = p.job.outputs[q]!;
    if (p.list) {
      const l = p.list;
      for (let e = 0; e < o.length; e++) if (o[e]! >= 0) o[e] = l[o[e]!]!;
    } else if (p.base !== 0) for (let e = 0; e < o.length; e++) if (o[e]! >= 0) o[e] = o[e]! + p.base;
  });
}

/** Runs the block-sparse form of `job` (one batch) with the dense kernel. */
export function runRanged(job: KernelJob, kernel: BlockingKernel, lay: RangedLayout, w?: Watch): void {
  const steps = progressOf(job, w);
  for (const p of pieces(job, lay)) {
    kernel.run(p.job);
    mapIndices(p, lay);
    steps.after(p);
  }
  steps.done();
}

/** The same, off the calling thread (pieces one after the other). */
export async function runRangedAsync(job: KernelJob, kernel: Kernel, lay: RangedLayout, w?: Watch): Promise<void> {
  const steps = progressOf(job, w);
  for (const p of pieces(job, lay)) {
    await kernel.runAsync(p.job);
    mapIndices(p, lay);
    steps.after(p);
  }
  steps.done();
}

/** Progress and cancellation between the pieces of a ranged run (the fraction: outer rows done). */
function progressOf(job: KernelJob, w: Watch | undefined): { after(p: Piece): void; done(): void } {
  throwIfAborted(w?.signal);
  const rep = new Reporter(w?.onProgress);
  let rows = 0, pairs = 0;
  return {
    after(p) {
      rows += p.rows[1] - p.rows[0];
      pairs += p.job.nOuter * p.job.nInner;
      rep.report(rows / Math.max(1, job.nOuter), pairs);
      throwIfAborted(w?.signal);
    },
    done: () => rep.done(pairs),
  };
}
