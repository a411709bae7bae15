/** Pinned semantics: summation schemes, accumulator precision, NaN, empty ranges. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, Tensor, tensor } from "../src/index.js";
import { testTargets, withSeed } from "./util.js";

for (const t of await testTargets()) {
  const backend = t.backend;
  const opt = { backend: backend as never, ...(t.async ? { async: true as const } : {}) };
  /** float64 where the target computes in it (webgpu: float32 only). */
  const f64 = t.dtypes.includes("float64") ? "float64" : "float32";

  test(`[${backend}] float32 sum over 1e6 terms: block_sum and kahan stay within 1e-6, direct_sum drifts`, () =>
    withSeed(async (d) => {
      const N = 1_000_000, M = 8;
      const y = d.uniform([N, 1], 0, 1, "float32");
      const x = d.uniform([M, 1], 0.5, 2, "float32");
      // exact sums of the float32 products x_i·y_j
      const exact = Array.from({ length: M }, (_, i) => {
        let s = 0;
        for (const v of y.data) s += Math.fround(x.data[i]! * v);
        return s;
      });
      const f = Vi(x).mul(Vj(y));
      const worst = async (scheme: string, acc?: string): Promise<number> => {
        const s = (await f.sum({ axis: 1, sumScheme: scheme as never, dtypeAcc: acc as never, ...opt })) as Tensor;
        return Math.max(...exact.map((e, i) => Math.abs(s.data[i]! - e) / e));
      };
      const block = await worst("block_sum"), kahan = await worst("kahan_scheme"), direct = await worst("direct_sum");
      assert.ok(block < 1e-6, `block_sum relative error ${block}`);
      assert.ok(kahan < 1e-6, `kahan_scheme relative error ${kahan}`);
      if (f64 === "float64") {
        const dbl = await worst("direct_sum", "float64");
        assert.ok(dbl < 1e-6, `direct_sum with a float64 accumulator: relative error ${dbl}`);
      }
      // a random walk of roundings: over 8 rows the worst drift is well above 1e-6 (P(fail) < 1e-7)
      if (backend === "js") assert.ok(direct > 1e-6, `direct_sum was expected to drift in float32, error ${direct}`);
    }));

  test(`[${backend}] NaN in an input row reaches that output row only`, () =>
    withSeed(async (d) => {
      const x = d.randn([6, 2], f64), y = d.randn([9, 2], f64);
      x.data[3 * 2 + 1] = NaN;
      const F = Vi(x).sub(Vj(y)).sqnorm2();
      const s = (await F.sum({ axis: 1, ...opt })) as Tensor;
      const l = (await F.logsumexp({ axis: 1, ...opt })) as Tensor;
      const k = (await F.Kmin({ K: 2, axis: 1, ...opt })) as Tensor;
      for (let i = 0; i < 6; i++) {
        assert.equal(Number.isNaN(s.data[i]!), i === 3, `sum row ${i}`);
        assert.equal(Number.isNaN(l.data[i]!), i === 3, `logsumexp row ${i}`);
        assert.equal(Number.isNaN(k.data[2 * i]!), i === 3, `Kmin row ${i}`);
      }
    }));

  test(`[${backend}] ±Infinity in an input row reaches that output row only`, () =>
    withSeed(async (d) => {
      for (const dtype of t.dtypes) {
        const x = d.randn([6, 2], dtype), y = d.randn([9, 2], dtype);
        x.data[2 * 2] = Infinity;
        x.data[4 * 2 + 1] = -Infinity;
        const F = Vi(x).sub(Vj(y)).sqnorm2();
        const s = (await F.sum({ axis: 1, ...opt })) as Tensor;
        const m = (await F.min({ axis: 1, ...opt })) as Tensor;
        const l = (await F.neg().logsumexp({ axis: 1, ...opt })) as Tensor;
        const g = (await F.neg().exp().sum({ axis: 1, ...opt })) as Tensor;
        const rtol = dtype === "float32" ? 1e-5 : 1e-12;
        for (let i = 0; i < 6; i++) {
          const inf = i === 2 || i === 4;
          // the dense float64 values of the row (from the same rounded inputs)
          const q = Array.from({ length: 9 }, (_, j) => (x.data[2 * i]! - y.data[2 * j]!) ** 2 + (x.data[2 * i + 1]! - y.data[2 * j + 1]!) ** 2);
          const mq = Math.min(...q);
          const want = inf
            ? { s: Infinity, m: Infinity, l: -Infinity, g: 0 }
            : { s: q.reduce((a, b) => a + b, 0), m: mq, l: -mq + Math.log(q.reduce((a, b) => a + Math.exp(mq - b), 0)), g: q.reduce((a, b) => a + Math.exp(-b), 0) };
          const near = (got: number, w: number, what: string): void =>
            assert.ok(got === w || Math.abs(got - w) <= rtol * (1 + Math.abs(w)), `${what} row ${i} (${dtype}): got ${got}, expected ${w}`);
          near(s.data[i]!, want.s, "sum");
          near(m.data[i]!, want.m, "min");
          near(l.data[i]!, want.l, "logsumexp");
          near(g.data[i]!, want.g, "Gaussian sum");
          if (inf) assert.ok(s.data[i] === Infinity && m.data[i] === Infinity && l.data[i] === -Infinity && g.data[i] === 0, `row ${i}: exact infinities`);
        }
      }
    }));

  test(`[${backend}] min/argmin with NaN: NaN wins and reports its first index (as NumPy/PyTorch)`, async () => {
    const v = Vj(tensor([[3], [NaN], [1], [NaN]], { dtype: f64 }));
    const w = Vj(tensor([[2], [1], [1], [5]], { dtype: f64 }));
    const [m0, a0] = await v.mul(Vi(tensor([[1]], { dtype: f64 }))).minArgmin({ axis: 1, ...opt });
    assert.ok(Number.isNaN(m0.data[0]!));
    assert.equal(a0.data[0], 1);
    const [M0, A0] = await v.mul(Vi(tensor([[1]], { dtype: f64 }))).maxArgmax({ axis: 1, ...opt });
    assert.ok(Number.isNaN(M0.data[0]!));
    assert.equal(A0.data[0], 1);
    const [m1, a1] = await w.mul(Vi(tensor([[1]], { dtype: f64 }))).minArgmin({ axis: 1, ...opt });
    assert.equal(m1.data[0], 1);
    assert.equal(a1.data[0], 1);
    const k = (await v.mul(Vi(tensor([[1]], { dtype: f64 }))).argKmin({ K: 4, axis: 1, ...opt })) as Tensor;
    assert.deepEqual([...k.data], [1, 3, 2, 0]); // NaNs first (by index), then ascending
  });

  test(`[${backend}] logsumexp and sumsoftmaxweight fold −∞, +∞, equal maxima and NaN as the float64 definitions`, () =>
    withSeed(async (d) => {
      const I = Infinity;
      // −∞ first, in the middle, only; equal maxima; +∞ (once, twice, first); NaN; and one long
      // sequence whose special values fall in different lanes of j
      const long = Array.from({ length: 37 }, (_, j) => (j % 5 === 0 ? -I : d.rng.uniform() * 4 - 2));
      // and 9001 terms (j tiles of 4096 on native and js) with +∞ in three tiles
      const huge = Array.from({ length: 9001 }, (_, j) => (j === 5 || j === 4500 || j === 8999 ? I : j % 7 === 0 ? -I : d.rng.uniform() * 4 - 2));
      const seqs = [[-I, 1, 2], [3, -I, 1], [-I, -I], [2, 2, 2], [1, I, 2], [I, I, 0], [2, I, I, 5], [1, NaN, 3], [1, NaN, 3, 2], [NaN], long, [...long.slice(0, 20), I, ...long.slice(20)], huge, huge.map((v) => (v === I ? 30 : v))];
      for (const dtype of t.dtypes) {
        const rtol = dtype === "float32" ? 2e-6 : 1e-13;
        for (const seq0 of seqs) {
          const seq = dtype === "float32" ? seq0.map(Math.fround) : seq0;
          const N = seq.length;
          // weights of one component, and of 70 (a looped vector state from 64 on)
          const G = N % 2 ? 1 : 70;
          const g = d.uniform([N, G], 0.5, 2, dtype);
          const zero = tensor(new Float64Array(1), { shape: [1, 1], dtype });
          const F = Vj(tensor(Float64Array.from(seq), { shape: [N, 1], dtype })).add(Vi(zero));
          const l = ((await F.logsumexp({ axis: 1, ...opt })) as Tensor).data[0]!;
          const w = ((await F.sumsoftmaxweight(Vj(g), { axis: 1, ...opt })) as Tensor).data;
          // the float64 definitions: NaN if any term is; else +∞ terms dominate (the softmax is
          // their weights' mean); else the max-shifted sums (−∞ terms add nothing)
          const m = Math.max(...seq), nan = seq.some(Number.isNaN);
          // each term's weight exp(f − max): with a +∞ max, 1 for the +∞ terms and 0 for the rest
          const e = seq.map((v) => (m === I ? (v === I ? 1 : 0) : Math.exp(v - m)));
          const den = e.reduce((a, ej) => a + ej, 0);
          const wantL = nan ? NaN : m === I || m === -I ? m : m + Math.log(den);
          const near = (got: number, want: number, what: string): void =>
            assert.ok(Object.is(got, want) || Math.abs(got - want) <= rtol * (1 + Math.abs(want)), `${what} of [${seq.length > 10 ? `${seq.length} terms` : seq}] (${dtype}): got ${got}, expected ${want}`);
          near(l, wantL, "logsumexp");
          for (let c = 0; c < G; c++) {
            const wantW = nan || m === -I ? NaN : e.reduce((a, ej, j) => a + ej * g.data[j * G + c]!, 0) / den;
            near(w[c]!, wantW, `sumsoftmaxweight component ${c}`);
          }
        }
      }
    }));

  test(`[${backend}] empty reduction ranges: sum 0, logsumexp −∞, min +∞, max −∞, args −1, with the right shapes`, async () => {
    for (const dtype of t.dtypes) {
      const x = tensor(new Float64Array(9), { shape: [3, 3], dtype });
      const y = tensor(new Float64Array(0), { shape: [0, 3], dtype });
      const F = Vi(x).sub(Vj(y));
      const S = F.sqnorm2();
      const expect = (t: Tensor, shape: number[], v: number): void => {
        assert.deepEqual([...t.shape], shape);
        for (const e of t.data) assert.equal(e, v);
      };
      expect((await F.sum({ axis: 1, ...opt })) as Tensor, [3, 3], 0);
      expect((await S.sum({ axis: 1, ...opt })) as Tensor, [3, 1], 0);
      expect((await S.logsumexp({ axis: 1, ...opt })) as Tensor, [3, 1], -Infinity);
      expect((await F.logsumexp({ axis: 1, ...opt })) as Tensor, [3, 3], -Infinity);
      expect((await S.min({ axis: 1, ...opt })) as Tensor, [3, 1], Infinity);
      expect((await F.max({ axis: 1, ...opt })) as Tensor, [3, 3], -Infinity);
      expect((await S.argmin({ axis: 1, ...opt })) as Tensor, [3, 1], -1);
      expect((await F.argmax({ axis: 1, ...opt })) as Tensor, [3, 3], -1);
      const [mv, mi] = await S.minArgmin({ axis: 1, ...opt });
      expect(mv, [3, 1], Infinity);
      expect(mi, [3, 1], -1);
      // the other axis: reducing over i (3 rows) gives 0 output rows
      expect((await S.sum({ axis: 0, ...opt })) as Tensor, [0, 1], 0);
      expect((await F.argKmin({ K: 2, axis: 0, ...opt })) as Tensor, [0, 2, 3], 0);
    }
  });
}
