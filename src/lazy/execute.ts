/**
 * Running a reduction: sizes and batch dims from the bound data, the plan, the backend, the call.
 *
 * Small calls matter (the second tutorial calls a 50×30 reduction 1000 times), so everything that
 * depends only on the formula is computed once and cached by identity: the plan and the compiled
 * kernel hang off the (hash-consed) formula node, and a KeOpsFunction keeps its own
 * {@link Prepared} per dtype with the slot → argument binding precomputed.
 */
import { KeOpsError, argError, said } from "../errors.js";
import type { Cat, Formula } from "../formula/node.js";
import { plan, type Plan } from "../compile/plan.js";
import { outputRowSizes, type BlockingKernel, type Kernel, type KernelJob } from "../compile/program.js";
import { checkMode, compileAsync, compileBlocking, initBackends, resolveBackend } from "../backends/registry.js";
import type { ReductionDef } from "../reductions/types.js";
import { Tensor, allocate, type FloatDType, type TensorData } from "../tensor.js";
import { broadcastBatch, ownBatchIndex } from "./bindings.js";
import type { ExecOptions } from "./options.js";
import { rangedLayout, runRanged, runRangedAsync, type RangedLayout, type RangesSpec } from "../ranges/index.js";
import { runWatched, runWatchedAsync, throwIfAborted, watched, type ChunkLayout, type Watch } from "./progress.js";

/** Data of one variable at call time. */
export interface VarData {
  readonly data: TensorData | readonly number[];
  readonly cat: Cat;
  readonly dim: number;
  readonly rows: number;
  readonly batch: readonly number[];
  /** How to name it in errors. */
  readonly name: string;
}

/** A numbered reduction, ready to run once every variable has data. */
export interface ReductionCall {
  readonly formula: Formula;
  readonly formula2?: Formula;
  readonly reduction: ReductionDef;
  readonly axis: 0 | 1;
  readonly K: number;
  readonly opts: ExecOptions;
}

/** Results: one tensor, or [values, indices]. */
export type ReductionResult = Tensor | [Tensor, Tensor];

/** What a reduction needs that depends only on the call and the dtype: plan, output layout, kernels. */
export interface Prepared {
  readonly plan: Plan;
  readonly dtype: FloatDType;
  /** Variable index read by each input slot. */
  readonly slotInds: readonly number[];
  /** Elements per output row, per output. */
  readonly rowSizes: readonly number[];
  /** Compiled kernels by backend option. */
  readonly kernels: Map<string, Kernel>;
}

const MAX_INDEX = 2 ** 31 - 1;
const prepared = new WeakMap<Formula, Map<string, Prepared>>();
/**
 * The formulas of the last calls, held strongly: a loop that rebuilds the same expression each
 * time gets back these very nodes from hash-consing (and so their cached plan and printing)
 * instead of building new ones once the garbage collector has taken the old.
 */
const recent: Formula[] = new Array(64);
let recentAt = 0;

/** The plan and kernels of `call` at `dtype` (cached on the formula node). */
export function prepareCall(call: ReductionCall, dtype: FloatDType): Prepared {
  const acc = call.opts.dtypeAcc ?? dtype;
  const red = call.reduction;
  const key = `${red.name}|${call.axis}|${red.usesK ? call.K : ""}|${red.sumLike ? call.opts.scheme : ""}|${dtype}|${acc}|${call.formula2?.uid ?? ""}`;
  let byKey = prepared.get(call.formula);
  if (!byKey) prepared.set(call.formula, (byKey = new Map()));
  if (recent[recentAt] !== call.formula && recent[(recentAt + 63) & 63] !== call.formula) {
    recent[recentAt] = call.formula;
    recentAt = (recentAt + 1) & 63;
  }
  let p = byKey.get(key);
  if (!p) {
    const pl = plan({
      formula: call.formula, formula2: call.formula2, reduction: red, axis: call.axis, K: call.K,
      scheme: call.opts.scheme, dtype, accDtype: acc,
    });
    p = { plan: pl, dtype, slotInds: pl.slotVars.map((v) => v.ind), rowSizes: outputRowSizes(pl.program), kernels: new Map() };
    byKey.set(key, p);
  }
  return p;
}

