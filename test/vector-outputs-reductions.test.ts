/**
 * Looped vector states under reductions other than the plain sum (src/compile/vout.ts,
 * `vectorState`): SumSoftMaxWeight and LogSumExp with a D-dimensional weight (state m, s, w[D]:
 * the native shift-exp passes loop over the weights) and the Kahan sum (s[D], compensation[D]: the
 * native lanes scheme loops over both).
 * - which programs are recognised (and which not: below the threshold, a weight whose components
 *   differ), and that `vectorOutput` still takes plain sums only;
 * - the native source at D = 1000 loops (sizes reported), above NATIVE_STATE_MAX with heap arrays;
 * - the WGSL passes at D = 1000 keep the state's groups as arrays; the js source and the wasm
 *   module at D = 1000 loop too (far smaller than unrolled, which wasm would decline);
 * - D = 1000 on every backend against float64 (sizes 0, 1 and crossing tiles, lanes, threads
 *   and split j; on js and wasm also an attention whose 32-dim scores wasm blocks into dot tiles);
 * - just above the threshold, bit-identical to the unrolled kernel on the CPU backends;
 * - int groups (a min/argmin state of D values and D indices, its update reading j: the
 *   ArgMin/MinArgMin programs with their guard removed) on js and wasm, bit-identical to unrolled.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, type LazyTensor, type Tensor } from "../src/index.js";
import { LOOP_MIN_DIM, withLoops } from "../src/compile/loops.js";
import { vectorOutput, vectorState } from "../src/compile/vout.js";
import { plan } from "../src/compile/plan.js";
import type { KernelProgram } from "../src/compile/program.js";
import type { SumScheme } from "../src/reductions/types.js";
import { reductionByName } from "../src/reductions/index.js";
import { NATIVE_STATE_MAX, renderNative } from "../src/backends/native/render.js";
import { reference } from "./reference.js";
import { assertClose, callOn, testTargets, withSeed, type Data, type Target } from "./util.js";
import { assertLoopedMatches, unrolled } from "./loops-util.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { renderJs } from "../src/backends/js/render.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { wasmBackend } from "../src/backends/wasm/index.js";
import { jsBackend } from "../src/backends/js/index.js";

type Lazy = LazyTensor<boolean>;
type DType = "float32" | "float64";

/** A reduction of a D-dimensional vector state: its formula(s) over q_i (dq), k_j (dq), v_j (D). */
interface Case {
  readonly red: string;
  readonly scheme: SumScheme;
  readonly f: (D: number) => Lazy;
  readonly g?: (D: number) => Lazy;
  /** The dimension of q_i and k_j (8 when absent). */
  readonly dq?: number;
  /** The reduction as a KeOpsFunction (call: false) on a backend. */
  readonly fn: (D: number, backend: string) => unknown;
}

const score = (): Lazy => Vi(0, 8).dot(Vj(1, 8)).mul(0.3) as Lazy;
const values = (D: number): Lazy => Vj(2, D) as Lazy;
const gauss = (D: number): Lazy => Vi(0, 8).sub(Vj(1, 8)).sqnorm2().mul(-0.2).exp().mul(Vj(2, D)) as Lazy;

const CASES: Record<string, Case> = {
  "SumSoftMaxWeight (attention), block_sum": {
    red: "SumSoftMaxWeight", scheme: "block_sum", f: score, g: values,
    fn: (D, backend) => score().sumsoftmaxweight(values(D), { axis: 1, backend: backend as never, call: false }),
  },
  "SumSoftMaxWeight (attention), direct_sum": {
    red: "SumSoftMaxWeight", scheme: "direct_sum", f: score, g: values,
    fn: (D, backend) => score().sumsoftmaxweight(values(D), { axis: 1, backend: backend as never, sumScheme: "direct_sum", call: false }),
  },
  "LogSumExp with a vector weight": {
    red: "LogSumExp", scheme: "block_sum", f: score, g: values,
    fn: (D, backend) => score().logsumexp({ axis: 1, weight: values(D), backend: backend as never, call: false }),
  },
  "Kahan sum of a Gaussian-weighted vector": {
    red: "Sum", scheme: "kahan_scheme", f: gauss,
    fn: (D, backend) => gauss(D).sum({ axis: 1, backend: backend as never, sumScheme: "kahan_scheme", call: false }),
  },
};

