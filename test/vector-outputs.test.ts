/**
 * Vector outputs as loops (src/compile/vout.ts): a sum of a D-component formula whose components
 * are D alike expressions is rendered as one loop over the components with the state as an array
 * (every backend: native, js, wasm, webgpu).
 * - which programs are recognised (and which not: below the threshold, other reductions, Kahan);
 * - the native, WGSL, js and wasm kernels at D = 1000 against the unrolled ones, and a native
 *   compile time (reported);
 * - D = 1000 vector outputs on every backend against float64, sizes 0, 1 and crossing tiles;
 * - just above the threshold, bit-identical to the unrolled kernel on the CPU backends.
 */
import { test } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { Vi, Vj, type LazyTensor, type Tensor } from "../src/index.js";
import { LOOP_MIN_DIM, withLoops } from "../src/compile/loops.js";
import { vectorOutput } from "../src/compile/vout.js";
import { plan } from "../src/compile/plan.js";
import type { KernelProgram } from "../src/compile/program.js";
import type { SumScheme } from "../src/reductions/types.js";
import { reductionByName } from "../src/reductions/index.js";
import { NATIVE_STATE_MAX, renderNative } from "../src/backends/native/render.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { renderJs } from "../src/backends/js/render.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { nativeBackend } from "../src/backends/native/index.js";
import { PARALLEL_PAIRS } from "../src/backends/wasm/index.js";
import { reference } from "./reference.js";
import { assertClose, callOn, testTargets, withSeed, type Data, type Target } from "./util.js";
import { assertLoopedMatches, unrolled } from "./loops-util.js";

type Lazy = LazyTensor<boolean>;
const programOf = (f: Lazy, red = "Sum", scheme: SumScheme = "block_sum", dtype: "float32" | "float64" = "float64", loopMin?: number): KernelProgram => {
  const p = plan({ formula: f.node, reduction: reductionByName(red)!, axis: 1, K: 1, scheme, dtype, accDtype: dtype }).program;
  return loopMin === undefined ? p : { ...p, key: `${p.key}|min${loopMin}`, loopMin };
};
const recognised = (p: KernelProgram): boolean => {
  const q = withLoops(p);
  return vectorOutput(q.body, q.red, q.slots.length, q.loopMin ?? LOOP_MIN_DIM) !== null;
};

/** Vector-valued formulas of dimension D over x_i (3 or D), y_j (3 or D), b_j (D). */
const shapes = (D: number): Record<string, Lazy> => ({
  "exp(−SqDist(x,y))·b (x, y of dim 3)": Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(-1).exp().mul(Vj(2, D)),
  "b·x": Vj(2, D).mul(Vi(0, D)),
  "exp((x−y)/100)": Vi(0, D).sub(Vj(1, D)).mul(0.01).exp(),
  "exp(−SqDist(x,y)/D)·y (a D-term distance too)": Vi(0, D).sub(Vj(1, D)).sqnorm2().mul(-1 / D).exp().mul(Vj(1, D)),
});

test("vector outputs: recognised for sums (direct, block) from the threshold on; not below, nor for other reductions or Kahan", () => {
  for (const [name, f] of Object.entries(shapes(LOOP_MIN_DIM))) {
    for (const scheme of ["direct_sum", "block_sum"] as const) assert.ok(recognised(programOf(f, "Sum", scheme)), `${name} ${scheme}`);
    assert.ok(!recognised(programOf(f, "Sum", "kahan_scheme")), `${name} kahan`);
    for (const red of ["LogSumExp", "Min", "ArgMin"]) assert.ok(!recognised(programOf(f, red)), `${name} ${red}`);
  }
  for (const [name, f] of Object.entries(shapes(LOOP_MIN_DIM - 1))) assert.ok(!recognised(programOf(f)), `${name} below the threshold`);
  // components not alike: x concatenated with exp(y)
  const D = LOOP_MIN_DIM;
  assert.ok(!recognised(programOf(Vi(0, D).concat(Vj(1, D).exp()))));
});

