/**
 * Every math op (issue 4) on random inputs scaled into its domain, against the float64 reference:
 * every backend, float32 and float64, D = 1 and D = 3, both axes, with dim-1 ↔ D broadcasting
 * and parameters. The ops of one configuration are concatenated into one formula (one kernel);
 * each op's columns are compared separately, so a failure names the op.
 */
import { test } from "node:test";
import { LazyTensor, Tensor, Vi, Vj, Pm, backendInfo } from "../src/index.js";
import type { FloatDType } from "../src/tensor.js";
import { pairTerms } from "./reference.js";
import { Data, assertClose, callOn, testSeed, testTargets, withSeed, type Target } from "./util.js";

type L = LazyTensor<boolean>;
/** The leaves of a configuration (symbolic variables, numbered as in {@link data}). */
interface Leaves {
  D: number;
  /** i-variable in [−2, 2]. */ a: L;
  /** j-variable in [−2, 2]. */ b: L;
  /** i-variable in (−0.95, 0.95) (asin, acos). */ u: L;
  /** j-variable in (0.2, 3) (log, sqrt, powers). */ q: L;
  /** j-variable of dimension 1 in [−2, 2] (broadcasting). */ s: L;
  /** i- and j-variables with small integer values (ties, comparisons). */ k: L; l: L;
  /** j-variable of dimension D² in [−1, 1] (matrices). */ A: L;
  /** i-variable of dimension 6 and j-variable of dimension 12 (TensorDot, Kron). */ X: L; Y: L;
  /** A parameter of dimension D in [−2, 2]. */ w: L;
}

function leaves(D: number): Leaves {
  return {
    D, a: Vi(0, D), b: Vj(1, D), u: Vi(2, D), q: Vj(3, D), s: Vj(4, 1), k: Vi(5, D), l: Vj(6, D),
    A: Vj(7, D * D), X: Vi(8, 6), Y: Vj(9, 12), w: Pm(10, D),
  };
}

function data(d: Data, D: number, M: number, N: number, dtype: FloatDType): Tensor[] {
  return [
    d.uniform([M, D], -2, 2, dtype), d.uniform([N, D], -2, 2, dtype), d.uniform([M, D], -0.95, 0.95, dtype),
    d.uniform([N, D], 0.2, 3, dtype), d.uniform([N, 1], -2, 2, dtype), d.randint([M, D], -2, 2, dtype),
    d.randint([N, D], -2, 2, dtype), d.uniform([N, D * D], -1, 1, dtype), d.uniform([M, 6], -1, 1, dtype),
    d.uniform([N, 12], -1, 1, dtype), d.uniform([D], -2, 2, dtype),
  ];
}

/**
 * One case: a name (shown on failure), the formula, and for an op whose result may cancel to
 * nearly 0 while its rounding error does not, that error per term in units of the float's u
 * (absolute): a contraction summing k products of operands of magnitude ≤ 1 errs by ≈ k·u·Σ|products|
 * ≤ k²·u (given as 2k²); sinc near its roots by ≈ u·|x·sinc′(x)| ≤ 2u (given as 8).
 */
type Case = [name: string, build: (v: Leaves) => L, termU?: number];

