/**
 * ComplexLazyTensor: every complex op against a float64 dense complex reference (plain complex
 * arithmetic per pair, written independently of the formula ops), reduced over j and over i, on
 * every backend; gradients by finite differences; printing with keopscore's names; errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ComplexLazyTensor, KeOpsError, LazyTensor, Tensor, Vi, genred, tensor, type KeOpsFunction } from "../src/index.js";
import { Data, assertClose, testBackends, withSeed } from "./util.js";

const BACKENDS = testBackends();

/** float64 complex numbers for the reference. */
type C = [number, number];
const cadd = (a: C, b: C): C => [a[0] + b[0], a[1] + b[1]];
const csub = (a: C, b: C): C => [a[0] - b[0], a[1] - b[1]];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cdiv = (a: C, b: C): C => {
  const d = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
};
const cexp = (a: C): C => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])];
const conj = (a: C): C => [a[0], -a[1]];
const cabs = (a: C): number => Math.hypot(a[0], a[1]);
const cangle = (a: C): number => Math.atan2(a[1], a[0]);
const re = (x: number): C => [x, 0];

/** Component p of an interleaved row, or the only one of a complex scalar. */
const at = (v: number[], p: number): C => (v.length === 2 ? [v[0]!, v[1]!] : [v[2 * p]!, v[2 * p + 1]!]);
const row = (t: Tensor, r: number): number[] => {
  const d = t.shape[t.shape.length - 1]!;
  return Array.from(t.data.subarray(r * d, (r + 1) * d));
};

const K = 2; // complex components
interface Case {
  readonly name: string;
  /** The LazyTensor of the case from z_i (M, 2K), w_j (N, 2K), x_i (M, 1), y_j (N, K). */
  readonly lazy: (z: ComplexLazyTensor, w: ComplexLazyTensor, x: LazyTensor, y: LazyTensor) => LazyTensor<boolean>;
  /** The pair's value, interleaved. */
  readonly ref: (z: number[], w: number[], x: number[], y: number[]) => number[];
}
const perPair = (n: number, f: (p: number) => C | number): number[] => Array.from({ length: n }, (_, p) => f(p)).flatMap((v) => (typeof v === "number" ? [v] : v));
const CASES: Case[] = [
  { name: "z·w", lazy: (z, w) => z.mul(w), ref: (z, w) => perPair(K, (p) => cmul(at(z, p), at(w, p))) },
  { name: "exp(z / w) + x", lazy: (z, w, x) => z.div(w).exp().add(x), ref: (z, w, x) => perPair(K, (p) => cadd(cexp(cdiv(at(z, p), at(w, p))), re(x[0]!))) },
  { name: "x·conj(z) − w", lazy: (z, w, x) => x.mul(z.conj()).sub(w), ref: (z, w, x) => perPair(K, (p) => csub(cmul(re(x[0]!), conj(at(z, p))), at(w, p))) },
  { name: "exp1j(x·y)·w − 2", lazy: (_z, w, x, y) => x.mul(y).exp1j().mul(w).sub(2), ref: (_z, w, x, y) => perPair(K, (p) => csub(cmul([Math.cos(x[0]! * y[p]!), Math.sin(x[0]! * y[p]!)], at(w, p)), re(2))) },
  { name: "complex(x, y) / z", lazy: (z, _w, x, y) => LazyTensor.complex(x.mul(y), y).div(z), ref: (z, _w, x, y) => perPair(K, (p) => cdiv([x[0]! * y[p]!, y[p]!], at(z, p))) },
  { name: "1 / z + 2 − w", lazy: (z, w) => LazyTensor.add(LazyTensor.div(1, z), LazyTensor.sub(2, w)), ref: (z, w) => perPair(K, (p) => cadd(cdiv(re(1), at(z, p)), csub(re(2), at(w, p)))) },
  { name: "Σ_k (z·w)_k · (z·w)_k", lazy: (z, w) => z.mul(w).sum().mul(z.mul(w).sum()), ref: (z, w) => {
    const s = [0, 1].reduce<C>((acc, p) => cadd(acc, cmul(at(z, p), at(w, p))), [0, 0]);
    return cmul(s, s);
  } },
  { name: "|z·w|, angle(z − w), Re(z/w), Im(y·z)", lazy: (z, w, _x, y) => z.mul(w).abs().concat(z.sub(w).angle()).concat(z.div(w).real).concat((y.mul(z as never) as unknown as ComplexLazyTensor).imag),
    ref: (z, w, _x, y) => [
      ...perPair(K, (p) => cabs(cmul(at(z, p), at(w, p)))), ...perPair(K, (p) => cangle(csub(at(z, p), at(w, p)))),
      ...perPair(K, (p) => cdiv(at(z, p), at(w, p))[0]), ...perPair(K, (p) => cmul(re(y[p]!), at(z, p))[1]),
    ] },
];

