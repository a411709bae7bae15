/**
 * Blocked distances (src/compile/blocked.ts; src/backends/native/dot.ts, src/backends/wasm/dot.ts):
 * which sums are recognised, that the rewritten body computes the same values, that both backends
 * render D as a loop bound, and native and wasm kernels through the blocked path (K-NN, sum,
 * log-sum-exp, min, the dot product; float32 and float64; both axes) against float64 at sizes that
 * cross each micro-kernel's rows and vectors of columns, the tiles and the row blocks, with 0 and 1;
 * the wasm cases again with relaxed SIMD's FMA (in a child with the flag where the engine needs it).
 *
 * K-NN indices: the float64 ranking, except at true ties within the rounding of the expansion —
 * two neighbours whose float64 distances differ by ≤ 8ε·(‖x_i‖² + ‖y_j‖²) (ε = 2⁻²³ in float32:
 * 2⁻²⁰·(…), the expansion's error bound with margin; 2⁻⁵² in float64) may come in either order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyTensor, Vi, Vj, Tensor } from "../src/index.js";
import { blockDots, DOT_MIN_DIM } from "../src/compile/blocked.js";
import { plan } from "../src/compile/plan.js";
import { evalOp, type Block } from "../src/ir/ssa.js";
import { reductionByName } from "../src/reductions/index.js";
import { nativeBackend } from "../src/backends/native/index.js";
import { wasmBackend } from "../src/backends/wasm/index.js";
import { renderWasm } from "../src/backends/wasm/render.js";
import { SIMD, engineHasRelaxedSimd, wasmFma } from "../src/backends/wasm/asm.js";
import { wa } from "../src/backends/wasm/api.js";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { renderNative } from "../src/backends/native/render.js";
import { parseFormula } from "../src/formula/parse.js";
import { assertClose, assertExact, simdOps, withSeed, type Data } from "./util.js";
import { reference } from "./reference.js";

const skip = nativeBackend.unavailable() ?? false;
const FLAG = "--experimental-wasm-relaxed-simd";
const programOf = (f: LazyTensor<boolean> | ReturnType<typeof parseFormula>, red = "Sum", K = 1) => {
  const formula = "node" in f ? f.node : f;
  return plan({ formula, reduction: reductionByName(red)!, axis: 1, K, scheme: "block_sum", dtype: "float32", accDtype: "float32" }).program;
};

/** Evaluates a body on one pair with `load` served by `val(slot, comp)`. */
function evalBody(b: Block, val: (slot: number, comp: number) => number): number[] {
  const v: number[] = [];
  b.code.forEach((ins, n) => {
    v[n] = ins.op === "const" ? ins.k[0]! : ins.op === "load" ? val(ins.k[0]!, ins.k[1]!) : ins.op === "idx" ? 0 : evalOp(ins.op, ins.a.map((a) => v[a]!));
  });
  return b.out.map((o) => v[o]!);
}

test("blocked: SqDist, SqNorm2 of a difference (either order) and the dot product are recognised from D = 16; not below, not mixed slots", () => {
  const D = DOT_MIN_DIM;
  const cases: [string, LazyTensor<boolean> | ReturnType<typeof parseFormula>, string[] | null][] = [
    ["x−y", Vi(0, D).sub(Vj(1, D)).sqnorm2(), ["dot", "norm", "norm"]],
    ["y−x", Vj(1, D).sub(Vi(0, D)).sqnorm2(), ["dot", "norm", "norm"]],
    ["SqDist", parseFormula(`SqDist(Var(0,${D},0),Var(1,${D},1))`), ["dot", "norm", "norm"]],
    ["x|y", Vi(0, D).dot(Vj(1, D)), ["dot"]],
    ["Gaussian", Vi(0, 64).sub(Vj(1, 64)).sqnorm2().neg().exp().mul(Vj(2, 1)), ["dot", "norm", "norm"]],
    ["D = 15", Vi(0, D - 1).sub(Vj(1, D - 1)).sqnorm2(), null],
    ["x−x'", Vi(0, D).sub(Vi(1, D)).sqnorm2(), null],
    ["x·y²", Vi(0, D).mul(Vj(1, D)).mul(Vj(1, D)).sum(), null],
  ];
  for (const [what, f, kinds] of cases) {
    const r = blockDots(programOf(f));
    assert.deepEqual(r?.extra.map((e) => e.kind) ?? null, kinds, what);
  }
});