test("vector outputs: the native source at D = 1000 loops over the components (sizes reported); above NATIVE_STATE_MAX its arrays are on the heap", (t) => {
  for (const [name, f] of Object.entries(shapes(1000)))
    for (const dtype of ["float32", "float64"] as const) {
      const looped = renderNative(programOf(f, "Sum", "block_sum", dtype)).source;
      const unrolled = renderNative(programOf(f, "Sum", "block_sum", dtype, 1e9)).source;
      assert.match(looped, /VA totL\[IB\]\[1000\];/, name);
      assert.ok(looped.length * 3 < unrolled.length, `${name} ${dtype}: ${looped.length} bytes looped, ${unrolled.length} unrolled`);
      t.diagnostic(`${name} ${dtype}: native source ${looped.length} bytes looped, ${unrolled.length} unrolled`);
    }
  // above the native stack limit the state's arrays are on the heap: still looped
  const big = renderNative(programOf(shapes(NATIVE_STATE_MAX + 1)["b·x"]!, "Sum", "block_sum", "float32")).source;
  assert.match(big, new RegExp(`k_heap<VA> totL_h\\(\\(size_t\\)IB \\* ${NATIVE_STATE_MAX + 1}\\);`));
  assert.doesNotMatch(renderNative(programOf(shapes(NATIVE_STATE_MAX)["b·x"]!, "Sum", "block_sum", "float32")).source, /k_heap/);
});

test("vector outputs: the WGSL passes at D = 1000 keep the state as an array and loop over it (sizes reported)", (t) => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  for (const [name, f] of Object.entries(shapes(1000)))
    for (const scheme of ["direct_sum", "block_sum"] as const)
      for (const kind of ["direct", "partial", "merge"] as const) {
        const looped = renderWgsl(programOf(f, "Sum", scheme, "float32"), cfg, kind);
        const unrolled = renderWgsl(programOf(f, "Sum", scheme, "float32", 1e9), cfg, kind);
        assert.match(looped, /var sa0: array<f32, 1000>;/, `${name} ${scheme} ${kind}`);
        assert.ok(looped.length * 10 < unrolled.length, `${name} ${scheme} ${kind}: ${looped.length} bytes looped, ${unrolled.length} unrolled`);
        if (kind === "direct") t.diagnostic(`${name} ${scheme}: WGSL ${looped.length} bytes looped, ${unrolled.length} unrolled`);
      }
});

test("vector outputs: the js source and the wasm module at D = 1000 loop over the components (sizes reported)", (t) => {
  const renderers = { js: (p: KernelProgram) => renderJs(p).length, wasm: (p: KernelProgram) => renderWasm(p, false).bytes.length };
  for (const [name, f] of Object.entries(shapes(1000)))
    for (const dtype of ["float32", "float64"] as const)
      for (const [backend, size] of Object.entries(renderers)) {
        const looped = size(programOf(f, "Sum", "block_sum", dtype));
        const unrolled = size(programOf(f, "Sum", "block_sum", dtype, 1e9));
        assert.ok(looped * 20 < unrolled, `${name} ${dtype} ${backend}: ${looped} bytes looped, ${unrolled} unrolled`);
        t.diagnostic(`${name} ${dtype}: ${backend} ${looped} bytes looped, ${unrolled} unrolled`);
      }
});

test("vector outputs: a D = 1000 Gaussian convolution compiles natively (time reported)", { skip: nativeBackend.unavailable() ?? false }, (t) =>
  withSeed((d: Data) => {
    const prev = process.env.KEOPS_TS_CACHE;
    process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "keops-vout-"));
    try {
      const x = d.randn([5, 3]), y = d.randn([9, 3]), b = d.randn([9, 1000]);
      const t0 = Date.now();
      const r = Vi(x).sub(Vj(y)).sqnorm2().mul(-1).exp().mul(Vj(b)).sum({ axis: 1, backend: "native" }) as Tensor;
      t.diagnostic(`native D = 1000 vector output, first call (render + g++ + run, fresh cache): ${Date.now() - t0} ms wall`);
      assert.equal(r.shape.join(), "5,1000");
    } finally {
      fs.rmSync(process.env.KEOPS_TS_CACHE, { recursive: true, force: true });
      if (prev === undefined) delete process.env.KEOPS_TS_CACHE;
      else process.env.KEOPS_TS_CACHE = prev;
    }
  }));

