/**
 * pykeops parity (issue 18, point 5): the ops SqNormIso, SqNormDiag, SymSqNorm, BSpline,
 * DifferenceMatrix, SoftDTW_SqDist, GradMatrix, Divergence, Laplacian, Factorize, AutoFactorize;
 * the reductions Max_SumShiftExp(Weight), LogSumExpWeight, SoftMax; the LazyTensor methods `.T`,
 * the `*_reduction` names, matmul (1-D, 2-D, batched; sumScheme), matvec, rmatvec — each against
 * the dense float64 reference on every backend (float64 on both axes and float32, sizes 0, 1 and
 * across tiles), gradients against finite differences.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Pm, Tensor, Vi, Vj, genred, tensor, type FloatDType } from "../src/index.js";
import { parseFormula } from "../src/formula/parse.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { reference } from "./reference.js";
import { bsplineRef } from "./parity-reference.js";
import { assertClose, rtolFor, testBackends, withSeed, type Data } from "./util.js";
import { finiteDifferences } from "./grad-helpers.js";

const SIZES: readonly [number, number][] = [[0, 3], [1, 1], [67, 300]];
const DTYPES: FloatDType[] = ["float32", "float64"];

/** The genred cases: formula, aliases, the data of each alias (M rows for i, N for j), options. */
interface GCase {
  name: string;
  formula: string;
  aliases: string[];
  data: (d: Data, M: number, N: number, dt: FloatDType) => Tensor[];
  opts?: Record<string, unknown>;
  rtol32?: number;
}

