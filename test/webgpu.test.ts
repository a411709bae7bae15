/**
 * The webgpu backend's own behaviour (the shared suites — reductions, ops, semantics, batch — run
 * on it through test/util.ts testTargets): an adapter exists here (software: lavapipe from
 * scripts/webgpu-adapter.sh, or SwiftShader with KEOPS_TS_WEBGPU_ADAPTER=swiftshader), blocking
 * calls (empty ones too) and float64 refused with KeOpsErrors that say why, `auto` and
 * `backendInfo()`, chunked dispatches and split bindings, inputs kept on the device across calls
 * and a solve's iterations, a solve's gradients (vjp with async: true), a lost device recreated
 * by the next call. Reduction gradients: test/grad-reductions.test.ts; progress and abort:
 * test/ux-progress.test.ts; the fast paths: test/schedule.test.ts.
 *
 * Without an adapter this file fails (with what to run), unless KEOPS_TEST_WEBGPU=0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Tensor, Vi, Vj, backendInfo, genred, kernelSolve } from "../src/index.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, withSeed, webgpuAbsent } from "./util.js";
import { stats, tuning } from "../src/backends/webgpu/runner.js";
import { context } from "../src/backends/webgpu/device.js";

const skip = process.env.KEOPS_TEST_WEBGPU === "0" ? "KEOPS_TEST_WEBGPU=0" : false;
const gpu = { backend: "webgpu" as const, async: true as const };

test("a WebGPU adapter exists here (software adapters count), and backendInfo() names it", { skip }, async () => {
  const why = await webgpuAbsent();
  assert.equal(why, null, `no WebGPU adapter: ${why}\n  run sh scripts/webgpu-adapter.sh (lavapipe), or install chromium (SwiftShader), or set KEOPS_TEST_WEBGPU=0`);
  const info = backendInfo();
  const w = info.backends.find((b) => b.name === "webgpu")!;
  assert.equal(w.unavailable, null);
  assert.equal(w.caps.blocking, false);
  const note = w.caps.costNote;
  assert.match(note, /^WebGPU on .+, from /);
  const want = process.env.KEOPS_TS_WEBGPU_ADAPTER;
  if (want === "swiftshader") assert.match(note, /SwiftShader/i);
  if (want === "lavapipe") assert.match(note, /llvmpipe/);
  // a software adapter: not chosen by auto (unless KEOPS_TS_WEBGPU_ADAPTER asks), and the note says so
  const asyncF32 = info.calls.find((c) => c.mode === "async" && c.dtype === "float32")!;
  if (/software adapter/.test(note) && (want === undefined || want === "auto")) {
    assert.notEqual(asyncF32.backend, "webgpu");
    assert.match(note, /auto prefers the CPU backends/);
  }
  assert.notEqual(info.auto, "webgpu"); // blocking calls never
});

test("blocking calls with backend webgpu are a KeOpsError that says to use async: true, empty ones too", { skip }, () =>
  withSeed(async (d) => {
    const x = d.randn([5, 3]), y = d.randn([4, 3]);
    const F = Vi(x).sub(Vj(y)).sqnorm2();
    assert.throws(() => F.sum({ axis: 1, backend: "webgpu" }), (e: unknown) => e instanceof KeOpsError && /runs only with async: true/.test(e.message));
    const fn = genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], { reductionOp: "Sum", axis: 1, backend: "webgpu" });
    assert.throws(() => fn(x, y), (e: unknown) => e instanceof KeOpsError && /async: true/.test(e.message));
    // empty calls too (nothing to run, the same refusal), on both axes and for a solve
    const x0 = d.randn([0, 3]), y0 = d.randn([0, 3]);
    const asyncOnly = /^KeOpsError: backend: "webgpu" cannot run this reduction: the webgpu backend runs only with async: true/;
    assert.throws(() => Vi(x0).sub(Vj(y)).sqnorm2().sum({ axis: 1, backend: "webgpu" }), asyncOnly);
    assert.throws(() => Vi(x).sub(Vj(y0)).sqnorm2().argmin({ axis: 0, backend: "webgpu" }), asyncOnly);
    assert.throws(() => fn(x0, y), asyncOnly);
    assert.throws(() => Vi(x0).sub(Vj(x0)).sqnorm2().neg().exp().solve(d.randn([0, 1]), { backend: "webgpu" } as never), asyncOnly);
    // and async they run: an empty result of the right shape
    const e = (await Vi(x0).sub(Vj(y)).sqnorm2().sum({ axis: 1, ...gpu })) as Tensor;
    assert.deepEqual([...e.shape], [0, 1]);
  }));

test("float64 on webgpu is declined with the reason; auto falls back to a CPU backend", { skip }, () =>
  withSeed(async (d) => {
    const x = d.randn([6, 2], "float64"), y = d.randn([7, 2], "float64");
    const F = Vi(x).sub(Vj(y)).sqnorm2();
    await assert.rejects(async () => F.sum({ axis: 1, ...gpu }), (e: unknown) => e instanceof KeOpsError && /float32 only, not float64/.test(e.message));
    await assert.rejects(async () => F.sum({ axis: 1, dtypeAcc: "float64", backend: "webgpu", async: true } as never), /float64/);
    const s = (await F.sum({ axis: 1, async: true })) as Tensor;
    assert.equal(s.dtype, "float64");
    const fn = F.sum({ axis: 1, call: false });
    assertClose(s.data, reference(fn as never).values!, { rtol: 1e-12 });
  }));

test("chunked dispatches, split bindings and split j give the same results (every family, batches, both axes)", { skip }, () =>
  withSeed(async (d) => {
    // batch dims (2, 3) broadcast from (2, 1) and (1, 3); x is (…, 300, 1, 3), y and b (…, 1, 517, ·)
    const x = new LazyTensor(d.randn([2, 1, 300, 1, 3])), y = new LazyTensor(d.randn([1, 3, 1, 517, 3])), b = new LazyTensor(d.randn([1, 3, 1, 517, 2]));
    const F = x.sub(y).sqnorm2();
    const cases: [string, (axis: 2 | 3) => unknown][] = [
      ["sum", (axis) => F.neg().exp().mul(b).sum({ axis, backend: "webgpu", call: false })],
      ["logsumexp", (axis) => F.neg().logsumexp({ axis, backend: "webgpu", call: false } as never)],
      ["argKmin", (axis) => F.argKmin({ K: 3, axis, backend: "webgpu", call: false } as never)],
      ["min", (axis) => F.min({ axis, backend: "webgpu", call: false } as never)],
    ];
    const before = stats.dispatches;
    // a tiny budget and 1 KiB bindings: many dispatches, rows and j in windows
    tuning.budget = 1e6;
    tuning.maxBindingBytes = 1024;
    try {
      for (const [name, build] of cases)
        for (const axis of [2, 3] as const) {
          const fn = build(axis) as ((...a: Tensor[]) => Tensor) & { callAsync(...a: Tensor[]): Promise<Tensor> };
          const ref = reference(fn as never);
          const out = await fn.callAsync();
          assert.deepEqual([...out.shape], ref.shape, `${name} axis ${axis}`);
          if (ref.indices) assertExact(out.data, ref.indices, `${name} axis ${axis}`);
          else assertClose(out.data, ref.values!, { rtol: 2e-5, what: `${name} axis ${axis}` });
        }
    } finally {
      delete tuning.budget;
      delete tuning.maxBindingBytes;
    }
    assert.ok(stats.dispatches - before > 100, `expected many dispatches, got ${stats.dispatches - before}`);
  }));

test("inputs stay on the GPU across calls of one KeOpsFunction and within a solve; changed contents are uploaded again", { skip }, () =>
  withSeed(async (d) => {
    const x = d.randn([200, 3]), y = d.randn([300, 3]), b = d.randn([300, 1]);
    const fn = genred("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { reductionOp: "Sum", axis: 1, backend: "webgpu" });
    await fn.callAsync(x, y, b);
    const u0 = stats.uploads;
    const r1 = await fn.callAsync(x, y, b);
    assert.equal(stats.uploads, u0, "the second call uploads nothing");
    assertClose(r1.data, reference(fn as never, x, y, b).values!, { rtol: 2e-5 });
    b.data[7] = 5; // the same array, new contents
    const r2 = await fn.callAsync(x, y, b);
    assert.equal(stats.uploads, u0 + 1, "changed contents are uploaded again");
    assertClose(r2.data, reference(fn as never, x, y, b).values!, { rtol: 2e-5 });
    // a solve: x and y uploaded once, each iteration uploads only its direction p
    const K = Vi(x).sub(Vj(x)).sqnorm2().mul(-2).exp();
    const rhs = d.randn([200, 1]);
    const u1 = stats.uploads, runs1 = stats.runs;
    const a = (await K.solve(rhs, { alpha: 0.5, backend: "webgpu", async: true } as never)) as unknown as Tensor;
    const iters = stats.runs - runs1;
    assert.ok(iters > 2, `iterations ${iters}`);
    assert.ok(stats.uploads - u1 <= iters + 1, `uploads ${stats.uploads - u1} for ${iters} iterations`);
    // (alpha·I + K) a = rhs, checked on the CPU
    const Ka = (K.mul(Vj(a)).sum({ axis: 1, backend: "js" }) as Tensor).data;
    const res = Array.from(Ka, (v, i) => 0.5 * a.data[i]! + v - rhs.data[i]!);
    assert.ok(Math.max(...res.map(Math.abs)) < 1e-3 * Math.max(...Array.from(rhs.data, Math.abs)), `residual ${Math.max(...res.map(Math.abs))}`);
  }));

test("gradients of a solve on webgpu (vjp with async: true): b̄ and x̄ as the float64 js vjp", { skip }, () =>
  withSeed(async (d) => {
    // M past a workgroup (128 rows) and a tile of j; float32 data, compared with float64 on the same values
    const M = 150, Dv = 2, alpha = 0.5;
    const x = d.randn([M, 3]), b = d.randn([M, Dv]), w = d.randn([M, Dv]);
    const to64 = (t: Tensor): Tensor => new Tensor(Float64Array.from(t.data), t.shape);
    const solveOn = (backend: string) =>
      kernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", `b = Vj(${Dv})`], "b", { alpha, eps: 1e-6, backend: backend as never });
    const want = solveOn("js").vjp([to64(x), to64(x), to64(b)], to64(w), { eps: 1e-12 });
    const f = solveOn("webgpu");
    const runs = stats.runs;
    const got = await f.vjp([x, x, b], w, { async: true });
    assert.ok(stats.runs - runs > 4, `the forward and backward solves ran on the GPU (${stats.runs - runs} runs)`);
    got.forEach((g, k) => {
      assert.equal(g.dtype, "float32");
      const scale = Math.max(...Array.from(want[k]!.data, Math.abs));
      assertClose(g.data, want[k]!.data, { rtol: 1e-3, atol: 1e-3 * scale, what: `argument ${k}` });
    });
    assert.throws(() => f.vjp([x, x, b], w), /runs only with async: true/);
  }));

test("a lost device: the call in flight or the next one fails with a KeOpsError, the one after recreates the device", { skip }, () =>
  withSeed(async (d) => {
    const x = d.randn([50, 3]), y = d.randn([60, 3]);
    const F = Vi(x).sub(Vj(y)).sqnorm2();
    const ref = reference(F.sum({ axis: 1, call: false }) as never).values!;
    await F.sum({ axis: 1, ...gpu });
    const ctx = await context(true);
    assert.ok(typeof ctx !== "string");
    ctx.device.destroy();
    await ctx.device.lost;
    // the next call gets a new device (no hang), with the right values
    const s = (await F.sum({ axis: 1, ...gpu })) as Tensor;
    assertClose(s.data, ref, { rtol: 2e-5 });
    const ctx2 = await context(true);
    assert.ok(typeof ctx2 !== "string" && ctx2 !== ctx, "a new device");
  }));