/** Cases run on js and wasm only: the 32-dim scores are blocked into dot tiles on wasm (src/backends/wasm/dot.ts). */
const score32 = (): Lazy => Vi(0, 32).dot(Vj(1, 32)).mul(0.1) as Lazy;
const CPU_CASES: Record<string, Case> = {
  "SumSoftMaxWeight with 32-dim scores (wasm: blocked)": {
    red: "SumSoftMaxWeight", scheme: "block_sum", f: score32, g: values, dq: 32,
    fn: (D, backend) => score32().sumsoftmaxweight(values(D), { axis: 1, backend: backend as never, call: false }),
  },
};

const programOf = (c: { red: string; scheme: SumScheme; f: (D: number) => Lazy; g?: (D: number) => Lazy }, D: number, dtype: DType = "float64", loopMin?: number): KernelProgram => {
  const p = plan({ formula: c.f(D).node, formula2: c.g?.(D).node, reduction: reductionByName(c.red)!, axis: 1, K: 2, scheme: c.scheme, dtype, accDtype: dtype }).program;
  return loopMin === undefined ? p : { ...p, key: `${p.key}|min${loopMin}`, loopMin };
};
const recognised = (p: KernelProgram): { general: boolean; plain: boolean } => {
  const q = withLoops(p);
  const min = q.loopMin ?? LOOP_MIN_DIM;
  return { general: vectorState(q.body, q.red, q.slots.length, min) !== null, plain: vectorOutput(q.body, q.red, q.slots.length, min) !== null };
};

test("vector states: recognised (general form only) for SumSoftMaxWeight, weighted LogSumExp and Kahan from the threshold on; not below", () => {
  for (const [name, c] of Object.entries(CASES)) {
    assert.deepEqual(recognised(programOf(c, LOOP_MIN_DIM)), { general: true, plain: false }, name);
    assert.deepEqual(recognised(programOf(c, LOOP_MIN_DIM - 1)), { general: false, plain: false }, `${name} below the threshold`);
  }
  // plain sums: both forms (the other renderers keep taking `vectorOutput`'s)
  assert.deepEqual(recognised(programOf({ red: "Sum", scheme: "block_sum", f: gauss }, LOOP_MIN_DIM)), { general: true, plain: true });
  // (the per-component scans and LogSumExp of a vector formula: test/vector-scans.test.ts)
  // a weight whose components are not alike: v concatenated with exp(v)
  const mixed = { red: "SumSoftMaxWeight", scheme: "block_sum" as const, f: score, g: (D: number) => Vj(2, D / 2).concat(Vj(2, D / 2).exp()) as Lazy };
  assert.deepEqual(recognised(programOf(mixed, 2 * LOOP_MIN_DIM)), { general: false, plain: false }, "mixed weight");
});

test("vector states: the native source at D = 1000 loops over the components (sizes reported)", (t) => {
  for (const [name, c] of Object.entries(CASES))
    for (const dtype of ["float32", "float64"] as const) {
      const looped = renderNative(programOf(c, 1000, dtype)).source;
      const plain = renderNative(programOf(c, 1000, dtype, 1e9)).source;
      assert.match(looped, /totL0\[IB\]\[1000\];/, name);
      assert.ok(looped.length * 10 < plain.length, `${name} ${dtype}: ${looped.length} bytes looped, ${plain.length} unrolled`);
      t.diagnostic(`${name} ${dtype}: native source ${looped.length} bytes looped, ${plain.length} unrolled`);
    }
  // above the native stack limit the state's arrays are on the heap: still looped
  const big = renderNative(programOf(CASES["SumSoftMaxWeight (attention), block_sum"]!, NATIVE_STATE_MAX + 1, "float32")).source;
  assert.match(big, /k_heap<VA> totL0_h\(/);
});

test("vector states: the WGSL passes at D = 1000 keep the groups as arrays and loop over them (sizes reported)", (t) => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  for (const [name, c] of Object.entries(CASES))
    for (const kind of ["direct", "partial", "merge"] as const) {
      const looped = renderWgsl(programOf(c, 1000, "float32"), cfg, kind);
      const plain = renderWgsl(programOf(c, 1000, "float32", 1e9), cfg, kind);
      assert.match(looped, /var sa0: array<f32, 1000>;/, `${name} ${kind}`);
      assert.ok(looped.length * 10 < plain.length, `${name} ${kind}: ${looped.length} bytes looped, ${plain.length} unrolled`);
      if (kind === "direct") t.diagnostic(`${name}: WGSL ${looped.length} bytes looped, ${plain.length} unrolled`);
    }
});

