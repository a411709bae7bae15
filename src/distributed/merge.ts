/**
 * The assembler: checks that the shards cover every output row and every reduced index exactly
 * once, reads each shard's partial state, merges the states of a row block in column order with
 * the reduction's own `merge` block and finalizes them with its `finalize` block (both evaluated
 * in float64 by src/ir/interpret.ts). Index components get their shard's first column added.
 */
import { KeOpsError } from "../errors.js";
import { compileBlock } from "../ir/interpret.js";
import type { ReductionResult } from "../lazy/execute.js";
import { stateLayout } from "../reductions/partial.js";
import { Tensor, allocate, type TensorData } from "../tensor.js";
import type { BlobStore } from "./blobs.js";
import { coverage, describeShard, outputKeys, specFormulas, type RunManifest } from "./spec.js";

/** Reads the shards' partial states and returns the reduction's result, as a local call would. */
export async function assemble(run: RunManifest, store: BlobStore): Promise<ReductionResult> {
  const { formula, formula2, reduction } = specFormulas(run);
  const prog = reduction.build({ fdim: formula.dim, gdim: formula2?.dim, K: run.K, scheme: run.sumScheme });
  const { floats, ints } = stateLayout(prog);
  const nS = prog.state.length;
  const merge = compileBlock(prog.merge);
  const finalize = compileBlock(prog.finalize);
  const rowSizes = prog.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1));
  const outputs: TensorData[] = prog.outputs.map((o, k) => allocate(o.t === "i" ? "int32" : run.dtype, run.nOuter * rowSizes[k]!));
  const blocks = coverage(run, run.shards);
  const state = new Float64Array(nS);
  const other = new Float64Array(nS);
  const merged = new Float64Array(nS);
  const fin = new Float64Array(prog.finalize.out.length);
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
    for (let r = 0; r < rows; r++) {
      prog.state.forEach((st, k) => (state[k] = st.init));
      for (const { s, f, i } of parts) {
        for (let c = 0; c < nf; c++) other[floats[c]!] = f[r * nf + c]!;
        for (let c = 0; c < ni; c++) {
          const j = i![r * ni + c]!;
          other[ints[c]!] = j < 0 ? j : j + s.inner[0];
        }
        merge(state, other, merged);
        state.set(merged);
      }
      finalize(state, state, fin);
      let pos = 0;
      for (let o = 0; o < outputs.length; o++) {
        const size = rowSizes[o]!;
        outputs[o]!.set(fin.subarray(pos, pos + size), (r0 + r) * size);
        pos += size;
      }
    }
  }
  const shapes = prog.outputs.map((o) => [run.nOuter, ...o.shape]);
  const t = outputs.map((d, k) => new Tensor(d, shapes[k]!));
  return t.length === 1 ? t[0]! : [t[0]!, t[1]!];
}
