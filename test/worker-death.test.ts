/**
 * A worker thread that dies in the middle of a chunk (the pools' test hook `poolLimits.dieNext`
 * makes the next worker sent a task stop dead holding its first chunk, as a thread killed there
 * would): a blocking call notices the stalled chunk and computes it on the calling thread (correct
 * result, no hang); an async call rejects with a KeOpsError once the host reports the exit; the
 * dead worker is replaced and later calls use every thread again. JS and wasm pools.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, Vi, Vj, setThreads, type Tensor } from "../src/index.js";
import { poolLimits, poolStats } from "../src/backends/workers.js";
import { PARALLEL_PAIRS } from "../src/backends/wasm/index.js";
import { assertClose, withSeed } from "./util.js";

for (const backend of ["js", "wasm"] as const)
  test(`[${backend}] a worker dying mid-chunk: blocking calls finish its rows here, async calls reject with a KeOpsError, the pool recovers`, () =>
    withSeed(async (d) => {
      setThreads(2);
      const stall = poolLimits.stallMs;
      poolLimits.stallMs = 300;
      try {
        const n = Math.ceil(Math.sqrt(PARALLEL_PAIRS)) + 17;
        const x = d.randn([n, 3]), y = d.randn([n, 3]), b = d.randn([n, 1]);
        const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().mul(Vj(2, 1)).sum({ axis: 1, backend, call: false });
        const want = new Float64Array(n); // the dense float64 Gaussian convolution
        const mag = new Float64Array(n); // Σ_j |term_ij|: what a float32 sum's rounding scales with
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let q = 0;
            for (let k = 0; k < 3; k++) q += (x.data[i * 3 + k]! - y.data[j * 3 + k]!) ** 2;
            want[i]! += Math.exp(-q) * b.data[j]!;
            mag[i]! += Math.exp(-q) * Math.abs(b.data[j]!);
          }
        // float32 sums of ~1400 terms of size ≤ 3 that cancel; a missed chunk is off by O(1)
        const tol = { rtol: 1e-4, atol: Array.from(mag, (m) => 1e-5 + 1e-5 * m) };
        const run = (): Tensor => (f as unknown as (...a: Tensor[]) => Tensor)(x, y, b);
        run(); // workers started and warm

        const over = poolStats.takenOver;
        poolLimits.dieNext = true;
        const t0 = Date.now();
        assertClose(run().data, want, { ...tol, what: "blocking, a worker died" });
        assert.equal(poolStats.takenOver, over + 1, "the dead worker's chunk was computed by the calling thread");
        assert.ok(Date.now() - t0 < 20000);

        const started = poolStats.started();
        assertClose(run().data, want, { ...tol, what: "blocking, next call" });
        // the dead worker was replaced: a new one starts (once this thread yields)
        for (let t = Date.now(); poolStats.started() === started && Date.now() - t < 20000; ) await new Promise((r) => setTimeout(r, 10));
        assert.ok(poolStats.started() > started, "a new worker started");

        poolLimits.dieNext = true;
        await assert.rejects((f as unknown as { callAsync(...a: Tensor[]): Promise<Tensor> }).callAsync(x, y, b), (e: unknown) => {
          assert.ok(e instanceof KeOpsError, String(e));
          assert.match(e.message, /worker stopped during the run \(it exited with code 1\)/);
          return true;
        });
        assertClose((await (f as unknown as { callAsync(...a: Tensor[]): Promise<Tensor> }).callAsync(x, y, b)).data, want, { ...tol, what: "async, next call" });
        assertClose(run().data, want, { ...tol, what: "blocking, after" });
      } finally {
        poolLimits.stallMs = stall;
        poolLimits.dieNext = false;
        setThreads(undefined);
      }
    }));
