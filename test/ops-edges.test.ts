/**
 * Edge values of the math ops, on every backend in float32 and float64: 0 for SinXDivX and
 * XLogX, negatives into Sqrt and Log, the domain edges of Asin/Acos, ties in Min/Max/ArgMin/ArgMax
 * (lowest index), half-way rounding, NaN in comparisons, overflow in Sigmoid/Softplus; SinXDivX's
 * derivatives near 0.
 * All the cases of one run share one kernel: a single row holding every input.
 */
import { test } from "node:test";
import { LazyTensor, Vi, Vj, tensor, type Tensor } from "../src/index.js";
import { REF_OPS } from "./reference.js";
import { assertClose, testBackends } from "./util.js";

type L = LazyTensor<boolean>;
const PI = Math.PI;
/** [name, inputs, op, expected outputs]. */
const EDGES: [string, number[], (x: L) => L, number[]][] = [
  ["SinXDivX at 0, −0, tiny, π", [0, -0, 1e-30, PI], (x) => x.sinxdivx(), [1, 1, 1, Math.sin(PI) / PI]],
  ["XLogX at 0, 1, −1", [0, 1, -1], (x) => x.xlogx(), [0, 0, NaN]],
  ["Sqrt of −1, 0, 4", [-1, 0, 4], (x) => x.sqrt(), [NaN, 0, 2]],
  ["Log of −1, 0, 1", [-1, 0, 1], (x) => x.log(), [NaN, -Infinity, 0]],
  ["Rsqrt of 0, −1, 4", [0, -1, 4], (x) => x.rsqrt(), [0, NaN, 0.5]],
  ["Asin at ±1, 1.5", [-1, 1, 1.5], (x) => x.asin(), [-PI / 2, PI / 2, NaN]],
  ["Acos at ±1, −1.5", [-1, 1, -1.5], (x) => x.acos(), [PI, 0, NaN]],
  ["Atan2(0, −1), (1, 0)", [0, 1], (x) => x.atan2([-1, 0]), [PI, PI / 2]],
  ["Sign of −2, 0, 3, NaN (KeOps: 0)", [-2, 0, 3, NaN], (x) => x.sign(), [-1, 0, 1, 0]],
  ["Step of −1, 0, 1, NaN (KeOps: 1)", [-1, 0, 1, NaN], (x) => x.step(), [0, 1, 1, 1]],
  ["ReLU of −1, 0, 2, NaN", [-1, 0, 2, NaN], (x) => x.relu(), [0, 0, 2, NaN]],
  ["Clamp of NaN stays NaN; IfElse of NaN takes b", [NaN], (x) => x.clamp(-1, 1).concat(x.ifelse(1, 2)), [NaN, 2]],
  ["Round half away from zero", [2.5, -2.5, 0.5, -0.4], (x) => x.round(), [3, -3, 1, -0]],
  ["Floor", [-0.5, 1.5, -2], (x) => x.floor(), [-1, 1, -2]],
  ["Mod 3 of −1, 4, 3", [-1, 4, 3], (x) => x.mod(3), [2, 1, 0]],
  ["ClampInt(−1, 1) at the bounds", [-2, -1, 0.5, 1, 2], (x) => x.clamp(-1, 1), [-1, -1, 0.5, 1, 1]],
  ["IfElse at 0", [-1, 0, 1], (x) => x.ifelse(1, 2), [2, 1, 1]],
  ["Min with ties", [3, 1, 1, 2], (x) => x.min(), [1]],
  ["ArgMin with ties → lowest index", [3, 1, 1, 2], (x) => x.argmin(), [1]],
  ["ArgMax with ties → lowest index", [3, 3, 1, 3], (x) => x.argmax(), [0]],
  ["ArgMin of a constant vector", [5, 5, 5], (x) => x.argmin(), [0]],
  ["Max with ties", [-1, 4, 4], (x) => x.max(), [4]],
  ["Min/ArgMin/Max/ArgMax with NaN: the first NaN wins", [1, NaN, 0, NaN], (x) => LazyTensor.concatenate([x.min(), x.argmin(), x.max(), x.argmax()]), [NaN, 1, NaN, 1]],
  ["Min/ArgMin with a leading NaN", [NaN, -1, 2], (x) => LazyTensor.concatenate([x.min(), x.argmin(), x.argmax()]), [NaN, 0, 0]],
  ["Normalize the zero vector", [0, 0, 0], (x) => x.normalize(), [0, 0, 0]],
  ["Norm2 of the zero vector", [0, 0], (x) => x.norm2(), [0]],
  ["OneHot of 2.5 (rounds to 3)", [2.5], (x) => x.oneHot(4), [0, 0, 0, 1]],
  ["OneHot out of range", [-1], (x) => x.oneHot(3), [0, 0, 0]],
  ["Equal / NotEqual / LessThan with NaN", [NaN], (x) => LazyTensor.concatenate([x.eq(x), x.ne(x), x.lt(1), x.ge(1)]), [0, 1, 0, 0]],
  ["Sigmoid at ±1000", [1000, -1000], (x) => x.sigmoid(), [1, 0]],
  ["Softplus at ±1000, 0", [1000, -1000, 0], (x) => x.softplus(), [1000, 0, Math.LN2]],
  ["Log1p(−1), Expm1(0)", [-1, 0], (x) => x.elem(0).log1p().concat(x.elem(1).expm1()), [-Infinity, 0]],
  ["Erf at 0, ±10", [0, 10, -10], (x) => x.erf(), [0, 1, -1]],
  ["Inv of 0", [0, -0], (x) => x.inv(), [Infinity, -Infinity]],
  ["Tanh at ±50", [50, -50], (x) => x.tanh(), [1, -1]],
];

