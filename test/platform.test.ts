/**
 * The host interface and the worker pools' robustness, on a fake host whose workers never start
 * (what a browser does when a Content-Security-Policy forbids Blob workers): a blocking call
 * still completes (the calling thread takes every row), an async call rejects with a KeOpsError
 * once the host reports the failure, and later calls run on the calling thread and say why.
 * Also setThreads. (Each test file runs in its own process, so the fake host stays here.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, Vi, Vj, backendInfo, setThreads, type Tensor } from "../src/index.js";
import { setPlatform, type Platform } from "../src/platform/index.js";
import { nodePlatform } from "../src/platform/node.js";
import { poolStats } from "../src/backends/workers.js";
import { PARALLEL_PAIRS } from "../src/backends/wasm/index.js";
import { assertClose, withSeed, type Data } from "./util.js";

/** A host whose workers never run; `fail` makes them report a start failure. */
function deadHost(): Platform & { fail(message: string): void; spawned: number } {
  const errors: ((m: string) => void)[] = [];
  return {
    ...nodePlatform,
    name: "dead",
    cores: () => 2,
    envThreads: () => undefined,
    spawned: 0,
    spawn(_body, onError) {
      this.spawned++;
      errors.push(onError);
      return { postMessage: () => {} };
    },
    fail(message: string) {
      for (const e of errors) e(message);
    },
  };
}

/** A Gaussian convolution above the parallel thresholds of both backends, and its dense float64 value. */
function problem(d: Data): { x: Tensor; y: Tensor; b: Tensor; want: Float64Array; atol: Float64Array } {
  const n = Math.ceil(Math.sqrt(PARALLEL_PAIRS)) + 17;
  const x = d.randn([n, 3]), y = d.randn([n, 3]), b = d.randn([n, 1]);
  const want = new Float64Array(n), atol = new Float64Array(n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += (x.data[i * 3 + k]! - y.data[j * 3 + k]!) ** 2;
      want[i]! += Math.exp(-s) * b.data[j]!;
      atol[i]! += 1e-5 * Math.exp(-s) * Math.abs(b.data[j]!); // float32 rounding relative to the terms (they cancel)
    }
  return { x, y, b, want, atol };
}

type P = { x: Tensor; y: Tensor; b: Tensor };
const kernel = (p: P) => Vi(p.x).sub(Vj(p.y)).sqnorm2().neg().exp().mul(Vj(p.b));
const conv = (p: P, backend: "wasm" | "js"): Tensor => kernel(p).sum({ axis: 1, backend });
const convAsync = (p: P, backend: "wasm" | "js"): Promise<Tensor> => kernel(p).sum({ axis: 1, backend, async: true });

test("workers that never start: blocking calls complete on the calling thread; async calls reject once the host reports it; then one thread", () =>
  withSeed(async (d) => {
    const host = deadHost();
    setPlatform(host);
    try {
      const p = problem(d);
      for (const backend of ["wasm", "js"] as const) {
        const before = poolStats.workerRows;
        assertClose(conv(p, backend).data, p.want, { rtol: 1e-5, atol: p.atol, what: `${backend} blocking` });
        assert.equal(poolStats.workerRows, before, "no worker took a row");
      }
      assert.ok(host.spawned >= 2, "the pools did try to start workers");
      assert.equal(backendInfo().threads.async, null);
      // an async call waits for workers that do not start … until the host says they failed
      const pending = convAsync(p, "wasm");
      setTimeout(() => host.fail("Blob workers refused (test)"), 50);
      await assert.rejects(pending, (e: unknown) => e instanceof KeOpsError && /failed to start.*Blob workers refused/.test(e.message));
      // from now on every call runs on the calling thread, and backendInfo says why
      assert.match(backendInfo().threads.sync ?? "", /failed to start: Blob workers refused/);
      assert.match(backendInfo().threads.async ?? "", /failed to start/);
      for (const backend of ["wasm", "js"] as const)
        assertClose((await convAsync(p, backend)).data, p.want, { rtol: 1e-5, atol: p.atol, what: `${backend} async after the failure` });
    } finally {
      setPlatform(nodePlatform);
    }
  }));

test("setThreads overrides KEOPS_TS_THREADS and the core count; bad values are KeOpsErrors", () => {
  const cores = backendInfo().threads.count;
  setThreads(3);
  assert.equal(backendInfo().threads.count, 3);
  setThreads(undefined);
  assert.equal(backendInfo().threads.count, cores);
  for (const bad of [0, -1, 1.5, NaN, "2" as unknown as number])
    assert.throws(() => setThreads(bad), (e: unknown) => e instanceof KeOpsError && /^n: expected a positive integer or undefined/.test(e.message));
});
