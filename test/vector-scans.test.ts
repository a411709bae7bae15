/**
 * Reductions applied per component of a vector formula, looped over the components
 * (src/compile/loop-form.ts, then `vectorState` of src/compile/vout.ts): Min, Max, ArgMin, ArgMax,
 * MinArgMin, MaxArgMax, the K-min family (KMin, ArgKMin, KMinArgKMin) and LogSumExp of a vector
 * formula.
 * - from the loop threshold on, their program drops the guard (declared a shortcut) or the
 *   per-component shift-exp fast path and is recognised as a vector state; below it, unchanged;
 * - the native source and the WGSL passes at D = 1000 loop (sizes reported);
 * - on every backend, against the float64 reference with ties (integer data) and NaN (the row's
 *   first NaN wins), at sizes 0, 1 and across tiles, lanes, threads and split j;
 * - native above NATIVE_STATE_MAX (the state's arrays on the heap) against float64;
 * - just above the threshold, the same values and indices as the guarded (or fast-path) unrolled
 *   kernel: bit-identical for the selections, within rounding for LogSumExp (its unrolled kernel
 *   takes the one-exp fast path).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, type LazyTensor, type Tensor } from "../src/index.js";
import { LOOP_MIN_DIM, withLoops } from "../src/compile/loops.js";
import { vectorState } from "../src/compile/vout.js";
import { plan } from "../src/compile/plan.js";
import type { KernelProgram } from "../src/compile/program.js";
import { reductionByName } from "../src/reductions/index.js";
import { NATIVE_STATE_MAX, renderNative } from "../src/backends/native/render.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { renderJs } from "../src/backends/js/render.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { wasmBackend } from "../src/backends/wasm/index.js";
import { reference, type RefResult } from "./reference.js";
import { assertClose, assertExact, callOn, testBackends, testSeed, testTargets, withSeed, type Data } from "./util.js";
import { assertLoopedMatches, unrolled } from "./loops-util.js";

type Lazy = LazyTensor<boolean>;
type DType = "float32" | "float64";
const K = 3;

/** |x_i − y_j| per component (integer data: many ties), or −(x_i − y_j)² for LogSumExp. */
const absDiff = (D: number): Lazy => Vi(0, D).sub(Vj(1, D)).abs() as Lazy;
const negSq = (D: number): Lazy => Vi(0, D).sub(Vj(1, D)).square().neg() as Lazy;

interface Case {
  readonly red: string;
  readonly f: (D: number) => Lazy;
  readonly fn: (D: number, backend: string) => unknown;
}
const opts = (backend: string) => ({ axis: 1 as const, backend: backend as never, call: false as const });
const CASES: Record<string, Case> = {
  Min: { red: "Min", f: absDiff, fn: (D, b) => absDiff(D).min(opts(b)) },
  Max: { red: "Max", f: absDiff, fn: (D, b) => absDiff(D).max(opts(b)) },
  ArgMin: { red: "ArgMin", f: absDiff, fn: (D, b) => absDiff(D).argmin(opts(b)) },
  ArgMax: { red: "ArgMax", f: absDiff, fn: (D, b) => absDiff(D).argmax(opts(b)) },
  MinArgMin: { red: "MinArgMin", f: absDiff, fn: (D, b) => absDiff(D).minArgmin(opts(b)) },
  MaxArgMax: { red: "MaxArgMax", f: absDiff, fn: (D, b) => absDiff(D).maxArgmax(opts(b)) },
  KMin: { red: "KMin", f: absDiff, fn: (D, b) => absDiff(D).Kmin({ ...opts(b), K }) },
  ArgKMin: { red: "ArgKMin", f: absDiff, fn: (D, b) => absDiff(D).argKmin({ ...opts(b), K }) },
  KMinArgKMin: { red: "KMinArgKMin", f: absDiff, fn: (D, b) => absDiff(D).KminArgKmin({ ...opts(b), K }) },
  LogSumExp: { red: "LogSumExp", f: negSq, fn: (D, b) => negSq(D).logsumexp(opts(b)) },
};

const programOf = (c: Case, D: number, dtype: DType = "float32", loopMin?: number): KernelProgram => {
  const p = plan({ formula: c.f(D).node, reduction: reductionByName(c.red)!, axis: 1, K, scheme: "block_sum", dtype, accDtype: dtype }).program;
  return loopMin === undefined ? p : { ...p, key: `${p.key}|min${loopMin}`, loopMin };
};

