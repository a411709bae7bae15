/**
 * Vector loops (src/compile/loops.ts): the D-term sums over a vector dimension are rolled into
 * loop regions from D = LOOP_MIN_DIM on, rendered as loops by every backend.
 * - which formulas get loops, and the rolled body computing bit for bit what the unrolled one does
 *   (the SSA interpreter, float64);
 * - the threshold: below it every renderer's source is the unrolled one, unchanged;
 * - the size of what is compiled at D = 1000 (SSA instructions, source bytes): bounded, against
 *   the unrolled program's (a compile time is reported, not asserted: the machine may be loaded);
 * - D = 1000 formulas of several shapes and reductions on every backend against float64;
 * - just above the threshold, results bit-identical to the unrolled kernels' on the CPU backends
 *   (within float32 rounding on webgpu, whose shader compiler may fuse multiply-adds differently).
 */
import { test } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { Pm, Vi, Vj, type LazyTensor, type Tensor } from "../src/index.js";
import { LOOP_MIN_DIM, rollLoops, withLoops } from "../src/compile/loops.js";
import { plan } from "../src/compile/plan.js";
import type { KernelProgram } from "../src/compile/program.js";
import { reductionByName } from "../src/reductions/index.js";
import { renderJs } from "../src/backends/js/render.js";
import { renderNative } from "../src/backends/native/render.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { nativeBackend } from "../src/backends/native/index.js";
import { testTargets, withSeed, type Data } from "./util.js";
import { assertLoopedMatches, assertMatchesReference, assertRollsBitForBit, runOn, unrolled } from "./loops-util.js";

type Lazy = LazyTensor<boolean>;
const programOf = (f: Lazy, red = "Sum", dtype: "float32" | "float64" = "float64", loopMin?: number): KernelProgram => {
  const p = plan({ formula: f.node, reduction: reductionByName(red)!, axis: 1, K: 1, scheme: "block_sum", dtype, accDtype: dtype }).program;
  return loopMin === undefined ? p : { ...p, key: `${p.key}|min${loopMin}`, loopMin };
};

/** Formula shapes over x_i, y_j (dim D), a parameter p (dim D) and b_j (dim 2), by name. */
const shapes = (D: number): Record<string, Lazy> => {
  const x = Vi(0, D), y = Vj(1, D), p = Pm(2, D), b = Vj(3, 2);
  return {
    "Sum(exp(x−y)/100)·b": x.sub(y).mul(0.01).exp().sum().mul(b),
    "exp(−SqDist(x,y)/D)·b": x.sub(y).sqnorm2().mul(-1 / D).exp().mul(b),
    "Norm2(x+y)·b": x.add(y).norm2().mul(b),
    "exp(−WeightedSqDist(p²,x,y)/D)": Vi(0, D).weightedsqdist(y, p.square()).mul(-1 / D).exp(),
    "(x|y)/D + SqNorm2(x)/D·b (a per-row loop)": x.dot(y).mul(1 / D).add(x.sqnorm2().mul(1 / D).mul(b)),
    "Sum(p·y)·Sum(p·x) (a j-only and a per-row loop)": p.mul(y).sum().mul(p.mul(x).sum()).mul(1 / D),
    "Sum(Concat(x/D, exp(y/D)))·b (two loops in one sum)": x.mul(1 / D).concat(y.mul(1 / D).exp()).sum().mul(b),
    "SqNorm2(p)/D·Norm2(x−y) (a once-per-call loop)": p.sqnorm2().mul(1 / D).mul(x.sub(y).norm2()),
    // native and wasm block the distance (src/compile/blocked.ts) and loop the other sum over y
    "exp(−SqDist(x,y)/D)·Sum(exp(x−y)/100) (a blocked distance and a loop)": x.sub(y).sqnorm2().mul(-1 / D).exp().mul(x.sub(y).mul(0.01).exp().sum()),
  };
};

test("vector loops: the D-term sums of every shape roll into loops that compute the unrolled body's values bit for bit", () =>
  withSeed((d: Data) =>
    assertRollsBitForBit(shapes, (f) => programOf(f), (p) => [["", p.slots.map((s) => d.randn([s.dim], "float64").data)]])));

