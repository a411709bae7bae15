/**
 * The LazyTensor methods of the math operations (pykeops's names, camelCased), installed on the
 * class by module augmentation, with their static forms (`LazyTensor.sin(x)`, …). Imported once
 * by the package entry point.
 */
import { argError, said } from "../errors.js";
import type { OpDef } from "../formula/node.js";
import { InvOp } from "../formula/ops/arith.js";
import {
  Expm1Op, Log1pOp, PowfOp, RsqrtOp, SigmoidOp, SignOp, SoftplusOp, XLogXOp,
} from "../formula/ops/math.js";
import {
  EqualOp, GreaterOrEqualOp, GreaterThanOp, LessOrEqualOp, LessThanOp, NotEqualOp,
} from "../formula/ops/compare.js";
import {
  AcosOp, AsinOp, Atan2Op, AtanOp, CosOp, CoshOp, SinOp, SinXDivXOp, SinhOp, TanOp, TanhOp,
} from "../formula/ops/trig.js";
import { ClampIntOp, ClampOp, FloorOp, IfElseOp, ModOp, ReLUOp, RoundOp, StepOp } from "../formula/ops/piecewise.js";
import { Norm2Op, NormalizeOp, SqDistOp, WeightedSqNormOp } from "../formula/ops/norms.js";
import { ConcatOp, OneHotOp } from "../formula/ops/vector.js";
import { ErfOp } from "../formula/ops/erf.js";
import { BSplineOp } from "../formula/ops/bspline.js";
import { DifferenceMatrixOp, SoftDTW_SqDistOp } from "../formula/ops/sequences.js";
import { MatVecMultOp, TensorProdOp, VecMatMultOp, kronParts, tensorDotParts } from "../formula/ops/tensor.js";
import { LazyTensor, toLazy, type Operand, type Reduced } from "./lazytensor.js";
import type { ReduceOptions } from "./options.js";
import type { Tensor } from "../tensor.js";

type Or<A extends boolean, B extends boolean> = A extends true ? true : B extends true ? true : false;
/** A binary method's other operand. */
type Other<T extends boolean> = LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>;
/** The list arguments of keopsTensordot / keopsKron: a number stands for a one-element list. */
type IntList = number | readonly number[];