test("blocked: the rewritten body computes the original values (norms and dots supplied)", () =>
  withSeed((d: Data) => {
    const D = 20;
    for (const f of [Vi(0, D).sub(Vj(1, D)).sqnorm2().neg().exp().mul(Vj(2, 2)), Vi(0, D).dot(Vj(1, D)).add(Vi(0, D).sub(Vj(1, D)).sqnorm2().sqrt())]) {
      const p = programOf(f);
      const r = blockDots(p)!;
      const x = d.randn([D]).data, y = d.randn([D]).data, b = d.randn([2]).data;
      const own = (slot: number, c: number): number => [x, y, b][slot]![c]!;
      const want = evalBody(p.body, own);
      const got = evalBody(r.body, (slot, c) => {
        if (slot < p.slots.length) return own(slot, c);
        const e = r.extra[slot - p.slots.length]!;
        let s = 0;
        for (let k = 0; k < D; k++) s += e.kind === "dot" ? x[k]! * y[k]! : e.role === "outer" ? x[k]! ** 2 : y[k]! ** 2;
        return s;
      });
      assertClose(got, want, { rtol: 1e-12, what: String(f) });
      // the blocked body no longer reads every component pair
      assert.ok(r.body.code.length < p.body.code.length / 2, `${r.body.code.length} vs ${p.body.code.length} instructions`);
    }
  }));