function data(d: Data, M: number, N: number) {
  return { zs: d.randn([M, 2 * K], "float64"), ws: d.randn([N, 2 * K], "float64"), xs: d.randn([M, 1], "float64"), ys: d.randn([N, K], "float64") };
}

for (const backend of BACKENDS)
  test(`complex: every op, sums over j and over i, against float64 complex arithmetic (${backend})`, () =>
    withSeed((d) => {
      for (const [M, N] of [[0, 3], [1, 1], [37, 70]] as const) {
        const { zs, ws, xs, ys } = data(d, M, N);
        const z = new ComplexLazyTensor(zs, 0), w = new ComplexLazyTensor(ws, 1), x = Vi(xs), y = new LazyTensor(ys, 1);
        for (const c of CASES) {
          const e = c.lazy(z, w, x, y);
          for (const axis of [0, 1] as const) {
            const got = e.sum({ axis, backend: backend as never }) as Tensor;
            const outer = axis === 1 ? M : N, inner = axis === 1 ? N : M;
            const ref: number[] = [];
            for (let o = 0; o < outer; o++) {
              let acc: number[] | undefined;
              for (let n = 0; n < inner; n++) {
                const i = axis === 1 ? o : n, j = axis === 1 ? n : o;
                const v = c.ref(row(zs, i), row(ws, j), row(xs, i), row(ys, j));
                acc = acc ? acc.map((a, k) => a + v[k]!) : v;
              }
              ref.push(...(acc ?? Array(e.ndim).fill(0)));
            }
            assert.deepEqual(got.shape, [outer, e.ndim], `${c.name} axis ${axis} shape`);
            assertClose(got.data, ref, { rtol: 1e-10, what: `${c.name} axis ${axis} M=${M} N=${N}` });
          }
        }
      }
    }));

test("complex: matmul with a complex v, and block-sparse complex sums", () =>
  withSeed((d) => {
    const M = 9, N = 11;
    const zs = d.randn([M, 2], "float64"), ws = d.randn([N, 2], "float64"), vs = d.randn([N, 4], "float64");
    const Kz = new ComplexLazyTensor(zs, 0).mul(new ComplexLazyTensor(ws, 1)).exp();
    const got = Kz.matmul(vs);
    const keep = (i: number, j: number) => (i < 4) === (j < 5);
    const ranges = [[[0, 4], [4, 9]], [1, 2], [[0, 5], [5, 11]], [[0, 5], [5, 11]], [1, 2], [[0, 4], [4, 9]]].map((a) => tensor(a as never, { dtype: "int32" }));
    const sparse = Kz.mul(new ComplexLazyTensor(vs, 1)).sum({ axis: 1, ranges: ranges as never }) as Tensor;
    const ref = new Float64Array(M * 4), refSparse = new Float64Array(M * 4);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const k = cexp(cmul(at(row(zs, i), 0), at(row(ws, j), 0)));
        for (let p = 0; p < 2; p++) {
          const t = cmul(k, at(row(vs, j), p));
          ref[4 * i + 2 * p]! += t[0];
          ref[4 * i + 2 * p + 1]! += t[1];
          if (keep(i, j)) (refSparse[4 * i + 2 * p]! += t[0], refSparse[4 * i + 2 * p + 1]! += t[1]);
        }
      }
    assert.deepEqual(got.shape, [M, 4]);
    assertClose(got.data, ref, { rtol: 1e-12, what: "complex matmul" });
    assertClose(sparse.data, refSparse, { rtol: 1e-12, what: "block-sparse complex sum" });
  }));

test("complex: gradients (vjp) through the complex ops match finite differences in float64", () =>
  withSeed((d) => {
    const M = 5, N = 6;
    const { zs, ws, xs, ys } = data(d, M, N);
    const z = new ComplexLazyTensor([0, 2 * K, 0]), w = new ComplexLazyTensor([1, 2 * K, 1]), x = Vi(2, 1), y = new LazyTensor([3, K, 1]);
    for (const c of CASES) {
      const f = c.lazy(z, w, x as unknown as LazyTensor, y).sum({ axis: 1 }) as KeOpsFunction<Tensor>;
      const all = [zs, ws, xs, ys];
      const args = [...f.symbolicVariables].sort((a, b) => a[0] - b[0]).map(([ind]) => all[ind]!);
      const g = d.randn([M, f(...args).shape[1]!], "float64");
      const grads = f.vjp(args, g);
      const value = (a: Tensor[], abs = false): number => {
        const out = f(...a).data;
        let s = 0;
        for (let k = 0; k < out.length; k++) s += abs ? Math.abs(out[k]! * g.data[k]!) : out[k]! * g.data[k]!;
        return s;
      };
      // the central difference's rounding noise, the same for every element: ~eps·Σ|terms| / h
      const h = 1e-6;
      const noise = (64 * 2 ** -52 * value(args, true)) / h;
      args.forEach((t, k) => {
        const fd = new Float64Array(t.size);
        for (let e = 0; e < t.size; e++) {
          const plus = new Float64Array(t.data), minus = new Float64Array(t.data);
          plus[e]! += h;
          minus[e]! -= h;
          const with_ = (arr: Float64Array) => args.map((u, q) => (q === k ? new Tensor(arr, t.shape) : u));
          fd[e] = (value(with_(plus)) - value(with_(minus))) / (2 * h);
        }
        assertClose(grads[k]!.data, fd, { rtol: 1e-5, atol: noise, what: `${c.name}: gradient w.r.t. argument ${k}` });
      });
    }
  }));