test("vector loops: not below the threshold, nor for sums of differently shaped terms (products, min/max folds: test/vector-folds.test.ts)", () => {
  const D = LOOP_MIN_DIM;
  const x = Vi(0, D), y = Vj(1, D);
  const below = programOf(Vi(0, D - 1).sub(Vj(1, D - 1)).sqnorm2());
  assert.equal(rollLoops(below.body, LOOP_MIN_DIM), below.body);
  assert.equal(withLoops(below), below);
  // runs of differently shaped terms in one sum: a loop each, the second starting from the first's sum
  const loopsOf = (f: Lazy): number => rollLoops(programOf(f).body, LOOP_MIN_DIM).code.filter((ins) => ins.op === "loop").length;
  assert.equal(loopsOf(x.concat(y.exp()).sum()), 2);
  assert.equal(loopsOf(x.add(y).sum().add(x.sum())), 2);
  // a run shorter than the threshold stays unrolled before the loop
  assert.equal(loopsOf(Vi(0, 10).concat(y.exp()).sum()), 1);
});

test("vector loops: KEOPS_TS_LOOP_MIN sets the threshold (in the plan's key); a bad value is a KeOpsError naming it", () => {
  const f = Vi(0, 40).sub(Vj(1, 40)).exp().sum();
  process.env.KEOPS_TS_LOOP_MIN = "32";
  try {
    const p = programOf(f);
    assert.equal(p.loopMin, 32);
    assert.match(p.key, /loops>=32/);
    assert.ok(withLoops(p).body.code.some((ins) => ins.op === "loop"));
    process.env.KEOPS_TS_LOOP_MIN = "1.5";
    assert.throws(() => programOf(f), (e: Error) => e.name === "KeOpsError" && /KEOPS_TS_LOOP_MIN: expected an integer ≥ 2, got "1.5"/.test(e.message));
  } finally {
    delete process.env.KEOPS_TS_LOOP_MIN;
  }
  assert.equal(withLoops(programOf(f)), programOf(f));
});

test("vector loops: below the threshold every renderer's source is the unrolled one; above it, a loop", () => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  const sources = (p: KernelProgram): string[] => [
    renderJs(p),
    renderNative(p).source,
    Buffer.from(renderWasm(p, false).bytes).toString("hex"),
    renderWgsl(p, cfg, "direct"),
  ];
  for (const D of [LOOP_MIN_DIM - 1, LOOP_MIN_DIM]) {
    const f = Vi(0, D).sub(Vj(1, D)).exp().sum().mul(Vj(3, 2));
    for (const dtype of ["float32", "float64"] as const) {
      const on = sources(programOf(f, "Sum", dtype)), off = sources(programOf(f, "Sum", dtype, 1e9));
      on.forEach((s, k) => {
        if (D < LOOP_MIN_DIM) assert.equal(s, off[k], `renderer ${k}, D = ${D}: source changed below the threshold`);
        else assert.ok(s.length < off[k]!.length, `renderer ${k}, D = ${D}: ${s.length} ≥ ${off[k]!.length} bytes`);
      });
    }
  }
});

test("vector loops: at D = 1000 the compiled program is a few dozen instructions, the sources a fraction of the unrolled ones", (t) => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  for (const [name, f] of Object.entries(shapes(1000))) {
    const p = programOf(f, "Sum", "float32"), u = programOf(f, "Sum", "float32", 1e9);
    const q = withLoops(p);
    assert.ok(q.body.code.length <= 80, `${name}: ${q.body.code.length} body instructions`);
    const sizes = [
      [renderJs(q).length, renderJs(u).length],
      [renderNative(p).source.length, renderNative(u).source.length],
      [renderWasm(p, false).bytes.length, renderWasm(u, false).bytes.length],
      [renderWgsl(p, cfg, "direct").length, renderWgsl(u, cfg, "direct").length],
    ];
    // native and wasm: a distance the dot-tile path takes (src/compile/blocked.ts) is no per-pair sum either way
    const blocked = /k_dot_tile\(/.test(renderNative(p).source);
    for (const [k, [looped, unrolled]] of sizes.entries())
      if (!((k === 1 || k === 2) && blocked)) assert.ok(looped! * 3 < unrolled!, `${name}, renderer ${k}: ${looped} bytes looped, ${unrolled} unrolled`);
    t.diagnostic(`${name}: source bytes looped/unrolled js ${sizes[0]!.join("/")}, native ${sizes[1]!.join("/")}, wasm ${sizes[2]!.join("/")}, wgsl ${sizes[3]!.join("/")}`);
  }
});

