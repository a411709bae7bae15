/**
 * Every validation raises a KeOpsError naming the argument, what was expected and what was given
 * (issue 11's list; features with their own suites — solve, genred — test their errors there too).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Pm, Tensor, Vi, Vj, randn, tensor, zeros } from "../src/index.js";
import { execute } from "../src/lazy/execute.js";
import { reductionByName } from "../src/reductions/index.js";
import { Var } from "../src/formula/node.js";
import { sub, sqnorm2 } from "../src/formula/index.js";

function throwsKeOps(f: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KeOpsError, `expected a KeOpsError, got ${err === undefined ? "no error" : String(err)}`);
  for (const p of patterns) assert.match(err.message, p);
}

const x = randn([5, 3], { seed: 1 }), y = randn([4, 3], { seed: 2 });
const S = Vi(x).sub(Vj(y)).sqnorm2();

test("tensor data length vs shape", () => {
  throwsKeOps(() => new Tensor(new Float32Array(5), [2, 3]), /^data: expected 6 elements for shape \(2, 3\), got 5 elements$/);
  throwsKeOps(() => tensor(new Float32Array(4), { shape: [3] }), /data: expected 3 elements/);
});

test("incompatible vector dims", () => {
  throwsKeOps(() => Vi(x).sub(Vj(randn([4, 2]))), /Subtract: operands must have the same dimension or dimension 1, got dimensions 3 and 2/);
  throwsKeOps(() => Vi(x).dot(Vj(randn([4, 2]))), /Scalprod/, /3 and 2/);
});

test("two i-variables with different M, two j-variables with different N", () => {
  throwsKeOps(() => Vi(x).add(Vi(randn([6, 3]))), /Add: expected i-variables with the same number of rows M, got M = 5 and M = 6/);
  throwsKeOps(() => Vj(y).add(Vj(randn([6, 3]))), /N = 4 and N = 6/);
  const f = Vi(0, 3).add(Vi(1, 3)).sum({ axis: 1 });
  throwsKeOps(() => f(randn([5, 3]), randn([6, 3])), /argument 1/, /5 rows/, /6 rows/);
});

test("an axis outside {0, 1}, offset by batch dims", () => {
  throwsKeOps(() => S.sum({ axis: 3 }), /^axis: expected 0 or 1, got 3$/);
  throwsKeOps(() => S.logsumexp({ axis: -2 }), /axis: expected 0 or 1, got -2/);
  throwsKeOps(() => S.logsumexp({} as never), /^logsumexp: axis: expected 0 \(reduce over i\) or 1 \(reduce over j\), e\.g\. \{ axis: 1 \}, got no axis$/);
  const b = new LazyTensor(zeros([2, 5, 1, 3])).sub(new LazyTensor(zeros([2, 1, 4, 3]))).sqnorm2();
  throwsKeOps(() => b.sum({ axis: 0 }), /axis: expected 1 or 2 \(0 or 1 offset by 1 batch dims\), got 0/);
});

test("K ≤ 0, non-integer, above the reduced length", () => {
  throwsKeOps(() => S.argKmin({ K: 0, axis: 1 }), /^K: expected a positive integer, got 0$/);
  throwsKeOps(() => S.Kmin({ K: 1.5, axis: 1 }), /K: expected a positive integer, got 1.5/);
  throwsKeOps(() => S.KminArgKmin({ K: 5, axis: 1 }), /K: expected an integer from 1 to the reduced length 4, got 5/);
  throwsKeOps(() => S.KminArgKmin({ K: "3" as never, axis: 0 }), /K: expected a positive integer, got "3"/);
});

test("float32 mixed with float64: no silent conversion", () => {
  throwsKeOps(() => Vi(x).sub(Vj(randn([4, 3], { dtype: "float64" }))), /float32 and float64/);
  const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().sum({ axis: 1 });
  throwsKeOps(() => f(x, randn([4, 3], { dtype: "float64" })), /argument 1 \(Var\(1,3,1\)\)/, /expected float32, got float64/);
});

test("wrong tensor shapes for Vi/Vj/LazyTensor", () => {
  throwsKeOps(() => Vi(zeros([5, 1, 3])), /^Vi: x: expected a 2-D tensor \(rows, dim\), got a Tensor of shape \(5, 1, 3\)$/);
  throwsKeOps(() => Vj(zeros([5])), /Vj: x: expected a 2-D tensor/);
  throwsKeOps(() => new LazyTensor(zeros([5, 2, 3])), /x: expected a shape \(…, M, 1, D\), \(…, 1, N, D\) or \(…, 1, 1, D\), got a Tensor of shape \(5, 2, 3\)/);
  throwsKeOps(() => new LazyTensor(zeros([5, 3])), /axis: expected 0 or 1 for a 2-D tensor, got undefined/);
  throwsKeOps(() => new LazyTensor(zeros([5, 1, 3]), 0), /axis: expected nothing for a tensor of 3 or more dimensions/);
  throwsKeOps(() => Vi(zeros([2, 3], { dtype: "int32" })), /float32 or float64 data, got int32 data/);
});

test("elem / extract out of range", () => {
  throwsKeOps(() => Vi(x).elem(3), /Elem: expected index m to be an integer in \[0, 2\], got 3/);
  throwsKeOps(() => Vi(x).elem(-1), /Elem/);
  throwsKeOps(() => Vi(x).extract(1, 3), /Extract: expected length to be an integer in \[1, 2\], got 3/);
  throwsKeOps(() => Vi(x).extract(3, 1), /Extract: expected start to be/);
});

test("a KeOpsFunction given the wrong count, dim or dtype", () => {
  const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(Pm(2, 1)).sum({ axis: 1 });
  throwsKeOps(() => f(x, y), /^arguments: expected 3 tensor\(s\), for Var\(0,3,0\), Var\(1,3,1\), Var\(2,1,2\), got 2$/);
  throwsKeOps(() => f(x, y, [1], [2]), /got 4/);
  throwsKeOps(() => f(x, randn([4, 2]), [1]), /argument 1 \(Var\(1,3,1\)\): expected a tensor of shape \(…, rows, 3\), got a Tensor of shape \(4, 2\)/);
  throwsKeOps(() => f(x, y, [1, 2]), /argument 2 \(Var\(2,1,2\)\): expected 1 number\(s\)/);
  throwsKeOps(() => f(x, y, tensor([1], { dtype: "int32" })), /argument 2/, /int32/);
});

test("a non-numeric parameter or operand", () => {
  throwsKeOps(() => Vi(x).add(["a"] as never), /operand 1 of Add: expected a LazyTensor, a number, an array of numbers or a 1-D tensor/);
  throwsKeOps(() => Vi(x).mul("2" as never), /operand 1 of Mult/);
  throwsKeOps(() => Vi(x).add({} as never), /operand 1 of Add/);
  const f = Vi(0, 3).mul(Pm(1, 1)).sum({ axis: 1 });
  throwsKeOps(() => f(x, ["a" as never]), /argument 1 \(Var\(1,1,2\)\)/);
  throwsKeOps(() => Pm("a" as never), /Pm: x/);
});

test("options of the wrong kind", () => {
  throwsKeOps(() => S.sum({ axis: 1, backend: "cuda" as never }), /backend: expected one of "auto", "js", "native", "wasm", "webgpu", got "cuda"/);
  throwsKeOps(() => S.sum({ axis: 1, sumScheme: "fast" as never }), /sumScheme: expected one of/);
  throwsKeOps(() => S.sum({ axis: 1, dtypeAcc: "float16" as never }), /dtypeAcc: expected "float32", "float64" or "auto", got "float16"/);
  throwsKeOps(() => S.sum({ axis: 1, dim: 0 }), /axis: expected the same value as dim \(0\), got 1/);
  throwsKeOps(() => S.sum("x" as never), /options: expected an axis number or an options object, got "x"/);
});

test("sizes beyond what int32 indexing allows", () => {
  const v = Var(0, 3, 0), w = Var(1, 3, 1);
  const call = { formula: sqnorm2(sub(v, w)), reduction: reductionByName("Sum")!, axis: 1 as const, K: 1, opts: { backend: undefined, dtypeAcc: undefined, scheme: "block_sum" as const } };
  const tiny = new Float32Array(3);
  const vars = new Map([
    [0, { data: tiny, cat: 0 as const, dim: 3, rows: 2 ** 31, batch: [], name: "x" }],
    [1, { data: tiny, cat: 1 as const, dim: 3, rows: 1, batch: [], name: "y" }],
  ]);
  throwsKeOps(() => execute(call, vars), /data: expected at most 2147483647 rows \(int32 indices\), got 2147483648 rows/);
});
