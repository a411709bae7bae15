/**
 * The job spec of a distributed run: versioned JSON that a worker runs without the client's
 * code. It holds the formula as KeOps prints it (parsed back by the worker with the genred
 * parser), the reduction, K, the second formula, dtypes, every variable with its role, dimension
 * and blob, and the shards (a block of output rows × a block of the reduced index each).
 *
 * Rows and columns of a shard are those of the kernel: "outer" is the output row index (i for
 * axis 1, j for axis 0), "inner" the reduced one.
 */
import { KeOpsError, argError } from "../errors.js";
import type { Cat, Formula } from "../formula/node.js";
import { parseFormula } from "../formula/parse.js";
import { roleOf } from "../compile/plan.js";
import type { SlotRole } from "../compile/program.js";
import { reductionByName } from "../reductions/index.js";
import type { ReductionDef, ReductionName, SumScheme } from "../reductions/types.js";
import type { FloatDType } from "../tensor.js";

/** The version of the spec format this build writes and reads. */
export const SPEC_VERSION = 1;

/** Where the blobs of a run live: the Redis of the queue, or a folder on a shared file system. */
export type StoreRef = { readonly kind: "redis"; readonly prefix: string } | { readonly kind: "folder"; readonly path: string };

/** A stored array of `rows` rows of `dim` elements. */
export interface BlobRef {
  readonly key: string;
  readonly dtype: FloatDType | "int32";
  readonly rows: number;
  readonly dim: number;
}

/** One variable of the formula(s). */
export interface VariableSpec {
  readonly ind: number;
  readonly dim: number;
  readonly cat: Cat;
  /** "outer": read by output row; "inner": by reduced index; "param": whole. */
  readonly role: SlotRole;
  readonly blob: BlobRef;
}

/** One shard: output rows [outer[0], outer[1]) reduced over [inner[0], inner[1]). */
export interface ShardSpec {
  readonly index: number;
  readonly outer: readonly [number, number];
  readonly inner: readonly [number, number];
}

/** Everything a worker needs, but the shard list (each job carries its own shard). */
export interface RunSpec {
  readonly version: number;
  /** Run id: names the blobs and the jobs. */
  readonly run: string;
  readonly formula: string;
  readonly formula2?: string;
  readonly reduction: ReductionName;
  readonly K: number;
  readonly axis: 0 | 1;
  readonly dtype: FloatDType;
  /** The accumulator dtype the function asked for; absent: Sum shards accumulate in float64, others in `dtype`. */
  readonly dtypeAcc?: FloatDType;
  readonly sumScheme: SumScheme;
  /** Output rows. */
  readonly nOuter: number;
  /** Reduced length. */
  readonly nInner: number;
  readonly store: StoreRef;
  readonly variables: readonly VariableSpec[];
}

/** A run with its shards: what the client (or `keops-ts merge`) keeps, what `spec.json` holds. */
export interface RunManifest extends RunSpec {
  readonly shards: readonly ShardSpec[];
}

/** The data of one shard job. */
export interface ShardJobData {
  readonly spec: RunSpec;
  readonly shard: ShardSpec;
}

/** The blob keys of a shard's partial state: floats, and ints when the state has any. */
export function outputKeys(spec: Pick<RunSpec, "run">, shard: ShardSpec): { f: string; i: string } {
  return { f: `${spec.run}/out/${shard.index}.f`, i: `${spec.run}/out/${shard.index}.i` };
}

/** How a shard is named in messages. */
export function describeShard(s: ShardSpec): string {
  return `shard ${s.index} (rows ${s.outer[0]}–${s.outer[1]}, columns ${s.inner[0]}–${s.inner[1]})`;
}

/** The formulas and reduction of a spec, parsed and checked (a printed formula parses back to itself). */
export function specFormulas(spec: RunSpec): { formula: Formula; formula2: Formula | undefined; reduction: ReductionDef } {
  const reduction = reductionByName(spec.reduction);
  if (!reduction) throw new KeOpsError(`job spec: unknown reduction ${JSON.stringify(spec.reduction)}`);
  const formula = parseFormula(spec.formula, { what: "job spec formula" });
  const formula2 = spec.formula2 === undefined ? undefined : parseFormula(spec.formula2, { what: "job spec formula2" });
  if (formula.toString() !== spec.formula)
    throw new KeOpsError(`job spec: the formula ${spec.formula} parses to ${formula}, not to itself`);
  return { formula, formula2, reduction };
}

function isRange(r: unknown): r is [number, number] {
  return Array.isArray(r) && r.length === 2 && r.every((x) => Number.isSafeInteger(x) && x >= 0) && r[0] <= r[1];
}