test("vector loops: a D = 1000 native kernel compiles (time reported)", { skip: nativeBackend.unavailable() ?? false }, (t) =>
  withSeed((d: Data) => {
    // a fresh cache folder: the kernel is compiled, not read back
    const prev = process.env.KEOPS_TS_CACHE;
    process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "keops-vloops-"));
    try {
      const x = d.randn([5, 1000]), y = d.randn([9, 1000]);
      const t0 = Date.now();
      const r = Vi(x).sub(Vj(y)).mul(0.01).exp().sum().sum({ axis: 1, backend: "native" }) as Tensor;
      t.diagnostic(`native D = 1000, first call (render + g++ + run, fresh cache): ${Date.now() - t0} ms wall`);
      assert.equal(r.shape.join(), "5,1");
    } finally {
      fs.rmSync(process.env.KEOPS_TS_CACHE, { recursive: true, force: true });
      if (prev === undefined) delete process.env.KEOPS_TS_CACHE;
      else process.env.KEOPS_TS_CACHE = prev;
    }
  }));

/** Inputs of a shape: x (M × D), y (N × D), p (D), b (N × 2), values where every formula is of order 1. */
function inputs(d: Data, f: Lazy, M: number, N: number, D: number, dtype: "float32" | "float64"): Tensor[] {
  const all = [d.randn([M, D], dtype), d.randn([N, D], dtype), d.uniform([D], 0.5, 1.5, dtype), d.uniform([N, 2], 0.5, 1.5, dtype)];
  const used = new Set([...f.node.vars()].map((v) => v.ind));
  return all.filter((_, ind) => used.has(ind));
}

const run = runOn;

const REDS = ["Sum", "LogSumExp", "Min"];

for (const t of await testTargets()) {
  const label = `[${t.backend}${t.async ? " async" : ""}]`;
  test(`${label} vector loops: D = 1000 formulas (${Object.keys(shapes(1000)).length} shapes; Sum, LogSumExp, Min) against float64, ${t.dtypes.join("/")}`, () =>
    withSeed(async (d) => {
      const D = 1000;
      for (const dtype of t.dtypes)
        for (const [M, N] of [[1, 1], [7, 64], [70, 257], [0, 3], [3, 0], ...(t.async ? [[2, 700]] : [])] as const)
          for (const [k, [name, f]] of Object.entries(shapes(D)).entries()) {
            const red = REDS[k % REDS.length]!;
            const args = inputs(d, f, M, N, D, dtype);
            // float32: sums of 1000 products of order-1 terms
            await assertMatchesReference(t, f, red, args, dtype === "float32" ? 2e-4 : 1e-11, `${name} ${red} ${dtype} M=${M} N=${N}`);
          }
    }));

  test(`${label} vector loops: just above the threshold, ${t.backend === "webgpu" ? "within float32 rounding of" : "bit-identical to"} the unrolled kernel (${t.dtypes.join("/")})`, () =>
    withSeed(async (d) => {
      const D = LOOP_MIN_DIM + 1;
      for (const dtype of t.dtypes)
        for (const [k, [name, f]] of Object.entries(shapes(D)).entries()) {
          const red = REDS[k % REDS.length]!;
          const args = inputs(d, f, 33, 300, D, dtype);
          const looped = await run(t, f, red, args);
          assertLoopedMatches(t, looped, await unrolled(() => run(t, f, red, args)), `${name} ${red} ${dtype}`);
        }
    }));
}