test("complex: printing with keopscore's names, shapes in complex units, formulas parse back", () => {
  const z = new ComplexLazyTensor(tensor([[1, 2, 3, 4]]), 0), w = new ComplexLazyTensor(tensor([[1, 0], [0, 1]]), 1);
  const x = Vi(tensor([[0.5]]));
  assert.deepEqual(z.shape, [1, 1, 2]);
  assert.deepEqual(z.mul(w).shape, [1, 2, 2]);
  assert.deepEqual(w.sum().shape, [1, 2]);
  assert.equal(z.ndim, 4);
  assert.equal(z.mul(w).formula, "ComplexMult(Var(0,4,0),Var(1,2,1))");
  assert.equal(x.mul(z).formula, "ComplexRealScal(Var(0,1,0),Var(1,4,0))");
  assert.equal(z.mul(x).formula, "ComplexRealScal(Var(0,1,0),Var(1,4,0))");
  assert.equal(z.add(1).formula, "ComplexAdd(Var(0,4,0),Real2Complex(IntCst(1)))");
  assert.equal(z.exp().conj().sub(w).formula, "ComplexSubtract(Conj(ComplexExp(Var(0,4,0))),Var(1,2,1))");
  assert.equal(z.div(w).abs().formula, "ComplexAbs(ComplexDivide(Var(0,4,0),Var(1,2,1)))");
  assert.equal(z.angle().add(x.exp1j().real).formula, "(ComplexAngle(Var(0,4,0)) + ComplexReal(ComplexExp1j(Var(1,1,0))))");
  assert.equal(String(z.mul(w)), "KeOps LazyTensor\n    formula: ComplexMult(Var(0,4,0),Var(1,2,1))\n    shape: (1, 2, 2)");
  // keopscore's names parse (with aliases: inline Var(…) in genred is another helper's fix)
  const aliases = ["z = Vi(0, 4)", "w = Vj(1, 2)"];
  for (const [text, printed] of [
    ["ComplexMult(z,w)", "ComplexMult(Var(0,4,0),Var(1,2,1))"],
    ["ComplexSumT(ComplexSum(z),4)", "ComplexSumT(ComplexSum(Var(0,4,0)),4)"],
    ["ComplexImag(ComplexDivide(Conj(z),Imag2Complex(w)))", "ComplexImag(ComplexDivide(Conj(Var(0,4,0)),Imag2Complex(Var(1,2,1))))"],
  ]) assert.equal(genred(text!, aliases, { axis: 1 }).formula, printed);
});

test("complex: misuse is a KeOpsError", () => {
  const z = new ComplexLazyTensor(tensor([[1, 2, 3, 4]]), 0), w = new ComplexLazyTensor(tensor([[1, 0, 0, 1, 2, 2]]), 1);
  const x = Vi(tensor([[0.5, 1]]));
  const err = (f: () => unknown, re: RegExp) => assert.throws(f, (e) => e instanceof KeOpsError && re.test(e.message), String(re));
  err(() => new ComplexLazyTensor(tensor([[1, 2, 3]]), 0), /x: expected interleaved \(re, im\) data: an even last dimension/);
  err(() => z.mul(w), /ComplexMult: operands must have the same complex dimension or one of them 1, got real dimensions 4 and 6/);
  err(() => z.min({ axis: 1 }), /Min: not defined for a ComplexLazyTensor/);
  err(() => z.logsumexp({ axis: 1 }), /LogSumExp: not defined for a ComplexLazyTensor/);
  err(() => z.exp1j(), /exp1j: expected a real LazyTensor/);
  err(() => x.atan2(z), /Atan2: not defined with a ComplexLazyTensor operand/);
  err(() => LazyTensor.complex(x, Vi(tensor([[1]]))), /im: expected the dimension of re \(2\)/);
  err(() => genred("ComplexReal(Var(0,3,0))", [], { axis: 1 }), /ComplexReal: expected a complex operand/);
});
