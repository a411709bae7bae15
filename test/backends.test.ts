/**
 * Backends declare what they can do (blocking or async calls, dtypes, a cost); `auto` resolves
 * each call from those declarations, and `backendInfo()` says in words which backend each kind of
 * call gets. The webgpu backend (async only, float32) shows it: with a software adapter it costs
 * more than the CPU backends unless `KEOPS_TS_WEBGPU_ADAPTER=software` asks for it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, backendInfo, randn, KeOpsError } from "../src/index.js";
import { stats } from "../src/backends/webgpu/runner.js";
import { webgpuAbsent } from "./util.js";

test("webgpu declares async-only float32; every kind of call says which backend it gets and why", () => {
  const i = backendInfo();
  const gpu = i.backends.find((b) => b.name === "webgpu");
  assert.ok(gpu);
  assert.equal(gpu.caps.blocking, false);
  assert.equal(gpu.caps.async, true);
  assert.deepEqual(gpu.caps.dtypes, ["float32"]);
  assert.deepEqual(i.calls.map((c) => `${c.mode} ${c.dtype}`), ["blocking float32", "blocking float64", "async float32", "async float64"]);
  for (const c of i.calls) assert.match(c.reason, new RegExp(`^"${c.backend}": the cheapest backend that runs ${c.mode} ${c.dtype} calls`));
  assert.throws(() => Vi(randn([3, 1])).sum({ axis: 1, backend: "webgpu" }), (e: Error) => e instanceof KeOpsError && /runs only with async: true/.test(e.message));
});

test("auto resolves per call from the declared caps; a named backend outside its caps is a KeOpsError", async (t) => {
  const absent = await webgpuAbsent();
  if (absent !== null) return t.skip(`no WebGPU adapter: ${absent}`);
  const old = process.env.KEOPS_TS_WEBGPU_ADAPTER;
  process.env.KEOPS_TS_WEBGPU_ADAPTER = "software"; // a software adapter counts for auto too
  try {
    const x = randn([50, 2], { seed: 1 }), y = randn([40, 2], { seed: 2 });
    const K = Vi(x).sub(Vj(y)).sqnorm2().neg().exp();
    const runs0 = stats.runs;
    const blocking = K.sum({ axis: 1 });
    const viaJs = K.sum({ axis: 1, backend: "js" });
    assert.equal(stats.runs, runs0, "a blocking call never goes to an async-only backend");
    const viaGpu = await K.sum({ axis: 1, async: true });
    assert.equal(stats.runs, runs0 + 1, "an async float32 call goes to the cheapest backend that runs it");
    const err = Math.max(...Array.from(viaGpu.data, (v, k) => Math.abs(v - viaJs.data[k]!)));
    assert.ok(err < 1e-5 * Math.max(...Array.from(viaJs.data, Math.abs)), `webgpu and js differ by ${err}`);
    assert.equal(blocking.shape.join(), viaGpu.shape.join());
    const x64 = randn([50, 2], { seed: 1, dtype: "float64" }), y64 = randn([40, 2], { seed: 2, dtype: "float64" });
    await Vi(x64).sub(Vj(y64)).sqnorm2().sum({ axis: 1, async: true });
    assert.equal(stats.runs, runs0 + 1, "float64 is outside its caps: auto falls back");
    assert.throws(() => K.sum({ axis: 1, backend: "webgpu" }), (e: Error) => e instanceof KeOpsError && /runs only with async: true/.test(e.message));
    await assert.rejects(Vi(x64).sub(Vj(y64)).sqnorm2().sum({ axis: 1, backend: "webgpu", async: true }), (e: Error) => e instanceof KeOpsError && /float32 only, not float64/.test(e.message));
    const info = backendInfo();
    const pick = (mode: string, dtype: string) => info.calls.find((c) => c.mode === mode && c.dtype === dtype)!;
    assert.equal(pick("async", "float32").backend, "webgpu");
    assert.notEqual(pick("blocking", "float32").backend, "webgpu");
    assert.match(pick("blocking", "float32").reason, /not webgpu: the webgpu backend runs only with async: true/);
    assert.match(pick("async", "float64").reason, /not webgpu: the webgpu backend computes in float32 only, not float64/);
  } finally {
    if (old === undefined) delete process.env.KEOPS_TS_WEBGPU_ADAPTER;
    else process.env.KEOPS_TS_WEBGPU_ADAPTER = old;
  }
});
