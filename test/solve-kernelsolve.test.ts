/** kernelSolve (pykeops's KernelSolve): formula strings, axes, options at call time, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, SolveConvergenceError, Vi, Vj, kernelSolve } from "../src/index.js";
import { choleskySolve, denseKernel } from "./solve-util.js";
import { assertClose, testBackends, withSeed } from "./util.js";

const D = 3;
const gauss = Vi(0, D).sub(Vj(1, D)).sqnorm2().neg().exp();

for (const backend of testBackends()) {
  test(`kernelSolve [${backend}]: agrees with a dense Cholesky solve, over j and over i, with a parameter`, () =>
    withSeed((d) => {
      for (const M of [1, 9, 120]) {
        const x = d.randn([M, D], "float64");
        const b = d.randn([M, 2], "float64");
        const ref = choleskySolve(denseKernel(gauss, x, M, D), M, 0.25, b.data, 2);
        const overJ = kernelSolve("Exp(-SqNorm2(x - y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], "b", { backend: backend as never });
        assertClose(overJ(x, x, b, { alpha: 0.25, eps: 1e-12 }).data, ref, { rtol: 1e-8, what: `axis 1, M = ${M}` });
        // the unknown indexed by i, reduced over i (pykeops's default axis 0), explicit indices
        const overI = kernelSolve("Exp(-SqNorm2(y - x)) * a", ["a = Vi(2, 2)", "x = Vi(0, 3)", "y = Vj(1, 3)"], "a", { axis: 0, backend: backend as never, alpha: 0.25, eps: 1e-12 });
        assertClose(overI(x, x, b).data, ref, { rtol: 1e-8, what: `axis 0, M = ${M}` });
        // a parameter in the formula
        const withP = kernelSolve("Exp(-g * SqNorm2(x - y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "g = Pm(1)"], "b", { backend: backend as never });
        assertClose(withP(x, x, b, [1], { alpha: 0.25, eps: 1e-12 }).data, ref, { rtol: 1e-8, what: `parameter, M = ${M}` });
      }
    }));
}

test("kernelSolve: float32, options given when made and overridden at call time", () =>
  withSeed((d) => {
    const M = 100;
    const x = d.randn([M, D]);
    const b = d.randn([M, 1]);
    const Kinv = kernelSolve("Exp(-SqNorm2(x - y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", { alpha: 0.1, maxIter: 2 });
    assert.throws(() => Kinv(x, x, b), SolveConvergenceError);
    const a = Kinv(x, x, b, { maxIter: 500 });
    assert.equal(a.dtype, "float32");
    const ref = choleskySolve(denseKernel(gauss, x, M, D), M, 0.1, b.data, 1);
    assertClose(a.data, ref, { rtol: 1e-3 });
    assert.ok(Kinv.last!.residual < 1e-6);
    // a backend given at call time is used (an unknown one is an error)
    assert.throws(() => Kinv(x, x, b, { backend: "nope" as never }), /^KeOpsError: backend: expected one of/);
  }));

test("kernelSolve: bad input raises a KeOpsError naming the argument", () =>
  withSeed((d) => {
    const al = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "g = Pm(1)"];
    const f = "Exp(-SqNorm2(x - y)) * b";
    const err = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof KeOpsError && re.test(e.message));
    err(() => kernelSolve(f, al, "c"), /^varInvAlias: expected one of the alias names "x", "y", "b", "g", got "c"/);
    err(() => kernelSolve(f, al, "g"), /^varInvAlias: expected an alias indexed by i or j/);
    err(() => kernelSolve(f, al, "b", { axis: 0 }), /^axis: expected 1: the unknown b is indexed by j/);
    err(() => kernelSolve("Exp(-SqNorm2(x - y))", al, "b"), /^formula: does not use the unknown b/);
    err(() => kernelSolve("(x - y) * b", al, "b"), /^formula: expected dimension 1/);
    err(() => kernelSolve(f, al, "b", { eps: -1 }), /^eps: expected a finite number > 0/);
    const Kinv = kernelSolve(f, al.slice(0, 3), "b");
    const x = d.randn([8, D]);
    err(() => Kinv(x, x, d.randn([7, 1])), /^b \(argument 2\): expected 8 rows/);
    err(() => Kinv(x, x), /^arguments: expected 3 tensor\(s\)/);
    err(() => Kinv(x, x, d.randn([8, 1]), { alpha: -2 }), /^alpha: expected a finite number ≥ 0/);
  }));
