/** LazyTensor.solve: residuals, agreement with a dense float64 Cholesky solve, options, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, SolveConvergenceError, Tensor, Vi, Vj, type FloatDType } from "../src/index.js";
import { choleskySolve, denseKernel, residualRms } from "./solve-util.js";
import { assertClose, testBackends, withSeed } from "./util.js";

const D = 3;
/** Gaussian kernel exp(−‖x_i − x_j‖² / 2) over symbolic x_i = Var(0), x_j = Var(1). */
const gauss = Vi(0, D).sub(Vj(1, D)).sqnorm2().mul(-0.5).exp();
/** Cauchy kernel 1 / (1 + ‖x_i − x_j‖²), also positive definite. */
const cauchy = LazyTensor.div(1, Vi(0, D).sub(Vj(1, D)).sqnorm2().add(1)) as LazyTensor<true>;

/** The same kernel with x bound as data (x_i and x_j). */
function bound(F: "gauss" | "cauchy", x: Tensor): LazyTensor {
  const xi = Vi(x), xj = Vj(x);
  const d2 = xi.sub(xj).sqnorm2();
  return F === "gauss" ? d2.mul(-0.5).exp() : (LazyTensor.div(1, d2.add(1)) as LazyTensor);
}

for (const backend of testBackends()) {
  test(`solve [${backend}]: residual of the solution at sizes 0, 1, 7, 64, 257, several columns`, () =>
    withSeed((d) => {
      for (const dtype of ["float32", "float64"] as FloatDType[])
        for (const M of [0, 1, 7, 64, 257])
          for (const Dv of [1, 3]) {
            const x = d.randn([M, D], dtype);
            const b = d.randn([M, Dv], dtype);
            const alpha = 0.1;
            const a = bound("gauss", x).solve(b, { alpha, backend: backend as never });
            assert.deepEqual(a.shape, [M, Dv]);
            assert.equal(a.dtype, dtype);
            const K = denseKernel(gauss, x, M, D);
            const res = residualRms(K, M, alpha, a.data, b.data, Dv);
            // KeOps's rule stops the recursive residual at eps = 1e-6; float32 kernels add ~1e-6·‖a‖
            const tol = dtype === "float64" ? 2e-6 : 5e-5;
            assert.ok(res < tol, `M = ${M}, Dv = ${Dv}, ${dtype}: residual ${res}`);
          }
    }));

  test(`solve [${backend}]: agrees with a dense float64 Cholesky solve (M ≤ 500)`, () =>
    withSeed((d) => {
      for (const [name, F] of [["gauss", gauss], ["cauchy", cauchy]] as const)
        for (const M of [1, 37, 500]) {
          if (name === "cauchy" && M === 500) continue; // one large case is enough
          const x = d.randn([M, D], "float64");
          const b = d.randn([M, 2], "float64");
          const alpha = 0.5;
          const a = bound(name, x).solve(b, { alpha, eps: 1e-11, backend: backend as never });
          const ref = choleskySolve(denseKernel(F, x, M, D), M, alpha, b.data, 2);
          assertClose(a.data, ref, { rtol: 1e-7, what: `${name} M = ${M}` });
        }
      // float32 data: the float64 solve of the same float32 inputs, to float32 accuracy × conditioning
      const M = 200;
      const x = d.randn([M, D]);
      const b = d.randn([M, 1]);
      const a = bound("gauss", x).solve(b, { alpha: 1, backend: backend as never });
      const ref = choleskySolve(denseKernel(gauss, x, M, D), M, 1, b.data, 1);
      assertClose(a.data, ref, { rtol: 1e-4, what: "float32" });
    }));

  test(`solve [${backend}]: symbolic K gives a function; batch dims solve each batch entry`, () =>
    withSeed((d) => {
      const M = 40, alpha = 0.3;
      const x = d.randn([M, D], "float64");
      const b = d.randn([M, 2], "float64");
      const f = gauss.solve(b, { alpha, eps: 1e-11, backend: backend as never });
      assert.equal(typeof f, "function");
      assert.match(String(f), /reduction: Solve \(axis=1\)/);
      const a = f(x, x);
      assertClose(a.data, choleskySolve(denseKernel(gauss, x, M, D), M, alpha, b.data, 2), { rtol: 1e-7 });
      assert.ok(f.last!.iterations > 0 && f.last!.residual < 1e-11);

      // batch: x of shape (2, M, 1, D) / (2, 1, M, D); b of shape (2, M, 2) and broadcast (M, 2)
      const xb = d.randn([2, M, D], "float64");
      const xi = new LazyTensor(xb.reshape([2, M, 1, D])), xj = new LazyTensor(xb.reshape([2, 1, M, D]));
      const K = xi.sub(xj).sqnorm2().mul(-0.5).exp();
      for (const bb of [d.randn([2, M, 2], "float64"), b]) {
        const ab = K.solve(bb, { alpha, eps: 1e-11, backend: backend as never });
        assert.deepEqual(ab.shape, [2, M, 2]);
        for (let t = 0; t < 2; t++) {
          const rhs = bb.ndim === 3 ? bb.data.subarray(t * M * 2, (t + 1) * M * 2) : bb.data;
          const ref = choleskySolve(denseKernel(gauss, xb, M, D, t * M), M, alpha, rhs, 2);
          assertClose(ab.data.subarray(t * M * 2, (t + 1) * M * 2), ref, { rtol: 1e-7, what: `batch ${t}` });
        }
      }
    }));
}

