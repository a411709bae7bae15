/**
 * Running a reduction: sizes and batch dims from the bound data, the plan, the backend, the call.
 */
import { KeOpsError, argError } from "../errors.js";
import type { Cat, Formula } from "../formula/node.js";
import { plan } from "../compile/plan.js";
import { outputRowSizes, type KernelJob } from "../compile/program.js";
import { resolveBackend } from "../backends/registry.js";
import type { ReductionDef } from "../reductions/types.js";
import { Tensor, allocate, type FloatDType, type TensorData } from "../tensor.js";
import { broadcastBatch } from "./bindings.js";
import type { ExecOptions } from "./options.js";

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

function toData(v: VarData, dtype: FloatDType): TensorData {
  if (!Array.isArray(v.data)) return v.data as TensorData;
  const a = allocate(dtype, v.data.length);
  a.set(v.data as number[]);
  return a;
}

const MAX_INDEX = 2 ** 31 - 1;

/** Prepares the job of a reduction; `vars` maps variable index → data. */
function prepare(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtypeHint: FloatDType | undefined) {
  let dtype = dtypeHint;
  for (const v of vars.values())
    if (!Array.isArray(v.data)) {
      const dt = (v.data instanceof Float64Array ? "float64" : "float32") as FloatDType;
      if (dtype && dt !== dtype)
        throw new KeOpsError(`${v.name}: all tensors of a formula must share one dtype, expected ${dtype}, got ${dt} (no silent conversion; use tensor.astype)`);
      dtype = dt;
    }
  dtype ??= "float32";
  const sizes: [number | undefined, number | undefined] = [undefined, undefined];
  const sizeFrom: [string, string] = ["", ""];
  let batch: number[] = [];
  for (const v of vars.values()) {
    if (v.cat !== 2) {
      const prev = sizes[v.cat];
      if (prev !== undefined && prev !== v.rows)
        argError(v.name, `${prev} rows (as ${sizeFrom[v.cat]}: all ${v.cat === 0 ? "i" : "j"}-variables share one ${v.cat === 0 ? "M" : "N"})`, `@${v.rows} rows`);
      sizes[v.cat] = v.rows;
      sizeFrom[v.cat] = v.name;
    }
    batch = broadcastBatch(batch, v.batch, v.name);
  }
  const M = sizes[0] ?? 1;
  const N = sizes[1] ?? 1;
  if (M > MAX_INDEX || N > MAX_INDEX) argError("data", `at most ${MAX_INDEX} rows (int32 indices)`, `@${Math.max(M, N)} rows`);
  const nInner = call.axis === 1 ? N : M;
  const nOuter = call.axis === 1 ? M : N;
  if (call.reduction.usesK && call.K > nInner)
    argError("K", `an integer from 1 to the reduced length ${nInner}`, call.K);
  const p = plan({
    formula: call.formula,
    formula2: call.formula2,
    reduction: call.reduction,
    axis: call.axis,
    K: call.K,
    scheme: call.opts.scheme,
    dtype,
    accDtype: call.opts.dtypeAcc ?? dtype,
  });
  const prog = p.program;
  const nb = batch.length;
  const nBatch = batch.reduce((a, b) => a * b, 1);
  const slotData = p.slotVars.map((v) => {
    const d = vars.get(v.ind);
    if (!d) throw new KeOpsError(`no data for variable ${v}`);
    return d;
  });
  const inputs = slotData.map((d) => toData(d, dtype!));
  const nSlots = inputs.length;
  const inOffsets = new Float64Array(nBatch * nSlots);
  // per slot: elements per batch entry and strides over the (padded) batch dims, 0 where broadcast
  slotData.forEach((d, s) => {
    const own = [...Array(nb - d.batch.length).fill(1), ...d.batch];
    const per = d.rows * d.dim;
    const strides = new Array<number>(nb);
    let st = per;
    for (let k = nb - 1; k >= 0; k--) {
      strides[k] = own[k] === 1 ? 0 : st;
      st *= own[k]!;
    }
    for (let b = 0; b < nBatch; b++) {
      let rem = b, off = 0;
      for (let k = nb - 1; k >= 0; k--) {
        const ix = rem % batch[k]!;
        rem = Math.floor(rem / batch[k]!);
        off += ix * strides[k]!;
      }
      inOffsets[b * nSlots + s] = off;
    }
  });
  const rowSizes = outputRowSizes(prog);
  const outputs = prog.red.outputs.map((o, k) => allocate(o.t === "i" ? "int32" : dtype!, nBatch * nOuter * rowSizes[k]!));
  const outOffsets = new Float64Array(nBatch * outputs.length);
  for (let b = 0; b < nBatch; b++) rowSizes.forEach((r, k) => (outOffsets[b * outputs.length + k] = b * nOuter * r));
  const job: KernelJob = { inputs, outputs, nOuter, nInner, nBatch, inOffsets, outOffsets };
  const backend = resolveBackend(call.opts.backend, prog);
  const kernel = backend.compile(prog);
  const shapes = prog.red.outputs.map((o) => [...batch, nOuter, ...o.shape]);
  const result = (): ReductionResult => {
    const ts = outputs.map((o, k) => new Tensor(o, shapes[k]!));
    return ts.length === 1 ? ts[0]! : [ts[0]!, ts[1]!];
  };
  return { job, kernel, result };
}

/** Runs a reduction synchronously. */
export function execute(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype?: FloatDType): ReductionResult {
  const { job, kernel, result } = prepare(call, vars, dtype);
  if (job.nBatch * job.nOuter > 0) kernel.run(job);
  return result();
}

/** Runs a reduction off the calling thread. */
export async function executeAsync(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype?: FloatDType): Promise<ReductionResult> {
  const { job, kernel, result } = prepare(call, vars, dtype);
  if (job.nBatch * job.nOuter > 0) await kernel.runAsync(job);
  return result();
}
