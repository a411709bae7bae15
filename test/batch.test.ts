/**
 * Batch dimensions: `(B1,…,M,1,D)` variables whose batch dims of size 1 broadcast against the
 * other operands' (several successive singleton dims included), batched parameters (every batch
 * computed — pykeops computes only the first, its issue 366), ArgMin with broadcast batch dims
 * (exact indices — pykeops gets them wrong, its issue 382), math ops under batches; against the
 * float64 reference on every backend, float32 and float64, both axes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, zeros, type Tensor } from "../src/index.js";
import type { FloatDType } from "../src/tensor.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, callOn, testTargets, withSeed, type Data, type Target } from "./util.js";

type L = LazyTensor<boolean>;
type Fn = (...a: Tensor[]) => Tensor;

/** Runs a reduction (call: false) and compares with the reference. */
async function check(F: L, red: "sum" | "argmin" | "min" | "argmax", axis: number, t: Target, what: string, rtol: number): Promise<void> {
  const opts = { axis, backend: t.backend as never, call: false as const };
  const fn = (red === "sum" ? F.sum(opts) : red === "argmin" ? F.argmin(opts) : red === "argmax" ? F.argmax(opts) : F.min(opts)) as unknown as Fn;
  const out = await callOn<Tensor>(t, fn);
  const ref = reference(fn as never);
  assert.deepEqual([...out.shape], ref.shape, `${what}: shape`);
  if (ref.indices) assertExact(out.data, ref.indices, `${what}: indices`);
  else assertClose(out.data, ref.values!, { rtol, what });
}

const lt = (d: Data, shape: number[], dtype: FloatDType, ints = false): L =>
  new LazyTensor(ints ? d.randint(shape, -3, 3, dtype) : d.randn(shape, dtype));

for (const t of await testTargets())
  for (const dtype of t.dtypes) {
    const backend = t.backend;
    const rtol = dtype === "float32" ? 2e-5 : 1e-11;
    const opt = { backend: backend as never, ...(t.async ? { async: true as const } : {}) };

    test(`[${backend}] ${dtype}: several successive singleton batch dims broadcast (sum, both axes, ragged sizes)`, () =>
      withSeed(async (d) => {
        for (const [M, N] of [[5, 7], [1, 3]] as const) {
          const x = lt(d, [1, 1, 4, M, 1, 3], dtype);
          const y = lt(d, [2, 3, 1, 1, N, 3], dtype);
          const p = lt(d, [2, 1, 4, 1, 1, 3], dtype);
          const F = x.sub(y).mul(p).sqnorm2().neg().exp();
          assert.deepEqual(F.shape, [2, 3, 4, M, N]);
          for (const axis of [3, 4]) await check(F, "sum", axis, t, `exp(-|(x-y)p|²) M=${M} N=${N} axis=${axis}`, rtol);
          const V = x.sub(y).abs().mul(p); // vector-valued, dim 3
          for (const axis of [3, 4]) await check(V, "sum", axis, t, `|x-y|*p axis=${axis}`, rtol);
        }
      }));

    test(`[${backend}] ${dtype}: argmin/argmax with broadcast batch dims: exact indices (pykeops issue 382)`, () =>
      withSeed(async (d) => {
        const x = lt(d, [1, 3, 1, 6, 1, 2], dtype, true);
        const y = lt(d, [2, 1, 1, 1, 9, 2], dtype, true);
        const w = lt(d, [1, 1, 2, 1, 1, 1], dtype, true);
        const F = x.sub(y).square().sum().add(w.mul(y.elem(0))); // small integers: exact in float32, with ties
        for (const axis of [3, 4]) {
          await check(F, "argmin", axis, t, `argmin axis=${axis}`, 0);
          await check(F, "argmax", axis, t, `argmax axis=${axis}`, 0);
          await check(F, "min", axis, t, `min axis=${axis}`, 0);
        }
      }));

    test(`[${backend}] ${dtype}: batched parameters compute every batch (pykeops issue 366)`, () =>
      withSeed(async (d) => {
        // unbatched variables, a parameter with batch dims (3, 2): 6 distinct results
        const x = lt(d, [4, 1, 3], dtype);
        const y = lt(d, [1, 5, 3], dtype);
        const p = lt(d, [3, 2, 1, 1, 3], dtype);
        const F = x.sub(y).weightedsqnorm(p.abs()).neg().exp();
        assert.equal(F.nbatchdims, 2);
        for (const axis of [2, 3]) await check(F, "sum", axis, t, `weighted gaussian, batched weights, axis=${axis}`, rtol);
        const out = (await F.sum({ axis: 3, ...opt })) as Tensor;
        // the batches differ from each other (a result computed for the first batch only would repeat)
        const per = out.data.length / 6;
        const first = Array.from(out.data.subarray(0, per));
        for (let b = 1; b < 6; b++) assert.notDeepEqual(Array.from(out.data.subarray(b * per, (b + 1) * per)), first, `batch ${b} equals batch 0`);
      }));

    test(`[${backend}] ${dtype}: math ops under batch dims`, () =>
      withSeed(async (d) => {
        const x = lt(d, [2, 1, 5, 1, 3], dtype);
        const y = lt(d, [1, 3, 1, 6, 3], dtype);
        const s = lt(d, [2, 3, 1, 1, 9], dtype);
        const F = LazyTensor.concatenate([
          x.sub(y).weightedsqnorm(s), x.clamp(y, y.abs().add(1)), x.atan2(y), x.sub(y).normalize(),
          x.tensorprod(y.elem(0)), s.matvecmult(y), x.min(), x.argmax(), x.ifelse(y, 0.5).sinxdivx(),
        ]);
        for (const axis of [2, 3]) await check(F, "sum", axis, t, `math ops, axis=${axis}`, rtol);
      }));
  }

test("incompatible batch dims are a KeOpsError naming the op", () => {
  const a = new LazyTensor(zeros([2, 4, 1, 3])), b = new LazyTensor(zeros([3, 1, 5, 3]));
  assert.throws(() => a.atan2(b), (e: unknown) => e instanceof KeOpsError && /Atan2: expected batch dimensions that broadcast/.test(e.message));
  assert.throws(() => a.sqdist(b), (e: unknown) => e instanceof KeOpsError && /SqDist: expected batch dimensions that broadcast/.test(e.message));
});