test("solve: b as a vector (M,) or as Vi(b); the static form; onIteration", () =>
  withSeed((d) => {
    const M = 30;
    const x = d.randn([M, D], "float64");
    const b = d.randn([M], "float64");
    const K = bound("gauss", x);
    const a1 = K.solve(b, { alpha: 0.2 });
    assert.deepEqual(a1.shape, [M]);
    const a2 = LazyTensor.solve(K, Vi(b.reshape([M, 1])), { alpha: 0.2 });
    assert.deepEqual(a2.shape, [M, 1]);
    assertClose(a2.data, a1.data, { rtol: 1e-12 });
    const seen: [number, number][] = [];
    K.solve(b, { alpha: 0.2, eps: 1e-9, onIteration: (k, r) => seen.push([k, r]) });
    assert.ok(seen.length > 1);
    seen.forEach(([k], n) => assert.equal(k, n + 1));
    assert.ok(seen[seen.length - 1]![1] < 1e-9 && seen[0]![1] > 1e-9);
    // b = 0: nothing to do
    const z = K.solve(new Tensor(new Float64Array(M), [M, 1]));
    assert.ok(z.data.every((v) => v === 0));
  }));

test("solve: b as a symbolic i-variable (pykeops's K.solve(Vi(ind, dim))): a function of K's variables and b", () =>
  withSeed((d) => {
    const M = 30, alpha = 0.4;
    const x = d.randn([M, D], "float64");
    const b = d.randn([M, 2], "float64");
    const f = gauss.solve(Vi(2, 2), { alpha, eps: 1e-12 });
    assert.match(String(f), /symbolic variables: Var\(0, 3, 0\), Var\(1, 3, 1\), Var\(2, 2, 0\)/);
    const K = denseKernel(gauss, x, M, D);
    assertClose(f(x, x, b).data, choleskySolve(K, M, alpha, b.data, 2), { rtol: 1e-8 });
    const w = d.randn([M, 2], "float64");
    const grads = f.vjp([x, x, b], w);
    assertClose(grads[2]!.data, choleskySolve(K, M, alpha, w.data, 2), { rtol: 1e-8, what: "b̄" });
    // K fixed, b symbolic
    const g = bound("gauss", x).solve(Vi(0, 2), { alpha, eps: 1e-12 });
    assertClose(g(b).data, choleskySolve(K, M, alpha, b.data, 2), { rtol: 1e-8 });
    assert.throws(() => gauss.solve(Vi(0, 3)), /^KeOpsError: b: expected a symbolic variable that K does not use/);
  }));

test("solve: async: true returns a Promise of the same solution; SolveFunction.callAsync", () =>
  withSeed(async (d) => {
    const M = 300;
    const x = d.randn([M, D]);
    const b = d.randn([M, 2]);
    const K = bound("gauss", x);
    const sync = K.solve(b, { alpha: 0.1 });
    const pending = K.solve(b, { alpha: 0.1, async: true });
    assert.ok(pending instanceof Promise);
    assertClose((await pending).data, sync.data, { rtol: 1e-5 });
    const f = gauss.solve(b, { alpha: 0.1 });
    assertClose((await f.callAsync(x, x)).data, sync.data, { rtol: 1e-5 });
    assert.ok(f.last!.iterations > 0);
    assert.throws(() => K.solve(b, { async: 1 as never }), /^KeOpsError: async: expected a boolean, got 1/);
  }));

test("solve: bad input raises a KeOpsError naming the argument", () =>
  withSeed((d) => {
    const x = d.randn([10, D]);
    const K = bound("gauss", x);
    const b = d.randn([10, 1]);
    const err = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof KeOpsError && re.test(e.message));
    err(() => K.solve(d.randn([9, 1])), /^b: expected 10 rows.*got 9 rows/);
    err(() => K.solve(b, { alpha: -1 }), /^alpha: expected a finite number ≥ 0, got -1/);
    err(() => K.solve(b, { eps: 0 }), /^eps: expected a finite number > 0, got 0/);
    err(() => K.solve(b, { maxIter: 2.5 }), /^maxIter: expected a positive integer, got 2.5/);
    err(() => K.solve(b, { maxIter: 0 }), /^maxIter: expected a positive integer/);
    err(() => K.solve(b, { onIteration: 3 as never }), /^onIteration: expected a function/);
    err(() => K.solve(d.randn([10, 1], "float64")), /^b: expected float32 data like K's/);
    err(() => Vi(x).sub(Vj(x)).solve(b), /^K: expected a scalar LazyTensor/);
    err(() => Vi(x).sub(Vj(d.randn([4, D]))).sqnorm2().solve(b), /^K: expected a square LazyTensor/);
    err(() => K.solve(Vj(b)), /^b: expected a tensor of shape \(M, Dv\) or a LazyTensor that is an i-variable/);
  }));

test("solve: non-convergence raises an error with the residual reached (pykeops loops forever)", () =>
  withSeed((d) => {
    const M = 50;
    const x = d.randn([M, D], "float64");
    const b = d.randn([M, 1], "float64");
    // indefinite: a rank-3 PSD part minus a constant matrix
    const indefinite = Vi(x).dot(Vj(x)).sub(2);
    assert.throws(() => indefinite.solve(b, { alpha: 0.1 }), (e: unknown) =>
      e instanceof SolveConvergenceError && e instanceof KeOpsError && /residual reached \d/.test(e.message) &&
      e.iterations >= 1 && Number.isFinite(e.residual) && e.residual > 1e-6);
    // negative definite
    assert.throws(() => bound("gauss", x).neg().solve(b, { alpha: 0.1 }), /not positive definite/);
    // a positive definite system stopped by maxIter
    assert.throws(() => bound("gauss", x).solve(b, { alpha: 1e-3, maxIter: 3 }), (e: unknown) =>
      e instanceof SolveConvergenceError && /did not converge in maxIter = 3 iterations: residual reached/.test(e.message) && e.iterations === 3);
  }));