/** Checks what a job brings (JSON from Redis or a file): a KeOpsError names what is wrong. */
export function checkSpec(spec: unknown, what = "job spec"): RunSpec {
  const s = spec as RunSpec;
  if (typeof s !== "object" || s === null) argError(what, "a keops-ts job spec object", spec);
  if (s.version !== SPEC_VERSION)
    throw new KeOpsError(`${what}: version ${JSON.stringify(s.version)}, this keops-ts reads version ${SPEC_VERSION} (upgrade the workers and the client together)`);
  for (const k of ["run", "formula", "reduction"] as const) if (typeof s[k] !== "string") argError(`${what}.${k}`, "a string", s[k]);
  if (s.dtype !== "float32" && s.dtype !== "float64") argError(`${what}.dtype`, `"float32" or "float64"`, s.dtype);
  if (s.dtypeAcc !== undefined && s.dtypeAcc !== "float32" && s.dtypeAcc !== "float64") argError(`${what}.dtypeAcc`, `"float32", "float64" or absent`, s.dtypeAcc);
  if (s.axis !== 0 && s.axis !== 1) argError(`${what}.axis`, "0 or 1", s.axis);
  for (const k of ["K", "nOuter", "nInner"] as const)
    if (!Number.isSafeInteger(s[k]) || s[k] < 0) argError(`${what}.${k}`, "an integer ≥ 0", s[k]);
  if (!Array.isArray(s.variables)) argError(`${what}.variables`, "an array", s.variables);
  const st = s.store as StoreRef;
  if (!st || (st.kind !== "redis" && st.kind !== "folder")) argError(`${what}.store`, `{ kind: "redis" | "folder", … }`, st);
  return s;
}

/** Checks a shard against its spec. */
export function checkShard(spec: RunSpec, shard: unknown): ShardSpec {
  const s = shard as ShardSpec;
  if (typeof s !== "object" || s === null || !Number.isSafeInteger(s.index) || !isRange(s.outer) || !isRange(s.inner))
    argError("job shard", "{ index, outer: [start, end], inner: [start, end] }", shard);
  if (s.outer[1] > spec.nOuter || s.inner[1] > spec.nInner)
    throw new KeOpsError(`${describeShard(s)}: outside the run's ${spec.nOuter} rows × ${spec.nInner} columns`);
  return s;
}

/** The role of a variable of category `cat` in a run of axis `axis`. */
export function variableRole(cat: Cat, axis: 0 | 1): SlotRole {
  return roleOf(cat, axis);
}

/** Even split of [0, n) into `parts` ranges. */
function split(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < parts; k++) out.push([Math.floor((k * n) / parts), Math.floor(((k + 1) * n) / parts)]);
  return out;
}

/** How a run is cut: requested block sizes (approximate: blocks are made even). */
export interface ShardSizes {
  readonly rowsPerShard: number;
  readonly colsPerShard: number;
}

/**
 * The shards of a run: ⌈nOuter / rowsPerShard⌉ even row blocks times ⌈nInner / colsPerShard⌉ even
 * column blocks; for the K-min family no column block is narrower than K (there are then fewer).
 */
export function planShards(nOuter: number, nInner: number, K: number, usesK: boolean, sizes: ShardSizes): ShardSpec[] {
  if (nOuter === 0) return [];
  const rowParts = Math.max(1, Math.ceil(nOuter / sizes.rowsPerShard));
  let colParts = Math.max(1, Math.ceil(nInner / sizes.colsPerShard));
  if (usesK) colParts = Math.max(1, Math.min(colParts, Math.floor(nInner / K)));
  const shards: ShardSpec[] = [];
  for (const outer of split(nOuter, rowParts)) for (const inner of split(nInner, colParts)) shards.push({ index: shards.length, outer, inner });
  return shards;
}

/**
 * Checks that the shards cover the output rows and the reduced index exactly once: row blocks
 * that tile [0, nOuter), and within each, column blocks that tile [0, nInner). Returns the
 * shards by row block, columns in order.
 */
export function coverage(spec: RunSpec, shards: readonly ShardSpec[]): ShardSpec[][] {
  const byRows = new Map<string, ShardSpec[]>();
  for (const s of shards) {
    const k = `${s.outer[0]},${s.outer[1]}`;
    const list = byRows.get(k) ?? [];
    list.push(s);
    byRows.set(k, list);
  }
  const blocks = [...byRows.values()].sort((a, b) => a[0]!.outer[0] - b[0]!.outer[0]);
  let row = 0;
  for (const b of blocks) {
    const [r0, r1] = b[0]!.outer;
    if (r0 !== row)
      throw new KeOpsError(`shards: rows ${Math.min(row, r0)}–${Math.max(row, r0)} are ${r0 > row ? "covered by no shard" : "covered twice"} (next block: ${describeShard(b[0]!)})`);
    b.sort((x, y) => x.inner[0] - y.inner[0]);
    let col = 0;
    for (const s of b) {
      if (s.inner[0] !== col)
        throw new KeOpsError(`shards: rows ${r0}–${r1}, columns ${Math.min(col, s.inner[0])}–${Math.max(col, s.inner[0])} are ${s.inner[0] > col ? "covered by no shard" : "covered twice"} (at ${describeShard(s)})`);
      col = s.inner[1];
    }
    if (col !== spec.nInner) throw new KeOpsError(`shards: rows ${r0}–${r1}, columns ${col}–${spec.nInner} are covered by no shard`);
    row = r1;
  }
  if (row !== spec.nOuter) throw new KeOpsError(`shards: rows ${row}–${spec.nOuter} are covered by no shard`);
  return blocks;
}
