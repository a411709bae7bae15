/**
 * Running one shard: read its rows of every variable from the blob store, run the partial form
 * of the reduction (its raw state as output) on the worker's backend, off the calling thread
 * (`async`, so that a worker's lock renewal never stalls), and write the state under the
 * shard's fixed output keys.
 */
import { KeOpsError } from "../errors.js";
import type { BackendName } from "../backends/registry.js";
import { executeAsync, type ReductionCall, type VarData } from "../lazy/execute.js";
import { partialReduction } from "../reductions/partial.js";
import type { BlobStore } from "./blobs.js";
import { checkShard, checkSpec, describeShard, outputKeys, specFormulas, type ShardJobData } from "./spec.js";

/** What a finished shard reports (its job's return value). */
export interface ShardResult {
  readonly index: number;
  readonly keys: { readonly f: string; readonly i: string | null };
  /** Pairs computed. */
  readonly pairs: number;
  readonly seconds: number;
}

/** Runs one shard and stores its partial state. */
export async function runShard(job: ShardJobData, store: BlobStore, backend: BackendName | undefined): Promise<ShardResult> {
  const t0 = performance.now();
  const spec = checkSpec(job.spec);
  const shard = checkShard(spec, job.shard);
  const { formula, formula2, reduction } = specFormulas(spec);
  const vars = new Map<number, VarData>();
  const used = new Set([...formula.vars(), ...(formula2?.vars() ?? [])].map((v) => v.ind));
  for (const v of spec.variables) {
    const [r0, r1] = v.role === "outer" ? shard.outer : v.role === "inner" ? shard.inner : [0, v.blob.rows];
    const data = await store.getRange(v.blob, r0, r1);
    if (v.blob.dtype !== spec.dtype) throw new KeOpsError(`job spec: variable ${v.ind} is stored as ${v.blob.dtype}, the run is ${spec.dtype}`);
    vars.set(v.ind, { data, cat: v.cat, dim: v.dim, rows: v.cat === 2 ? 1 : r1 - r0, batch: [], name: `Var(${v.ind},${v.dim},${v.cat})` });
  }
  for (const ind of used) if (!vars.has(ind)) throw new KeOpsError(`job spec: the formula reads variable ${ind}, which the spec does not list`);
  const call: ReductionCall = {
    formula, formula2, reduction: partialReduction(reduction), axis: spec.axis, K: spec.K,
    // Sum accumulates in float64 on every shard (the state is written in the data's dtype) unless
    // the function asked for float32 (faster natively); the others as the function asked (a
    // float64 log-sum-exp state would compute every exp in double)
    opts: { backend, dtypeAcc: reduction.name === "Sum" ? (spec.dtypeAcc ?? "float64") : spec.dtypeAcc, scheme: spec.sumScheme },
  };
  const rows = shard.outer[1] - shard.outer[0];
  const keys = outputKeys(spec, shard);
  let out: VarData["data"][];
  try {
    const r = await executeAsync(call, vars, spec.dtype);
    out = Array.isArray(r) ? r.map((t) => t.data) : [r.data];
  } catch (e) {
    if (e instanceof KeOpsError) throw new KeOpsError(`${describeShard(shard)}: ${e.message}`);
    throw e;
  }
  const nf = rows === 0 ? 0 : out[0]!.length / rows;
  await store.put(keys.f, out[0] as Float32Array, nf);
  let iKey: string | null = null;
  if (out[1]) {
    await store.put(keys.i, out[1] as Int32Array, rows === 0 ? 0 : out[1].length / rows);
    iKey = keys.i;
  }
  const pairs = rows * (shard.inner[1] - shard.inner[0]);
  return { index: shard.index, keys: { f: keys.f, i: iKey }, pairs, seconds: (performance.now() - t0) / 1000 };
}
