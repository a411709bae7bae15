/** Shared by the vector-loop tests: a call with loops turned off, and looped against unrolled results. */
import assert from "node:assert/strict";
import type { LazyTensor, Tensor } from "../src/index.js";
import { assertClose, callOn, type Target } from "./util.js";
import { reference } from "./reference.js";
import { LOOP_MIN_DIM, rollLoops } from "../src/compile/loops.js";
import { evalBlock } from "../src/ir/interpret.js";
import type { KernelProgram } from "../src/compile/program.js";

/** `run()` with vector loops off (KEOPS_TS_LOOP_MIN above any dimension): the unrolled kernel. */
export async function unrolled<T>(run: () => Promise<T>): Promise<T> {
  process.env.KEOPS_TS_LOOP_MIN = String(10 ** 9);
  try {
    return await run();
  } finally {
    delete process.env.KEOPS_TS_LOOP_MIN;
  }
}

/**
 * Looped against unrolled results (one tensor, or each of a call's tensors): by default
 * bit-identical on the CPU backends and on webgpu within float32 rounding (a GPU's shader compiler
 * may contract a·b + c into an FMA differently in a loop and in straight-line code: lavapipe does);
 * `how` overrides it for every backend: "exact" (selections: values and indices copied, never
 * computed) or an rtol (a looped update that is not the unrolled kernel's operations).
 */
export function assertLoopedMatches(t: Target, looped: Tensor | readonly Tensor[], plain: Tensor | readonly Tensor[], what: string, how?: "exact" | { rtol: number }): void {
  const as = "data" in looped ? [looped] : looped, bs = "data" in plain ? [plain] : plain;
  assert.equal(as.length, bs.length, `${what}: results`);
  const rule = how ?? (t.backend === "webgpu" ? { rtol: 1e-5 } : "exact");
  bs.forEach((plainK, k) => {
    const a = as[k]!.data, b = plainK.data, w = bs.length > 1 ? `${what} (result ${k})` : what;
    if (rule !== "exact") return assertClose(a, b, { rtol: rule.rtol, what: w });
    assert.equal(a.length, b.length, `${w}: length`);
    for (let q = 0; q < b.length; q++) assert.ok(Object.is(a[q], b[q]), `${w}: [${q}] looped ${a[q]} ≠ unrolled ${b[q]}`);
  });
}

/**
 * Every shape at D ∈ {the threshold, 100, 1000}: its body rolls (rollLoops) into at most 80
 * instructions with a loop, whose values are the unrolled body's bit for bit on each data set
 * `draw` gives (a label and one array per input slot).
 */
export function assertRollsBitForBit(
  shapes: (D: number) => Record<string, LazyTensor<boolean>>,
  programOf: (f: LazyTensor<boolean>) => KernelProgram,
  draw: (p: KernelProgram) => readonly (readonly [string, readonly ArrayLike<number>[]])[],
): void {
  for (const D of [LOOP_MIN_DIM, 100, 1000])
    for (const [name, f] of Object.entries(shapes(D))) {
      const p = programOf(f);
      const rolled = rollLoops(p.body, LOOP_MIN_DIM);
      assert.ok(rolled.code.some((ins) => ins.op === "loop"), `${name}, D = ${D}: no loop`);
      assert.ok(rolled.code.length <= 80, `${name}, D = ${D}: ${rolled.code.length} instructions after rolling (unrolled: ${p.body.code.length})`);
      for (const [label, data] of draw(p)) {
        const load = (slot: number, c: number): number => data[slot]![c]!;
        const want = evalBlock(p.body, { load }), got = evalBlock(rolled, { load });
        got.forEach((v, k) => assert.ok(Object.is(v, want[k]), `${name}, D = ${D}${label}, output ${k}: ${v} ≠ ${want[k]}`));
      }
    }
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