test("vector states: the js source and the wasm module at D = 1000 loop over the components (sizes reported)", (t) => {
  for (const [name, c] of Object.entries({ ...CASES, ...CPU_CASES }))
    for (const dtype of ["float32", "float64"] as const) {
      const p = programOf(c, 1000, dtype), plain = programOf(c, 1000, dtype, 1e9);
      const js = renderJs(p).length, jsPlain = renderJs(plain).length;
      assert.ok(js * 20 < jsPlain, `${name} ${dtype}: js ${js} bytes looped, ${jsPlain} unrolled`);
      assert.equal(wasmBackend.declines(p), null, `${name} ${dtype}: wasm declines the looped kernel`);
      assert.match(wasmBackend.declines(plain) ?? "", /too large/, `${name} ${dtype}: wasm takes the unrolled kernel`);
      const wasm = renderWasm(p, false).bytes.length;
      assert.ok(wasm < 20000, `${name} ${dtype}: wasm module ${wasm} bytes`);
      t.diagnostic(`${name} ${dtype}: js source ${js} bytes looped, ${jsPlain} unrolled; wasm module ${wasm} bytes looped (unrolled declined)`);
    }
});

function inputs(d: Data, M: number, N: number, D: number, dtype: DType, dq = 8): Tensor[] {
  return [d.randn([M, dq], dtype), d.randn([N, dq], dtype), d.uniform([N, D], 0.5, 1.5, dtype)];
}

/** The cases a backend runs: those of every backend, and on js and wasm the blocked attention. */
const casesFor = (t: Target): Record<string, Case> => (t.backend === "js" || t.backend === "wasm" ? { ...CASES, ...CPU_CASES } : CASES);

for (const t of await testTargets()) {
  const label = `[${t.backend}${t.async ? " async" : ""}]`;
  const cases = casesFor(t);
  test(`${label} vector states: D = 1000 (${Object.keys(cases).length} reductions) against float64, ${t.dtypes.join("/")}`, () =>
    withSeed(async (d) => {
      const D = 1000;
      // 700 × 70: several tiles of j and blocks of rows (threads); 257: a ragged lane tail
      for (const dtype of t.dtypes)
        for (const [M, N] of [[1, 1], [7, 64], [70, 257], [0, 3], [3, 0], [2, 700]] as const)
          for (const [name, c] of Object.entries(cases)) {
            const args = inputs(d, M, N, D, dtype, c.dq);
            const ref = reference(c.fn(D, "js") as never, ...args);
            const got = await callOn<Tensor>(t, c.fn(D, t.backend), ...args);
            assert.deepEqual([...got.shape], ref.shape);
            assertClose(got.data, ref.values!, { rtol: dtype === "float32" ? 2e-4 : 1e-11, what: `${name} ${dtype} M=${M} N=${N}` });
          }
    }));

  test(`${label} vector states: just above the threshold, ${t.backend === "webgpu" ? "within float32 rounding of" : "bit-identical to"} the unrolled kernel (${t.dtypes.join("/")})`, () =>
    withSeed(async (d) => {
      const D = LOOP_MIN_DIM + 1;
      for (const dtype of t.dtypes)
        for (const [name, c] of Object.entries(cases)) {
          const args = inputs(d, 33, 300, D, dtype, c.dq);
          const run = (): Promise<Tensor> => callOn<Tensor>(t, c.fn(D, t.backend), ...args);
          assertLoopedMatches(t, await run(), await unrolled(run), `${name} ${dtype}`);
        }
    }));
}

