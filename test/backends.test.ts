/**
 * Backends declare what they can do (blocking or async calls, dtypes, a cost); `auto` resolves
 * each call from those declarations, and `backendInfo()` says in words which backend each kind of
 * call gets. A fake async-only float32 backend registered here (standing in for a GPU) shows it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, backendInfo, randn, KeOpsError } from "../src/index.js";
import { registerBackend } from "../src/backends/registry.js";
import { jsBackend } from "../src/backends/js/index.js";
import type { Backend, Kernel, KernelProgram } from "../src/compile/program.js";

test("before any GPU backend is registered, webgpu says it is not built yet", () => {
  const i = backendInfo();
  const gpu = i.backends.find((b) => b.name === "webgpu");
  assert.match(gpu?.unavailable ?? "", /not built yet/);
  assert.deepEqual(i.calls.map((c) => `${c.mode} ${c.dtype}`), ["blocking float32", "blocking float64", "async float32", "async float64"]);
  for (const c of i.calls) assert.match(c.reason, new RegExp(`^"${c.backend}": the cheapest backend that runs ${c.mode} ${c.dtype} calls`));
  assert.throws(() => Vi(randn([3, 1])).sum({ axis: 1, backend: "webgpu" }), (e: Error) => e instanceof KeOpsError && /not built yet/.test(e.message));
});

test("auto resolves per call from the declared caps; a named backend outside its caps is a KeOpsError", async () => {
  const runs: string[] = [];
  const fake: Backend = {
    name: "webgpu",
    caps: { blocking: false, async: true, dtypes: ["float32"], cost: 0.1, costNote: "a test stand-in for a GPU" },
    unavailable: () => null,
    declines: () => null,
    async compileAsync(p: KernelProgram): Promise<Kernel> {
      const k = jsBackend.compile(p);
      return { runAsync: async (job) => { runs.push(p.dtype); k.run(job); } };
    },
  };
  registerBackend(fake);
  const x = randn([50, 2], { seed: 1 }), y = randn([40, 2], { seed: 2 });
  const K = Vi(x).sub(Vj(y)).sqnorm2().neg().exp();
  const blocking = K.sum({ axis: 1 });
  const viaJs = K.sum({ axis: 1, backend: "js" });
  assert.deepEqual(runs, [], "a blocking call never goes to an async-only backend");
  const viaGpu = await K.sum({ axis: 1, async: true });
  assert.deepEqual(runs, ["float32"], "an async float32 call goes to the cheapest backend that runs it");
  assert.deepEqual([...viaGpu.data], [...viaJs.data], "the stand-in runs the js kernels");
  assert.equal(blocking.shape.join(), viaGpu.shape.join());
  const x64 = randn([50, 2], { seed: 1, dtype: "float64" }), y64 = randn([40, 2], { seed: 2, dtype: "float64" });
  await Vi(x64).sub(Vj(y64)).sqnorm2().sum({ axis: 1, async: true });
  assert.deepEqual(runs, ["float32"], "float64 is outside its caps: auto falls back");
  assert.throws(() => K.sum({ axis: 1, backend: "webgpu" }), (e: Error) => e instanceof KeOpsError && /runs only with async: true/.test(e.message));
  await assert.rejects(Vi(x64).sub(Vj(y64)).sqnorm2().sum({ axis: 1, backend: "webgpu", async: true }), (e: Error) => e instanceof KeOpsError && /float32 only, not float64/.test(e.message));
  const info = backendInfo();
  const pick = (mode: string, dtype: string) => info.calls.find((c) => c.mode === mode && c.dtype === dtype)!;
  assert.equal(pick("async", "float32").backend, "webgpu");
  assert.notEqual(pick("blocking", "float32").backend, "webgpu");
  assert.match(pick("blocking", "float32").reason, /not webgpu: the webgpu backend runs only with async: true/);
  assert.match(pick("async", "float64").reason, /not webgpu: the webgpu backend computes in float32 only, not float64/);
});
