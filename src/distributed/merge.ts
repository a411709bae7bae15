/**
 * The assembler: checks that the shards cover every output row and every reduced index exactly
 * once, reads each shard's partial state, merges the states of a row block in column order with
 * the reduction's own `merge` block and finalizes them with its `finalize` block (both evaluated
 * in float64 by src/ir/interpret.ts). Index components get their shard's first column added.
 */
import { KeOpsError } from "../errors.js";
import { RowEvaluator } from "../ir/interpret.js";
import type { ReductionResult } from "../lazy/execute.js";
import { stateLayout } from "../reductions/partial.js";
import { Tensor, allocate, type TensorData } from "../tensor.js";
import type { BlobStore } from "./blobs.js";
import { coverage, describeShard, outputKeys, specFormulas, type RunManifest } from "./spec.js";

/** Rows merged at once (columns of this many float64 per state component). */
const CHUNK = 1024;

/** Reads the shards' partial states and returns the reduction's result, as a local call would. */
export async function assemble(run: RunManifest, store: BlobStore): Promise<ReductionResult> {
  const { formula, formula2, reduction } = specFormulas(run);
  const prog = reduction.build({ fdim: formula.dim, gdim: formula2?.dim, K: run.K, scheme: run.sumScheme });
  const { floats, ints } = stateLayout(prog);
  const nS = prog.state.length;
  const merge = new RowEvaluator(prog.merge, CHUNK);
  const finalize = new RowEvaluator(prog.finalize, CHUNK);
  const rowSizes = prog.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1));
  const outputs: TensorData[] = prog.outputs.map((o, k) => allocate(o.t === "i" ? "int32" : run.dtype, run.nOuter * rowSizes[k]!));
  const blocks = coverage(run, run.shards);
  const col = () => Array.from({ length: nS }, () => new Float64Array(CHUNK));
  let state = col(), next = col();
  const other = col();
  const nf = floats.length, ni = ints.length;
  for (const block of blocks) {
    const [r0, r1] = block[0]!.outer;
    const rows = r1 - r0;
    // every shard of the block, read before any merge: a missing one is named
    const parts = await Promise.all(
      block.map(async (s) => {
        const keys = outputKeys(run, s);
        const missing = !(await store.has(keys.f)) || (ni > 0 && !(await store.has(keys.i)));
        if (missing) throw new KeOpsError(`${describeShard(s)} has no output in the blob store (did it run?)`);
        const ref = (key: string, dim: number) => ({ key, dtype: key === keys.i ? ("int32" as const) : run.dtype, rows, dim });
        const f = await store.getRange(ref(keys.f, nf), 0, rows);
        const i = ni ? await store.getRange(ref(keys.i, ni), 0, rows) : undefined;
        return { s, f, i };
      }),
    );
    for (let c0 = 0; c0 < rows; c0 += CHUNK) {
      const n = Math.min(CHUNK, rows - c0);
      prog.state.forEach((st, k) => state[k]!.fill(st.init, 0, n));
      for (const { s, f, i } of parts) {
        // the shard's state, one column per component; indices made global
        for (let c = 0; c < nf; c++) {
          const o = other[floats[c]!]!;
          for (let r = 0; r < n; r++) o[r] = f[(c0 + r) * nf + c]!;
        }
        for (let c = 0; c < ni; c++) {
          const o = other[ints[c]!]!;
          for (let r = 0; r < n; r++) {
            const j = i![(c0 + r) * ni + c]!;
            o[r] = j < 0 ? j : j + s.inner[0];
          }
        }
        const merged = merge.run(state, other, n);
        merged.forEach((m, k) => next[k]!.set(m.subarray(0, n)));
        [state, next] = [next, state];
      }
      const fin = finalize.run(state, state, n);
      let pos = 0;
      for (let o = 0; o < outputs.length; o++) {
        const size = rowSizes[o]!, out = outputs[o]!;
        for (let e = 0; e < size; e++, pos++) {
          const src = fin[pos]!;
          for (let r = 0; r < n; r++) out[(r0 + c0 + r) * size + e] = src[r]!;
        }
      }
    }
  }
  const shapes = prog.outputs.map((o) => [run.nOuter, ...o.shape]);
  const t = outputs.map((d, k) => new Tensor(d, shapes[k]!));
  return t.length === 1 ? t[0]! : [t[0]!, t[1]!];
}
