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
import { SIZES, assertClose, assertExact, rtolFor, testBackends, withSeed, type Data } from "./util.js";

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

// Issue 18: variables written inline get their argument (in index order, as pykeops numbers them)
for (const backend of testBackends()) {
  const b = backend as GenredOptions["backend"];
  test(`inline variables [${backend}]: Var, Vi/Vj/Pm, mixed with aliases, Grad, beside float literals`, async () => {
    await withSeed((d) => {
      for (const [M, N] of [[SIZES[2], SIZES[4]], [1, 1], [0, 3], [SIZES[3], 0]] as [number, number][]) {
        const x = d.randn([M, 3]), y = d.randn([N, 3]), w = d.randn([N, 1]), e = d.randn([M, 1]);
        const what = (s: string) => `${s} M=${M} N=${N} [${backend}]`;
        // pykeops's own LazyTensor reductions call Genred like this: no alias at all
        const f = genred("SqDist(Var(0,3,0),Var(1,3,1))", [], { axis: 1, backend: b });
        assert.deepEqual(f.symbolicVariables, [[0, 3, 0], [1, 3, 1]]);
        check(f(x, y), reference(f, x, y), what("inline Var"));
        const g = genred("Exp(-SqDist(Vi(0,3), Vj(1,3))) * Vj(2,1) * Pm(3,1)", [], { axis: 1, backend: b });
        assert.equal(g.formula, "((Exp(Minus(SqDist(Var(0,3,0),Var(1,3,1)))) * Var(2,1,1)) * Var(3,1,2))");
        check(g(x, y, w, [0.5]), reference(g, x, y, w, [0.5]), what("Vi/Vj/Pm"));
        // an alias list mixed with an inline variable: arguments in index order
        const h = genred("Exp(-SqDist(x, y)) * Var(3,1,1) + c", ["x = Vi(3)", "y = Vj(3)", "c = Pm(2, 1)"], { axis: 1, backend: b });
        assert.deepEqual([...h.symbolicVariables].sort((p, q) => p[0] - q[0]), [[0, 3, 0], [1, 3, 1], [2, 1, 2], [3, 1, 1]]);
        check(h(x, y, [2], w), reference(h, x, y, [2], w), what("aliases + inline"));
        // a float literal is numbered after the inline variable (it used to take index 1, Var(1,3,1)'s)
        const k = genred("Exp(-0.5 * SqDist(x, Var(1,3,1)))", ["x = Vi(0, 3)"], { axis: 1, backend: b });
        assert.equal(k.formula, "Exp((Var(2,1,2) * SqDist(Var(0,3,0),Var(1,3,1))))");
        check(k(x, y), reference(k, x, y), what("float literal beside an inline variable"));
        // Grad with an inline variable to differentiate and an inline gradient input, over i
        const gr = genred("Grad(Exp(-SqDist(Var(0,3,0), y)), Var(0,3,0), Var(2,1,0))", ["y = Vj(1, 3)"], { axis: 1, backend: b });
        check(gr(x, y, e), reference(gr, x, y, e), what("Grad, inline"), 1e-4);
        // … and against the gradient written out: −2 (x − y) exp(−|x − y|²) e
        const byHand = genred("IntCst(-2) * (x - y) * Exp(-SqDist(x, y)) * e", ["x = Vi(3)", "y = Vj(3)", "e = Vi(1)"], { axis: 1, backend: b });
        assertClose((gr(x, y, e) as Tensor).data, (byHand(x, y, e) as Tensor).data, { rtol: 1e-4, atol: 1e-6, what: what("Grad by hand") });
      }
    });
  });
}

test("inline variables: an index used twice differently, or clashing with an alias, is an error", () => {
  const err = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof KeOpsError && re.test(e.message), String(re));
  };
  err(() => genred("SqDist(Var(0,3,0), Var(0,3,1))", []), /formula: variable index 0 is used as both Var\(0,3,0\) and Var\(0,3,1\)/);
  err(() => genred("SqDist(x, Var(0,3,1))", ["x = Vi(3)"]), /formula: variable index 0 is used as both Var\(0,3,0\) and Var\(0,3,1\)/);
  err(() => genred("x", ["x = Vi(1)"], { reductionOp: "LogSumExp", formula2: "Var(0,2,1)" }), /formula2: variable index 0 is used as both/);
});

test("kernelSolve with an inline variable solves the same system as with aliases", async () => {
  const { kernelSolve } = await import("../src/index.js");
  await withSeed((d) => {
    const x = d.randn([40, 3], "float64"), b = d.randn([40, 1], "float64");
    const inline = kernelSolve("Exp(-SqDist(Var(0,3,0), Vj(1,3))) * b", ["b = Vj(2, 1)"], "b");
    const aliased = kernelSolve("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b");
    const a1 = inline(x, x, b, { alpha: 0.5, eps: 1e-12 });
    assertClose(a1.data, aliased(x, x, b, { alpha: 0.5, eps: 1e-12 }).data, { rtol: 1e-9, what: "inline kernelSolve" });
    // and it does solve (alpha Id + K) a = b
    const K = genred("Exp(-SqDist(x, y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vj(1)"], { axis: 1 });
    const Ka = (K(x, x, a1) as Tensor).data;
    assertClose(Array.from(Ka, (v, i) => v + 0.5 * a1.data[i]!), b.data, { rtol: 1e-7, atol: 1e-9, what: "residual" });
  });
});

test("`**` in a genred formula: Square, Pow, Powf, as keopscore reads it", async () => {
  await withSeed((d) => {
    const x = d.uniform([9, 3], 0.5, 2), y = d.uniform([11, 3], 0.5, 2);
    for (const [text, printed] of [
      ["Sum((x - y)**2)", "Sum(Square((Var(0,3,0) - Var(1,3,1))))"],
      ["Sum(x**3 * y**-1)", "Sum((Pow(Var(0,3,0),3) * Pow(Var(1,3,1),-1)))"],
      ["Sum(x**0.5 + y**x)", "Sum((Powf(Var(0,3,0),Var(2,1,2)) + Powf(Var(1,3,1),Var(0,3,0))))"],
      ["-Sum(x)**2", "Minus(Square(Sum(Var(0,3,0))))"],
    ] as const) {
      const f = genred(text, ["x = Vi(3)", "y = Vj(3)"], { axis: 1 });
      assert.equal(f.formula, printed, text);
      check(f(x, y), reference(f, x, y), text, 1e-5);
    }
  });
});