export const CASES: Case[] = [
  // arithmetic with scalar ↔ vector broadcasting, parameters, inv
  ["Add a+s", (v) => v.a.add(v.s)],
  ["Subtract s-a", (v) => LazyTensor.sub(v.s, v.a)],
  ["Mult a*s", (v) => v.a.mul(v.s)],
  ["Mult a*w", (v) => v.a.mul(v.w)],
  ["Divide a/q", (v) => v.a.div(v.q)],
  ["Divide s/q", (v) => v.s.div(v.q)],
  ["Minus", (v) => v.a.neg()],
  ["Inv", (v) => v.q.inv()],
  ["LazyTensor.div(1, q)", (v) => LazyTensor.div(1, v.q)],
  // comparisons on integer-valued data (ties), and against a broadcast scalar
  ["Equal", (v) => v.k.eq(v.l)],
  ["NotEqual", (v) => v.k.ne(v.l)],
  ["LessThan", (v) => v.k.lt(v.l)],
  ["GreaterThan", (v) => v.k.gt(v.l)],
  ["LessOrEqual", (v) => v.k.le(v.l)],
  ["GreaterOrEqual", (v) => v.k.ge(v.l)],
  ["LessThan k<s", (v) => v.k.lt(v.s)],
  ["Equal k==1", (v) => v.k.eq(1)],
  // element-wise functions
  ["Exp", (v) => v.a.exp()],
  ["Log", (v) => v.q.log()],
  ["XLogX", (v) => v.q.xlogx()],
  ["Sin", (v) => v.a.sin()],
  ["Cos", (v) => v.a.cos()],
  ["SinXDivX", (v) => v.a.sinxdivx()],
  ["sinc", (v) => v.a.sinc(), 8],
  ["Asin", (v) => v.u.asin()],
  ["Acos", (v) => v.u.acos()],
  ["Atan", (v) => v.a.atan()],
  ["Atan2", (v) => v.a.atan2(v.b)],
  ["Atan2 broadcast", (v) => v.s.atan2(v.a)],
  ["Sqrt", (v) => v.q.sqrt()],
  ["Rsqrt", (v) => v.q.rsqrt()],
  ["Square", (v) => v.a.square()],
  ["pow 2 → Square", (v) => v.a.pow(2)],
  ["Pow 3", (v) => v.a.pow(3)],
  ["Pow -2", (v) => v.q.pow(-2)],
  ["pow 0.5 → Sqrt", (v) => v.q.pow(0.5)],
  ["pow -0.5 → Rsqrt", (v) => v.q.pow(-0.5)],
  ["Powf float", (v) => v.q.pow(1.7)],
  ["Powf LazyTensor", (v) => v.q.power(v.s)],
  ["Powf a^q elementwise", (v) => v.q.pow(v.a)],
  ["Sign", (v) => v.a.sign()],
  ["Step", (v) => v.a.step()],
  ["ReLU", (v) => v.a.relu()],
  ["Clamp floats", (v) => v.a.clamp(-0.5, 0.7)],
  ["ClampInt", (v) => v.a.clamp(-1, 1)],
  ["Clamp broadcast", (v) => v.a.clamp(v.s, v.b.abs().add(2))],
  ["IfElse", (v) => v.a.ifelse(v.b, v.s)],
  ["Mod", (v) => v.a.mod(0.7, 0.2)],
  ["Mod LazyTensor", (v) => v.a.mod(v.q)],
  ["Round", (v) => v.a.mul(3).round()],
  ["Round 2 decimals", (v) => v.a.round(2)],
  ["Floor", (v) => v.a.mul(3).floor()],
  ["Abs", (v) => v.a.abs()],
  // beyond KeOps
  ["Tanh", (v) => v.a.tanh()],
  ["Sinh", (v) => v.a.sinh()],
  ["Cosh", (v) => v.a.cosh()],
  ["Tan", (v) => v.u.tan()],
  ["Erf", (v) => v.a.erf()],
  ["Log1p", (v) => v.q.log1p()],
  ["Expm1", (v) => v.a.expm1()],
  ["Sigmoid", (v) => v.a.mul(5).sigmoid()],
  ["Softplus", (v) => v.a.mul(20).softplus()],
  // vector operations
  ["SqNorm2", (v) => v.a.sqnorm2()],
  ["Norm2", (v) => v.a.norm2()],
  ["Normalize", (v) => v.a.normalize()],
  ["SqDist", (v) => v.a.sqdist(v.b)],
  ["SqDist broadcast", (v) => v.a.sqdist(v.s)],
  ["WeightedSqNorm isotropic", (v) => v.a.weightedsqnorm(v.s)],
  ["WeightedSqNorm diagonal", (v) => v.a.weightedsqnorm(v.q)],
  ["WeightedSqNorm full", (v) => v.a.weightedsqnorm(v.A)],
  ["weightedsqdist", (v) => v.a.weightedsqdist(v.b, v.q)],
  ["Scalprod", (v) => v.a.dot(v.b)],
  ["Sum (inner)", (v) => v.a.sum()],
  ["Min (inner)", (v) => v.a.min()],
  ["Max (inner)", (v) => v.a.max()],
  ["ArgMin (inner, ties)", (v) => v.k.argmin()],
  ["ArgMax (inner, ties)", (v) => v.k.argmax()],
  ["Min (inner, ties)", (v) => v.k.min(-1)],
  ["Elem", (v) => v.a.elem(v.D - 1)],
  ["Extract", (v) => v.a.extract(v.D > 1 ? 1 : 0, v.D > 1 ? v.D - 1 : 1)],
  ["Concat", (v) => v.a.concat(v.s)],
  ["concatenate", (v) => LazyTensor.concatenate([v.s, v.a, v.b])],
  ["OneHot", (v) => v.k.elem(0).add(1).oneHot(4)],
  // tensor algebra
  ["MatVecMult", (v) => v.A.matvecmult(v.a)],
  ["VecMatMult", (v) => v.a.vecmatmult(v.A)],
  ["TensorProd", (v) => v.a.tensorprod(v.b)],
  ["TensorDot matmul", (v) => v.X.keopsTensordot(v.Y, [2, 3], [3, 4], [1], [0]), 18],
  ["TensorDot permuted", (v) => v.X.keopsTensordot(v.Y, [2, 3], [3, 4], [1], [0], [1, 0]), 18],
  ["TensorDot two axes", (v) => v.X.keopsTensordot(v.Y.extract(0, 6), [2, 3], [3, 2], [0, 1], [1, 0]), 72],
  ["TensorDot outer 3-way", (v) => v.X.keopsTensordot(v.a, [3, 2], [v.D], [], [], [2, 0, 1])],
  ["TensorDot 3 kept axes permuted", (v) => v.Y.keopsTensordot(v.Y, [2, 3, 2], [3, 4], [1], [0], [2, 0, 1]), 18],
  ["TensorDot 2-axis contraction permuted", (v) => v.Y.keopsTensordot(v.Y.concat(v.Y), [2, 3, 2], [2, 4, 3], [2, 1], [0, 2], [1, 0]), 72],
  ["Kron", (v) => v.X.keopsKron(v.Y, [2, 3], [3, 4])],
];