declare module "./lazytensor.js" {
  interface LazyTensor<S extends boolean> {
    /** `1 / this` (KeOps `Inv`). */
    inv(): LazyTensor<S>;
    /** `this == other` → 1/0 (KeOps `Equal`). */
    eq<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `this != other` → 1/0 (KeOps `NotEqual`). */
    ne<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `this < other` → 1/0. */
    lt<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `this > other` → 1/0. */
    gt<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `this <= other` → 1/0. */
    le<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `this >= other` → 1/0. */
    ge<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** x·log(x), 0 at 0. */
    xlogx(): LazyTensor<S>;
    sin(): LazyTensor<S>;
    cos(): LazyTensor<S>;
    /** sin(x)/x, 1 at 0. */
    sinxdivx(): LazyTensor<S>;
    /** sin(πx)/(πx), as pykeops: `SinXDivX(π * x)` with π a parameter. */
    sinc(): LazyTensor<boolean>;
    asin(): LazyTensor<S>;
    acos(): LazyTensor<S>;
    atan(): LazyTensor<S>;
    /** `this.atan2(x)`: the angle of (x, this) (KeOps `Atan2(this, x)`). */
    atan2<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** 1/√x, 0 at 0 (KeOps `Rsqrt`). */
    rsqrt(): LazyTensor<S>;
    /** `this ** p` (same as {@link LazyTensor.pow}). */
    power<T extends boolean = false>(p: number | LazyTensor<T>): LazyTensor<Or<S, T>>;
    /** −1, 0 or 1. */
    sign(): LazyTensor<S>;
    /** 0 where x < 0, else 1. */
    step(): LazyTensor<S>;
    /** max(x, 0) (KeOps `ReLU`). */
    relu(): LazyTensor<S>;
    /** Clamps into [a, b]: `ClampInt(x,a,b)` when both are integers, else `Clamp(x,a,b)` (broadcasting). */
    clamp<A extends boolean = false, B extends boolean = false>(a: Other<A>, b: Other<B>): LazyTensor<Or<S, Or<A, B>>>;
    /** Clamps into [a, b] with integers a, b (KeOps `ClampInt`). */
    clampint(a: number, b: number): LazyTensor<S>;
    /** a where this ≥ 0, else b (KeOps `IfElse`). */
    ifelse<A extends boolean = false, B extends boolean = false>(a: Other<A>, b: Other<B>): LazyTensor<Or<S, Or<A, B>>>;
    /** x − modulus·floor((x − offset)/modulus) (KeOps `Mod`; offset 0 by default). */
    mod<A extends boolean = false, B extends boolean = false>(modulus: Other<A>, offset?: Other<B>): LazyTensor<Or<S, Or<A, B>>>;
    /** Rounds to `decimals` decimals (0 by default; half away from zero). */
    round(decimals?: number): LazyTensor<S>;
    floor(): LazyTensor<S>;
    /** Euclidean norm over the vector dimension. */
    norm2(): LazyTensor<S>;
    /** `norm(-1)`: same as {@link norm2} (only the vector dimension is supported, as pykeops). */
    norm(dim: number): LazyTensor<S>;
    /** x / |x| (0 for the zero vector). */
    normalize(): LazyTensor<S>;
    /** Squared Euclidean distance to `other`. */
    sqdist<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** `WeightedSqNorm(s, this)`: s of dim 1 (isotropic), D (diagonal) or D² (full symmetric). */
    weightedsqnorm<T extends boolean = false>(s: Other<T>): LazyTensor<Or<S, T>>;
    /** `(this - y).weightedsqnorm(s)`, as pykeops. */
    weightedsqdist<T extends boolean = false, U extends boolean = false>(y: Other<T>, s: Other<U>): LazyTensor<Or<S, Or<T, U>>>;
    /** Concatenation along the vector dimension. */
    concat<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /** One-hot vector of dimension D at round(this) (this scalar). */
    oneHot(D: number): LazyTensor<S>;
    /** this (dim m·n, row-major) times v (dim n). */
    matvecmult<T extends boolean = false>(v: Other<T>): LazyTensor<Or<S, T>>;
    /** thisᵀ (dim m) times A (dim m·n). */
    vecmatmult<T extends boolean = false>(A: Other<T>): LazyTensor<Or<S, T>>;
    /** Outer product, row-major. */
    tensorprod<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /**
     * KeOps's TensorDot: this and other seen as row-major tensors of shapes dimfa, dimfb,
     * contracted over axes contfa of this with contfb of other; `permute` gives the output
     * position of each kept axis (this's, then other's).
     */
    keopsTensordot<T extends boolean = false>(
      other: Other<T>, dimfa: IntList, dimfb: IntList, contfa: IntList, contfb: IntList, permute?: IntList,
    ): LazyTensor<Or<S, T>>;
    /** Kronecker product of this (shape dimfself) and other (shape dimfother), flattened (np.kron). */
    keopsKron<T extends boolean = false>(other: Other<T>, dimfself: IntList, dimfother: IntList): LazyTensor<Or<S, T>>;
    /** tan(x) (keops-ts addition). */
    tan(): LazyTensor<S>;
    /** sinh(x) (keops-ts addition). */
    sinh(): LazyTensor<S>;
    /** cosh(x) (keops-ts addition). */
    cosh(): LazyTensor<S>;
    /** tanh(x) (keops-ts addition). */
    tanh(): LazyTensor<S>;
    /** The error function (keops-ts addition). */
    erf(): LazyTensor<S>;
    /** log(1 + x) (keops-ts addition). */
    log1p(): LazyTensor<S>;
    /** exp(x) − 1 (keops-ts addition). */
    expm1(): LazyTensor<S>;
    /** 1 / (1 + exp(−x)) (keops-ts addition). */
    sigmoid(): LazyTensor<S>;
    /** log(1 + exp(x)), computed stably (keops-ts addition). */
    softplus(): LazyTensor<S>;
    /** All differences this_i − other_j, at component j·n + i (pykeops `difference_matrix`, KeOps `DifferenceMatrix`). */
    differenceMatrix<T extends boolean = false>(other: Other<T>): LazyTensor<Or<S, T>>;
    /**
     * The soft-DTW discrepancy between the sequences this and other with the squared difference
     * as cost and smoothing `gamma` (a scalar) (pykeops `softdtw_sqdist`, KeOps `SoftDTW_SqDist`).
     */
    softdtwSqdist<T extends boolean = false, U extends boolean = false>(other: Other<T>, gamma: Other<U>): LazyTensor<Or<S, Or<T, U>>>;
    /**
     * The B-splines of order k (0 by default) on the knots this (non-decreasing), evaluated at the
     * scalar x: dimension this.ndim − k − 1 (pykeops `bspline`, KeOps `BSpline`).
     */
    bspline<T extends boolean = false>(x: Other<T>, k?: number): LazyTensor<Or<S, T>>;
  }
}

