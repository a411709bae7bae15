/**
 * The TensorFlow.js adapter: LazyTensors from tf.Tensors, reductions returning tf.Tensors whose
 * gradients (tf.grad, tf.variableGrads) equal keops-ts's own vjp, and the first tutorial's
 * gradient through solve.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "./tfjs-gradients.js";
import { LazyTensor, Vi, Vj, Pm, fromTf } from "../src/adapters/tfjs.js";
import { LazyTensor as CoreLazyTensor, Tensor } from "../src/index.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { assertClose, withSeed, type Data } from "./util.js";

await tf.setBackend("cpu");

const tfRandn = (d: Data, shape: number[], scale = 1): tf.Tensor => tf.tensor(d.randn(shape, "float32", scale).data as Float32Array, shape);
const arr = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

test("construction follows keops-ts's rules; printing and shapes", () =>
  withSeed((d) => {
    const x = tfRandn(d, [5, 3]), y = tfRandn(d, [7, 3]);
    const xi = new LazyTensor(tf.expandDims(x, 1)), yj = new LazyTensor(tf.expandDims(y, 0));
    const D = xi.sub(yj).square().sum(-1);
    assert.equal(D.formula, "Sum(Square((Var(0,3,0) - Var(1,3,1))))");
    assert.deepEqual(D.shape, [5, 7]);
    assert.equal(String(D), String(new CoreLazyTensor(fromTf(tf.expandDims(x, 1))).sub(new CoreLazyTensor(fromTf(tf.expandDims(y, 0)))).square().sum(-1)));
    assert.deepEqual(Vi(x).shape, [5, 1, 3]);
    assert.deepEqual(Vj(y).shape, [1, 7, 3]);
    assert.equal(new LazyTensor(x, 0).formula, "Var(0,3,0)");
    assert.equal(Pm(tf.tensor([1, 2])).formula, "Var(0,2,2)");
    const s = D.sum(1);
    assert.ok(s instanceof tf.Tensor);
    assert.deepEqual(s.shape, [5, 1]);
    const [v, i] = D.minArgmin(0);
    assert.deepEqual([v.shape, v.dtype, i.shape, i.dtype], [[7, 1], "float32", [7, 1], "int32"]);
  }));

/** Reductions of a formula over x_i, y_j, p, each as the tf result and the core function. */
const reductions: { name: string; tf: (F: LazyTensor, w: LazyTensor) => tf.Tensor; core: (F: CoreLazyTensor<true>, w: CoreLazyTensor<true>) => KeOpsFunction<unknown> }[] = [
  { name: "Sum", tf: (F) => F.sum(1), core: (F) => F.sum({ axis: 1, call: false }) as KeOpsFunction<unknown> },
  { name: "LogSumExp", tf: (F) => F.logsumexp(0), core: (F) => F.logsumexp({ axis: 0, call: false }) as KeOpsFunction<unknown> },
  { name: "LogSumExp weighted", tf: (F, w) => F.logsumexp({ axis: 1, weight: w.exp() }), core: (F, w) => F.logsumexp({ axis: 1, weight: w.exp(), call: false }) as KeOpsFunction<unknown> },
  { name: "SumSoftMaxWeight", tf: (F, w) => F.sumsoftmaxweight(w, 0), core: (F, w) => F.sumsoftmaxweight(w, { axis: 0, call: false }) as KeOpsFunction<unknown> },
  { name: "Min", tf: (F) => F.min(1), core: (F) => F.min({ axis: 1, call: false }) as KeOpsFunction<unknown> },
  { name: "MaxArgMax", tf: (F) => F.maxArgmax(0)[0], core: (F) => F.maxArgmax({ axis: 0, call: false }) as KeOpsFunction<unknown> },
  { name: "KMin", tf: (F) => F.Kmin({ K: 2, axis: 1 }), core: (F) => F.Kmin({ K: 2, axis: 1, call: false }) as KeOpsFunction<unknown> },
];

