/**
 * Preparing a run on the client: bind the arguments of a KeOpsFunction as a local call would
 * (same checks, same errors), check that its formula prints and parses back to itself, store
 * every variable in the blob store and cut the work into shards.
 */
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KeOpsError, argError, said } from "../errors.js";
import { parseFormula } from "../formula/parse.js";
import { dtypeOf, sizesOf, type VarData } from "../lazy/execute.js";
import { argumentData, fixedData, specOf, type KeOpsFunction } from "../lazy/keopsfunction.js";
import { allocate, type TensorData, type TensorLike } from "../tensor.js";
import type { BlobStore } from "./blobs.js";
import { FolderBlobStore } from "./blobs.js";
import { SPEC_VERSION, planShards, variableRole, type RunManifest, type ShardSizes, type VariableSpec } from "./spec.js";

/** The bound variables and sizes of a call of `fn` on `args`. */
export interface BoundCall {
  readonly fn: KeOpsFunction<unknown>;
  readonly vars: ReadonlyMap<number, VarData>;
  readonly dtype: "float32" | "float64";
  readonly nOuter: number;
  readonly nInner: number;
}

/** Binds `args` to `fn`'s symbolic variables (in index order), with its bound data. */
export function bindCall(fn: KeOpsFunction<unknown>, args: readonly TensorLike[]): BoundCall {
  let spec;
  try {
    spec = specOf(fn);
  } catch {
    argError("fn", "a KeOpsFunction (a reduction with call: false, or genred)", fn);
  }
  if (!Array.isArray(args)) argError("args", "an array of tensors", args);
  const order = [...spec.symbolic].sort((a, b) => a[0] - b[0]);
  if (args.length !== order.length)
    argError("args", `${order.length} tensor(s), for ${order.map(([i, d, c]) => `Var(${i},${d},${c})`).join(", ") || "no symbolic variable"}`, said(`${args.length}`));
  const vars = new Map<number, VarData>(fixedData(spec.fixed));
  order.forEach(([ind, dim, cat], k) => vars.set(ind, argumentData(args[k]!, ind, dim, cat, k)));
  const call = spec.call;
  // block-sparse ranges index the whole problem: shards of rows and columns would cut them wrongly
  if (call.opts.ranges) throw new KeOpsError("fn: distributed runs take no block-sparse ranges (they index the whole problem, not a shard); run it without ranges or locally");
  const printed = call.formula.toString();
  if (parseFormula(printed) !== call.formula) throw new KeOpsError(`fn: its formula ${printed} does not parse back to itself, so no worker could run it`);
  if (call.formula2 && parseFormula(call.formula2.toString()) !== call.formula2)
    throw new KeOpsError(`fn: its formula2 ${call.formula2} does not parse back to itself, so no worker could run it`);
  for (const v of vars.values())
    if (v.batch.length) throw new KeOpsError(`${v.name}: distributed runs take no batch dimensions, got batch shape (${v.batch.join(", ")})`);
  const dtype = dtypeOf(vars.values(), spec.dtype);
  const { nOuter, nInner } = sizesOf(call, vars.values());
  return { fn, vars, dtype, nOuter, nInner };
}

function asData(v: VarData, dtype: "float32" | "float64"): TensorData {
  if (!Array.isArray(v.data)) return v.data as TensorData;
  const a = allocate(dtype, v.data.length);
  a.set(v.data as number[]);
  return a;
}

/**
 * Stores the variables of a bound call and returns the run's manifest (the spec and its shards).
 * Nothing is queued: a BullMQ run queues the shards; a Kubernetes run writes `spec.json`.
 */
export async function prepareRun(b: BoundCall, store: BlobStore, sizes: ShardSizes, run = randomUUID()): Promise<RunManifest> {
  const { call } = specOf(b.fn);
  const variables: VariableSpec[] = [];
  for (const [ind, v] of [...b.vars].sort((x, y) => x[0] - y[0])) {
    const blob = await store.put(`${run}/in/${ind}`, asData(v, b.dtype), v.dim);
    variables.push({ ind, dim: v.dim, cat: v.cat, role: variableRole(v.cat, call.axis), blob });
  }
  const shards = planShards(b.nOuter, b.nInner, call.K, call.reduction.usesK, sizes);
  return {
    version: SPEC_VERSION,
    run,
    formula: call.formula.toString(),
    ...(call.formula2 ? { formula2: call.formula2.toString() } : {}),
    reduction: call.reduction.name,
    K: call.K,
    axis: call.axis,
    dtype: b.dtype,
    ...(call.opts.dtypeAcc ? { dtypeAcc: call.opts.dtypeAcc } : {}),
    sumScheme: call.opts.scheme,
    nOuter: b.nOuter,
    nInner: b.nInner,
    store: store.ref,
    variables,
    shards,
  };
}

/** The shard sizes a run uses: given ones, else about `target` shards (rows first, then columns). */
export function defaultSizes(nOuter: number, nInner: number, target: number, given: Partial<ShardSizes>): ShardSizes {
  const minRows = 256, minCols = 4096;
  const rowParts = Math.max(1, Math.min(target, Math.floor(nOuter / minRows)));
  const colParts = Math.max(1, Math.min(Math.ceil(target / rowParts), Math.floor(nInner / minCols)));
  return {
    rowsPerShard: given.rowsPerShard ?? Math.max(1, Math.ceil(nOuter / rowParts)),
    colsPerShard: given.colsPerShard ?? Math.max(1, Math.ceil(nInner / colParts)),
  };
}

/**
 * Prepares a run for a Kubernetes Indexed Job (or any batch system): stores the inputs in the
 * folder and writes `<folder>/<run>/spec.json`; each index 0 … shards − 1 then runs
 * `keops-ts shard --spec …/spec.json --index N`, and `keops-ts merge --spec …` assembles.
 */
export async function prepareFolderRun(
  fn: KeOpsFunction<unknown>, args: readonly TensorLike[], folder: string, sizes: Partial<ShardSizes> & { shards?: number } = {},
): Promise<{ manifest: RunManifest; specPath: string }> {
  const store = new FolderBlobStore(folder);
  const b = bindCall(fn, args);
  const manifest = await prepareRun(b, store, defaultSizes(b.nOuter, b.nInner, sizes.shards ?? 4, sizes));
  const specPath = join(store.path, manifest.run, "spec.json");
  await writeFile(specPath, JSON.stringify(manifest, null, 1));
  return { manifest, specPath };
}