test("vector scans: from the threshold on, the guard (or per-component fast path) is dropped and the program is a vector state; below it, unchanged", () => {
  for (const [name, c] of Object.entries(CASES)) {
    const at = withLoops(programOf(c, LOOP_MIN_DIM));
    assert.equal(at.red.update.guard, undefined, `${name}: guard dropped`);
    assert.equal(at.red.traits?.sortedK, undefined, `${name}: no sorted-K fast path`);
    assert.equal(at.red.traits?.shiftExp, undefined, `${name}: no per-component shift-exp fast path`);
    assert.ok(vectorState(at.body, at.red, at.slots.length, LOOP_MIN_DIM), `${name}: a vector state`);
    const below = programOf(c, LOOP_MIN_DIM - 1);
    assert.equal(withLoops(below).red, below.red, `${name} below the threshold: the reduction as built`);
    if (c.red !== "LogSumExp") assert.notEqual(below.red.update.guard, undefined, `${name} below the threshold: guarded`);
  }
  // one shift-exp group (a scalar formula with a vector weight) keeps its fast path
  const weighted = plan({ formula: (Vi(0, 8).dot(Vj(1, 8)) as Lazy).node, formula2: (Vj(2, 100) as Lazy).node, reduction: reductionByName("LogSumExp")!, axis: 1, K: 1, scheme: "block_sum", dtype: "float32", accDtype: "float32" }).program;
  assert.equal(withLoops(weighted).red.traits?.shiftExp?.length, 1);
});

test("vector scans: the native and js sources, the wasm module and the WGSL passes at D = 1000 loop over the components (sizes reported)", (t) => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  for (const [name, c] of Object.entries(CASES)) {
    for (const dtype of ["float32", "float64"] as const) assert.match(renderNative(programOf(c, 1000, dtype)).source, /totL0\[IB\]\[1000\];/, `${name} ${dtype}`);
    const looped = renderNative(programOf(c, 1000)).source, plain = renderNative(programOf(c, 1000, "float32", 1e9)).source;
    assert.ok(looped.length * 10 < plain.length, `${name}: ${looped.length} bytes looped, ${plain.length} unrolled`);
    t.diagnostic(`${name}: native source ${looped.length} bytes looped, ${plain.length} unrolled`);
    for (const dtype of ["float32", "float64"] as const) {
      const p = programOf(c, 1000, dtype), plain = programOf(c, 1000, dtype, 1e9);
      const js = renderJs(p).length, jsPlain = renderJs(plain).length;
      assert.ok(js * 20 < jsPlain, `${name} ${dtype}: js ${js} bytes looped, ${jsPlain} unrolled`);
      assert.equal(wasmBackend.declines(p), null, `${name} ${dtype}: wasm declines the looped kernel`);
      const wasm = renderWasm(p, false).bytes.length;
      assert.ok(wasm < 30000, `${name} ${dtype}: wasm module ${wasm} bytes`);
      if (dtype === "float32") t.diagnostic(`${name}: js source ${js} bytes looped, ${jsPlain} unrolled; wasm module ${wasm} bytes`);
    }
    for (const kind of ["direct", "partial", "merge"] as const) {
      const looped = renderWgsl(programOf(c, 1000), cfg, kind);
      assert.match(looped, /var sa0: array<f32, 1000>;/, `${name} ${kind}`);
      assert.ok(looped.length < 60_000, `${name} ${kind}: ${looped.length} bytes`);
    }
  }
  assert.ok(NATIVE_STATE_MAX >= 1000);
});