for (const r of reductions)
  test(`tf.grad through ${r.name} equals the core vjp`, () =>
    withSeed((d) => {
      const M = 6, N = 5;
      const x = tfRandn(d, [M, 3]), y = tfRandn(d, [N, 3]), p = tfRandn(d, [3], 0.5);
      const build = (xi: LazyTensor, yj: LazyTensor, pm: LazyTensor): [LazyTensor, LazyTensor] =>
        [xi.sub(yj).add(pm).square().sum(-1).neg().mul(0.5), xi.mul(yj).mul(0.3)];
      const out0 = r.tf(...build(Vi(x), Vj(y), Pm(p)));
      const w = tfRandn(d, out0.shape);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(r.tf(...build(Vi(a), Vj(b), Pm(c))), w)))([x, y, p]);
      const core = r.core(...build(new LazyTensor([0, 3, 0]) as never, new LazyTensor([1, 3, 1]) as never, new LazyTensor([2, 3, 2]) as never).map((l) => l.core) as [CoreLazyTensor<true>, CoreLazyTensor<true>]);
      const want = core.vjp([fromTf(x), fromTf(y), fromTf(p)], fromTf(w));
      grads.forEach((g, k) => {
        assert.deepEqual(g.shape, [x, y, p][k]!.shape);
        assertClose(arr(g), want[k]!.data, { rtol: 1e-6, what: `${r.name}: argument ${k}` });
      });
    }));

test("tf.variableGrads through a reduction; gradients through expandDims of one tensor add up", () =>
  withSeed((d) => {
    const M = 8;
    const x = tf.variable(tfRandn(d, [M, 2]));
    const b = tfRandn(d, [M, 1]);
    const { grads } = tf.variableGrads(() => {
      const xi = new LazyTensor(tf.expandDims(x, 1)), xj = new LazyTensor(tf.expandDims(x, 0));
      const K = xi.sub(xj).square().sum(-1).neg().exp();
      return tf.sum(tf.square(K.matmul(b))) as tf.Scalar;
    });
    const g = grads[x.name]!;
    // the same with x symbolic twice: Var(0) as i and Var(1) as j, then summed
    const f = new CoreLazyTensor([0, 2, 0]).sub(new CoreLazyTensor([1, 2, 1])).square().sum(-1).neg().exp().mul(new CoreLazyTensor([2, 1, 1])).sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    const X = fromTf(x), B = fromTf(b);
    const out = f(X, X, B);
    const go = new Tensor(Float32Array.from(out.data, (v) => 2 * v), out.shape);
    const [gi, gj] = f.vjp([X, X, B], go);
    assertClose(arr(g), Float32Array.from(gi!.data, (v, k) => v + gj!.data[k]!), { rtol: 1e-5 });
  }));

