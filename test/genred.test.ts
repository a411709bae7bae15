/**
 * genred: every reduction name (and pykeops's underscore spellings), both axes, optArg, formula2,
 * alias forms, float literals, against the float64 reference at several sizes; agreement with the
 * LazyTensor that printed the same formula; errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, Vi, Vj, randn, type Tensor } from "../src/index.js";
import { genred, type GenredOptions } from "../src/lazy/genred.js";
import { reference } from "./reference.js";
import { SIZES, assertClose, assertExact, rtolFor, withSeed, type Data } from "./util.js";

type Out = Tensor | [Tensor, Tensor];

function check(out: Out, ref: ReturnType<typeof reference>, what: string, rtol = 1e-5): void {
  const [v, i] = Array.isArray(out) ? out : ref.indices && !ref.values ? [undefined, out] : [out, undefined];
  const shown = (v ?? i)!;
  assert.deepEqual(shown.shape, ref.shape, `${what}: shape`);
  if (v) assertClose(v.data, ref.values!, { rtol, what });
  if (i) assertExact(i.data, ref.indices!, `${what} indices`);
}

const NAMES: [GenredOptions["reductionOp"], Partial<GenredOptions>][] = [
  ["Sum", {}], ["LogSumExp", {}], ["Min", {}], ["ArgMin", {}], ["MinArgMin", {}], ["Min_ArgMin", {}],
  ["Max", {}], ["ArgMax", {}], ["MaxArgMax", {}], ["Max_ArgMax", {}],
  ["KMin", { optArg: 3 }], ["ArgKMin", { optArg: 3 }], ["KMinArgKMin", { optArg: 3 }], ["KMin_ArgKMin", { optArg: 2 }],
];

/** Small-integer data so that min/argmin and K-min are exact in float32 (ties: lowest index). */
function ints(d: Data, rows: number, dim: number): Tensor {
  return d.randint([rows, dim], -3, 3);
}

// genred's own plumbing is what is tested here: the JS backend keeps it fast (the backends have their own tests)
test("every reduction name, both axes, ragged sizes including 0 and 1, against the reference", async () => {
  await withSeed((d) => {
    for (const [reductionOp, extra] of NAMES)
      for (const axis of [0, 1] as const)
        for (const [M, N] of [[SIZES[1], 7], [7, SIZES[3]], [SIZES[4], 3], [5, 5]] as [number, number][]) {
          const K = extra.optArg ?? 1;
          if ((axis === 1 ? N : M) < K) continue;
          const f = genred("SqNorm2(x - y) * b + IntCst(1)", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { reductionOp, axis, ...extra, backend: "js" });
          const x = ints(d, M, 3), y = ints(d, N, 3), b = ints(d, N, 1);
          check(f(x, y, b), reference(f, x, y, b), `${reductionOp} axis ${axis} M=${M} N=${N}`);
        }
  });
});

test("sums over empty ranges and the sizes 0 and 1", async () => {
  await withSeed((d) => {
    const f = genred("Exp(-SqNorm2(x - y)) * b", ["x = Vi(0, 3)", "y = Vj(1, 3)", "b = Vj(2, 2)"], { axis: 1 });
    for (const [M, N] of [[0, 4], [4, 0], [1, 1], [SIZES[5], SIZES[4]]]) {
      const x = d.randn([M!, 3]), y = d.randn([N!, 3]), b = d.randn([N!, 2]);
      check(f(x, y, b), reference(f, x, y, b), `M=${M} N=${N}`);
    }
  });
});

test("formula2: LogSumExp with a weight, SumSoftMaxWeight with values", async () => {
  await withSeed((d) => {
    const x = d.randn([9, 3]), y = d.randn([13, 3]), v = d.randn([13, 2]), w = d.uniform([13, 1], 0.5, 2);
    const lse = genred("-SqNorm2(x - y)", ["x = Vi(3)", "y = Vj(3)", "w = Vj(1)"], { reductionOp: "LogSumExp", formula2: "w", axis: 1 });
    check(lse(x, y, w), reference(lse, x, y, w), "LogSumExp weight");
    const ssw = genred("-SqNorm2(x - y)", ["x = Vi(3)", "y = Vj(3)", "v = Vj(2)"], { reductionOp: "SumSoftMaxWeight", formula2: "v", axis: 1 });
    check(ssw(x, y, v), reference(ssw, x, y, v), "SumSoftMaxWeight");
  });
});

test("aliases: omitted indices follow the alias order, explicit ones any order, Pm and Var forms", async () => {
  await withSeed((d) => {
    const x = d.randn([6, 3]), y = d.randn([8, 3]), s = d.uniform([2], 0.5, 2);
    // explicit indices: arguments in index order, whatever the alias order
    const f = genred("Sum(Square(x - y)) * s", ["s = Pm(2, 2)", "y = Vj(1, 3)", "x = Vi(0, 3)"], { axis: 1 });
    assert.deepEqual(f.symbolicVariables.map((v) => v[0]).sort(), [0, 1, 2]);
    check(f(x, y, s), reference(f, x, y, s), "explicit indices");
    // omitted: the alias's position
    const g = genred("Sum(Square(x - y)) * s", ["x = Vi(3)", "y = Vj(3)", "s = Pm(2)"], { axis: 1 });
    assert.equal(g.formula, "(Sum(Square((Var(0,3,0) - Var(1,3,1)))) * Var(2,2,2))");
    check(g(x, y, s), reference(g, x, y, s), "omitted indices");
    const h = genred("Sum(Square(x - y))", ["x = Var(0,3,0)", "y = Var(1,3,1)"], { axis: 0 });
    check(h(x, y), reference(h, x, y), "Var aliases");
    // an alias the formula does not use still takes an argument (and sets its size)
    const u = genred("Sum(x)", ["x = Vi(0, 3)", "y = Vj(1, 3)"], { axis: 1 });
    const out = u(x, y) as Tensor;
    assert.deepEqual(out.shape, [6, 1]);
    check(out, reference(u, x, y), "unused alias");
  });
});