/**
 * Sizes of the reduced dimension: one row, around the SIMD vector widths (4, 8, 16 lanes), and
 * around the tiles (wasm 1024 × 4, JS 4096, native up to 4096 per tile). The kernels of the
 * larger sizes cross the thread thresholds of the JS and native backends (their cost is weighted
 * by the formula's size; wasm's threads are crossed in test/property.test.ts). Per (D, axis), one
 * data set of the largest size (float32 values, widened for the float64 runs) is evaluated once
 * in float64 on every pair; each size reduces a prefix of it, every backend and dtype compares
 * against the same values.
 */
export const REDUCED_SIZES = [1, 15, 16, 17, 63, 64, 65, 4095, 4096, 4097] as const;
/** Rows of the output (the other dimension). */
const OUTER = 3;
/**
 * Ops per kernel: all in one (the native backend runs a C++ compile per kernel, whose fixed cost
 * dominates; lavapipe compiles the one kernel in seconds, 12-op kernels take it 20× longer in
 * all), except on webgpu over SwiftShader, whose shader compiler is far worse than linear in a
 * kernel's size (39 math ops of dimension 3 in one kernel: 8 s of CPU; the same ops of
 * dimension 9: over 400 s; this whole suite in one kernel: over 10 minutes, in 12-op kernels:
 * under a minute).
 */
const chunkFor = (backend: string): number => (backend === "webgpu" && onSwiftShader() ? 12 : 256);
/** Whether the webgpu backend's adapter here is SwiftShader (as backendInfo() names it). */
const onSwiftShader = (): boolean => /swiftshader/i.test(backendInfo().backends.find((b) => b.name === "webgpu")?.caps.costNote ?? "");
/**
 * The (D, axis) configurations and reduced sizes per target: all of them, except on webgpu, whose
 * software adapters emulate every lane on the CPU: one configuration, and one size just past each
 * of its boundaries — the workgroup tiles (64, 256) and the block_sum blocks (4096).
 */
function configs(backend: string): { cfg: [D: number, axis: 0 | 1][]; sizes: readonly number[] } {
  if (backend === "webgpu") return { cfg: [[3, 1]], sizes: [1, 65, 257, 4097] };
  return { cfg: [[1, 0], [1, 1], [3, 0], [3, 1]], sizes: REDUCED_SIZES };
}
/** float32's unit roundoff. */
const U32 = 2 ** -24;

interface Chunk {
  readonly parts: { name: string; f: L; termU?: number }[];
  readonly F: L;
  /** The float64 value of every pair (largest size). */
  readonly terms: ReturnType<typeof pairTerms>;
}
interface Prepared {
  readonly args: Tensor[];
  readonly chunks: Chunk[];
}

const prepared = new Map<string, Prepared>();

/**
 * Data at the largest size and the float64 value of every pair, per configuration and chunk size,
 * computed once and shared by the backends (the same seed for the whole file).
 */
