/** LazyTensor construction rules, numbering, printing and shapes (pykeops's behaviour). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Pm, Tensor, Vi, Vj, randn, tensor, zeros } from "../src/index.js";

const M = 1000, N = 2000, D = 3;
const x = randn([M, D], { seed: 0 }), y = randn([N, D], { seed: 1 });

test("the first tutorial's print(S_ij) and print(V_ij), character for character", () => {
  const x_i = new LazyTensor(x.reshape([M, 1, D]));
  const y_j = new LazyTensor(y.reshape([1, N, D]));
  const V_ij = x_i.sub(y_j);
  const S_ij = V_ij.pow(2).sum(-1);
  assert.equal(String(S_ij), "KeOps LazyTensor\n    formula: Sum(Square((Var(0,3,0) - Var(1,3,1))))\n    shape: (1000, 2000)");
  assert.equal(String(V_ij), "KeOps LazyTensor\n    formula: (Var(0,3,0) - Var(1,3,1))\n    shape: (1000, 2000, 3)");
});

test("construction rules: numbers, lists, 1-D, 2-D with axis, (…,M,1,D), (…,1,N,D), (…,1,1,D), symbolic", () => {
  assert.equal(new LazyTensor(2).formula, "IntCst(2)");
  assert.equal(new LazyTensor(2.5).formula, "Var(0,1,2)");
  assert.equal(new LazyTensor([1.5, 2, 3, 4]).formula, "Var(0,4,2)");
  assert.equal(new LazyTensor(tensor([1, 2])).formula, "Var(0,2,2)");
  assert.equal(new LazyTensor(x, 0).formula, "Var(0,3,0)");
  assert.equal(new LazyTensor(y, 1).formula, "Var(0,3,1)");
  assert.equal(new LazyTensor(zeros([4, 1, 1, 5])).formula, "Var(0,5,2)");
  const b = new LazyTensor(zeros([4, 7, 1, 2]));
  assert.equal(b.formula, "Var(0,2,0)");
  assert.deepEqual(b.shape, [4, 7, 1, 2]);
  assert.equal(b.nbatchdims, 1);
  assert.equal(new LazyTensor([0, 3, 1]).formula, "Var(0,3,1)");
  assert.deepEqual(Vi(x).shape, [1000, 1, 3]);
  assert.deepEqual(Vj(y).shape, [1, 2000, 3]);
  assert.equal(Pm(tensor([1, 2, 3])).formula, "Var(0,3,2)");
  assert.equal(Vi(2, 4).formula, "Var(2,4,0)");
  assert.equal(Vi(x).ndim, 3);
  assert.equal(Vi(x).dtype, "float32");
});

test("variables are numbered as pykeops numbers them: symbolic first, then fixed tensors by appearance", () => {
  const sigmas = tensor([0.5, 1, 2, 4]);
  const beta = randn([30, 4]);
  const xi = Vi(randn([50, 3])), yj = Vj(0, 3), bj = Vj(beta);
  const dxy2 = LazyTensor.sum(xi.sub(yj).pow(2)) as LazyTensor<true>;
  const Kxyb = LazyTensor.exp(dxy2.neg().div(tensor(sigmas.data.map((s) => s * s)))).sum().mul(bj);
  assert.equal(Kxyb.formula, "(Sum(Exp((Minus(Sum(Square((Var(1,3,0) - Var(0,3,1))))) / Var(2,4,2)))) * Var(3,4,1))");
  const fn = Kxyb.sumReduction({ axis: 1 });
  assert.equal(
    String(fn),
    "KeOps LazyTensor\n    formula: (Sum(Exp((Minus(Sum(Square((Var(1,3,0) - Var(0,3,1))))) / Var(2,4,2)))) * Var(3,4,1))\n" +
      "    symbolic variables: Var(0, 3, 1)\n    shape: (50, 30, 4)\n    reduction: Sum (axis=1)",
  );
});

test("the same tensor as Vi and Vj gives two variables", () => {
  const f = Vi(x).sub(Vj(x)).sqnorm2();
  assert.equal(f.formula, "SqNorm2((Var(0,3,0) - Var(1,3,1)))");
  const s = f.sum({ axis: 1 }) as Tensor;
  assert.deepEqual([...s.shape], [M, 1]);
});

test("t() swaps i and j", () => {
  const f = Vi(x).sub(Vj(y)).sqnorm2();
  const ft = f.t();
  assert.deepEqual(ft.shape, [N, M]);
  const a = f.sum({ axis: 0 }) as Tensor, b = ft.sum({ axis: 1 }) as Tensor;
  assert.deepEqual([...a.data], [...b.data]);
});

test("construction and combination errors are KeOpsErrors naming the argument", () => {
  const err = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: Error) => e instanceof KeOpsError && re.test(e.message), String(re));
  };
  err(() => new LazyTensor(x), /axis: expected 0 or 1 for a 2-D tensor/);
  err(() => new LazyTensor(zeros([5, 2, 3])), /x: expected a shape \(…, M, 1, D\)/);
  err(() => Vi(zeros([5, 1, 3])), /Vi: x: expected a 2-D tensor/);
  err(() => Vi(x).sub(Vi(randn([7, 3]))), /i-variables with the same number of rows M/);
  err(() => Vj(y).sub(Vj(randn([7, 3]))), /j-variables with the same number of rows N/);
  err(() => Vi(x).sub(Vj(randn([N, 3], { dtype: "float64" }))), /float32 and float64/);
  err(() => Vi(x).sub(Vj(randn([N, 2]))), /same dimension or dimension 1/);
  err(() => Vi(x).sub(Vj(y)).sum({ axis: 3 }), /axis: expected 0 or 1/);
  err(() => Vi(x).elem(3), /Elem/);
  err(() => Vi(x).extract(2, 2), /Extract/);
  err(() => Vi(x).sub(Vj(y)).sqnorm2().argKmin({ K: 0, axis: 1 }), /K: expected a positive integer/);
  err(() => Vi(x).sub(Vj(y)).sqnorm2().argKmin({ K: 2.5, axis: 1 }), /K: expected a positive integer/);
  err(() => Vi(x).sub(Vj(y)).sqnorm2().argKmin({ K: N + 1, axis: 1 }), /K: expected an integer from 1 to the reduced length 2000/);
  err(() => Vi(x).add("a" as never), /operand 1 of Add/);
  err(() => new LazyTensor(zeros([2, 3, 1, 3])).sub(new LazyTensor(zeros([3, 1, 4, 3]))), /batch dimensions that broadcast/);
});
