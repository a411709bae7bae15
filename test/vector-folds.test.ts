/**
 * Folds over a vector dimension other than sums (src/compile/folds.ts): products of components,
 * the inner Max / Min / ArgMax / ArgMin (compare-and-select scans), L∞ distances, running IfElse
 * selections, and min/max/mul chains of the SSA, rolled into loops from LOOP_MIN_DIM folded
 * values on, rendered as loops by every backend.
 * - which folds roll, and the rolled body computing bit for bit what the unrolled one does (the
 *   SSA interpreter, float64, NaN and ±Inf inputs included);
 * - what is left unrolled: below the threshold, an intermediate value read elsewhere, chains
 *   reading each other in a cycle;
 * - the size of what is compiled at D = 1000 (SSA instructions, source bytes of every renderer);
 * - D = 1000 formulas on every backend against float64, with NaN and ±Inf inputs;
 * - just above the threshold, results bit-identical to the unrolled kernels' on the CPU backends
 *   (within float32 rounding on webgpu).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, type LazyTensor, type Tensor } from "../src/index.js";
import { LOOP_MIN_DIM, rollLoops, withLoops } from "../src/compile/loops.js";
import { plan } from "../src/compile/plan.js";
import { SsaBuilder, type Block } from "../src/ir/ssa.js";
import { evalBlock } from "../src/ir/interpret.js";
import type { KernelProgram } from "../src/compile/program.js";
import { reductionByName } from "../src/reductions/index.js";
import { renderJs } from "../src/backends/js/render.js";
import { renderNative } from "../src/backends/native/render.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { testTargets, withSeed, type Data, type Target } from "./util.js";
import { assertLoopedMatches, assertMatchesReference, assertRollsBitForBit, runOn, unrolled } from "./loops-util.js";

type Lazy = LazyTensor<boolean>;
const programOf = (f: Lazy, red = "Sum", dtype: "float32" | "float64" = "float64", loopMin?: number): KernelProgram => {
  const p = plan({ formula: f.node, reduction: reductionByName(red)!, axis: 1, K: 1, scheme: "block_sum", dtype, accDtype: dtype }).program;
  return loopMin === undefined ? p : { ...p, key: `${p.key}|min${loopMin}`, loopMin };
};
const loopsIn = (b: Block): number => b.code.filter((ins) => ins.op === "loop").length;

/** Formula shapes over x_i, y_j (dim D) and b_j (dim 2), by name. */
const shapes = (D: number): Record<string, Lazy> => {
  const x = Vi(0, D), y = Vj(1, D), b = Vj(3, 2);
  let prod = x.elem(0).sub(y.elem(0)).div(1000).add(1) as Lazy;
  let run = x.elem(0).sub(y.elem(0)) as Lazy;
  for (let k = 1; k < D; k++) {
    prod = prod.mul(x.elem(k).sub(y.elem(k)).div(1000).add(1)) as Lazy;
    const t = x.elem(k).sub(y.elem(k));
    run = t.sub(run).ifelse(t, run) as Lazy;
  }
  return {
    "Max(|x−y|) (L∞)": x.sub(y).abs().max() as Lazy,
    "ArgMax(x−y)·b": x.sub(y).argmax().mul(b) as Lazy,
    "Min(x·y) + ArgMin(x·y) (two chains, one loop)": x.mul(y).min().add(x.mul(y).argmin()) as Lazy,
    "Π(1 + (x−y)/1000) (a product of components)": prod,
    "IfElse running max of x−y": run,
    "Max(x−y) − SqDist(x,y)/D (a fold and a sum)": x.sub(y).max().sub(x.sub(y).sqnorm2().mul(1 / D)) as Lazy,
  };
};

/** Float64 values with NaN, ±Inf and zeros of both signs sprinkled in (a fraction `special` of them). */
function specials(d: Data, n: number, special: number): Float64Array {
  const v = new Float64Array(n);
  const pick = [NaN, Infinity, -Infinity, 0, -0];
  for (let k = 0; k < n; k++) v[k] = d.rng.uniform() < special ? pick[Math.floor(d.rng.uniform() * pick.length)]! : d.rng.normal();
  return v;
}