test("float literals become parameters bound to their value; integers are IntCst", async () => {
  await withSeed((d) => {
    const x = d.randn([5, 3]), y = d.randn([7, 3]);
    const f = genred("Exp(-0.5 * SqNorm2(x - y)) * 2", ["x = Vi(3)", "y = Vj(3)"], { axis: 1 });
    assert.equal(f.formula, "(Exp((Var(2,1,2) * SqNorm2((Var(0,3,0) - Var(1,3,1))))) * IntCst(2))");
    assert.equal(f.symbolicVariables.length, 2);
    const out = f(x, y) as Tensor;
    check(out, reference(f, x, y), "float literal");
    const g = genred("Exp(p * SqNorm2(x - y)) * 2", ["x = Vi(3)", "y = Vj(3)", "p = Pm(1)"], { axis: 1 });
    assertClose(out.data, (g(x, y, [-0.5]) as Tensor).data, { rtol: 1e-6 });
  });
});

test("a LazyTensor's printed formula through genred gives the LazyTensor's result", async () => {
  await withSeed((d) => {
    for (const dtype of ["float32", "float64"] as const) {
      const x = d.randn([11, 3], dtype), y = d.randn([17, 3], dtype), b = d.randn([17, 2], dtype);
      const lt = Vi(x).sub(Vj(y)).sqnorm2().neg().exp().mul(Vj(b));
      const direct = lt.sum({ axis: 1 }) as Tensor;
      const f = genred(lt.formula, ["a = Vi(0, 3)", "c = Vj(1, 3)", "e = Vj(2, 2)"], { axis: 1, dtypeAcc: "float64", sumScheme: "kahan_scheme" });
      const out = f(x, y, b) as Tensor;
      assert.equal(out.dtype, dtype);
      assertClose(out.data, direct.data, { rtol: rtolFor(dtype) * 10 });
    }
  });
});

test("genred errors are KeOpsErrors naming the argument", () => {
  const al = ["x = Vi(3)", "y = Vj(3)"];
  const err = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof KeOpsError && re.test(e.message), String(re));
  };
  err(() => genred("SqNorm2(x - y)", al, { reductionOp: "Mean" as never }), /reductionOp: expected one of .*"Min_ArgMin".*got "Mean"/);
  err(() => genred("SqNorm2(x - y)", al, { reductionOp: "KMin" }), /optArg: expected a positive integer \(K of KMin\), got undefined/);
  err(() => genred("SqNorm2(x - y)", al, { reductionOp: "Sum", optArg: 2 }), /optArg: expected nothing/);
  err(() => genred("SqNorm2(x - y)", al, { reductionOp: "SumSoftMaxWeight" }), /formula2: expected a formula string/);
  err(() => genred("SqNorm2(x - y)", al, { formula2: "x" }), /formula2: expected nothing/);
  err(() => genred("SqNorm2(x - y)", al, { axis: 2 as never }), /axis: expected 0 or 1, got 2/);
  err(() => genred("SqNorm2(x - y)", ["x = Vi(3)", "x = Vj(3)"]), /aliases\[1\]: the name "x" is declared twice/);
  err(() => genred("SqNorm2(x - y)", ["x = Vi(0, 3)", "y = Vj(0, 3)"]), /aliases\[1\]: index 0 is already Var\(0,3,0\), got Var\(0,3,1\)/);
  err(() => genred("SqNorm2(x - y)", ["x = Vi(3)", "y = Vk(3)"]), /aliases\[1\]: expected Vi, Vj, Pm or Var, got "Vk" at position 4/);
  err(() => genred("SqNorm2(x - z)", al), /formula: unknown alias "z" \(aliases: x, y\) at position 12\n    SqNorm2\(x - z\)\n {16}\^/);
  err(() => genred("SqNorm2(x - y)", "x = Vi(3)" as never), /aliases: expected an array of strings/);
  err(() => genred("SqNorm2(x - y)", al, { sumScheme: "pairwise" as never }), /sumScheme: expected one of/);
  const f = genred("SqNorm2(x - y)", al, { axis: 1 });
  const x = randn([4, 3]), y = randn([5, 3]);
  err(() => f(x), /arguments: expected 2 tensor\(s\), for Var\(0,3,0\), Var\(1,3,1\), got 1/);
  err(() => f(x, randn([5, 2])), /argument 1 \(Var\(1,3,1\)\): expected a tensor of shape \(…, rows, 3\)/);
  err(() => f(x, randn([5, 3], { dtype: "float64" })), /argument 1 \(Var\(1,3,1\)\): all tensors of a formula must share one dtype, expected float32, got float64/);
  err(() => f(x, y, { backend: "nope" as never }), /backend: expected one of/);
  const k = genred("SqNorm2(x - y)", al, { reductionOp: "ArgKMin", optArg: 6, axis: 1 });
  err(() => k(x, y), /K: expected an integer from 1 to the reduced length 5, got 6/);
});
