/**
 * Symbolic calculus at the formula level: printing of Grad/Diff, forward mode against finite
 * differences, second order (a Hessian–vector product through the gradient of a gradient
 * reduction), ties of Min/KMin gradients, batch dimensions, errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Pm, Tensor, Vi, Vj, genred, tensor } from "../src/index.js";
import { Var, apply, defineOp } from "../src/formula/node.js";
import { diff, grad, gradFormula } from "../src/autodiff/grad.js";
import { exp } from "../src/formula/ops/math.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { assertClose, testBackends, withSeed } from "./util.js";
import { dotResult, evalRows, finiteDifferences } from "./grad-helpers.js";

const f64 = (values: number[], shape: number[]): Tensor => tensor(values, { shape, dtype: "float64" });

test("Grad and Diff print as KeOps prints them", () => {
  const x = Var(0, 1, 0), e = Var(1, 1, 0);
  assert.equal(grad(exp(x), x, e).toString(), "Grad(Exp(Var(0,1,0)),Var(0,1,0),Var(1,1,0))");
  assert.equal(diff(exp(x), x, e).toString(), "Diff(Exp(Var(0,1,0)),Var(0,1,0),Var(1,1,0))");
  const xi = Vi(0, 3), yj = Vj(1, 3), ei = Vi(2, 1);
  const K = xi.sub(yj).sqnorm2().neg().exp();
  assert.equal(K.grad(xi, ei).formula, "Grad(Exp(Minus(SqNorm2((Var(0,3,0) - Var(1,3,1))))),Var(0,3,0),Var(2,1,0))");
  assert.equal(K.grad(xi, ei).ndim, 3);
  assert.equal(K.diff(yj, Vj(3, 3)).formula, "Diff(Exp(Minus(SqNorm2((Var(0,3,0) - Var(1,3,1))))),Var(1,3,1),Var(3,3,1))");
  assert.equal(K.diff(yj, Vj(3, 3)).ndim, 1);
  // with data: variables numbered as pykeops numbers them
  const X = Vi(f64([1, 2, 3, 4, 5, 6], [2, 3])), Y = Vj(f64([0, 1, 0], [1, 3]));
  const G = X.sub(Y).sqnorm2().grad(X, 1);
  assert.equal(G.toString(), "KeOps LazyTensor\n    formula: Grad(SqNorm2((Var(0,3,0) - Var(1,3,1))),Var(0,3,0),IntCst(1))\n    shape: (2, 1, 3)");
});

test("grad / diff validate their arguments", () => {
  const xi = Vi(0, 3), yj = Vj(1, 3);
  const F = xi.sub(yj).sqnorm2();
  assert.throws(() => F.grad(xi.exp(), Vi(2, 1)), (e: Error) => e instanceof KeOpsError && /grad: v: expected a LazyTensor that is a single variable/.test(e.message));
  assert.throws(() => F.grad(xi, Vi(2, 3)), (e: Error) => e instanceof KeOpsError && /grad: e: expected dimension 1/.test(e.message));
  assert.throws(() => F.diff(xi, Vi(2, 2)), (e: Error) => e instanceof KeOpsError && /diff: u: expected dimension 3/.test(e.message));
});

test("Grad through an op without a vjp raises a KeOpsError naming the op", () => {
  const NoVjp = defineOp({ name: "TestNoVjp", arity: 1, nattrs: 0, dim: ([d]) => d!, lower: (_c, [x]) => [...x!] });
  const x = Var(0, 2, 0);
  const F = exp(apply(NoVjp, [x]));
  assert.throws(() => gradFormula(F, x, Var(1, 2, 0)), (e: Error) => e instanceof KeOpsError && /TestNoVjp has no derivative/.test(e.message));
  // not on a path to v: fine
  assert.equal(gradFormula(apply(NoVjp, [Var(2, 2, 0)]), x, Var(1, 2, 0)).dim, 2);
});

test("Grad of a formula that does not depend on v is zero; Grad accumulates over shared nodes", () =>
  withSeed((d) => {
    const x = Var(0, 3, 0), y = Var(1, 3, 0), e = Var(2, 1, 0);
    const M = 5;
    const data = new Map([[0, Float64Array.from(d.randn([M, 3], "float64").data)], [1, Float64Array.from(d.randn([M, 3], "float64").data)], [2, Float64Array.from(d.randn([M, 1], "float64").data)]]);
    assert.ok(evalRows(grad(exp(y), x, Var(3, 3, 0)), new Map([...data, [3, new Float64Array(M * 3).fill(1)]]), M).every((v) => v === 0));
    // F = ⟨x, x⟩·⟨x, y⟩ uses x three times
    const LT = (f: LazyTensor<true>) => f.node;
    const xs = new LazyTensor([0, 3, 0]) as LazyTensor<true>, ys = new LazyTensor([1, 3, 0]) as LazyTensor<true>;
    const F = LT(xs.dot(xs).mul(xs.dot(ys)));
    const got = evalRows(grad(F, x, e), data, M);
    const X = data.get(0)!, Y = data.get(1)!, E = data.get(2)!;
    const want = new Float64Array(M * 3);
    for (let r = 0; r < M; r++) {
      let xx = 0, xy = 0;
      for (let c = 0; c < 3; c++) (xx += X[r * 3 + c]! ** 2, xy += X[r * 3 + c]! * Y[r * 3 + c]!);
      for (let c = 0; c < 3; c++) want[r * 3 + c] = E[r]! * (2 * X[r * 3 + c]! * xy + xx * Y[r * 3 + c]!);
    }
    assertClose(got, want, { rtol: 1e-12 });
  }));

test("Diff (forward mode) matches finite differences", () =>
  withSeed((d) => {
    const M = 6;
    const xs = new LazyTensor([0, 3, 0]) as LazyTensor<true>, ys = new LazyTensor([1, 3, 0]) as LazyTensor<true>;
    const us = new LazyTensor([2, 3, 0]) as LazyTensor<true>;
    const F = xs.sub(ys).sqnorm2().neg().exp().mul(xs.mul(ys)).add(xs.sqrt().abs()); // dim 3
    const D = F.diff(xs, us);
    const data = new Map<number, Float64Array>([
      [0, Float64Array.from(d.uniform([M, 3], 0.3, 1.5, "float64").data)],
      [1, Float64Array.from(d.randn([M, 3], "float64").data)],
      [2, Float64Array.from(d.randn([M, 3], "float64").data)],
    ]);
    const got = evalRows(D.node, data, M);
    const h = 1e-6;
    const shift = (s: number) => {
      const X = Float64Array.from(data.get(0)!, (v, k) => v + s * data.get(2)![k]!);
      return evalRows(F.node, new Map([...data, [0, X]]), M);
    };
    const fp = shift(h), fm = shift(-h);
    assertClose(got, fp.map((v, k) => (v - fm[k]!) / (2 * h)), { rtol: 1e-6 });
  }));

test("second order: the vjp of a gradient reduction is a Hessian–vector product", () =>
  withSeed((d) => {
    const M = 5, N = 7;
    const xs = Vi(0, 3), ys = Vj(1, 3), bs = Vj(2, 1), gs = Vi(3, 1);
    const F = xs.sub(ys).sqnorm2().neg().exp().mul(bs);
    // ∇_x f with f = Σ_i g_i Σ_j F_ij: a Sum reduction of Grad(F, x, g)
    const gradFn = F.grad(xs, gs).sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    const X = d.randn([M, 3], "float64"), Y = d.randn([N, 3], "float64"), B = d.randn([N, 1], "float64"), G = d.randn([M, 1], "float64");
    const U = d.randn([M, 3], "float64");
    // first order agrees with the vjp of the plain reduction
    const f = F.sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    assertClose(gradFn(X, Y, B, G).data, f.vjp([X, Y, B], G)[0]!.data, { rtol: 1e-12, what: "gradient" });
    // H·U: the vjp of the gradient reduction in the direction U
    const hvp = gradFn.vjp([X, Y, B, G], U)[0]!;
    const h = 1e-6;
    const Xp = new Tensor(Float64Array.from(X.data, (v, k) => v + h * U.data[k]!), X.shape);
    const Xm = new Tensor(Float64Array.from(X.data, (v, k) => v - h * U.data[k]!), X.shape);
    const gp = gradFn(Xp, Y, B, G).data, gm = gradFn(Xm, Y, B, G).data;
    assertClose(hvp.data, Float64Array.from(gp, (v, k) => (v - gm[k]!) / (2 * h)), { rtol: 1e-6, what: "Hessian–vector product" });
    // and with respect to y (mixed second derivatives), against finite differences of ⟨∇_x f, U⟩
    const all = gradFn.vjp([X, Y, B, G], U);
    for (const k of [1, 2, 3]) {
      const fd = finiteDifferences((a) => dotResult(gradFn as KeOpsFunction<unknown>, a, U), [X, Y, B, G], k);
      assertClose(all[k]!.data, fd, { rtol: 1e-5, what: `mixed second derivative, argument ${k}` });
    }
  }));

test("Min / KMin gradients flow to the selected pair only (ties: the lowest index)", () => {
  for (const backend of testBackends()) {
    const xs = Vi(0, 1), ys = Vj(1, 1);
    const F = xs.sub(ys).square();
    const X = f64([1.25], [1, 1]), Y = f64([1, 3, 1, 1.75, 1], [5, 1]);
    // over j: min at j = 0 and j = 2 and j = 4 (ties), value 0.0625
    const fmin = F.min({ axis: 1, call: false, backend: backend as never }) as KeOpsFunction<Tensor>;
    const g = fmin.vjp([X, Y], f64([2], [1, 1]));
    assert.deepEqual(Array.from(g[1]!.data), [-1, 0, 0, 0, 0], `${backend}: d/dy`);
    assert.deepEqual(Array.from(g[0]!.data), [1], `${backend}: d/dx`);
    const fk = F.Kmin({ K: 3, axis: 1, call: false, backend: backend as never }) as KeOpsFunction<Tensor>;
    const gk = fk.vjp([X, Y], f64([1, 10, 100], [1, 3]));
    // sorted: j = 0, j = 2, j = 4 (ties, by index)
    assert.deepEqual(Array.from(gk[1]!.data), [-0.5, 0, -5, 0, -50], `${backend}: Kmin d/dy`);
    // axis 0, the roles swapped
    const fmax = F.t().maxArgmax({ axis: 0, call: false, backend: backend as never }) as KeOpsFunction<[Tensor, Tensor]>;
    const gm = fmax.vjp([X, Y], f64([1], [1, 1]));
    // max over i of (x_i − y_j)² with x = y: the largest at y_j = 3 (index 1)
    assert.deepEqual(Array.from(gm[0]!.data), [-3.5], `${backend}: max, axis 0, d/dx (the role of y)`);
  }
});

test("vjp with batch dimensions and broadcast variables", () =>
  withSeed((d) => {
    const xs = Vi(0, 3), ys = Vj(1, 3), ps = Pm(2, 3);
    const F = xs.sub(ys).add(ps).sqnorm2().neg().mul(0.5);
    const builds: [string, KeOpsFunction<unknown>][] = [
      ["Sum", F.sum({ axis: 1, call: false }) as KeOpsFunction<unknown>],
      ["LogSumExp weighted", F.logsumexp({ axis: 0, weight: xs.mul(ys).exp(), call: false }) as KeOpsFunction<unknown>],
      ["SumSoftMaxWeight", F.sumsoftmaxweight(xs.mul(ys), { axis: 1, call: false }) as KeOpsFunction<unknown>],
      ["MinArgMin", F.minArgmin({ axis: 1, call: false }) as KeOpsFunction<unknown>],
      ["KMin", F.Kmin({ K: 2, axis: 0, call: false }) as KeOpsFunction<unknown>],
    ];
    for (const [name, f] of builds) {
      const a = [d.randn([2, 4, 3], "float64"), d.randn([1, 5, 3], "float64"), d.randn([2, 1, 3], "float64", 0.5)];
      const r = f(...a) as Tensor | [Tensor, Tensor];
      const w = d.randn([...(Array.isArray(r) ? r[0] : r).shape], "float64");
      const g = f.vjp(a, w);
      g.forEach((t, k) => {
        assert.deepEqual(t.shape, a[k]!.shape, `${name}: shape of gradient ${k}`);
        assertClose(t.data, finiteDifferences((aa) => dotResult(f, aa, w), a, k), { rtol: 1e-5, what: `${name}: argument ${k}` });
      });
    }
  }));

test("a Grad formula reduced on every backend equals the vjp", () =>
  withSeed((d) => {
    const M = 40, N = 33;
    const X = d.randn([M, 3], "float64"), Y = d.randn([N, 3], "float64"), G = d.randn([M, 1], "float64");
    for (const backend of testBackends()) {
      const xi = Vi(X), yj = Vj(Y);
      const K = xi.sub(yj).sqnorm2().neg().exp();
      const direct = K.grad(xi, Vi(G)).sum({ axis: 1, backend: backend as never }) as Tensor;
      const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
      assertClose(direct.data, f.vjp([X, Y], G)[0]!.data, { rtol: 1e-10, what: backend });
    }
  }));

test("genred parses Grad and Diff formulas (round trip of the printed form)", () =>
  withSeed((d) => {
    const M = 6, N = 9;
    const X = d.randn([M, 3], "float64"), Y = d.randn([N, 3], "float64"), E = d.randn([M, 1], "float64"), U = d.randn([N, 3], "float64");
    const g = genred("Grad(Exp(-SqDist(x,y)), x, e)", ["x = Vi(3)", "y = Vj(3)", "e = Vi(1)"], { axis: 1 });
    const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().sum({ axis: 1, call: false }) as KeOpsFunction<Tensor>;
    assertClose((g(X, Y, E) as Tensor).data, f.vjp([X, Y], E)[0]!.data, { rtol: 1e-12 });
    // the printed form parses back to the same node
    const printed = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().diff(Vj(1, 3), Vj(2, 3));
    const h = genred(printed.formula, ["x = Vi(3)", "y = Vj(3)", "u = Vj(3)"], { axis: 1 });
    assert.equal(h.formula, printed.formula);
    // Diff: d/dε Σ_j exp(−|x_i − (y_j + ε u_j)|²)
    const eps = 1e-6;
    const Yp = new Tensor(Float64Array.from(Y.data, (v, k) => v + eps * U.data[k]!), Y.shape);
    const Ym = new Tensor(Float64Array.from(Y.data, (v, k) => v - eps * U.data[k]!), Y.shape);
    const fp = f(X, Yp).data, fm = f(X, Ym).data;
    assertClose((h(X, Y, U) as Tensor).data, Float64Array.from(fp, (v, k) => (v - fm[k]!) / (2 * eps)), { rtol: 1e-6 });
    assert.throws(() => genred("Grad(Exp(x), Exp(x), e)", ["x = Vi(3)", "e = Vi(3)"], { axis: 1 })(X, X),
      (e: Error) => e instanceof KeOpsError && /Grad: expected a variable/.test(e.message));
  }));