for (const backend of testBackends())
  for (const dtype of ["float32", "float64"] as const)
    test(`[${backend}] ${dtype}: edge values`, () => {
      const inputs = EDGES.flatMap(([, xs]) => xs);
      const X = new LazyTensor(tensor([inputs], { dtype }), 0);
      let off = 0;
      const parts = EDGES.map(([, xs, op]) => {
        const f = op(X.extract(off, xs.length));
        off += xs.length;
        return f;
      });
      const out = LazyTensor.concatenate(parts).sum({ axis: 1, backend: backend as never }) as Tensor;
      let col = 0;
      EDGES.forEach(([name, , , want], k) => {
        const got = Array.from(out.data.subarray(col, col + parts[k]!.ndim));
        col += parts[k]!.ndim;
        const rtol = dtype === "float32" ? 1e-6 : 1e-14;
        assertClose(got, want, { rtol, atol: rtol, what: `[${backend} ${dtype}] ${name}` });
      });
    });

/** SinXDivX'(x), SinXDivX''(x) in float64 (the reference's series near 0). */
function sincDerivatives(x: number): [number, number] {
  const d1 = REF_OPS.DiffSinXDivX!([[x]], [], 1)[0]!;
  const sinc = x === 0 ? 1 : Math.sin(x) / x;
  return [d1, x === 0 ? -1 / 3 : -sinc - (2 * d1) / x];
}

for (const backend of testBackends())
  for (const dtype of ["float32", "float64"] as const)
    test(`[${backend}] ${dtype}: SinXDivX's first and second derivatives near 0 (no cancellation, finite at 0)`, () => {
      const xs = [0, -0, 1e-6, -1e-4, 1e-2, 0.3, -0.49, 0.51, 2, -7];
      const x = Vi(tensor(xs.map((v) => [v]), { dtype }));
      const one = Vj(tensor([[1]], { dtype }));
      const e = Vi(tensor(xs.map(() => [1]), { dtype }));
      const d1 = x.sinxdivx().grad(x, e);
      const d2 = d1.grad(x, e);
      const out = LazyTensor.concatenate([d1, d2]).mul(one).sum({ axis: 1, backend: backend as never }) as Tensor;
      const at = xs.map((v) => (dtype === "float32" ? Math.fround(v) : v));
      const want = at.flatMap(sincDerivatives);
      const rtol = dtype === "float32" ? 2e-6 : 1e-13;
      assertClose(out.data, want, { rtol, atol: rtol, what: `[${backend} ${dtype}] SinXDivX', SinXDivX''` });
    });