function inputs(d: Data, f: Lazy, M: number, N: number, D: number, dtype: "float32" | "float64"): Tensor[] {
  const dims = new Map([...f.node.vars()].map((v) => [v.ind, v.dim]));
  const all = [d.randn([M, dims.get(0) ?? 3], dtype), d.randn([N, dims.get(1) ?? 3], dtype), d.uniform([N, D], 0.5, 1.5, dtype)];
  return all.filter((_, ind) => dims.has(ind));
}

async function run(t: Target, f: Lazy, scheme: SumScheme, args: Tensor[]): Promise<Tensor> {
  return callOn<Tensor>(t, f.sum({ axis: 1, backend: t.backend as never, sumScheme: scheme, call: false }), ...args);
}

for (const t of await testTargets()) {
  const label = `[${t.backend}${t.async ? " async" : ""}]`;
  test(`${label} vector outputs: D = 1000 sums (${Object.keys(shapes(1000)).length} shapes, direct and block) against float64, ${t.dtypes.join("/")}`, () =>
    withSeed(async (d) => {
      const D = 1000;
      for (const dtype of t.dtypes)
        // N = 4100 crosses the js (4096) and wasm (1024) block_sum tiles and the blocked-distance column tiles
        for (const [M, N] of [[1, 1], [7, 64], [70, 257], [0, 3], [3, 0], [3, 4100], ...(t.async ? [[2, 700]] : [])] as const)
          for (const [k, [name, f]] of Object.entries(shapes(D)).entries()) {
            const scheme = k % 2 ? "direct_sum" : "block_sum";
            const args = inputs(d, f, M, N, D, dtype);
            const ref = reference(f.sum({ axis: 1, call: false }) as never, ...args);
            const got = await run(t, f, scheme, args);
            assert.deepEqual([...got.shape], ref.shape);
            assertClose(got.data, ref.values!, { rtol: dtype === "float32" ? 2e-4 : 1e-11, what: `${name} ${scheme} ${dtype} M=${M} N=${N}` });
          }
    }));

  test(`${label} vector outputs: just above the threshold, ${t.backend === "webgpu" ? "within float32 rounding of" : "bit-identical to"} the unrolled kernel (${t.dtypes.join("/")})`, () =>
    withSeed(async (d) => {
      const D = LOOP_MIN_DIM + 1;
      for (const dtype of t.dtypes)
        for (const scheme of ["direct_sum", "block_sum"] as const)
          for (const [name, f] of Object.entries(shapes(D))) {
            const args = inputs(d, f, 33, 300, D, dtype);
            const looped = await run(t, f, scheme, args);
            assertLoopedMatches(t, looped, await unrolled(() => run(t, f, scheme, args)), `${name} ${scheme} ${dtype}`);
          }
      // on 3 worker threads (the run large enough for them: wasm's PARALLEL_PAIRS, js's work threshold), across tiles
      const f = shapes(D)["b·x"]!;
      const prev = process.env.KEOPS_TS_THREADS;
      process.env.KEOPS_TS_THREADS = "3";
      try {
        for (const dtype of t.dtypes) {
          const args = inputs(d, f, 520, 4100, D, dtype);
          assert.ok(520 * 4100 >= PARALLEL_PAIRS);
          const looped = await run(t, f, "block_sum", args);
          assertLoopedMatches(t, looped, await unrolled(() => run(t, f, "block_sum", args)), `b·x on threads ${dtype}`);
        }
      } finally {
        if (prev === undefined) delete process.env.KEOPS_TS_THREADS;
        else process.env.KEOPS_TS_THREADS = prev;
      }
    }));
}