/**
 * The kernel of `p` for the backend option `name` and blocking calls, compiled at first use
 * (kernels are kept per option and call mode: `auto` may choose differently for each mode).
 */
function kernelOf(p: Prepared, name: string | undefined): BlockingKernel {
  const key = `${name ?? "auto"}|blocking`;
  let k = p.kernels.get(key);
  if (!k) {
    k = compileBlocking(resolveBackend(name, p.plan.program, "blocking"), p.plan.program);
    p.kernels.set(key, k);
  }
  return k as BlockingKernel;
}

/** The kernel for `async: true` calls, compiled without keeping the calling thread busy where the backend can. */
async function kernelOfAsync(p: Prepared, name: string | undefined): Promise<Kernel> {
  const key = `${name ?? "auto"}|async`;
  let k = p.kernels.get(key);
  if (!k) {
    await initBackends(name, p.dtype);
    k = await compileAsync(resolveBackend(name, p.plan.program, "async"), p.plan.program);
    p.kernels.set(key, k);
  }
  return k;
}

/** The common dtype of the data (arrays of numbers follow the others); mixing is an error. */
export function dtypeOf(vars: Iterable<VarData>, hint: FloatDType | undefined): FloatDType {
  let dtype = hint;
  for (const v of vars)
    if (!Array.isArray(v.data)) {
      const dt: FloatDType = v.data instanceof Float64Array ? "float64" : "float32";
      if (dtype && dt !== dtype)
        throw new KeOpsError(`${v.name}: all tensors of a formula must share one dtype, expected ${dtype}, got ${dt} (no silent conversion; use tensor.astype)`);
      dtype = dt;
    }
  return dtype ?? "float32";
}

function toData(v: VarData, dtype: FloatDType): TensorData {
  if (!Array.isArray(v.data)) return v.data as TensorData;
  const a = allocate(dtype, v.data.length);
  a.set(v.data as number[]);
  return a;
}

/** Sizes of a call: M, N, the broadcast batch shape, and the outer/inner lengths. */
export interface CallSizes {
  readonly batch: readonly number[];
  readonly nOuter: number;
  readonly nInner: number;
}

/**
 * Sizes M, N and the broadcast batch shape, checked across the variables (unused ones count
 * too), and K against the reduced length — before anything is planned.
 */
export function sizesOf(call: ReductionCall, vars: Iterable<VarData>): CallSizes {
  let M: number | undefined, N: number | undefined;
  let fromM = "", fromN = "";
  let batch: readonly number[] = [];
  for (const v of vars) {
    if (v.cat === 0) {
      if (M !== undefined && M !== v.rows)
        argError(v.name, `${M} rows (as ${fromM}: all i-variables share one M)`, said(`${v.rows} rows`));
      M = v.rows;
      fromM = v.name;
    } else if (v.cat === 1) {
      if (N !== undefined && N !== v.rows)
        argError(v.name, `${N} rows (as ${fromN}: all j-variables share one N)`, said(`${v.rows} rows`));
      N = v.rows;
      fromN = v.name;
    }
    if (v.batch.length) batch = broadcastBatch(batch as number[], v.batch, v.name);
  }
  M ??= 1;
  N ??= 1;
  if (M > MAX_INDEX || N > MAX_INDEX) argError("data", `at most ${MAX_INDEX} rows (int32 indices)`, said(`${Math.max(M, N)} rows`));
  const nInner = call.axis === 1 ? N : M;
  const nOuter = call.axis === 1 ? M : N;
  if (call.reduction.usesK && call.K > nInner)
    argError("K", `an integer from 1 to the reduced length ${nInner}`, call.K);
  return { batch, nOuter, nInner };
}