test("the first tutorial's gradient through solve: [g_i] = grad((a_i ** 2).sum(), [x])", () =>
  withSeed((d) => {
    const M = 30, D = 3, alpha = 0.1;
    const x = tfRandn(d, [M, D]);
    const b = tfRandn(d, [M, 4]);
    const lossOf = (xx: tf.Tensor): tf.Scalar => {
      const xi = new LazyTensor(tf.expandDims(xx, 1)), xj = new LazyTensor(tf.expandDims(xx, 0));
      const K = xi.sub(xj).square().sum(-1).neg().exp();
      const a = K.solve(b, { alpha });
      return tf.sum(tf.square(a)) as tf.Scalar;
    };
    const g = tf.grad(lossOf)(x);
    assert.deepEqual(g.shape, [M, D]);
    // against central finite differences of the loss (float32: a loose check on a few entries)
    const xs = arr(x);
    for (const k of [0, 7, 41, 89]) {
      const h = 1e-2;
      const at = (s: number): number => {
        const v = Float32Array.from(xs);
        v[k]! += s;
        return lossOf(tf.tensor(v, [M, D])).dataSync()[0]!;
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      const gk = arr(g)[k]!;
      assert.ok(Math.abs(gk - fd) <= 2e-2 * Math.max(1, Math.abs(fd)), `entry ${k}: tf.grad ${gk}, finite differences ${fd}`);
    }
    // and with respect to b: tf.grad equals 2·K⁻¹a (K symmetric)
    const gb = tf.grad((bb: tf.Tensor) => {
      const xi = new LazyTensor(tf.expandDims(x, 1)), xj = new LazyTensor(tf.expandDims(x, 0));
      return tf.sum(tf.square(xi.sub(xj).square().sum(-1).neg().exp().solve(bb, { alpha }))) as tf.Scalar;
    })(b);
    assert.deepEqual(gb.shape, [M, 4]);
  }));

test("every keops-ts method is forwarded: math methods, inner min, grad; results stay differentiable", () =>
  withSeed((d) => {
    const x = tfRandn(d, [4, 3]), y = tfRandn(d, [6, 3]);
    const build = (xi: LazyTensor, yj: LazyTensor): LazyTensor => xi.sub(yj).sin().mul(yj).min();
    const F = build(Vi(x), Vj(y));
    assert.ok(F instanceof LazyTensor);
    assert.equal(F.formula, "Min((Sin((Var(0,3,0) - Var(1,3,1))) * Var(1,3,1)))");
    const w = tfRandn(d, [4, 1]);
    const [gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => build(Vi(a), Vj(b)).sum(1))([x, y], w);
    const core = build(new LazyTensor([0, 3, 0]), new LazyTensor([1, 3, 1])).core.sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    const want = core.vjp([fromTf(x), fromTf(y)], fromTf(w));
    assertClose(arr(gx!), want[0]!.data, { rtol: 1e-6 });
    assertClose(arr(gy!), want[1]!.data, { rtol: 1e-6 });
    // grad / diff forwarded: the gradient of a Gaussian kernel sum as a Grad formula
    const xi = Vi(x), yj = Vj(y);
    const K = xi.sub(yj).sqnorm2().neg().exp();
    const G = K.grad(xi, Vi(w)).sum(1);
    const kf = new LazyTensor([0, 3, 0]).sub(new LazyTensor([1, 3, 1])).sqnorm2().neg().exp().core.sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    assertClose(arr(G), kf.vjp([fromTf(x), fromTf(y)], fromTf(w))[0]!.data, { rtol: 1e-5 });
    // static forms
    assert.equal(LazyTensor.sub(2, xi).formula, "(IntCst(2) - Var(0,3,0))");
    assert.ok((LazyTensor.sum(K, 0) as tf.Tensor) instanceof tf.Tensor);
  }));

test("batch dimensions: gradients shaped like the tf inputs, broadcast dims summed", () =>
  withSeed((d) => {
    const x = tfRandn(d, [2, 4, 1, 3]), y = tfRandn(d, [1, 1, 5, 3]);
    const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => new LazyTensor(a).sub(new LazyTensor(b)).sqnorm2().neg().exp().sum(2);
    const w = tfRandn(d, f(x, y).shape);
    assert.deepEqual(w.shape, [2, 4, 1]);
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), w)))([x, y]);
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    assert.deepEqual(grads[0]!.shape, [2, 4, 1, 3]);
    assert.deepEqual(grads[1]!.shape, [1, 1, 5, 3]);
    const core = new CoreLazyTensor([0, 3, 0]).sub(new CoreLazyTensor([1, 3, 1])).sqnorm2().neg().exp().sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    const X = fromTf(x), Y = fromTf(y);
    const want = core.vjp([new Tensor(X.data, [2, 4, 3]), new Tensor(Y.data, [1, 5, 3])], new Tensor(fromTf(w).data, [2, 4, 1]));
    assertClose(arr(grads[0]!), want[0]!.data, { rtol: 1e-6 });
    assertClose(arr(grads[1]!), want[1]!.data, { rtol: 1e-6 });
  }));