test("vector folds: products, Max/Min/ArgMax/ArgMin scans, L∞ and IfElse runs roll into loops computing the unrolled values bit for bit (NaN, ±Inf)", () =>
  withSeed((d: Data) =>
    assertRollsBitForBit(shapes, (f) => programOf(f), (p) =>
      [0, 0.02, 0.3].map((special) => [`, specials ${special}`, p.slots.map((s) => specials(d, s.dim, special))] as const))));

/** SSA chains over slot 0 (dim D) and slot 1: max(acc, x), min(|x|, acc) (the accumulator second), mul(acc, x − y). */
function ssaChains(D: number, outs: (b: SsaBuilder, chains: number[][]) => number[]): Block {
  const b = new SsaBuilder((s) => s + 1);
  const x = (k: number): number => b.load(0, k), y = (k: number): number => b.load(1, k);
  const chains: number[][] = [[x(0)], [b.un("abs", x(0))], [b.bin("sub", x(0), y(0))]];
  for (let k = 1; k < D; k++) {
    chains[0]!.push(b.bin("max", chains[0]![k - 1]!, x(k)));
    chains[1]!.push(b.bin("min", b.un("abs", x(k)), chains[1]![k - 1]!));
    chains[2]!.push(b.bin("mul", chains[2]![k - 1]!, b.bin("sub", x(k), y(k))));
  }
  return b.block(outs(b, chains));
}

test("vector folds: max, min and mul chains of the SSA (either operand the accumulator) roll, bit for bit with NaN and ±Inf", () =>
  withSeed((d: Data) => {
    const D = 300;
    const block = ssaChains(D, (_b, c) => c.map((ch) => ch[D - 1]!));
    const rolled = rollLoops(block, LOOP_MIN_DIM);
    assert.equal(loopsIn(rolled), 3);
    assert.ok(rolled.code.length < 60, `${rolled.code.length} instructions`);
    for (const special of [0, 0.01, 0.2]) {
      const data = [specials(d, D, special), specials(d, D, special)];
      const load = (slot: number, c: number): number => data[slot]![c]!;
      const want = evalBlock(block, { load }), got = evalBlock(rolled, { load });
      got.forEach((v, k) => assert.ok(Object.is(v, want[k]), `chain ${k}, specials ${special}: ${v} ≠ ${want[k]}`));
    }
  }));

test("vector folds: not below the threshold, nor with an intermediate value read elsewhere, nor for chains reading each other in a cycle", () => {
  const below = programOf(shapes(LOOP_MIN_DIM - 1)["Max(|x−y|) (L∞)"]!);
  assert.equal(rollLoops(below.body, LOOP_MIN_DIM), below.body);
  assert.equal(withLoops(below), below);
  // the max chain's value halfway is an output too: its loop would hide it
  const D = 200;
  const mid = ssaChains(D, (_b, c) => [c[0]![D - 1]!, c[0]![D >> 1]!]);
  assert.equal(loopsIn(rollLoops(mid, LOOP_MIN_DIM)), 0);
  // a_k = max(a, x_k·b), b_k = min(b, x_k + a): each step reads the other's previous value
  const b = new SsaBuilder(() => 2);
  let a = b.load(0, 0), c = b.load(1, 0);
  for (let k = 1; k < D; k++) [a, c] = [b.bin("max", a, b.bin("mul", b.load(0, k), c)), b.bin("min", c, b.bin("add", b.load(0, k), a))];
  const cyc = b.block([a, c]);
  assert.equal(rollLoops(cyc, LOOP_MIN_DIM), cyc);
});

test("vector folds: below the threshold every renderer's source is unchanged; at D = 1000 the sources are a fraction of the unrolled ones", (t) => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  const sources = (p: KernelProgram): number[] => [
    renderJs(p).length,
    renderNative(p).source.length,
    renderWasm(p, false).bytes.length,
    renderWgsl(p, cfg, "direct").length,
  ];
  for (const [name, f] of Object.entries(shapes(LOOP_MIN_DIM - 1))) {
    const p = programOf(f, "Sum", "float32"), u = programOf(f, "Sum", "float32", 1e9);
    assert.equal(renderJs(p), renderJs(u), name);
    assert.equal(renderNative(p).source, renderNative(u).source, name);
    assert.deepEqual(renderWasm(p, false).bytes, renderWasm(u, false).bytes, name);
    assert.equal(renderWgsl(p, cfg, "direct"), renderWgsl(u, cfg, "direct"), name);
  }
  for (const [name, f] of Object.entries(shapes(1000))) {
    const p = programOf(f, "Sum", "float32"), u = programOf(f, "Sum", "float32", 1e9);
    assert.ok(withLoops(p).body.code.length <= 80, `${name}: ${withLoops(p).body.code.length} body instructions`);
    const looped = sources(p), plain = sources(u);
    looped.forEach((n, k) => assert.ok(n * 3 < plain[k]!, `${name}, renderer ${k}: ${n} bytes looped, ${plain[k]} unrolled`));
    t.diagnostic(`${name}: source bytes looped/unrolled js ${looped[0]}/${plain[0]}, native ${looped[1]}/${plain[1]}, wasm ${looped[2]}/${plain[2]}, wgsl ${looped[3]}/${plain[3]}`);
  }
});