/** Offsets of each slot in each batch entry (0 where a slot is broadcast). */
function inputOffsets(slots: readonly VarData[], batch: readonly number[], nBatch: number): Float64Array {
  const nSlots = slots.length;
  const out = new Float64Array(nBatch * nSlots);
  if (batch.length === 0) return out;
  slots.forEach((d, s) => {
    const own = ownBatchIndex(d.batch, batch);
    for (let b = 0; b < nBatch; b++) out[b * nSlots + s] = own[b]! * d.rows * d.dim;
  });
  return out;
}

/** What a job may add to the dense run: progress and cancellation, block-sparse ranges. */
export interface JobExtras {
  readonly watch?: Watch;
  readonly ranges?: RangesSpec;
  /** The reduced axis of the ranges (default 1). */
  readonly axis?: 0 | 1;
}

/** A job ready to run, and the shapes of its outputs. */
export interface ReadyJob {
  readonly job: KernelJob;
  /** The kernel, compiled at the first run (an async run compiles off the calling thread where it can). */
  readonly kernel: () => BlockingKernel;
  readonly kernelAsync: () => Promise<Kernel>;
  readonly shapes: readonly (readonly number[])[];
  /** Block-sparse layout (the `ranges` option), or undefined for the dense reduction. */
  readonly ranged?: RangedLayout;
  /** Progress and cancellation: a watched run goes in row chunks (see progress.ts). */
  readonly watch: Watch | undefined;
  readonly layout: ChunkLayout;
  /** The backend option of the call. */
  readonly backend: string | undefined;
}

/** The result tensors of a job that has run. */
function resultOf(r: ReadyJob): ReductionResult {
  const o = r.job.outputs;
  if (o.length === 1) return new Tensor(o[0]!, r.shapes[0]!);
  return [new Tensor(o[0]!, r.shapes[0]!), new Tensor(o[1]!, r.shapes[1]!)];
}

/**
 * Builds the job of a prepared reduction. `slots` holds the data of each input slot (in
 * `p.slotInds` order); `sizes` comes from {@link sizesOf}; `extra.ranges` (checked against the
 * sizes here) makes it block-sparse, reducing over `extra.axis`; `extra.watch` reports and stops.
 */
export function makeJob(p: Prepared, slots: readonly VarData[], sizes: CallSizes, backend: string | undefined, extra: JobExtras = {}): ReadyJob {
  const { batch, nOuter, nInner } = sizes;
  // an unusable backend option is reported now; the backend is chosen for the call's mode at the run
  const name = backend ?? "auto";
  if (!p.kernels.has(`${name}|blocking`) && !p.kernels.has(`${name}|async`)) resolveBackend(backend, p.plan.program);
  let nBatch = 1;
  for (const b of batch) nBatch *= b;
  const inputs = slots.map((d) => toData(d, p.dtype));
  const inOffsets = inputOffsets(slots, batch, nBatch);
  const reds = p.plan.program.red.outputs;
  const nOut = reds.length;
  const outputs: TensorData[] = new Array(nOut);
  for (let k = 0; k < nOut; k++) outputs[k] = allocate(reds[k]!.t === "i" ? "int32" : p.dtype, nBatch * nOuter * p.rowSizes[k]!);
  const outOffsets = new Float64Array(nBatch * nOut);
  if (nBatch > 1) for (let b = 0; b < nBatch; b++) for (let k = 0; k < nOut; k++) outOffsets[b * nOut + k] = b * nOuter * p.rowSizes[k]!;
  const job: KernelJob = { inputs, outputs, nOuter, nInner, nBatch, inOffsets, outOffsets };
  const shapes = reds.map((o) => [...batch, nOuter, ...o.shape]);
  const prog = p.plan.program;
  const layout: ChunkLayout = { roles: prog.slots.map((s) => s.role), dims: prog.slots.map((s) => s.dim), rowSizes: p.rowSizes };
  const { watch, ranges, axis } = extra;
  return {
    job, kernel: () => kernelOf(p, backend), kernelAsync: () => kernelOfAsync(p, backend), shapes, backend,
    watch: watched(watch) ? { onProgress: watch.onProgress, signal: watch.signal } : undefined, layout,
    ranged: ranges && rangedLayout(ranges, axis ?? 1, sizes, prog, p.rowSizes),
  };
}