test("blocked: native renders the micro-kernel with D as a loop bound, KEOPS_TS_BLOCKED=0 the unrolled body", { skip }, () => {
  const p = programOf(Vi(0, 1000).sub(Vj(1, 1000)).sqnorm2(), "ArgKMin", 5);
  const on = renderNative(p).source;
  assert.match(on, /k_dot_tile\(/);
  assert.doesNotMatch(on, /k_load<VT>\(Y1_/); // no per-component loads of y in the pair loop
  const prev = process.env.KEOPS_TS_BLOCKED;
  process.env.KEOPS_TS_BLOCKED = "0";
  try {
    assert.doesNotMatch(renderNative(p).source, /k_dot_tile/);
    // the in-process kernel caches are keyed by the program's key: the setting is part of it
    const off = programOf(Vi(0, 1000).sub(Vj(1, 1000)).sqnorm2(), "ArgKMin", 5);
    assert.notEqual(off.key, p.key);
    assert.doesNotMatch(renderNative(off).source, /k_dot_tile/);
  } finally {
    if (prev === undefined) delete process.env.KEOPS_TS_BLOCKED;
    else process.env.KEOPS_TS_BLOCKED = prev;
  }
});

test("blocked: wasm renders the micro-kernel with D as a loop bound (module size independent of D, fused where relaxed SIMD is on), KEOPS_TS_BLOCKED=0 the unrolled body", { skip: wasmBackend.unavailable() ?? false }, () => {
  const render = (D: number, fma: boolean): Uint8Array => {
    const prev = wasmFma();
    wasmFma(fma);
    try {
      return renderWasm(programOf(Vi(0, D).sub(Vj(1, D)).sqnorm2(), "ArgKMin", 5), true).bytes;
    } finally {
      wasmFma(prev);
    }
  };
  const [small, large] = [render(16, false), render(1000, false)];
  // (only the LEB128 encodings of D's constants differ)
  assert.ok(Math.abs(small.length - large.length) < 64, `module bytes at D = 16 and D = 1000: ${small.length}, ${large.length}`);
  assert.ok(new (wa().Module)(large), "the module compiles");
  // 4 × 2 accumulators (+ the 4 × 1, 1 × 2 and 1 × 1 remainders): products fused only with FMA on
  assert.equal(simdOps(large, SIMD.f32x4RelaxedMadd), 0);
  assert.ok(simdOps(render(1000, true), SIMD.f32x4RelaxedMadd) >= 8 + 4 + 2 + 1);
  // blocking off, and vector loops off (src/compile/loops.ts would roll the sum): the unrolled body
  const prev = [process.env.KEOPS_TS_BLOCKED, process.env.KEOPS_TS_LOOP_MIN];
  process.env.KEOPS_TS_BLOCKED = "0";
  process.env.KEOPS_TS_LOOP_MIN = String(10 ** 9);
  try {
    assert.ok(render(1000, false).length > 10 * large.length, "unrolled: grows with D");
  } finally {
    if (prev[0] === undefined) delete process.env.KEOPS_TS_BLOCKED;
    else process.env.KEOPS_TS_BLOCKED = prev[0];
    if (prev[1] === undefined) delete process.env.KEOPS_TS_LOOP_MIN;
    else process.env.KEOPS_TS_LOOP_MIN = prev[1];
  }
});

if (!engineHasRelaxedSimd() && !process.execArgv.includes(FLAG) && !wasmBackend.unavailable())
  test(`blocked wasm with relaxed SIMD's FMA: this engine needs ${FLAG}, the wasm cases run in a child with it`, () => {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // the child reports in TAP on its stdout, not to this runner
    const r = spawnSync(process.execPath, [FLAG, "--import", "tsx", "--test", "--test-reporter=tap", "--test-name-pattern=blocked wasm", fileURLToPath(import.meta.url)], { encoding: "utf8", env });
    assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /# fail 0/);
    assert.match(r.stdout, /# pass [1-9]/);
  });

/** Float64 distances of row i of x to every row of y. */
const dists = (x: ArrayLike<number>, y: ArrayLike<number>, D: number, i: number): Float64Array =>
  Float64Array.from({ length: y.length / D }, (_, j) => {
    let s = 0;
    for (let c = 0; c < D; c++) s += (x[i * D + c]! - y[j * D + c]!) ** 2;
    return s;
  });

/** The CPU backends with blocked distances, when available here. */
const blockedBackends = [
  { name: "native", skip: skip },
  { name: "wasm", skip: wasmBackend.unavailable() ?? false },
] as const;

/**
 * Sizes crossing the native micro-kernel's 6 rows and 2 vectors of columns, its tiles and row
 * blocks, and the wasm one's 4 rows, 2 vectors (8 float32 / 4 float64 columns), 32-row blocks and
 * tiles of 64 … 512 columns (D = 128: 256 columns in float32, 128 in float64; D = 1000: 64), with
 * 0 and 1.
 */
const SHAPES = [[16, 1, 1], [16, 7, 33], [64, 130, 257], [40, 67, 300], [128, 37, 600], [1000, 9, 70], [24, 0, 5], [24, 5, 0]] as const;

for (const { name: backend, skip } of blockedBackends)
  for (const dtype of ["float32", "float64"] as const)
    for (const [D, M, N] of SHAPES)
      test(`blocked ${backend} ${dtype}, D = ${D}, M = ${M}, N = ${N}: K-NN, sum, log-sum-exp, min, dot against float64, both axes`, { skip }, () =>
        withSeed((d: Data) => {
          const f32 = dtype === "float32";
          // the expansion's absolute error ≈ ε·(‖x‖² + ‖y‖²) (ε = 2⁻²³ or 2⁻⁵²), ≈ 2ε·D on these data
          const eps = f32 ? 2 ** -23 : 2 ** -52;
          const x = d.randn([M, D], dtype), y = d.randn([N, D], dtype), b = d.randn([N, 2], dtype);
          const xd = x.data, yd = y.data;
          const nrm = (a: ArrayLike<number>, i: number): number => {
            let s = 0;
            for (let c = 0; c < D; c++) s += a[i * D + c]! ** 2;
            return s;
          };
          const K = Math.min(4, N);
          const scale = 1 / D; // keeps exp(−scale·d²) away from underflow
          const wantConv: number[] = [], wantLse: number[] = [], wantMin: number[] = [], wantDot: number[] = [];
          // Σ_j |term|: the scale of a sum's rounding error (its terms cancel)
          const absConv: number[] = [], absDot: number[] = [];
          const orders: number[][] = [], dd: Float64Array[] = [];
          for (let i = 0; i < M; i++) {
            const di = dists(xd, yd, D, i);
            dd.push(di);
            orders.push(Array.from(di.keys()).sort((p, q) => di[p]! - di[q]! || p - q));
            const m = Math.max(...Array.from(di, (v) => -scale * v));
            wantLse.push(m + Math.log(di.reduce((s, v) => s + Math.exp(-scale * v - m), 0)));
            wantMin.push(Math.min(...di));
            for (let c = 0; c < 2; c++) {
              wantConv.push(di.reduce((s, v, j) => s + Math.exp(-scale * v) * b.data[j * 2 + c]!, 0));
              absConv.push(di.reduce((s, v, j) => s + Math.abs(Math.exp(-scale * v) * b.data[j * 2 + c]!), 0));
              let t = 0, ta = 0;
              for (let j = 0; j < N; j++) {
                let g = 0;
                for (let k = 0; k < D; k++) g += xd[i * D + k]! * yd[j * D + k]!;
                t += g * b.data[j * 2 + c]!;
                ta += Math.abs(g * b.data[j * 2 + c]!);
              }
              wantDot.push(t);
              absDot.push(ta);
            }
          }
          for (const axis of [1, 0] as const) {
            // axis 0: the same reductions with the roles of i and j swapped (x j-indexed, reduced over i)
            const [X, Y] = axis === 1 ? [Vi, Vj] : [Vj, Vi];
            const what = (r: string): string => `${r}, axis ${axis}`;
            const o = { axis, backend };
            const d2 = X(x).sub(Y(y)).sqnorm2();
            const conv = d2.mul(-scale).exp().mul(Y(b)).sum(o) as Tensor;
            const dot = X(x).dot(Y(y)).mul(Y(b)).sum(o) as Tensor;
            const rtol = f32 ? 1e-4 : 1e-12;
            assertClose(conv.data, wantConv, { rtol, atol: absConv.map((v) => rtol * v), what: what("sum") });
            assertClose(dot.data, wantDot, { rtol, atol: absDot.map((v) => rtol * v), what: what("dot") });
            if (N === 0) continue;
            const knn = d2.argKmin({ ...o, K }) as Tensor;
            const lse = d2.mul(-scale).logsumexp(o) as Tensor;
            const mn = d2.min(o) as Tensor;
            for (let i = 0; i < M; i++)
              for (let r = 0; r < K; r++) {
                const got = (knn.data as Int32Array)[i * K + r]!, want = orders[i]![r]!;
                if (got === want) continue;
                // a true tie within the expansion's rounding: either order is right
                const tol = 8 * eps * (nrm(xd, i) + Math.max(nrm(yd, got), nrm(yd, want)));
                assert.ok(Math.abs(dd[i]![got]! - dd[i]![want]!) <= tol, `${what("K-NN")} row ${i} rank ${r}: ${got} (${dd[i]![got]}) vs ${want} (${dd[i]![want]})`);
              }
            assertClose(mn.data, wantMin, { rtol: 0, atol: 32 * eps * D, what: what("min") });
            assertClose(lse.data, wantLse, { rtol: f32 ? 1e-5 : 1e-12, atol: f32 ? 2 ** -18 : 2 ** -45, what: what("logsumexp") });
          }
        }));

for (const { name: backend, skip } of blockedBackends)
  test(`blocked ${backend}: every sum scheme and argmin across tiles and row blocks, float32 and float64`, { skip }, () =>
    withSeed((d: Data) => {
      const [D, M, N] = [128, 37, 600];
      for (const dtype of ["float32", "float64"] as const) {
        const x = d.randn([M, D], dtype), y = d.randn([N, D], dtype), b = d.randn([N, 1], dtype);
        const want: number[] = [], abs: number[] = [], arg: number[] = [];
        for (let i = 0; i < M; i++) {
          const di = dists(x.data, y.data, D, i);
          want.push(di.reduce((s, v, j) => s + Math.exp(-v / D) * b.data[j]!, 0));
          abs.push(di.reduce((s, v, j) => s + Math.abs(Math.exp(-v / D) * b.data[j]!), 0));
          arg.push(di.indexOf(Math.min(...di)));
        }
        const rtol = dtype === "float32" ? 1e-4 : 1e-12;
        const d2 = Vi(x).sub(Vj(y)).sqnorm2();
        for (const sumScheme of ["direct_sum", "block_sum", "kahan_scheme"] as const) {
          const got = d2.mul(-1 / D).exp().mul(Vj(b)).sum({ axis: 1, backend, sumScheme }) as Tensor;
          assertClose(got.data, want, { rtol, atol: abs.map((v) => rtol * v), what: `${dtype} ${sumScheme}` });
        }
        // the float64 argmin, except at a true tie within the expansion's rounding (as for K-NN)
        const got = (d2.argmin({ axis: 1, backend }) as Tensor).data;
        const eps = dtype === "float32" ? 2 ** -23 : 2 ** -52;
        for (let i = 0; i < M; i++) {
          const g = got[i]!, w = arg[i]!, di = dists(x.data, y.data, D, i);
          const nrm = (a: ArrayLike<number>, r: number): number => dists(a, new Float64Array(D), D, r)[0]!;
          if (g !== w) assert.ok(Math.abs(di[g]! - di[w]!) <= 8 * eps * (nrm(x.data, i) + Math.max(nrm(y.data, g), nrm(y.data, w))), `${dtype} argmin row ${i}: ${g} vs ${w}`);
        }
      }
    }));


for (const { name: backend, skip } of blockedBackends)
  test(`blocked ${backend}: broadcast batch dims (norms per batch offset), sum and argmin with ties, both axes, float32 and float64`, { skip }, () =>
    withSeed((d: Data) => {
      const D = 20;
      for (const dtype of ["float32", "float64"] as const) {
        // small integers: distances and their expansion exact in float32, ties included
        const x = new LazyTensor(d.randint([1, 3, 37, 1, D], -3, 3, dtype)), y = new LazyTensor(d.randint([2, 1, 1, 45, D], -3, 3, dtype));
        const F = x.sub(y).sqnorm2();
        for (const axis of [2, 3]) {
          const opts = { axis, backend: backend as never, call: false as const };
          const sum = F.mul(-1 / D).exp().sum(opts) as unknown as (...a: Tensor[]) => Tensor;
          const ref = reference(sum as never);
          assertClose(sum().data, ref.values!, { rtol: dtype === "float32" ? 1e-5 : 1e-12, what: `${dtype} sum axis ${axis}` });
          const am = F.argmin(opts) as unknown as (...a: Tensor[]) => Tensor;
          assertExact(am().data, reference(am as never).indices!, `${dtype} argmin axis ${axis}`);
        }
      }
    }));