type AnyLazy = LazyTensor<boolean>;
const proto = LazyTensor.prototype as unknown as Record<string, unknown>;

/** Installs a method (and, with `statik`, its static form taking the tensor first). */
function install(name: string, f: (this: AnyLazy, ...args: never[]) => unknown, statik = true): void {
  proto[name] = f;
  if (statik)
    (LazyTensor as unknown as Record<string, unknown>)[name] = (x: Operand, ...args: never[]) =>
      f.apply(toLazy(x, "x"), args);
}

const unary: Record<string, OpDef> = {
  inv: InvOp, xlogx: XLogXOp, sin: SinOp, cos: CosOp, sinxdivx: SinXDivXOp, asin: AsinOp, acos: AcosOp,
  atan: AtanOp, rsqrt: RsqrtOp, sign: SignOp, step: StepOp, relu: ReLUOp, floor: FloorOp,
  norm2: Norm2Op, normalize: NormalizeOp, tan: TanOp, sinh: SinhOp, cosh: CoshOp, tanh: TanhOp,
  erf: ErfOp, log1p: Log1pOp, expm1: Expm1Op, sigmoid: SigmoidOp, softplus: SoftplusOp,
};
for (const [name, def] of Object.entries(unary)) install(name, function (this: AnyLazy) { return this.op(def); });

const binary: Record<string, OpDef> = {
  eq: EqualOp, ne: NotEqualOp, lt: LessThanOp, gt: GreaterThanOp, le: LessOrEqualOp, ge: GreaterOrEqualOp,
  atan2: Atan2Op, sqdist: SqDistOp, concat: ConcatOp, matvecmult: MatVecMultOp, vecmatmult: VecMatMultOp,
  tensorprod: TensorProdOp, differenceMatrix: DifferenceMatrixOp,
};
for (const [name, def] of Object.entries(binary))
  install(name, function (this: AnyLazy, other: Operand) { return this.op(def, [other]); });

