/**
 * Soak, at a size the suite can afford (the full 20 000-call figures: bench/soak.ts, in
 * bench/RESULTS.md): calls that each reduce a formula never seen before (a fresh integer constant,
 * so a new plan and kernel each) on every backend, with the bounds of the kernel caches lowered so
 * that the run crosses them many times: resident memory levels off, the native backend keeps at
 * most its bound of libraries loaded (counted by koffi and in /proc/self/maps), evicted ones are
 * unloaded, and results stay right.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { Vi, Vj, randn, type Tensor } from "../src/index.js";
import { cacheLimits } from "../src/compile/lru.js";
import { nativeLimits, nativeStats } from "../src/backends/native/index.js";
import { testBackends } from "./util.js";

const x = randn([20, 3], { seed: 1, dtype: "float64" }), y = randn([30, 3], { seed: 2, dtype: "float64" }), b = randn([30, 1], { seed: 3, dtype: "float64" });
/** Σ_j b_j / (|x_i − y_j|² + c), densely. */
function want(c: number): number {
  let s = 0;
  for (let j = 0; j < 30; j++) {
    let q = 0;
    for (let k = 0; k < 3; k++) q += (x.data[k]! - y.data[j * 3 + k]!) ** 2;
    s += b.data[j]! / (q + c);
  }
  return s;
}

/** Kernel libraries of the native cache mapped into this process. */
function mapped(): number {
  try {
    return new Set(fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => /native-v1\/[0-9a-f]{40}\.(so|dylib)/.test(l)).map((l) => l.slice(l.indexOf("/")))).size;
  } catch {
    return 0;
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
const rss = (): number => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

for (const backend of testBackends())
  test(`[${backend}] calls with never-seen formulas keep memory and loaded kernels bounded`, () => {
    const saved = [cacheLimits.kernels, nativeLimits.loaded];
    cacheLimits.kernels = 8;
    nativeLimits.loaded = 4;
    const base = (Date.now() % 100_000) * 1000 + (process.pid % 1000);
    try {
      // native: a C++ compile per formula, so fewer calls (still 3× the bound of loaded libraries)
      const calls = backend === "native" ? 12 : 1500;
      const samples: number[] = [];
      for (let k = 1; k <= calls; k++) {
        const c = base + k;
        const r = Vi(x).sub(Vj(y)).sqnorm2().add(c).inv().mul(Vj(b)).sum({ axis: 1, backend: backend as never }) as Tensor;
        if (k % Math.ceil(calls / 6) === 0 || k === calls) {
          assert.ok(Math.abs(r.data[0]! - want(c)) <= 1e-12 * Math.abs(want(c)), `call ${k}: ${r.data[0]} vs ${want(c)}`);
          samples.push(rss());
        }
        if (backend === "native") {
          assert.ok(nativeStats.loaded() <= 4, `${nativeStats.loaded()} libraries loaded`);
          assert.ok(mapped() <= 4, `${mapped()} kernel libraries mapped`);
        }
      }
      if (backend === "native") assert.ok(nativeStats.unloads >= calls - 4 - 1, `${nativeStats.unloads} unloads`);
      else {
        // memory levels off: the second half of the run grows by less than 64 MiB
        const mid = samples[Math.floor(samples.length / 2)]!, end = samples[samples.length - 1]!;
        assert.ok(end - mid < 64, `resident memory ${samples.map((s) => s.toFixed(0)).join(" → ")} MiB`);
      }
    } finally {
      [cacheLimits.kernels, nativeLimits.loaded] = saved as [number, number];
    }
  });
