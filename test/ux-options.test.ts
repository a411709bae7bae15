/**
 * Options objects are checked (an unknown key names the closest accepted one), and a missing axis
 * is reported in words; printing through util.inspect.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { KeOpsError, LazyTensor, Tensor, Vi, Vj, genred, kernelSolve, randn, tensor, zeros, ones, rand, type KeOpsFunction } from "../src/index.js";
import { editDistance, closest } from "../src/check-options.js";
import { formatTensor } from "../src/inspect.js";

function throwsKeOps(f: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KeOpsError, `expected a KeOpsError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

const x = randn([6, 3], { seed: 1 }), y = randn([5, 3], { seed: 2 });
const K = Vi(x).sub(Vj(y)).sqnorm2();

test("edit distance and the closest key", () => {
  assert.equal(editDistance("axs", "axis"), 1);
  assert.equal(editDistance("bakend", "backend"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("AXIS", "axis"), 0);
  assert.equal(closest("dtypeacc", ["axis", "dtypeAcc", "sumScheme"]), "dtypeAcc");
  assert.equal(closest("x", []), undefined);
});

test("reductions: an unknown key names the closest accepted one, whatever its value", () => {
  throwsKeOps(() => K.sum({ axs: 1 } as never), /^sum: unknown option "axs" \(did you mean "axis"\?/);
  throwsKeOps(() => K.sum({ axis: 1, bakend: "wasm" } as never), /unknown option "bakend" \(did you mean "backend"\?/);
  throwsKeOps(() => K.sum({ axis: 1, asycn: undefined } as never), /unknown option "asycn" \(did you mean "async"\?/);
  throwsKeOps(() => K.logsumexp({ axis: 1, wieght: y } as never), /^logsumexp: unknown option "wieght" \(did you mean "weight"\?/);
  throwsKeOps(() => K.min({ axis: 1, K: 2 } as never), /^min: unknown option "K"/);
  throwsKeOps(() => K.argKmin({ K: 2, axis: 1, k: 2 } as never), /^argKmin: unknown option "k" \(did you mean "K"\?/);
  throwsKeOps(() => K.sumsoftmaxweight(Vj(y), { axis: 1, weight: 1 } as never), /^sumsoftmaxweight: unknown option "weight"/);
  throwsKeOps(() => K.minArgmin({ axis: 1, onProgres: () => {} } as never), /did you mean "onProgress"/);
  throwsKeOps(() => K.sum({ axis: 1, onProgress: 3 } as never), /onProgress: expected a function/);
  throwsKeOps(() => K.sum({ axis: 1, signal: {} } as never), /signal: expected an AbortSignal/);
});

test("without an axis: the inner op takes no reduction option, and the K-min family says what is missing", () => {
  throwsKeOps(() => K.sum({ backend: "wasm" } as never), /^sum: option "backend" needs an axis/);
  throwsKeOps(() => K.max({ async: true } as never), /^max: option "async" needs an axis/);
  assert.ok(K.sum({}) instanceof LazyTensor);
  assert.ok(K.sum({ axis: -1 }) instanceof LazyTensor);
  throwsKeOps(() => K.argKmin({ K: 3 } as never), /^argKmin: axis: expected 0 \(reduce over i\) or 1 \(reduce over j\), e\.g\. \{ K: 3, axis: 1 \}, got no axis$/);
  const b = new LazyTensor(zeros([2, 5, 1, 3])).sub(new LazyTensor(zeros([2, 1, 4, 3]))).sqnorm2();
  throwsKeOps(() => b.Kmin({ K: 2 } as never), /^Kmin: axis: expected 1 \(reduce over i\) or 2 \(reduce over j\) \(1 batch dims come first\)/);
});

test("genred, kernelSolve, solve, KeOpsFunction calls and tensor constructors check their keys", () => {
  throwsKeOps(() => genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], { axis: 1, reductionop: "Min" } as never), /^genred: unknown option "reductionop" \(did you mean "reductionOp"\?/);
  throwsKeOps(() => kernelSolve("SqDist(x,y) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", { axis: 1, call: false } as never), /^kernelSolve: unknown option "call"/);
  const G = Vi(x).sub(Vj(x)).sqnorm2().neg().exp();
  throwsKeOps(() => G.solve(randn([6, 1]), { alhpa: 1 } as never), /^solve: unknown option "alhpa" \(did you mean "alpha"\?/);
  const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().sum({ axis: 1 });
  throwsKeOps(() => f(x, y, { bakend: "js" } as never), /^KeOpsFunction call: unknown option "bakend" \(did you mean "backend"\?/);
  throwsKeOps(() => randn([2], { sed: 1 } as never), /^randn: unknown option "sed" \(did you mean "seed"\?/);
  throwsKeOps(() => rand([2], { dtyp: "float64" } as never), /^rand: unknown option "dtyp" \(did you mean "dtype"\?/);
  throwsKeOps(() => zeros([2], { seed: 1 } as never), /^zeros: unknown option "seed"/);
  throwsKeOps(() => ones([2], { shape: [2] } as never), /^ones: unknown option "shape"/);
  throwsKeOps(() => tensor([1, 2], { shap: [2, 1] } as never), /^tensor: unknown option "shap" \(did you mean "shape"\?/);
  throwsKeOps(() => tensor([1, 2], 3 as never), /^tensor: options: expected an options object, got 3$/);
});

test("util.inspect: LazyTensor, KeOpsFunction, SolveFunction print as String(x); a Tensor shows its values", () => {
  assert.equal(inspect(K), String(K));
  assert.match(inspect(K), /^KeOps LazyTensor\n {4}formula: SqNorm2/);
  const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().sum({ axis: 1 });
  assert.equal(inspect(f), String(f));
  const s = kernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", { axis: 1 });
  assert.equal(inspect(s), String(s));
  assert.equal(inspect(tensor([[1, 2], [3, 4.5]])), "Tensor(shape [2, 2], float32)\n[[1.0000, 2.0000],\n [3.0000, 4.5000]]");
  assert.equal(String(tensor([3, -1, 2], { dtype: "int32" })), "Tensor(shape [3], int32)\n[ 3, -1,  2]");
  assert.equal(String(tensor([[1, 2]], { dtype: "float64" })), "Tensor(shape [1, 2], float64)\n[[1., 2.]]");
  assert.equal(String(tensor([NaN, Infinity, 1.5])), "Tensor(shape [3], float32)\n[   nan,    inf, 1.5000]");
  assert.equal(String(zeros([0, 3])), "Tensor(shape [0, 3], float32)\n[]");
  assert.equal(String(tensor(7)), "Tensor(shape [], float32)\n7.");
});

test("a large tensor is summarised NumPy-style: first and last three of each axis", () => {
  const n = 2000;
  const data = new Float32Array(n * 2).map((_, k) => k);
  const t = formatTensor({ shape: [n, 2], dtype: "float32", data });
  assert.equal(t, "Tensor(shape [2000, 2], float32)\n[[   0.,    1.],\n [   2.,    3.],\n [   4.,    5.],\n ...,\n [3994., 3995.],\n [3996., 3997.],\n [3998., 3999.]]");
  const wide = formatTensor({ shape: [1, 1001], dtype: "int32", data: new Int32Array(1001).map((_, k) => k) });
  assert.equal(wide, "Tensor(shape [1, 1001], int32)\n[[   0,    1,    2, ...,  998,  999, 1000]]");
  const small = formatTensor({ shape: [2], dtype: "float32", data: new Float32Array([1e-6, 2]) });
  assert.equal(small, "Tensor(shape [2], float32)\n[1.0000e-6, 2.0000e+0]");
});

test("the overloads' result types (checked by tsc: npm run typecheck)", () => {
  const t: Tensor = K.sum({ axis: 1 });
  const p: Promise<Tensor> = K.sum({ axis: 1, async: true });
  const lazy: LazyTensor<false> = K.sum({});
  const inner: LazyTensor<false> = K.min();
  const flag = Math.random() < 2;
  const either: Tensor | Promise<Tensor> = K.sum({ axis: 1, async: flag });
  const fn: KeOpsFunction<Tensor> = K.sum({ axis: 1, call: false });
  const sym: KeOpsFunction<Tensor> = Vi(0, 3).sqnorm2().sum({ axis: 1 });
  assert.ok(t instanceof Tensor && lazy instanceof LazyTensor && inner instanceof LazyTensor && typeof fn === "function" && typeof sym === "function");
  return Promise.all([p, either]).then(([a, b]) => assert.ok(a instanceof Tensor && b instanceof Tensor));
});
