/**
 * Block-sparse reductions (`ranges`): every reduction on both axes and every backend against the
 * float64 dense reduction masked the same way; KeOps's own accuracy test (4σ cutoff on clustered
 * data); the cluster utilities against pykeops's documented examples; bad ranges.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  KeOpsError, LazyTensor, Tensor, Vi, Vj, clusterRanges, clusterRangesCentroids, fromMatrix, genred, gridCluster, sortClusters,
  swapAxes, tensor, kernelSolve, type KeOpsFunction,
} from "../src/index.js";
import { referenceMasked } from "./reference.js";
import { Data, assertClose, assertExact, testBackends, withSeed } from "./util.js";

const BACKENDS = testBackends();

/** Random clusters of [0, n) (some empty), as (C, 2) ranges and each row's cluster. */
function randomClusters(d: Data, n: number, C: number): { ranges: Tensor; of: Int32Array } {
  const cuts = Array.from({ length: C - 1 }, () => Math.floor(d.rng.uniform() * (n + 1))).sort((a, b) => a - b);
  const bounds = [0, ...cuts, n];
  const r = new Int32Array(2 * C), of = new Int32Array(n);
  for (let c = 0; c < C; c++) {
    r[2 * c] = bounds[c]!;
    r[2 * c + 1] = bounds[c + 1]!;
    for (let i = bounds[c]!; i < bounds[c + 1]!; i++) of[i] = c;
  }
  return { ranges: new Tensor(r, [C, 2]), of };
}

/** A random block-sparsity pattern on M × N with one cluster of i and one of j that keep nothing. */
function pattern(d: Data, M: number, N: number) {
  const ci = randomClusters(d, M, 6), cj = randomClusters(d, N, 5);
  const keep = Array.from({ length: 6 }, (_, a) => Array.from({ length: 5 }, (_, b) => a !== 2 && b !== 3 && d.rng.uniform() < 0.5));
  const ranges = fromMatrix(ci.ranges, cj.ranges, keep);
  return { ranges, keep: (i: number, j: number) => keep[ci.of[i]!]![cj.of[j]!]! };
}

interface Case {
  readonly name: string;
  readonly f: (axis: 0 | 1, K: number) => KeOpsFunction<unknown>;
}

const x = Vi(0, 3), y = Vj(1, 3), b = Vj(2, 2), a = Vi(3, 2);
// every case reads the four variables, so that the arguments are the same four tensors
const D = x.sub(y).sqnorm2().add(a.elem(0).mul(b.elem(1)));
const CASES: Case[] = [
  { name: "Sum", f: (axis) => D.neg().exp().mul(b.add(a)).sum({ axis }) as KeOpsFunction<unknown> },
  { name: "LogSumExp", f: (axis) => D.neg().logsumexp({ axis }) as KeOpsFunction<unknown> },
  { name: "MinArgMin", f: (axis) => D.minArgmin({ axis }) as KeOpsFunction<unknown> },
  { name: "MaxArgMax", f: (axis) => D.mul(b.add(a)).maxArgmax({ axis }) as KeOpsFunction<unknown> },
  { name: "KMinArgKMin", f: (axis, K) => D.KminArgKmin({ K, axis }) as KeOpsFunction<unknown> },
  { name: "SumSoftMaxWeight", f: (axis) => D.neg().sumsoftmaxweight(b.add(a), { axis }) as KeOpsFunction<unknown> },
];

function check(got: unknown, ref: ReturnType<typeof referenceMasked>, what: string): void {
  const [v, i] = Array.isArray(got) ? (got as [Tensor, Tensor]) : got instanceof Tensor && got.dtype === "int32" ? [undefined, got] : [got as Tensor, undefined];
  if (ref.values) assertClose(v!.data, ref.values, { rtol: 1e-12, what: `${what} values` });
  if (ref.indices) assertExact(i!.data, ref.indices, `${what} indices`);
}