test("vector states on webgpu: SumSoftMaxWeight and LogSumExp with a D = 1000 weight take the one-exp fast path, its sums looped; LogSumExp of a vector formula the generic update", () => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  const score = (Vi(0, 8).dot(Vj(1, 8)) as Lazy).node, values = (Vj(2, 1000) as Lazy).node;
  for (const red of ["SumSoftMaxWeight", "LogSumExp"]) {
    const p = plan({ formula: score, formula2: values, reduction: reductionByName(red)!, axis: 1, K: 1, scheme: "block_sum", dtype: "float32", accDtype: "float32" }).program;
    const wgsl = renderWgsl(p, cfg, "partial");
    assert.match(wgsl, /fast path: shiftExp/, red);
    const at = wgsl.indexOf("fast path: shiftExp"), update = wgsl.slice(at, wgsl.indexOf("let m", at)); // up to the merge
    assert.equal(update.match(/k_exp\(/g)?.length, 2, `${red}: one exp in each branch`);
    assert.match(update, /([st])a0\[b\d+\] = \(\(\1a0\[b\d+\] \* c \+/, `${red}: the looped sums rescaled in the loop`);
  }
  assert.doesNotMatch(renderWgsl(programOf(CASES.LogSumExp!, 1000), cfg, "partial"), /fast path/);
});

/** x (M × D) and y (N × D): integers 0 … 4 (ties), y with a few NaN components (a NaN wins its row's scan). */
function inputs(d: Data, M: number, N: number, D: number, dtype: DType, red: string): Tensor[] {
  if (red === "LogSumExp") return [d.randn([M, D], dtype), d.randn([N, D], dtype)];
  const x = d.randint([M, D], 0, 4, dtype), y = d.randint([N, D], 0, 4, dtype);
  const nan = Math.min(N * D, 5);
  for (let q = 0; q < nan; q++) y.data[Math.floor(d.rng.uniform() * N * D)] = NaN;
  return [x, y];
}

/** A call's result (a tensor, or [values, indices]) against the reference. */
function check(got: Tensor | [Tensor, Tensor], ref: RefResult, red: string, rtol: number, what: string): void {
  const [v, i] = Array.isArray(got) ? got : red.startsWith("Arg") ? [undefined, got] : [got, undefined];
  if (v) {
    assert.deepEqual([...v.shape], ref.shape, `${what}: shape`);
    assertClose(v.data, ref.values!, { rtol, what: `${what} values` });
  }
  if (i) {
    assert.deepEqual([...i.shape], ref.shape, `${what}: shape`);
    assertExact(i.data, ref.indices!, `${what} indices`);
  }
}

/** Float64 references by seed, case, dtype and sizes: every target draws the same data in the same order from one seed. */
const refs = new Map<string, RefResult>();
const SEED = testSeed();

for (const t of await testTargets()) {
  const label = `[${t.backend}${t.async ? " async" : ""}]`;
  test(`${label} vector scans: D = 1000 (${Object.keys(CASES).length} reductions, ties and NaN) against float64, ${t.dtypes.join("/")}`, () =>
    withSeed(async (d) => {
      const D = 1000;
      for (const dtype of t.dtypes)
        for (const [M, N] of [[1, 1], [1, 3], [7, 64], [9, 257], [0, 3], [3, 0], [2, 700]] as const)
          for (const [name, c] of Object.entries(CASES)) {
            if (N < K && c.red.includes("KMin")) continue; // K must not exceed the reduced length
            const args = inputs(d, M, N, D, dtype, c.red);
            // the float64 reference dominates at D = 1000: computed once for the backends' identical data
            const key = `${d.seed}|${name}|${dtype}|${M}|${N}`;
            const ref = refs.get(key) ?? refs.set(key, reference(c.fn(D, "js") as never, ...args)).get(key)!;
            const got = await callOn<Tensor | [Tensor, Tensor]>(t, c.fn(D, t.backend), ...args);
            check(got, ref, c.red, dtype === "float32" ? 2e-5 : 1e-12, `${name} ${dtype} M=${M} N=${N}`);
          }
    }, SEED));

  test(`${label} vector scans: just above the threshold, the unrolled (guarded or fast-path) kernel's results`, () =>
    withSeed(async (d) => {
      const D = LOOP_MIN_DIM + 1;
      for (const dtype of t.dtypes)
        for (const [name, c] of Object.entries(CASES)) {
          const args = inputs(d, 33, 300, D, dtype, c.red);
          const run = (): Promise<Tensor | Tensor[]> => callOn<Tensor | Tensor[]>(t, c.fn(D, t.backend), ...args);
          // selections copy values and indices (exact on every backend); LogSumExp's looped generic update is not the unrolled fast path's operations
          assertLoopedMatches(t, await run(), await unrolled(run), `${name} ${dtype}`, c.red === "LogSumExp" ? { rtol: dtype === "float32" ? 2e-6 : 1e-14 } : "exact");
        }
    }));
}

if (testBackends().includes("native"))
  test(`[native] vector states above NATIVE_STATE_MAX (${NATIVE_STATE_MAX}): heap arrays, looped, against float64`, () =>
    withSeed(async (d) => {
      const D = NATIVE_STATE_MAX + 53;
      const sel = (D: number): Lazy => Vj(1, D).mul(Vi(0, D)) as Lazy;
      const score = (): Lazy => Vi(0, D).dot(Vj(1, D)).mul(0.01) as Lazy;
      const fns: Record<string, (b: string) => unknown> = {
        "Sum of b_j·x_i": (b) => sel(D).sum(opts(b)),
        "SumSoftMaxWeight, D-dimensional values": (b) => score().sumsoftmaxweight(Vj(1, D) as Lazy, opts(b)),
        "Kahan sum": (b) => sel(D).sum({ ...opts(b), sumScheme: "kahan_scheme" }),
        MinArgMin: (b) => sel(D).minArgmin(opts(b)),
        ArgKMin: (b) => sel(D).argKmin({ ...opts(b), K: 2 }),
      };
      for (const dtype of ["float32", "float64"] as const)
        for (const [M, N] of [[1, 2], [5, 300]] as const) {
          const args = [d.randint([M, D], -3, 3, dtype), d.randint([N, D], -3, 3, dtype)];
          for (const [name, fn] of Object.entries(fns)) {
            const ref = reference(fn("js") as never, ...args);
            const got = await callOn<Tensor | [Tensor, Tensor]>({ backend: "native", async: false, dtypes: [dtype] }, fn("native"), ...args);
            check(got, ref, name.startsWith("Arg") ? "ArgKMin" : name, dtype === "float32" ? 1e-5 : 1e-12, `${name} ${dtype} M=${M} N=${N}`);
          }
        }
    }));