/** Runs a ready job synchronously (in row chunks when watched). */
export function runJob(r: ReadyJob): ReductionResult {
  const w = r.watch;
  const live = r.job.nBatch * r.job.nOuter > 0;
  if (!live) checkMode(r.backend, "blocking"); // an empty call refuses an async-only backend too
  if (!w) {
    if (live) {
      if (r.ranged) runRanged(r.job, r.kernel(), r.ranged);
      else r.kernel().run(r.job);
    }
    return resultOf(r);
  }
  throwIfAborted(w.signal);
  const k = live ? r.kernel() : undefined;
  if (k && r.ranged) runRanged(r.job, k, r.ranged, w);
  else runWatched(r.job, r.layout, w, (j) => k?.run(j));
  return resultOf(r);
}

/** Runs a ready job off the calling thread (in row chunks when watched). */
export async function runJobAsync(r: ReadyJob): Promise<ReductionResult> {
  const w = r.watch;
  const live = r.job.nBatch * r.job.nOuter > 0;
  if (!w) {
    if (live) {
      const k = await r.kernelAsync();
      if (r.ranged) await runRangedAsync(r.job, k, r.ranged);
      else await k.runAsync(r.job);
    }
    return resultOf(r);
  }
  throwIfAborted(w.signal);
  const k = live ? await r.kernelAsync() : undefined;
  if (k && r.ranged) await runRangedAsync(r.job, k, r.ranged, w);
  else await runWatchedAsync(r.job, r.layout, w, async (j) => k?.runAsync(j));
  return resultOf(r);
}

/** Prepares the job of a reduction; `vars` maps variable index → data. */
function prepare(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtypeHint: FloatDType | undefined): ReadyJob {
  const dtype = dtypeOf(vars.values(), dtypeHint);
  const sizes = sizesOf(call, vars.values());
  const p = prepareCall(call, dtype);
  const slots = p.slotInds.map((ind) => {
    const d = vars.get(ind);
    if (!d) throw new KeOpsError(`no data for variable ${p.plan.slotVars[p.slotInds.indexOf(ind)]}`);
    return d;
  });
  return makeJob(p, slots, sizes, call.opts.backend, { watch: call.opts, ranges: call.opts.ranges, axis: call.axis });
}

const checked = new Set<string>();

/**
 * Checks what a reduction of two formulas demands of their dimensions where the user asks for it,
 * not at the first call deep in planning: builds the reduction's (small) program once per
 * combination, which raises its KeOpsError (e.g. a weighted logsumexp of a vector formula).
 * (K is checked against the reduced length with the data; a K-min program grows with K, so it
 * is not built here.)
 */
export function checkCall(call: ReductionCall): void {
  if (call.formula2 === undefined || call.reduction.usesK) return;
  const key = `${call.reduction.name}|${call.formula.dim}|${call.formula2?.dim ?? ""}|${call.K}|${call.opts.scheme}`;
  if (checked.has(key)) return;
  call.reduction.build({ fdim: call.formula.dim, gdim: call.formula2?.dim, K: call.K, scheme: call.opts.scheme });
  if (checked.size > 4096) checked.clear();
  checked.add(key);
}

/** Runs a reduction synchronously. */
export function execute(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype?: FloatDType): ReductionResult {
  checkCall(call);
  return runJob(prepare(call, vars, dtype));
}

/** Runs a reduction off the calling thread (a mistake in the call itself is thrown here, at once). */
export function executeAsync(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype?: FloatDType): Promise<ReductionResult> {
  checkCall(call);
  return (async () => runJobAsync(prepare(call, vars, dtype)))();
}