for (const backend of BACKENDS)
  test(`ranges: every reduction, both axes, against the masked float64 reduction (${backend})`, () =>
    withSeed((d) => {
      for (const [M, N] of [[70, 90], [1, 9], [0, 5], [300, 257]] as const) {
        const { ranges, keep } = pattern(d, M, N);
        const args = [d.randn([M, 3], "float64"), d.randn([N, 3], "float64"), d.randn([N, 2], "float64"), d.randn([M, 2], "float64")];
        for (const c of CASES)
          for (const axis of [0, 1] as const) {
            const K = Math.min(3, axis === 1 ? N : M);
            if (K === 0 && c.name.includes("KMin")) continue; // K ≥ 1 needs a non-empty reduced axis
            const f = c.f(axis, K);
            const ref = referenceMasked(f, keep, ...args);
            check(f(...args, { ranges, backend: backend as never }), ref, `${c.name} axis ${axis} M=${M} N=${N}`);
          }
      }
    }));

test("ranges: the option of a LazyTensor reduction, genred, solve; every kept pair = the dense result exactly", () =>
  withSeed((d) => {
    const M = 120, N = 80;
    const xs = d.randn([M, 3]), ys = d.randn([N, 3]), bs = d.randn([N, 2]);
    const { ranges, keep } = pattern(d, M, N);
    const K = Vi(xs).sub(Vj(ys)).sqnorm2().neg().exp();
    const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().mul(Vj(2, 2)).sum({ axis: 1 });
    const ref = referenceMasked(f, keep, xs, ys, bs).values!;
    const lazy = K.mul(Vj(bs)).sum({ axis: 1, ranges }) as Tensor;
    assertClose(lazy.data, ref, { rtol: 1e-5, what: "LazyTensor sum with ranges" });
    const g = genred("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], { axis: 1 });
    assertClose(g(xs, ys, bs, { ranges }).data, ref, { rtol: 1e-5, what: "genred with ranges at the call" });
    // one cluster each, everything kept: the very same kernel run as the dense one, bit for bit
    const all = fromMatrix([[0, M]], [[0, N]], [[true]]);
    for (const backend of BACKENDS) {
      const dense = K.mul(Vj(bs)).sum({ axis: 1, backend: backend as never }) as Tensor;
      const sparse = K.mul(Vj(bs)).sum({ axis: 1, backend: backend as never, ranges: all }) as Tensor;
      assert.deepEqual(sparse.data, dense.data, backend);
      const [dv, di] = K.KminArgKmin({ K: 4, axis: 0, backend: backend as never }) as [Tensor, Tensor];
      const [sv, si] = K.KminArgKmin({ K: 4, axis: 0, backend: backend as never, ranges: all }) as [Tensor, Tensor];
      assert.deepEqual([sv.data, si.data], [dv.data, di.data], backend);
    }
  }));

test("ranges: K.ranges = … as in pykeops: used by K @ b, carried by operations, swapped by t(), cleared by null", () =>
  withSeed((d) => {
    const M = 50, N = 40;
    const xs = d.randn([M, 2], "float64"), ys = d.randn([N, 2], "float64"), bs = d.randn([N, 1], "float64"), cs = d.randn([M, 1], "float64");
    const { ranges } = pattern(d, M, N);
    const K = Vi(xs).sub(Vj(ys)).sqnorm2().neg().exp();
    const dense = K.matmul(bs) as Tensor;
    const withOption = K.mul(Vj(bs)).sum({ axis: 1, ranges }) as Tensor;
    assert.notDeepEqual(withOption.data, dense.data);
    K.ranges = ranges;
    assert.equal(K.ranges, ranges);
    assert.deepEqual((K.matmul(bs) as Tensor).data, withOption.data);
    assert.deepEqual((K.t().matmul(cs) as Tensor).data, (K.mul(Vi(cs)).sum({ axis: 0, ranges }) as Tensor).data);
    const L = Vi(xs).sub(Vj(ys)).sqnorm2();
    L.ranges = swapAxes(ranges);
    assert.throws(() => K.add(L), /operands with different ranges/);
    K.ranges = null;
    assert.deepEqual((K.matmul(bs) as Tensor).data, dense.data);
  }));

test("ranges: solve with a block-diagonal kernel solves each block on its own", () =>
  withSeed((d) => {
    const M = 60;
    const xs = d.randn([M, 2], "float64"), bs = d.randn([M, 1], "float64");
    const r = [[0, 25], [25, 60]];
    const ranges = fromMatrix(r, r, [[true, false], [false, true]]);
    const K = Vi(xs).sub(Vj(xs)).sqnorm2().neg().exp();
    const sol = K.solve(bs, { alpha: 0.5, ranges, eps: 1e-12 }) as Tensor;
    const ks = kernelSolve("Exp(-SqDist(x,y)) * a", ["x = Vi(2)", "y = Vj(2)", "a = Vj(1)"], "a", { alpha: 0.5, eps: 1e-12, ranges });
    assertClose(ks(xs, xs, bs).data, sol.data, { rtol: 1e-8, what: "kernelSolve with ranges" });
    assert.throws(() => K.solve(bs, { alpha: 0.5, ranges, precond: "nystrom" }), /precond: expected "none" with ranges/);
    for (const [s, e] of r) {
      const sub = (t: Tensor) => new Tensor(t.data.slice(s * t.shape[1]!, e * t.shape[1]!), [e - s, t.shape[1]!]);
      const Kb = Vi(sub(xs)).sub(Vj(sub(xs))).sqnorm2().neg().exp();
      const part = Kb.solve(sub(bs), { alpha: 0.5, eps: 1e-12 }) as Tensor;
      assertClose(sol.data.slice(s, e), part.data, { rtol: 1e-8, what: `block [${s}, ${e})` });
    }
  }));

/**
 * KeOps's tolerance is a statistical claim: on fresh random data the truncation error at this
 * cutoff (centroid distance < 4σ with cells of side σ) exceeds 0.2 % in about 3 runs of 10 (seen
 * here; the block-sparse sums themselves are exact, as the masked tests above show). So the test
 * runs KeOps's bound on one fixed data seed, and a looser bound (1 %) on a fresh one.
 */
for (const [seed, bound] of [[4, 0.002], [undefined, 0.01]] as const)
test(`ranges: KeOps's test (test_block_sparse_reduction.py): 4σ cutoff on clustered data, relative L1 error < ${bound * 100} % (${seed === undefined ? "fresh" : "fixed"} data, every backend)`, () =>
  withSeed((d) => {
    // as pykeops/test/test_block_sparse_reduction.py on CPU: M = N = 500, a noisy circle and a Gaussian blob
    const M = 500, N = 500, sigma = 0.05, eps = 0.05;
    const xd = new Float32Array(2 * M);
    for (let k = 0; k < M; k++) {
      const t = (2 * Math.PI * k) / M;
      xd[2 * k] = 0.4 + 0.4 * Math.cos(t) + 0.01 * d.rng.normal();
      xd[2 * k + 1] = 0.5 + 0.3 * Math.sin(t) + 0.01 * d.rng.normal();
    }
    const yd = d.randn([N, 2]).data.map((v) => v / 10 + 0.6) as Float32Array;
    const x0 = new Tensor(xd, [M, 2]), y0 = new Tensor(yd, [N, 2]);
    const xl = gridCluster(x0, eps), yl = gridCluster(y0, eps);
    const [xr, xc] = clusterRangesCentroids(x0, xl);
    const [yr, yc] = clusterRangesCentroids(y0, yl);
    const [xs] = sortClusters(x0, xl), [ys] = sortClusters(y0, yl);
    const Ci = xc.shape[0]!, Cj = yc.shape[0]!;
    const keep = Array.from({ length: Ci }, (_, p) => Array.from({ length: Cj }, (_, q) => {
      const dx = xc.data[2 * p]! - yc.data[2 * q]!, dy = xc.data[2 * p + 1]! - yc.data[2 * q + 1]!;
      return dx * dx + dy * dy < (4 * sigma) ** 2;
    }));
    const ranges = fromMatrix(xr, yr, keep);
    let kept = 0;
    keep.forEach((row, p) => row.forEach((k, q) => { if (k) kept += (xr.data[2 * p + 1]! - xr.data[2 * p]!) * (yr.data[2 * q + 1]! - yr.data[2 * q]!); }));
    assert.ok(kept < 0.9 * M * N, `the pattern keeps ${kept} of ${M * N} pairs: not sparse`);
    const bs = d.randn([N, 1]);
    const K = Vi(xs).div(sigma).sub(Vj(ys).div(sigma)).sqnorm2().div(-2).exp();
    for (const backend of BACKENDS) {
      K.ranges = null;
      const full = K.mul(Vj(bs)).sum({ axis: 1, backend: backend as never }) as Tensor;
      K.ranges = ranges;
      const sparse = K.mul(Vj(bs)).sum({ axis: 1, backend: backend as never }) as Tensor;
      let err = 0, tot = 0;
      for (let i = 0; i < M; i++) (err += Math.abs(sparse.data[i]! - full.data[i]!), tot += Math.abs(full.data[i]!));
      assert.ok(err / tot < bound, `${backend}: relative L1 error ${(100 * err / tot).toFixed(4)} % ≥ ${bound * 100} %`);
      assert.ok(err > 0, `${backend}: the block-sparse result equals the dense one: nothing was left out`);
    }
  }, seed));

test("ranges: rows in no block reduce over nothing; async runs; gradients follow the ranges", async () =>
  withSeed(async (d) => {
    const M = 30, N = 20;
    const xs = d.randn([M, 1], "float64"), ys = d.randn([N, 1], "float64");
    // blocks of i: [0, 10) and [20, 30) (rows 10…19 in no block), reducing over j in [5, 15)
    const ranges = [tensor([[0, 10], [20, 30]], { dtype: "int32" }), tensor([1, 2], { dtype: "int32" }), tensor([[5, 15], [0, 0]], { dtype: "int32" }),
      tensor([[0, 20]], { dtype: "int32" }), tensor([1], { dtype: "int32" }), tensor([[0, 30]], { dtype: "int32" })] as const;
    const Dij = Vi(xs).sub(Vj(ys)).square();
    for (const backend of BACKENDS) {
      const [v, i] = Dij.minArgmin({ axis: 1, ranges, backend: backend as never }) as [Tensor, Tensor];
      const vAsync = await (Dij.sum({ axis: 1, ranges, backend: backend as never, async: true }) as unknown as Promise<Tensor>);
      for (let r = 0; r < M; r++) {
        const inBlock = r < 10;
        if (inBlock) assert.ok(i.data[r]! >= 5 && i.data[r]! < 15, `${backend} argmin row ${r}: ${i.data[r]}`);
        else (assert.equal(v.data[r], Infinity), assert.equal(i.data[r], -1), assert.equal(vAsync.data[r], 0));
      }
    }
    // gradients: w.r.t. the i-variable over j with the first three arrays, w.r.t. the j-variable over i with the last three
    const pat = pattern(d, M, N);
    const f = Vi(0, 1).sub(Vj(1, 1)).square().sum({ axis: 1, ranges: pat.ranges }) as KeOpsFunction<Tensor>;
    const g = d.randn([M, 1], "float64");
    const [gx, gy] = f.vjp([xs, ys], g);
    const ex = new Float64Array(M), ey = new Float64Array(N);
    for (let r = 0; r < M; r++)
      for (let j = 0; j < N; j++)
        if (pat.keep(r, j)) {
          ex[r] += 2 * (xs.data[r]! - ys.data[j]!) * g.data[r]!;
          ey[j] -= 2 * (xs.data[r]! - ys.data[j]!) * g.data[r]!;
        }
    assertClose(gx!.data, ex, { rtol: 1e-12, what: "gradient w.r.t. x" });
    assertClose(gy!.data, ey, { rtol: 1e-12, what: "gradient w.r.t. y" });
  }));

test("cluster utilities match pykeops's documented examples", () => {
  assert.deepEqual([...gridCluster(tensor([[0], [0.1], [0.9], [0.05], [0.5]]), 0.2).data], [0, 0, 2, 0, 1]);
  const [xsorted, lsorted] = sortClusters(tensor([[0], [5], [0.4], [0.3], [2]]), tensor([0, 2, 0, 0, 1], { dtype: "int32" }));
  assert.deepEqual([...xsorted.data].map((v) => Math.round(v * 10) / 10), [0, 0.4, 0.3, 2, 5]);
  assert.deepEqual([...lsorted.data], [0, 0, 0, 1, 2]);
  assert.deepEqual(clusterRanges(lsorted).toArray(), [[0, 3], [3, 4], [4, 5]]);
  const [r, c, w] = clusterRangesCentroids(tensor([[0], [0.5], [1], [2], [3]], { dtype: "float64" }), tensor([0, 0, 1, 1, 1], { dtype: "int32" }));
  assert.deepEqual([r.toArray(), c.toArray(), w.toArray()], [[[0, 2], [2, 5]], [[0.25], [2]], [2, 3]]);
  const [, cw, ww] = clusterRangesCentroids(tensor([[0], [0.5], [1], [2], [3]], { dtype: "float64" }), tensor([0, 0, 1, 1, 1], { dtype: "int32" }), { weights: [1, 0.5, 1, 1, 10] });
  assertClose(cw.data, [1 / 6, 2.75], { rtol: 1e-12 });
  assert.deepEqual([...ww.data], [1.5, 12]);
  const m = fromMatrix([[2, 5], [7, 12]], [[1, 4], [4, 9], [20, 30]], [[true, true, false], [false, true, false]]);
  assert.deepEqual(m.map((t) => t.toArray()), [
    [[2, 5], [7, 12]], [2, 3], [[1, 4], [4, 9], [4, 9]],
    [[1, 4], [4, 9], [20, 30]], [1, 3, 3], [[2, 5], [2, 5], [7, 12]],
  ]);
  assert.deepEqual(swapAxes(m).map((t) => t.toArray()), [...m.slice(3), ...m.slice(0, 3)].map((t) => t.toArray()));
  assert.equal(swapAxes(undefined), undefined);
});

test("bad ranges are KeOpsErrors naming the array", () => {
  const xs = tensor([[0], [1], [2]]), ys = tensor([[0], [1]]);
  const K = Vi(xs).sub(Vj(ys)).square();
  const ok = fromMatrix([[0, 3]], [[0, 2]], [[true]]);
  const bad = (r: unknown, msg: RegExp) => assert.throws(() => K.sum({ axis: 1, ranges: r as never }), (e) => e instanceof KeOpsError && msg.test(e.message));
  bad([ok[0]], /ranges: expected an array of six int32 tensors/);
  bad([tensor([[0, 3]]), ...ok.slice(1)], /ranges\[0\] \(ranges_i\): expected an int32 tensor/);
  bad([tensor([[0, 4]], { dtype: "int32" }), ...ok.slice(1)], /ranges\[0\] \(ranges_i\): expected \[start, end\) pairs with 0 ≤ start ≤ end ≤ 3/);
  bad([ok[0], ok[1], tensor([[0, 3]], { dtype: "int32" }), ...ok.slice(3)], /ranges\[2\] \(redranges_j\): expected \[start, end\) pairs with 0 ≤ start ≤ end ≤ 2/);
  bad([ok[0], tensor([2], { dtype: "int32" }), ...ok.slice(2)], /ranges\[1\] \(slices_i\): expected non-decreasing slice ends in \[0, 1\]/);
  bad([ok[0], tensor([1, 1], { dtype: "int32" }), ...ok.slice(2)], /ranges\[1\] \(slices_i\): expected one entry per block/);
  bad([tensor([0, 3], { dtype: "int32" }), ...ok.slice(1)], /ranges\[0\] \(ranges_i\): expected a shape \(n, 2\)/);
  bad([[[0, 2.5]], ...ok.slice(1)], /ranges\[0\] \(ranges_i\): expected int32 integers, got 2.5 at position 1/);
  assert.deepEqual((K.sum({ axis: 1, ranges: [[[0, 3]], [1], [[0, 2]], [[0, 2]], [1], [[0, 3]]] }) as Tensor).data, (K.sum({ axis: 1 }) as Tensor).data);
  bad([tensor([[0, 2], [1, 3]], { dtype: "int32" }), tensor([1, 1], { dtype: "int32" }), ...ok.slice(2)], /output blocks that do not overlap/);
  const batched = new LazyTensor(tensor([[[[0]], [[1]]]])).sub(new LazyTensor(tensor([[[[0], [1]]]]))).square();
  assert.throws(() => batched.sum({ axis: 2, ranges: ok }), /block-sparse reductions take no batch dimensions/);
  assert.throws(() => { (K as unknown as { ranges: unknown }).ranges = 1; }, KeOpsError);
});