install("sinc", function (this: AnyLazy) {
  return (LazyTensor.mul(Math.PI, this) as AnyLazy).sinxdivx();
});
install("power", function (this: AnyLazy, p: number | AnyLazy) {
  return this.pow(p);
});
install("clamp", function (this: AnyLazy, a: Operand, b: Operand) {
  if (Number.isSafeInteger(a) && Number.isSafeInteger(b)) return this.op(ClampIntOp, [], [a as number, b as number]);
  return this.op(ClampOp, [a, b]);
});
install("clampint", function (this: AnyLazy, a: number, b: number) {
  if (!Number.isSafeInteger(a)) argError("a", "an integer", a);
  if (!Number.isSafeInteger(b)) argError("b", "an integer", b);
  return this.op(ClampIntOp, [], [a, b]);
});
install("ifelse", function (this: AnyLazy, a: Operand, b: Operand) {
  return this.op(IfElseOp, [a, b]);
});
install("mod", function (this: AnyLazy, modulus: Operand, offset: Operand = 0) {
  return this.op(ModOp, [modulus, offset]);
});
install("round", function (this: AnyLazy, decimals = 0) {
  if (!Number.isSafeInteger(decimals)) argError("decimals", "an integer", decimals);
  return this.op(RoundOp, [], [decimals]);
});
install("norm", function (this: AnyLazy, dim: number) {
  if (dim !== -1 && dim !== this.nbatchdims + 2) argError("dim", `-1 or ${this.nbatchdims + 2} (norms are over the vector dimension only)`, dim);
  return this.op(Norm2Op);
});
install("weightedsqnorm", function (this: AnyLazy, s: Operand) {
  const w = toLazy(s, "s");
  const D = this.ndim;
  if (w.ndim !== 1 && w.ndim !== D && w.ndim !== D * D)
    argError("s", `weights of dimension 1 (isotropic), ${D} (diagonal) or ${D * D} (full symmetric) for D = ${D}`, said(`dimension ${w.ndim}`));
  return w.op(WeightedSqNormOp, [this]);
});
install("weightedsqdist", function (this: AnyLazy, y: Operand, s: Operand) {
  return this.sub(y as never).weightedsqnorm(s);
});
install("softdtwSqdist", function (this: AnyLazy, other: Operand, gamma: Operand) {
  const g = toLazy(gamma, "gamma");
  if (g.ndim !== 1) argError("gamma", "a scalar (dimension 1)", said(`dimension ${g.ndim}`));
  return this.op(SoftDTW_SqDistOp, [other, g]);
});
install("bspline", function (this: AnyLazy, x: Operand, k = 0) {
  if (!Number.isSafeInteger(k) || k < 0) argError("k", "an integer order ≥ 0", k);
  const xl = toLazy(x, "x");
  if (xl.ndim !== 1) argError("x", "a scalar (dimension 1)", said(`dimension ${xl.ndim}`));
  if (this.ndim < k + 2) argError("knots", `at least ${k + 2} knots for order ${k}`, said(`dimension ${this.ndim}`));
  return this.op(BSplineOp, [xl], [k]);
});
install("oneHot", function (this: AnyLazy, D: number) {
  if (!Number.isSafeInteger(D) || D < 1) argError("D", "a positive integer", D);
  return this.op(OneHotOp, [], [D]);
});

const asList = (x: IntList, what: string): number[] => {
  const l = typeof x === "number" ? [x] : Array.isArray(x) ? [...x] : argError(what, "an integer or a list of integers", x);
  if (!l.every((v) => Number.isSafeInteger(v))) argError(what, "integers", x);
  return l;
};
install("keopsTensordot", function (this: AnyLazy, other: Operand, dimfa: IntList, dimfb: IntList, contfa: IntList, contfb: IntList, permute?: IntList) {
  const { op, attrs } = tensorDotParts({
    dimsfa: asList(dimfa, "dimfa"), dimsfb: asList(dimfb, "dimfb"),
    contfa: asList(contfa, "contfa"), contfb: asList(contfb, "contfb"),
    permute: permute === undefined ? undefined : asList(permute, "permute"),
  });
  return this.op(op, [other], attrs);
});
install("keopsKron", function (this: AnyLazy, other: Operand, dimfself: IntList, dimfother: IntList) {
  const { op, attrs } = kronParts(asList(dimfself, "dimfself"), asList(dimfother, "dimfother"));
  return this.op(op, [other], attrs);
});

