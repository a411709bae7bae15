/**
 * The kernel caches are bounded (src/compile/lru.ts): least-recently-used eviction, and results
 * stay right when plans, compiled kernels and the kernels held by worker threads are evicted and
 * come back — on every backend, blocking and async, above the parallel thresholds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, type Tensor } from "../src/index.js";
import { LruCache, cacheLimits } from "../src/compile/lru.js";
import { PARALLEL_PAIRS } from "../src/backends/wasm/index.js";
import { assertClose, testBackends, withSeed } from "./util.js";

test("LruCache: get refreshes, set evicts the least recently used beyond the limit", () => {
  const saved = cacheLimits.kernels;
  cacheLimits.kernels = 3;
  try {
    const c = new LruCache<string, number>();
    for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) c.set(k, v);
    assert.equal(c.get("a"), 1); // a is now the most recent: b goes first
    c.set("d", 4);
    assert.equal(c.get("b"), undefined);
    assert.deepEqual([c.get("a"), c.get("c"), c.get("d"), c.size], [1, 3, 4, 3]);
    c.set("c", 30); // overwriting refreshes, evicts nothing
    assert.deepEqual([c.size, c.get("c")], [3, 30]);
    cacheLimits.kernels = 1;
    c.set("e", 5);
    assert.deepEqual([c.size, c.get("e"), c.get("d")], [1, 5, undefined]);
  } finally {
    cacheLimits.kernels = saved;
  }
});

test("with room for 2 kernels, 5 formulas in turn (twice) stay right on every backend, blocking and async", () =>
  withSeed(async (d) => {
    const saved = cacheLimits.kernels;
    cacheLimits.kernels = 2;
    try {
      const n = Math.ceil(Math.sqrt(PARALLEL_PAIRS)) + 5;
      const x = d.randn([n, 3], "float32", 0.5), y = d.randn([n, 3], "float32", 0.5), b = d.randn([n, 1]);
      const d2 = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += (x.data[i * 3 + k]! - y.data[j * 3 + k]!) ** 2;
          d2[i * n + j] = s;
        }
      const want = (c: number, abs: boolean): Float64Array => {
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i]! += Math.exp(-c * d2[i * n + j]!) * (abs ? Math.abs(b.data[j]!) : b.data[j]!);
        return out;
      };
      const wants = [1, 2, 3, 4, 5].map((c) => want(c, false));
      // per element: float32 rounding relative to the terms (the signed sums cancel)
      const atols = [1, 2, 3, 4, 5].map((c) => want(c, true).map((m) => 1e-5 * m));
      for (const backend of testBackends())
        for (const round of [0, 1])
          for (const c of [1, 2, 3, 4, 5]) {
            // the integer c is an IntCst: part of the formula, so a new kernel each
            const K = Vi(x).sub(Vj(y)).sqnorm2().mul(c).neg().exp().mul(Vj(b));
            const what = `${backend} c=${c} round ${round}`;
            assertClose((K.sum({ axis: 1, backend: backend as never }) as Tensor).data, wants[c - 1]!, { rtol: 1e-5, atol: atols[c - 1]!, what: `${what} blocking` });
            assertClose((await K.sum({ axis: 1, backend: backend as never, async: true })).data, wants[c - 1]!, { rtol: 1e-5, atol: atols[c - 1]!, what: `${what} async` });
          }
    } finally {
      cacheLimits.kernels = saved;
    }
  }));