const knots = (dt: FloatDType): Tensor => tensor([-2, -1.2, -0.5, -0.5, 0.3, 1, 1.8, 2.5], { dtype: dt });
const gcases: GCase[] = [
  { name: "SqNormIso", formula: "SqNormIso(s,x-y)", aliases: ["s = Pm(1)", "x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.uniform([1], 0.5, 2, dt), d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "SqNormDiag", formula: "SqNormDiag(s,x-y)", aliases: ["s = Pm(3)", "x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.uniform([3], 0.5, 2, dt), d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "SymSqNorm", formula: "SymSqNorm(s,x-y)", aliases: ["s = Vj(9)", "x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.randn([N, 9], dt), d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "BSpline order 3 (knots a parameter, x = x_i − y_j)", formula: "BSpline(t,x-y,3)", aliases: ["t = Pm(8)", "x = Vi(1)", "y = Vj(1)"], data: (d, M, N, dt) => [knots(dt), d.uniform([M, 1], -1, 1, dt), d.uniform([N, 1], -1.5, 1.5, dt)] },
  { name: "BSpline order 0 and 1", formula: "Concat(BSpline(t,x-y,0),BSpline(t,x-y,1))", aliases: ["t = Pm(8)", "x = Vi(1)", "y = Vj(1)"], data: (d, M, N, dt) => [knots(dt), d.uniform([M, 1], -1, 1, dt), d.uniform([N, 1], -1.5, 1.5, dt)] },
  { name: "DifferenceMatrix", formula: "DifferenceMatrix(x,y)", aliases: ["x = Vi(3)", "y = Vj(2)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 2], dt)] },
  { name: "SoftDTW_SqDist", formula: "SoftDTW_SqDist(x,y,g)", aliases: ["x = Vi(4)", "y = Vj(5)", "g = Pm(1)"], data: (d, M, N, dt) => [d.randn([M, 4], dt), d.randn([N, 5], dt), d.uniform([1], 0.3, 1, dt)], rtol32: 1e-4 },
  { name: "GradSoftDTW_SqDist", formula: "GradSoftDTW_SqDist(x,y,g)", aliases: ["x = Vi(3)", "y = Vj(4)", "g = Pm(1)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 4], dt), d.uniform([1], 0.3, 1, dt)], rtol32: 1e-4 },
  { name: "Factorize / AutoFactorize", formula: "AutoFactorize(Factorize(Exp(-SqNorm2(x-y))*(x-y),x-y))", aliases: ["x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "GradMatrix", formula: "GradMatrix(Exp(-SqNorm2(x-y))*(x-y),x)", aliases: ["x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "Divergence", formula: "Divergence(Exp(-SqNorm2(x-y))*(x-y),x)", aliases: ["x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "Laplacian", formula: "Laplacian(Exp(-SqNorm2(x-y)),x)", aliases: ["x = Vi(3)", "y = Vj(3)"], data: (d, M, N, dt) => [d.randn([M, 3], dt), d.randn([N, 3], dt)] },
  { name: "Max_SumShiftExp", formula: "-SqDist(x,y)", aliases: ["x = Vi(2)", "y = Vj(2)"], opts: { reductionOp: "Max_SumShiftExp" }, data: (d, M, N, dt) => [d.randn([M, 2], dt), d.randn([N, 2], dt)] },
  { name: "Max_SumShiftExpWeight", formula: "-SqDist(x,y)", aliases: ["x = Vi(2)", "y = Vj(2)", "b = Vj(3)"], opts: { reductionOp: "Max_SumShiftExpWeight", formula2: "b" }, data: (d, M, N, dt) => [d.randn([M, 2], dt), d.randn([N, 2], dt), d.randn([N, 3], dt)] },
  { name: "LogSumExpWeight", formula: "-SqDist(x,y)", aliases: ["x = Vi(2)", "y = Vj(2)", "b = Vj(3)"], opts: { reductionOp: "LogSumExpWeight", formula2: "Exp(b)" }, data: (d, M, N, dt) => [d.randn([M, 2], dt), d.randn([N, 2], dt), d.randn([N, 3], dt)] },
  { name: "SoftMax", formula: "-SqDist(x,y)", aliases: ["x = Vi(2)", "y = Vj(2)", "b = Vj(3)"], opts: { reductionOp: "SoftMax", formula2: "b" }, data: (d, M, N, dt) => [d.randn([M, 2], dt), d.randn([N, 2], dt), d.randn([N, 3], dt)] },
];

for (const c of gcases)
  test(`${c.name}: every backend, both axes (float64), float32, against the dense reference`, () =>
    withSeed((d) => {
      for (const dt of DTYPES)
        // both axes in float64; float32 (the same code, another precision) on axis 1: fewer kernels
        for (const axis of dt === "float64" ? ([0, 1] as const) : ([1] as const))
          for (const [M, N] of SIZES) {
            const args = c.data(d, axis === 1 ? M : N, axis === 1 ? N : M, dt);
            const ref = reference(genred(c.formula, c.aliases, { axis, ...c.opts } as never), ...args);
            for (const backend of testBackends()) {
              const f = genred(c.formula, c.aliases, { axis, backend: backend as never, ...c.opts } as never) as KeOpsFunction<Tensor>;
              const out = f(...args);
              const what = `${c.name} ${backend} ${dt} axis ${axis} M=${M} N=${N}`;
              assert.deepEqual([...out.shape], ref.shape, `${what}: shape`);
              assertClose(out.data, ref.values!, { rtol: dt === "float32" ? (c.rtol32 ?? 4 * rtolFor(dt)) : 1e-10, what });
            }
          }
    }));

test("the new ops print with KeOps's names and parse back", () => {
  for (const c of gcases.filter((g) => !g.opts)) {
    const f = genred(c.formula, c.aliases, { axis: 1 }) as KeOpsFunction<Tensor>;
    const text = String(f).split("\n").find((l) => l.includes("formula:"))!.split("formula: ")[1]!;
    assert.equal(parseFormula(text).toString(), text, c.name);
  }
  assert.equal(String(Vi(0, 3).gradMatrix(Vi(0, 3)).formula), "GradMatrix(Var(0,3,0),Var(0,3,0))");
  assert.equal(Pm(0, 6).bspline(Vi(1, 1), 2).formula, "BSpline(Var(0,6,2),Var(1,1,0),2)");
  assert.equal(Vi(0, 2).differenceMatrix(Vj(1, 3)).formula, "DifferenceMatrix(Var(0,2,0),Var(1,3,1))");
  assert.equal(Vi(0, 2).softdtwSqdist(Vj(1, 3), Pm(2, 1)).formula, "SoftDTW_SqDist(Var(0,2,0),Var(1,3,1),Var(2,1,2))");
  assert.equal(Vi(0, 2).exp().factorize(Vi(0, 2)).autoFactorize().formula, "AutoFactorize(Factorize(Exp(Var(0,2,0)),Var(0,2,0)))");
  assert.equal(Vi(0, 3).sqnorm2().laplacian(Vi(0, 3)).formula, "Laplacian(SqNorm2(Var(0,3,0)),Var(0,3,0))");
  assert.equal(Vi(0, 3).divergence(Vi(0, 3)).formula, "Divergence(Var(0,3,0),Var(0,3,0))");
});

test("WeightedSqNorm / WeightedSqDist equal SqNormIso, SqNormDiag and SymSqNorm for their weight dimensions", () =>
  withSeed((d) => {
    const x = d.randn([9, 3], "float64"), y = d.randn([11, 3], "float64");
    for (const [name, s] of [["SqNormIso", d.uniform([1], 0.5, 2, "float64")], ["SqNormDiag", d.uniform([3], 0.5, 2, "float64")], ["SymSqNorm", d.randn([9], "float64")]] as const) {
      const a = genred(`${name}(s,x-y)`, ["s = Pm(" + s.shape[0] + ")", "x = Vi(3)", "y = Vj(3)"], { axis: 1 })(s, x, y) as Tensor;
      const b = genred("WeightedSqDist(s,x,y)", ["s = Pm(" + s.shape[0] + ")", "x = Vi(3)", "y = Vj(3)"], { axis: 1 })(s, x, y) as Tensor;
      const c = Vi(x).weightedsqdist(Vj(y), Pm(s)).sum({ axis: 1 }) as Tensor;
      assertClose(a.data, b.data, { rtol: 1e-14, what: `${name} vs WeightedSqDist` });
      assertClose(c.data, b.data, { rtol: 1e-14, what: `${name} vs weightedsqdist` });
    }
    assert.throws(() => genred("SqNormDiag(s,x)", ["s = Pm(2)", "x = Vi(3)"]), (e: Error) => e instanceof KeOpsError && /SqNormDiag: expected weights s of dimension 3/.test(e.message));
    assert.throws(() => genred("SymSqNorm(s,x)", ["s = Pm(3)", "x = Vi(3)"]), (e: Error) => e instanceof KeOpsError && /dimension 9/.test(e.message));
  }));

test("GradMatrix, Divergence and Laplacian of a Gaussian equal their closed forms", () =>
  withSeed((d) => {
    const M = 5, N = 4, D = 3;
    const xs = d.randn([M, D], "float64"), ys = d.randn([N, D], "float64");
    const x = Vi(xs), y = Vj(ys);
    const k = x.sub(y).sqnorm2().neg().exp();
    const F = k.mul(x.sub(y));
    const jac = F.gradMatrix(x).sum({ axis: 1 }) as Tensor;
    const div = F.divergence(x).sum({ axis: 1 }) as Tensor;
    const lap = k.laplacian(x).sum({ axis: 1 }) as Tensor;
    const wantJ = new Float64Array(M * D * D), wantDiv = new Float64Array(M), wantLap = new Float64Array(M);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const r = Array.from({ length: D }, (_, c) => xs.data[i * D + c]! - ys.data[j * D + c]!);
        const r2 = r.reduce((s, v) => s + v * v, 0), kij = Math.exp(-r2);
        for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) wantJ[i * D * D + a * D + b]! += ((a === b ? 1 : 0) - 2 * r[a]! * r[b]!) * kij;
        wantDiv[i]! += (D - 2 * r2) * kij;
        wantLap[i]! += (4 * r2 - 2 * D) * kij;
      }
    assertClose(jac.data, wantJ, { rtol: 1e-12, what: "GradMatrix" });
    assertClose(div.data, wantDiv, { rtol: 1e-12, what: "Divergence" });
    assertClose(lap.data, wantLap, { rtol: 1e-12, what: "Laplacian" });
    assert.throws(() => x.laplacian(x), (e: Error) => e instanceof KeOpsError && /laplacian: expected a scalar formula/.test(e.message));
    assert.throws(() => k.divergence(x), (e: Error) => e instanceof KeOpsError && /divergence: v: expected a variable of the formula's dimension 1/.test(e.message));
    assert.throws(() => k.gradMatrix(x.mul(2)), (e: Error) => e instanceof KeOpsError && /gradMatrix: v: expected a LazyTensor that is a single variable/.test(e.message));
  }));

test("BSpline: the reference is a partition of unity inside the knots; argument errors name the argument", () => {
  const t = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  for (const x of [3, 3.5, 5.25]) {
    const total = bsplineRef(t, x, 3).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(total - 1) < 1e-12, `Σ B(${x}) = ${total}`);
  }
  assert.throws(() => Pm(tensor([0, 1, 2])).bspline(Vi(0, 1), 2), (e: Error) => e instanceof KeOpsError && /knots: expected at least 4 knots for order 2/.test(e.message));
  assert.throws(() => Pm(tensor([0, 1, 2])).bspline(Vi(0, 2), 0), (e: Error) => e instanceof KeOpsError && /x: expected a scalar/.test(e.message));
  assert.throws(() => Pm(tensor([0, 1, 2])).bspline(Vi(0, 1), -1), (e: Error) => e instanceof KeOpsError && /k: expected an integer order/.test(e.message));
  assert.throws(() => Vi(0, 2).softdtwSqdist(Vj(1, 3), Pm(2, 2)), (e: Error) => e instanceof KeOpsError && /gamma: expected a scalar/.test(e.message));
});

test("gradients of reductions over the new ops match finite differences (float64, every backend)", () =>
  withSeed((d) => {
    const M = 6, N = 5;
    const xs = d.uniform([M, 1], -1, 1, "float64"), ys = d.uniform([N, 1], -1, 1, "float64");
    const us = d.randn([M, 4], "float64"), vs = d.randn([N, 3], "float64");
    const t = knots("float64");
    const cases: [string, (b: string) => KeOpsFunction<Tensor>, Tensor[]][] = [
      ["BSpline", (b) => Pm(t).bspline(Vi(0, 1).sub(Vj(1, 1)), 3).sum().sum({ axis: 1, backend: b as never, call: false }) as KeOpsFunction<Tensor>, [xs, ys]],
      ["SoftDTW_SqDist", (b) => Vi(0, 4).softdtwSqdist(Vj(1, 3), 0.5).logsumexp({ axis: 1, backend: b as never, call: false }) as KeOpsFunction<Tensor>, [us, vs]],
      ["DifferenceMatrix", (b) => Vi(0, 4).differenceMatrix(Vj(1, 3)).square().sum({ axis: 0, backend: b as never, call: false }) as KeOpsFunction<Tensor>, [us, vs]],
      ["SoftMax via sumsoftmaxweightReduction", (b) => Vi(0, 4).sqdist(Vj(1, 3).concat(Vj(1, 3).elem(0))).neg().sumsoftmaxweightReduction({ weight: Vj(1, 3), axis: 1, backend: b as never, call: false }) as KeOpsFunction<Tensor>, [us, vs]],
    ];
    for (const backend of testBackends())
      for (const [name, build, args] of cases) {
        const f = build(backend);
        const out = f(...args);
        const w = d.randn([...out.shape], "float64");
        const grads = f.vjp(args, w);
        args.forEach((_, k) => {
          const fd = finiteDifferences((a) => { const o = f(...a); let s = 0; for (let q = 0; q < o.data.length; q++) s += o.data[q]! * w.data[q]!; return s; }, args, k);
          assertClose(grads[k]!.data, fd, { rtol: 1e-5, atol: 1e-6, what: `${backend}: ${name}, argument ${k}` });
        });
      }
  }));

test("Max_SumShiftExp(Weight) have no gradient: a KeOpsError that says what to use", () => {
  const f = genred("-SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)"], { reductionOp: "Max_SumShiftExp", axis: 1 });
  const x = tensor([[0, 1]]), y = tensor([[1, 1]]);
  assert.throws(() => f.vjp([x, y], tensor([[1, 1]])), (e: Error) => e instanceof KeOpsError && /no gradient for the raw reduction Max_SumShiftExp.*LogSumExp/.test(e.message));
  assert.throws(() => genred("Sum(x)", ["x = Vi(2)"], { reductionOp: "LogSumExpWeight" as never }), (e: Error) => e instanceof KeOpsError && /formula2: expected a formula string/.test(e.message));
  assert.throws(() => genred("x", ["x = Vi(2)"], { reductionOp: "Max_SumShiftExp" })(tensor([[1, 2]])), (e: Error) => e instanceof KeOpsError && /Max_SumShiftExp: expected a scalar formula/.test(e.message));
});

test(".T, the *_reduction names, matvec and rmatvec equal their pykeops counterparts, on every backend", () =>
  withSeed((d) => {
    const xs = d.randn([13, 3], "float64"), ys = d.randn([9, 3], "float64"), v = d.randn([9, 2], "float64"), u = d.randn([13, 2], "float64");
    for (const backend of testBackends()) {
      const o = { backend: backend as never };
      const K = Vi(xs).sub(Vj(ys)).sqnorm2().neg().exp();
      const D = Vi(xs).sub(Vj(ys)).sqnorm2();
      const same = (a: Tensor | [Tensor, Tensor], b: Tensor | [Tensor, Tensor], what: string): void => {
        const [aa, bb] = Array.isArray(a) ? [a, b as [Tensor, Tensor]] : [[a], [b as Tensor]];
        aa.forEach((t, k) => (assert.deepEqual(t.shape, bb[k]!.shape, what), assert.deepEqual(Array.from(t.data), Array.from(bb[k]!.data), `${backend}: ${what}`)));
      };
      assert.equal(K.T.formula, K.t().formula);
      assert.deepEqual(K.T.shape, [9, 13]);
      same(K.T.sum({ axis: 1, ...o }) as Tensor, K.sum({ axis: 0, ...o }) as Tensor, ".T");
      same(D.minReduction({ axis: 1, ...o }), D.min({ axis: 1, ...o }), "minReduction");
      same(D.maxReduction({ axis: 0, ...o }), D.max({ axis: 0, ...o }), "maxReduction");
      same(D.argminReduction({ axis: 1, ...o }), D.argmin({ axis: 1, ...o }), "argminReduction");
      same(D.argmaxReduction({ axis: 1, ...o }), D.argmax({ axis: 1, ...o }), "argmaxReduction");
      same(D.minArgminReduction({ axis: 1, ...o }), D.minArgmin({ axis: 1, ...o }), "minArgminReduction");
      same(D.maxArgmaxReduction({ axis: 0, ...o }), D.maxArgmax({ axis: 0, ...o }), "maxArgmaxReduction");
      same(D.KminReduction({ K: 3, axis: 1, ...o }), D.Kmin({ K: 3, axis: 1, ...o }), "KminReduction");
      same(D.argKminReduction({ K: 3, axis: 1, ...o }), D.argKmin({ K: 3, axis: 1, ...o }), "argKminReduction");
      same(D.KminArgKminReduction({ K: 2, axis: 0, ...o }), D.KminArgKmin({ K: 2, axis: 0, ...o }), "KminArgKminReduction");
      same(D.neg().logsumexpReduction({ axis: 1, ...o }), D.neg().logsumexp({ axis: 1, ...o }), "logsumexpReduction");
      same(D.neg().sumsoftmaxweightReduction({ weight: Vj(ys), axis: 1, ...o }), D.neg().sumsoftmaxweight(Vj(ys), { axis: 1, ...o }), "sumsoftmaxweightReduction");
      same(K.sumReduction({ axis: 1, ...o }), K.sum({ axis: 1, ...o }) as Tensor, "sumReduction");
      // matvec / rmatvec: K @ v and Kᵀ @ u against the dense float64 products
      const Kd = Array.from({ length: 13 * 9 }, (_, k) => {
        const i = Math.floor(k / 9), j = k % 9;
        let r2 = 0;
        for (let c = 0; c < 3; c++) r2 += (xs.data[i * 3 + c]! - ys.data[j * 3 + c]!) ** 2;
        return Math.exp(-r2);
      });
      const Kv = Array.from({ length: 13 * 2 }, (_, k) => { const i = Math.floor(k / 2), c = k % 2; let s = 0; for (let j = 0; j < 9; j++) s += Kd[i * 9 + j]! * v.data[j * 2 + c]!; return s; });
      const KTu = Array.from({ length: 9 * 2 }, (_, k) => { const j = Math.floor(k / 2), c = k % 2; let s = 0; for (let i = 0; i < 13; i++) s += Kd[i * 9 + j]! * u.data[i * 2 + c]!; return s; });
      assertClose((K.matvec(v, o) as Tensor).data, Kv, { rtol: 1e-12, what: `${backend}: matvec` });
      assertClose((K.rmatvec(u, o) as Tensor).data, KTu, { rtol: 1e-12, what: `${backend}: rmatvec` });
    }
  }));

test("matmul as pykeops's K @ v: 1-D, 2-D and batched operands, sumScheme, async; clear errors", async () => {
  await withSeed(async (d) => {
    const B = 2, M = 7, N = 5, Dv = 3;
    const xs = d.randn([B, M, 1, 2], "float64"), ys = d.randn([B, 1, N, 2], "float64");
    const K = new LazyTensor(xs).sub(new LazyTensor(ys)).sqnorm2().neg().exp();
    const kij = (b: number, i: number, j: number): number => {
      let r2 = 0;
      for (let c = 0; c < 2; c++) r2 += (xs.data[(b * M + i) * 2 + c]! - ys.data[(b * N + j) * 2 + c]!) ** 2;
      return Math.exp(-r2);
    };
    for (const backend of testBackends()) {
      // batched v (B, N, Dv) → (B, M, Dv)
      const vb = d.randn([B, N, Dv], "float64");
      const want = Array.from({ length: B * M * Dv }, (_, k) => {
        const b = Math.floor(k / (M * Dv)), i = Math.floor(k / Dv) % M, c = k % Dv;
        let s = 0;
        for (let j = 0; j < N; j++) s += kij(b, i, j) * vb.data[(b * N + j) * Dv + c]!;
        return s;
      });
      for (const sumScheme of ["direct_sum", "block_sum", "kahan_scheme"] as const) {
        const r = K.matmul(vb, { backend: backend as never, sumScheme }) as Tensor;
        assert.deepEqual(r.shape, [B, M, Dv]);
        assertClose(r.data, want, { rtol: 1e-12, what: `${backend} ${sumScheme}: batched` });
      }
      // 2-D v (N, Dv), broadcast over K's batch → (B, M, Dv); 1-D v (N,) → flattened, as pykeops's view(-1)
      const v2 = d.randn([N, Dv], "float64");
      const r2 = K.matmul(v2, { backend: backend as never }) as Tensor;
      assert.deepEqual(r2.shape, [B, M, Dv]);
      const v1 = d.randn([N], "float64");
      const r1 = await (K.matmul(v1, { backend: backend as never, async: true }) as Promise<Tensor>);
      assert.deepEqual(r1.shape, [B * M]);
      assertClose(r1.data, Array.from({ length: B * M }, (_, k) => {
        const b = Math.floor(k / M), i = k % M;
        let s = 0;
        for (let j = 0; j < N; j++) s += kij(b, i, j) * v1.data[j]!;
        return s;
      }), { rtol: 1e-12, what: `${backend}: 1-D` });
    }
    // errors: no axis mentioned unless passed; the wrong N names v
    const err = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => e instanceof KeOpsError && re.test(e.message) && (!/axis/.test(e.message) || /opts/.test(e.message)), String(re));
    err(() => K.matmul(d.randn([N + 1, 2], "float64")), /v: expected 5 rows/);
    err(() => K.matmul(d.randn([N + 1], "float64")), /v: expected 5 rows/);
    err(() => K.matmul(d.randn([N, 2], "float32")), /dtype|float64/);
    err(() => new LazyTensor(xs).sub(new LazyTensor(ys)).matmul(d.randn([N, 2], "float64")), /K: expected a LazyTensor whose trailing dimension is 1/);
    err(() => K.matmul(d.randn([N, 2], "float64"), { axis: 0 } as never), /opts: expected no axis/);
  });
});
