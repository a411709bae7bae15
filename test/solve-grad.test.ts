/** Gradients through solve: with respect to b (another solve) and to K's variables, against finite differences. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyTensor, Tensor, Vi, Vj, kernelSolve } from "../src/index.js";
import { solveWithVjp } from "../src/solve/index.js";
import { choleskySolve, denseKernel } from "./solve-util.js";
import { assertClose, testBackends, withSeed } from "./util.js";

const D = 3;
const tight = { eps: 1e-13 };

/** ⟨f(t), w⟩ and its central finite difference along component k of t. */
function fd(f: (t: Tensor) => Tensor, t: Tensor, w: Tensor, k: number, h = 1e-5): number {
  const at = (s: number): number => {
    const u = new Tensor(Float64Array.from(t.data), t.shape);
    u.data[k]! += s;
    const a = f(u);
    let v = 0;
    for (let n = 0; n < a.size; n++) v += a.data[n]! * w.data[n]!;
    return v;
  };
  return (at(h) - at(-h)) / (2 * h);
}

/** A few component indices of a tensor of n elements (first, last, some in between). */
const picks = (n: number): number[] => [...new Set([0, n - 1, Math.floor(n / 3), Math.floor((2 * n) / 3)])];

for (const backend of testBackends()) {
  const be = { backend: backend as never };

  test(`solve gradients [${backend}]: b̄ is (αI + K)⁻¹ ā; x̄ against finite differences (symbolic K, call: false)`, () =>
    withSeed((d) => {
      const M = 40, Dv = 2, alpha = 0.3;
      const x = d.randn([M, D], "float64");
      const b = d.randn([M, Dv], "float64");
      const w = d.randn([M, Dv], "float64");
      const K = Vi(0, D).sub(Vj(1, D)).sqnorm2().mul(-0.5).exp();
      const f = K.solve(b, { alpha, ...tight, ...be, call: false });
      const [gi, gj] = f.vjp([x, x], w);
      assert.deepEqual(gi!.shape, [M, D]);
      const gx = gi!.data.map((v, k) => v + gj!.data[k]!);
      for (const k of picks(M * D)) {
        const num = fd((t) => f(t, t), x, w, k);
        assertClose([gx[k]!], [num], { rtol: 1e-5, atol: 1e-7, what: `x̄[${k}]` });
      }
      // b̄ through kernelSolve (b is an argument there), against the dense solve of ā
      const Kinv = kernelSolve("Exp(IntCst(-1) * SqNorm2(x - y) / IntCst(2)) * b", ["x = Vi(3)", "y = Vj(3)", `b = Vj(${Dv})`], "b", { alpha, ...tight, ...be });
      const grads = Kinv.vjp([x, x, b], w);
      assert.equal(grads.length, 3);
      const ref = choleskySolve(denseKernel(K, x, M, D), M, alpha, w.data, Dv);
      assertClose(grads[2]!.data, ref, { rtol: 1e-8, what: "b̄" });
      assertClose(grads[0]!.data.map((v, k) => v + grads[1]!.data[k]!), gx, { rtol: 1e-7, what: "x̄ (kernelSolve)" });
    }));

  test(`solve gradients [${backend}]: bound data (the tfjs entry point), a parameter, batch dims with a broadcast b`, () =>
    withSeed((d) => {
      const M = 25, alpha = 0.2;
      const x = d.randn([2, M, D], "float64");
      const s = new Tensor(Float64Array.of(0.7), [1]);
      const bShared = d.randn([M, 1], "float64");
      const w = d.randn([2, M, 1], "float64");
      const build = (xx: Tensor, ss: Tensor): LazyTensor => {
        const xi = new LazyTensor(xx.reshape([2, M, 1, D])), xj = new LazyTensor(xx.reshape([2, 1, M, D]));
        return xi.sub(xj).sqnorm2().mul(new LazyTensor(ss)).neg().exp();
      };
      const run = solveWithVjp(build(x, s), bShared, { alpha, ...tight, ...be });
      assert.deepEqual(run.a.shape, [2, M, 1]);
      const g = run.backward(w);
      assert.deepEqual(g.b.shape, [M, 1]);
      const gx = g.data.get(x.data)!;
      const gs = g.data.get(s.data)!;
      assert.equal(gx.size, x.size); // shaped like the first tensor bound to x's data: (2, M, 1, D)
      assert.equal(gs.size, 1);
      const solveWith = (xx: Tensor, ss: Tensor, bb: Tensor): Tensor => build(xx, ss).solve(bb, { alpha, ...tight, ...be });
      for (const k of picks(2 * M * D))
        assertClose([gx.data[k]!], [fd((t) => solveWith(t, s, bShared), x, w, k)], { rtol: 1e-5, atol: 1e-7, what: `x̄[${k}]` });
      assertClose([gs.data[0]!], [fd((t) => solveWith(x, t, bShared), s, w, 0)], { rtol: 1e-5, what: "s̄" });
      for (const k of picks(M))
        assertClose([g.b.data[k]!], [fd((t) => solveWith(x, s, t), bShared, w, k)], { rtol: 1e-6, atol: 1e-8, what: `b̄[${k}] (summed over the batch)` });
    }));
}

test("solve gradients: a cotangent of the wrong shape is a KeOpsError naming gradOut", () =>
  withSeed((d) => {
    const x = d.randn([10, D], "float64");
    const f = Vi(0, D).sub(Vj(1, D)).sqnorm2().neg().exp().solve(d.randn([10, 1], "float64"), { alpha: 1, call: false });
    assert.throws(() => f.vjp([x, x], d.randn([9, 1], "float64")), /^KeOpsError: gradOut: expected a tensor of the solution's shape \(10, 1\)/);
  }));