/**
 * Int groups: the Min/ArgMin family's program (state: D values, then D int indices initialised
 * to −1, the update reading j) with its guard removed is a vector state; js and wasm run it
 * looped, bit-identical to the unrolled kernel and to a direct float64 min/argmin.
 */
test("vector states with an int group (guard-stripped ArgMin / MinArgMin / MaxArgMax): js and wasm looped, bit-identical to unrolled and to a direct min/argmin", () =>
  withSeed(async (d) => {
    const D = LOOP_MIN_DIM + 6;
    const f = (): Lazy => Vj(0, D).mul(Vi(1, D)) as Lazy;
    for (const red of ["ArgMin", "MinArgMin", "MaxArgMax"])
      for (const dtype of ["float32", "float64"] as const) {
        const p0 = programOf({ red, scheme: "block_sum", f }, D, dtype);
        const { guard, ...update } = p0.red.update;
        assert.notEqual(guard, undefined, `${red}: guarded`);
        const p: KernelProgram = { ...p0, key: `${p0.key}|noguard`, red: { ...p0.red, update } };
        const plain: KernelProgram = { ...p, key: `${p.key}|min1e9`, loopMin: 1e9 };
        assert.ok(recognised(p).general, `${red}: a vector state without its guard`);
        // both render it looped: far smaller than unrolled
        assert.ok(renderJs(p).length * 5 < renderJs(plain).length, `${red} ${dtype}: js looped`);
        assert.ok(renderWasm(p, false).bytes.length * 5 < renderWasm(plain, false).bytes.length, `${red} ${dtype}: wasm looped`);
        for (const [M, N] of [[9, 37], [3, 0], [1, 1]] as const) {
          const data = p.slots.map((s) => d.randn([s.role === "outer" ? M : s.role === "inner" ? N : 1, s.dim], dtype).data);
          const run = (backend: typeof jsBackend, q: KernelProgram): (Float32Array | Float64Array | Int32Array)[] => {
            const outputs = q.red.outputs.map((o) => (o.t === "i" ? new Int32Array(M * D) : dtype === "float32" ? new Float32Array(M * D) : new Float64Array(M * D)));
            backend.compile(q).run({ inputs: data, outputs, nOuter: M, nInner: N, nBatch: 1, inOffsets: new Int32Array(data.length), outOffsets: new Int32Array(outputs.length) });
            return outputs;
          };
          // the direct min (max) and first index of b_j[c]·a_i[c] over j (the formula's product is exact in float64, rounded once in float32)
          const [a, b] = p.slots[0]!.role === "inner" ? [data[1]!, data[0]!] : [data[0]!, data[1]!];
          const max = red === "MaxArgMax";
          const want = { v: new Float64Array(M * D).fill(max ? -Infinity : Infinity), i: new Int32Array(M * D).fill(-1) };
          for (let i = 0; i < M; i++)
            for (let c = 0; c < D; c++)
              for (let j = 0; j < N; j++) {
                const x = dtype === "float32" ? Math.fround(b[j * D + c]! * a[i * D + c]!) : b[j * D + c]! * a[i * D + c]!;
                if (max ? x > want.v[i * D + c]! : x < want.v[i * D + c]!) [want.v[i * D + c], want.i[i * D + c]] = [x, j];
              }
          for (const backend of [jsBackend, wasmBackend]) {
            const what = `${red} ${dtype} ${backend.name} M=${M} N=${N}`;
            const looped = run(backend, p), unrolledOut = run(backend, plain);
            looped.forEach((o, k) => assert.ok(o.every((x, q) => Object.is(x, unrolledOut[k]![q])), `${what}: output ${k} looped ≠ unrolled`));
            assert.deepEqual([...looped.at(-1)!], [...want.i], `${what}: indices`);
            if (looped.length > 1) assert.deepEqual([...looped[0]!], [...want.v], `${what}: values`);
          }
        }
      }
  }));
