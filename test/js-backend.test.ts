/** The JS backend's own pieces: the inline exp, the worker pool (sync and async), batches across workers. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { JS_PRELUDE } from "../src/backends/js/fastmath.js";
import { runPooledAsync } from "../src/backends/js/pool.js";
import { LazyTensor, Vi, Vj, type Tensor } from "../src/index.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, withSeed, withThreads } from "./util.js";

test("the inline exp of float32 kernels: relative error < 1e-8 over the whole float32 range, exact specials", () => {
  const fexp = new Function(`${JS_PRELUDE}\nreturn fexp;`)() as (x: number) => number;
  let worst = 0;
  for (let k = 0; k <= 400_000; k++) {
    const x = -103.9 + (88.7 + 103.9) * (k / 400_000);
    const e = Math.exp(x);
    if (e < 1.2e-38) continue; // below float32's normal range
    worst = Math.max(worst, Math.abs(fexp(x) - e) / e);
  }
  assert.ok(worst < 1e-8, `worst relative error ${worst}`);
  assert.ok(Number.isNaN(fexp(NaN)));
  assert.equal(fexp(-Infinity), 0);
  assert.equal(fexp(Infinity), Infinity);
  assert.equal(fexp(0), 1);
  assert.equal(fexp(-1e5), 0);
  assert.equal(fexp(1e5), Infinity);
});

test("worker threads (sync and async) give the single-thread results, with batches", () =>
  withSeed(async (d) => {
    const B = 3, M = 401, N = 503; // B·M·N·cost is above the pool threshold
    const x = d.randn([B, M, 1, 3], "float32"), y = d.randn([1, 1, N, 3], "float32"), b = d.randn([B, 1, N, 2], "float32");
    const f = new LazyTensor(x).sub(new LazyTensor(y)).sqnorm2().neg().exp().mul(new LazyTensor(b));
    const one = withThreads("1", () => f.sum({ axis: 2, backend: "js" }) as Tensor);
    const two = withThreads("2", () => f.sum({ axis: 2, backend: "js" }) as Tensor);
    const three = withThreads("3", () => f.sum({ axis: 2, backend: "js" }) as Tensor);
    const asy = await withThreads("2", () => f.sum({ axis: 2, backend: "js", async: true }));
    assert.deepEqual([...one.shape], [B, M, 2]);
    assert.deepEqual([...two.data], [...one.data]);
    assert.deepEqual([...three.data], [...one.data]);
    assert.deepEqual([...asy.data], [...one.data]);
    const ks = withThreads("2", () => Vi(x.reshape([B * M, 3])).sub(Vj(y.reshape([N, 3]))).sqnorm2().argKmin({ K: 3, axis: 1, backend: "js" }) as Tensor);
    const fn = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().argKmin({ K: 3, axis: 1, backend: "js" });
    const ref = reference(fn as never, x.reshape([B * M, 3]), y.reshape([N, 3]));
    assertExact(ks.data, ref.indices!);
    const small = reference(f.sum({ axis: 2, call: false }) as never);
    assertClose(one.data, small.values!, { rtol: 1e-5 });
  }));

test("a kernel failing on a worker thread surfaces as a KeOpsError with the worker's message", async () => {
  const job = { inputs: [new Float32Array(4)], outputs: [new Float32Array(4)], nOuter: 4, nInner: 1, nBatch: 1, inOffsets: new Float64Array(1), outOffsets: new Float64Array(1) };
  await assert.rejects(runPooledAsync(job, "failing-kernel", "return function () { throw new Error('boom in worker'); };", 2), /a JS worker thread failed: Error: boom in worker/);
});