function prepare(d: Data, cases: readonly Case[], dtype: FloatDType, D: number, axis: 0 | 1, size: number): Prepared {
  const key = `${d.seed}|${dtype}|${D}|${axis}|${size}`;
  let p = prepared.get(key);
  if (p) return p;
  if (dtype === "float64") {
    // the float32 data set, widened: the same float64 reference serves both dtypes
    const p32 = prepare(d, cases, "float32", D, axis, size);
    p = { args: p32.args.map((t) => new Tensor(Float64Array.from(t.data), [...t.shape])), chunks: p32.chunks };
    prepared.set(key, p);
    return p;
  }
  const v = leaves(D);
  const big = REDUCED_SIZES[REDUCED_SIZES.length - 1];
  const [M, N] = axis === 1 ? [OUTER, big] : [big, OUTER];
  const args = data(new Data(d.seed + 7919 * (D + 10 * axis)), D, M, N, dtype);
  // every leaf appears, so the call signature is the same for every chunk
  const all = [v.a, v.b, v.u, v.q, v.s, v.k, v.l, v.A, v.X, v.Y, v.w].map((x) => x.elem(0)).reduce((s, x) => s.add(x.mul(0)));
  const chunks: Chunk[] = [];
  for (let c0 = 0; c0 < cases.length; c0 += size) {
    const parts = cases.slice(c0, c0 + size).map(([name, build, termU]) => ({ name, f: build(v), termU }));
    const F = LazyTensor.concatenate([...parts.map((q) => q.f), all]);
    chunks.push({ parts, F, terms: pairTerms(F.sum({ axis, call: false }) as never, ...args) });
  }
  p = { args, chunks };
  prepared.set(key, p);
  return p;
}

/** Runs the cases of `cases` in one configuration on `backend` and compares each op's columns, at every size of {@link REDUCED_SIZES}. */
export async function checkCases(d: Data, cases: readonly Case[], t: Target, dtype: FloatDType, D: number, axis: 0 | 1): Promise<void> {
  const backend = t.backend;
  const { args, chunks } = prepare(d, cases, dtype, D, axis, chunkFor(backend));
  // the reduced variables (category = axis) cut to their first n rows
  const cats = [0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 2];
  const prefix = (n: number): Tensor[] =>
    args.map((t, k) => (cats[k] === axis ? new Tensor(t.data.subarray(0, n * t.shape[1]!) as never, [n, t.shape[1]!]) : t));
  for (const chunk of chunks) {
    const fn = chunk.F.sum({ axis, backend: backend as never, call: false }) as unknown as (...a: Tensor[]) => Tensor;
    const { values, nIn, dim: width } = chunk.terms;
    for (const n of configs(backend).sizes) {
      const out = await callOn<Tensor>(t, fn, ...prefix(n));
      let off = 0;
      for (const p of chunk.parts) {
        const cols = p.f.ndim;
        const want = new Float64Array(OUTER * cols), mag = new Float64Array(OUTER * cols), got = new Float64Array(OUTER * cols);
        for (let o = 0; o < OUTER; o++)
          for (let c = 0; c < cols; c++) {
            let s = 0, m = 0;
            for (let j = 0; j < n; j++) {
              const t = values[(o * nIn + j) * width + off + c]!;
              s += t;
              m += Math.abs(t);
            }
            want[o * cols + c] = s;
            mag[o * cols + c] = m;
            got[o * cols + c] = out.data[o * width + off + c]!;
          }
        // per element: the op's accuracy relative to each term, summed over the terms (a sum's
        // rounding error scales with its terms, not with its possibly cancelled result), plus in
        // float32 the classic bound of a direct sum over one tile (≤ 4096 terms on every backend:
        // n·u, reached by n equal terms; float64's is negligible)
        // (and an op's own absolute rounding per term where its result may cancel: see Case)
        const rtol = dtype === "float32" ? 2e-5 : 1e-11;
        const sumTol = rtol + (dtype === "float32" ? Math.min(n, 4096) * U32 : 0);
        const inner = (p.termU ?? 0) * (dtype === "float32" ? U32 : 2 ** -53) * n;
        const what = `[${backend} ${dtype}] ${p.name} D=${D} axis=${axis} n=${n}: ${p.f.formula}`;
        assertClose(got, want, { rtol, atol: mag.map((x) => sumTol * x + inner), what });
        off += cols;
      }
    }
  }
}

const seed = testSeed();
for (const t of await testTargets())
  for (const dtype of t.dtypes) {
    const { cfg, sizes } = configs(t.backend);
    test(`[${t.backend}] ${dtype}: every op against the float64 reference, (D, axis) in ${cfg.map((c) => `(${c.join(", ")})`).join(" ")}, reduced sizes ${sizes.join(", ")}`, () =>
      withSeed(async (d) => {
        for (const [D, axis] of cfg) await checkCases(d, CASES, t, dtype, D, axis);
      }, seed));
  }