/** Inputs of a shape: x (M × D), y (N × D) with a fraction `special` of NaN / ±Inf / ±0, b (N × 2). */
function inputs(d: Data, f: Lazy, M: number, N: number, D: number, dtype: "float32" | "float64", special: number): Tensor[] {
  const vec = (n: number, dim: number): Tensor => {
    const t = d.randn([n, dim], dtype);
    t.data.set(specials(d, n * dim, special));
    return t;
  };
  const all = [vec(M, D), vec(N, D), null, d.uniform([N, 2], 0.5, 1.5, dtype)];
  const used = new Set([...f.node.vars()].map((v) => v.ind));
  return all.filter((t, ind): t is Tensor => t !== null && used.has(ind));
}

const run = runOn;

const REDS = ["Sum", "Min", "LogSumExp"];
/** WGSL lets an implementation assume that no NaN or infinity occurs: webgpu gets finite inputs. */
const noSpecials = (t: Target): boolean => t.backend === "webgpu";

for (const t of await testTargets()) {
  const label = `[${t.backend}${t.async ? " async" : ""}]`;
  test(`${label} vector folds: D = 1000 formulas (${Object.keys(shapes(1000)).length} shapes; Sum, Min, LogSumExp) against float64, with NaN/±Inf inputs${noSpecials(t) ? " (finite on webgpu)" : ""}, ${t.dtypes.join("/")}`, () =>
    withSeed(async (d) => {
      const D = 1000;
      for (const dtype of t.dtypes)
        // 70 rows cross the row blocks, 130 and 33 columns the lanes and tiles (70 × 33: the float64 reference is slow at D = 1000)
        for (const [M, N, special] of [[1, 1, 0], [7, 64, 0.001], [70, 33, 0], [9, 130, 0.0005], [5, 130, 0], [0, 3, 0], [3, 0, 0], ...(t.async ? [[2, 700, 0]] : [])] as const)
          for (const [k, [name, f]] of Object.entries(shapes(D)).entries()) {
            // the formulas of D Elem nodes (product, IfElse run) are slow in the reference: fewer pairs
            if (/^(Π|IfElse)/.test(name) && M * N > 1000) continue;
            const red = REDS[k % REDS.length]!;
            const args = inputs(d, f, M, N, D, dtype, noSpecials(t) ? 0 : special);
            // float32: products of 1000 factors, sums over up to 257 pairs of order-1000 indices
            await assertMatchesReference(t, f, red, args, dtype === "float32" ? 2e-4 : 1e-11, `${name} ${red} ${dtype} M=${M} N=${N}`);
          }
    }));

  test(`${label} vector folds: just above the threshold, ${t.backend === "webgpu" ? "within float32 rounding of" : "bit-identical to"} the unrolled kernel${noSpecials(t) ? "" : ", NaN/±Inf inputs included"} (${t.dtypes.join("/")})`, () =>
    withSeed(async (d) => {
      const D = LOOP_MIN_DIM + 1;
      for (const dtype of t.dtypes)
        for (const special of noSpecials(t) ? [0] : [0, 0.01])
          for (const [k, [name, f]] of Object.entries(shapes(D)).entries()) {
            const red = REDS[k % REDS.length]!;
            const args = inputs(d, f, 33, 300, D, dtype, special);
            const looped = await run(t, f, red, args);
            assertLoopedMatches(t, looped, await unrolled(() => run(t, f, red, args)), `${name} ${red} ${dtype} specials ${special}`);
          }
    }));
}
