/**
 * KeOpsFunction: `call: false` and reductions over symbolic variables return a function; its
 * arguments are the symbolic variables in index order, mixed with fixed tensors; it prints as
 * pykeops prints; it reuses its plan and kernel; bad arguments raise KeOpsErrors naming them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Pm, Vi, Vj, tensor, type Tensor } from "../src/index.js";
import { prepareCall } from "../src/lazy/execute.js";
import { specOf } from "../src/lazy/keopsfunction.js";
import { reference } from "./reference.js";
import { assertClose, rtolFor, withSeed } from "./util.js";
import { TUTORIAL2_GAMMAFUN } from "./expected.js";

const sigmas = tensor([0.5, 1.0, 2.0, 4.0]);
const sig2 = tensor([0.25, 1, 4, 16]);

test("the tutorial's printout of a reduction over symbolic variables, character for character", async () => {
  await withSeed((d) => {
    const [M, N, D, Dv] = [50, 30, 3, 4];
    const x = d.randn([M, D]);
    const beta = d.randn([N, Dv]);
    const xi = Vi(x), yj = Vj(0, D), bj = Vj(beta);
    const dxy2 = LazyTensor.sum(xi.sub(yj).pow(2));
    const Kxyb = LazyTensor.exp(dxy2.neg().div(sig2)).sum().mul(bj);
    const gammafun = Kxyb.sumReduction({ axis: 1 });
    assert.equal(
      String(gammafun),
      TUTORIAL2_GAMMAFUN,
    );
    assert.deepEqual(gammafun.symbolicVariables, [[0, 3, 1]]);
    assert.equal(gammafun.reductionOp, "Sum");
    assert.equal(gammafun.axis, 1);
  });
});

test("call: false returns a function; calling it again gives the same result and sees in-place changes", async () => {
  await withSeed((d) => {
    const [M, N, D, Dv] = [57, 33, 3, 4];
    const x = d.randn([M, D]), y = d.randn([N, D]), b = d.randn([N, Dv]);
    const lt = LazyTensor.exp(Vi(x).sub(Vj(y)).pow(2).sum(-1).neg().div(sig2)).sum().mul(Vj(b));
    const f = lt.sumReduction({ axis: 1, call: false });
    assert.equal(typeof f, "function");
    assert.equal(String(f).split("\n").length, 4, "no symbolic-variables line without symbolic variables");
    const direct = lt.sumReduction({ axis: 1 });
    const r1 = f(), r2 = f();
    assert.notEqual(r1, r2, "fresh outputs per call");
    assert.deepEqual(r1.data, direct.data);
    assert.deepEqual(r2.data, direct.data);
    assertClose(r1.data, reference(f).values!, { rtol: rtolFor("float32") });
    x.data[0] = (x.data[0] as number) + 1; // the tutorial's "in-place operations over tensors"
    const r3 = f();
    assertClose(r3.data, reference(f).values!, { rtol: rtolFor("float32") });
    assert.notDeepEqual(r3.data, r1.data);
  });
});

test("symbolic variables in index order, mixed with fixed tensors; equal to the fixed version", async () => {
  await withSeed((d) => {
    const [M, N, D, Dv] = [50, 30, 3, 4];
    const x = d.uniform([M, D], 0, 1), y = d.uniform([N, D], 0, 1), beta = d.uniform([N, Dv], 0, 1);
    const fixed = LazyTensor.exp(LazyTensor.sum(Vi(x).sub(Vj(y)).pow(2)).neg().div(sig2)).sum().mul(Vj(beta)).sumReduction({ axis: 1 });
    const xi = Vi(0, D), yj = Vj(1, D), bj = Vj(2, Dv), S = Pm(3, 4);
    const all = LazyTensor.exp(LazyTensor.sum(xi.sub(yj).pow(2)).neg().div(S.pow(2))).sum().mul(bj).sumReduction({ axis: 1 });
    assertClose(all(x, y, beta, sigmas).data, fixed.data, { rtol: 1e-6 });
    assertClose(all(x, y, beta, [0.5, 1, 2, 4]).data, fixed.data, { rtol: 1e-6 });
    // declared out of order: arguments still follow the indices
    const swapped = Vj(1, D).sub(Vi(0, D)).sqnorm2().sumReduction({ axis: 1 });
    assert.deepEqual(swapped.symbolicVariables, [[1, 3, 1], [0, 3, 0]]);
    assertClose(swapped(x, y).data, reference(swapped, x, y).values!, { rtol: 1e-5 });
    // mixed: y only
    const mixed = LazyTensor.exp(LazyTensor.sum(Vi(x).sub(Vj(0, D)).pow(2)).neg().div(sig2)).sum().mul(Vj(beta)).sumReduction({ axis: 1 });
    assertClose(mixed(y).data, fixed.data, { rtol: 1e-6 });
    // float64 and ragged sizes through the same function
    const x64 = d.randn([7, D], "float64"), y64 = d.randn([1, D], "float64");
    const r = swapped(x64, y64);
    assert.equal(r.dtype, "float64");
    assertClose(r.data, reference(swapped, x64, y64).values!, { rtol: 1e-12 });
  });
});

test("a call reuses the plan and the compiled kernel (one Prepared per dtype)", async () => {
  await withSeed((d) => {
    const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().sumReduction({ axis: 1 });
    const x = d.randn([5, 3]), y = d.randn([6, 3]);
    f(x, y);
    const p = prepareCall(specOf(f).call, "float32");
    assert.equal(p.kernels.size, 1);
    const k = [...p.kernels.values()][0];
    for (let n = 0; n < 3; n++) f(x, y);
    assert.equal(prepareCall(specOf(f).call, "float32"), p);
    assert.equal([...p.kernels.values()][0], k);
    f(x, y, { backend: "js" });
    assert.ok(p.kernels.has("js|blocking"), "kernels are kept per backend option and call mode");
  });
});

test("callAsync gives the same result; options as the last argument", async () => {
  await withSeed(async (d) => {
    const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().sumReduction({ axis: 0 });
    const x = d.randn([9, 3]), y = d.randn([4, 3]);
    const a = f(x, y, { backend: "js" }) as Tensor;
    const b = (await f.callAsync(x, y)) as Tensor;
    assertClose(b.data, a.data, { rtol: 1e-6 });
    await assert.rejects(f.callAsync(x), KeOpsError);
  });
});

test("wrong argument count, dim or dtype raise a KeOpsError naming the argument", () => {
  const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(Pm(2, 2)).sumReduction({ axis: 1 });
  const x = tensor([[1, 2, 3]]), y = tensor([[1, 2, 3], [4, 5, 6]]);
  const err = (g: () => unknown, re: RegExp): void => {
    assert.throws(g, (e: unknown) => e instanceof KeOpsError && re.test(e.message), String(re));
  };
  err(() => f(x, y), /arguments: expected 3 tensor\(s\), for Var\(0,3,0\), Var\(1,3,1\), Var\(2,2,2\), got 2/);
  err(() => f(x, y, [1, 2], [3]), /arguments: expected 3 tensor\(s\)/);
  err(() => f(x, tensor([[1, 2]]), [1, 2]), /argument 1 \(Var\(1,3,1\)\): expected a tensor of shape \(…, rows, 3\), got a Tensor of shape \(1, 2\)/);
  err(() => f(x, y, [1, 2, 3]), /argument 2 \(Var\(2,2,2\)\): expected 2 number\(s\)/);
  err(() => f(x, tensor([[1, 2, 3]], { dtype: "float64" }), [1, 2]), /argument 1 \(Var\(1,3,1\)\): all tensors of a formula must share one dtype, expected float32, got float64/);
  err(() => f(x, tensor([[1, 2, 3]], { dtype: "int32" }), [1, 2]), /argument 1 \(Var\(1,3,1\)\): expected float32 or float64 data/);
  err(() => f(tensor([1, 2, 3]), y, [1, 2]), /argument 0 \(Var\(0,3,0\)\): expected a tensor of shape \(…, rows, 3\)/);
  // a fixed float32 tensor fixes the dtype
  const g = Vi(x).sub(Vj(0, 3)).sqnorm2().sumReduction({ axis: 1 });
  err(() => g(tensor([[1, 2, 3]], { dtype: "float64" })), /argument 0 \(Var\(0,3,1\)\): all tensors of a formula must share one dtype/);
  // i-variables must agree on M
  const h = Vi(x).sub(Vi(0, 3)).sqnorm2().sumReduction({ axis: 1 });
  err(() => h(y), /argument 0 \(Var\(0,3,0\)\): expected 1 rows/);
});

test("batch dimensions through the arguments of a function, broadcast against fixed data", async () => {
  await withSeed((d) => {
    const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().mul(Pm(2, 2)).sumReduction({ axis: 1 });
    const x = d.randn([2, 1, 5, 3]), y = d.randn([1, 3, 7, 3]), p = d.randn([2, 3, 2]);
    const out = f(x, y, p);
    assert.deepEqual(out.shape, [2, 3, 5, 2]);
    assertClose(out.data, reference(f, x, y, p).values!, { rtol: 1e-5 });
    const g = new LazyTensor(d.randn([2, 1, 5, 1, 3])).sub(Vj(0, 3)).sqnorm2().sumReduction({ axis: 2 });
    const yb = d.randn([3, 4, 3]);
    const r = g(yb);
    assert.deepEqual(r.shape, [2, 3, 4, 1]); // two batch dims: axis 2 reduces over i
    assertClose(r.data, reference(g, yb).values!, { rtol: 1e-5 });
  });
});