declare module "./lazytensor.js" {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace LazyTensor {
    /** Static forms of the math methods: `LazyTensor.sin(x)` is `x.sin()` (x any operand). */
    let inv: StaticUnary, xlogx: StaticUnary, sin: StaticUnary, cos: StaticUnary, sinxdivx: StaticUnary,
      sinc: StaticUnary, asin: StaticUnary, acos: StaticUnary, atan: StaticUnary, rsqrt: StaticUnary,
      sign: StaticUnary, step: StaticUnary, relu: StaticUnary, floor: StaticUnary, norm2: StaticUnary,
      normalize: StaticUnary, tan: StaticUnary, sinh: StaticUnary, cosh: StaticUnary, tanh: StaticUnary,
      erf: StaticUnary, log1p: StaticUnary, expm1: StaticUnary, sigmoid: StaticUnary, softplus: StaticUnary;
    let eq: StaticBinary, ne: StaticBinary, lt: StaticBinary, gt: StaticBinary, le: StaticBinary, ge: StaticBinary,
      atan2: StaticBinary, sqdist: StaticBinary, concat: StaticBinary, matvecmult: StaticBinary,
      vecmatmult: StaticBinary, tensorprod: StaticBinary, weightedsqnorm: StaticBinary, power: StaticBinary,
      differenceMatrix: StaticBinary;
    let softdtwSqdist: StaticTernary;
    let bspline: (knots: Operand, x: Operand, k?: number) => LazyTensor<boolean>;
    let clamp: StaticTernary, ifelse: StaticTernary, mod: StaticTernary, weightedsqdist: StaticTernary;
    let round: (x: Operand, decimals?: number) => LazyTensor<boolean>;
    let oneHot: (x: Operand, D: number) => LazyTensor<boolean>;
    let clampint: (x: Operand, a: number, b: number) => LazyTensor<boolean>;
    let norm: (x: Operand, dim: number) => LazyTensor<boolean>;
    let keopsTensordot: (x: Operand, y: Operand, dimfa: IntList, dimfb: IntList, contfa: IntList, contfb: IntList, permute?: IntList) => LazyTensor<boolean>;
    let keopsKron: (x: Operand, y: Operand, dimfself: IntList, dimfother: IntList) => LazyTensor<boolean>;
    /** Concatenation of several LazyTensors along the vector dimension (pykeops `concatenate`). */
    let concatenate: (xs: readonly Operand[], axis?: number) => LazyTensor<boolean>;
    /** Alias of {@link concatenate} (pykeops `cat`). */
    let cat: (xs: readonly Operand[], dim?: number) => LazyTensor<boolean>;
    /** `x.min(axisOrOptions)`: the inner Min without an axis, else the min reduction (same for max, argmin, argmax). */
    let min: StaticInnerOrReduce, max: StaticInnerOrReduce, argmin: StaticInnerOrReduce, argmax: StaticInnerOrReduce;
    /** `x.pow(p)`, `x.neg()`, `x.dot(y)`, `x.elem(k)`, `x.extract(start, len)`. */
    let pow: StaticBinary, neg: StaticUnary, dot: StaticBinary;
    let elem: (x: Operand, k: number) => LazyTensor<boolean>;
    let extract: (x: Operand, start: number, len: number) => LazyTensor<boolean>;
  }
}
/** The static form of min / max / argmin / argmax. */
interface StaticInnerOrReduce {
  <S extends boolean>(x: LazyTensor<S>, axis?: -1): LazyTensor<S>;
  <S extends boolean, O extends ReduceOptions>(x: LazyTensor<S>, axisOrOptions: number | O): Reduced<S, O, Tensor>;
}
type StaticUnary = (x: Operand) => LazyTensor<boolean>;
type StaticBinary = (x: Operand, y: Operand) => LazyTensor<boolean>;
type StaticTernary = (x: Operand, y: Operand, z: Operand) => LazyTensor<boolean>;

const concatenate = (xs: readonly Operand[], axis = -1): LazyTensor<boolean> => {
  if (!Array.isArray(xs) || xs.length === 0) argError("xs", "a non-empty array of LazyTensors", xs);
  const first = toLazy(xs[0]!, "xs[0]");
  if (axis !== -1 && axis !== first.nbatchdims + 2) argError("axis", `-1 or ${first.nbatchdims + 2} (concatenation is along the vector dimension only)`, axis);
  return xs.slice(1).reduce<AnyLazy>((acc, x) => acc.concat(x as never), first);
};
(LazyTensor as unknown as Record<string, unknown>).concatenate = concatenate;
(LazyTensor as unknown as Record<string, unknown>).cat = (xs: readonly Operand[], dim = -1) => concatenate(xs, dim);
for (const name of ["min", "max", "argmin", "argmax", "pow", "neg", "dot", "elem", "extract"])
  (LazyTensor as unknown as Record<string, unknown>)[name] = (x: Operand, ...args: unknown[]) =>
    (toLazy(x, "x") as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
