/** Shared by the vector-loop tests: a call with loops turned off, and looped against unrolled results. */
import assert from "node:assert/strict";
import type { LazyTensor, Tensor } from "../src/index.js";
import { assertClose, callOn, type Target } from "./util.js";
import { reference } from "./reference.js";

/** `run()` with vector loops off (KEOPS_TS_LOOP_MIN above any dimension): the unrolled kernel. */
export async function unrolled(run: () => Promise<Tensor>): Promise<Tensor> {
  process.env.KEOPS_TS_LOOP_MIN = String(10 ** 9);
  try {
    return await run();
  } finally {
    delete process.env.KEOPS_TS_LOOP_MIN;
  }
}

/**
 * Looped against unrolled results: bit-identical on the CPU backends; on webgpu within float32
 * rounding (a GPU's shader compiler may contract a·b + c into an FMA differently in a loop and in
 * straight-line code: lavapipe does).
 */
export function assertLoopedMatches(t: Target, looped: Tensor, plain: Tensor, what: string): void {
  const a = looped.data, b = plain.data;
  if (t.backend === "webgpu") return assertClose(a, b, { rtol: 1e-5, what });
  assert.equal(a.length, b.length, `${what}: length`);
  for (let q = 0; q < b.length; q++) assert.ok(Object.is(a[q], b[q]), `${what}: [${q}] looped ${a[q]} ≠ unrolled ${b[q]}`);
}

/** The reduction `red` (Sum, LogSumExp or Min) of a formula over j, as a KeOpsFunction (on `backend` when given). */
function reductionOf(f: LazyTensor<boolean>, red: string, backend?: string): unknown {
  const opts = { axis: 1 as const, call: false as const, ...(backend ? { backend: backend as never } : {}) };
  return red === "Sum" ? f.sum(opts) : red === "LogSumExp" ? f.logsumexp(opts) : f.min(opts);
}

/** The reduction `red` (Sum, LogSumExp or Min) of a formula over j on a target's backend. */
export async function runOn(t: Target, f: LazyTensor<boolean>, red: string, args: Tensor[]): Promise<Tensor> {
  return callOn<Tensor>(t, reductionOf(f, red, t.backend), ...args);
}

/** {@link runOn} against the float64 dense reference: same shape, element-wise within `rtol`. */
export async function assertMatchesReference(t: Target, f: LazyTensor<boolean>, red: string, args: Tensor[], rtol: number, what: string): Promise<void> {
  const ref = reference(reductionOf(f, red) as never, ...args);
  const got = await runOn(t, f, red, args);
  assert.deepEqual([...got.shape], ref.shape, `${what}: shape`);
  assertClose(got.data, ref.values!, { rtol, what });
}
