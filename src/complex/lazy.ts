/**
 * ComplexLazyTensor: pykeops's ComplexGenericLazyTensor. Complex values are stored as KeOps
 * stores them, interleaved (re, im) pairs: a complex vector of dimension k is a real formula of
 * dimension 2k, and a reduction's result is an interleaved real tensor (…, M, 2k). The complex ops
 * (src/formula/ops/complex.ts) are ordinary formula ops, so every backend and the gradients work
 * unchanged.
 */
import { KeOpsError, argError, said } from "../errors.js";
import type { OpDef } from "../formula/node.js";
import { AddOp, DivideOp, MinusOp, MultOp, SubtractOp } from "../formula/ops/arith.js";
import {
  ComplexAbsOp, ComplexAddOp, ComplexAngleOp, ComplexDivideOp, ComplexExp1jOp, ComplexExpOp, ComplexImagOp, ComplexMultOp,
  ComplexRealOp, ComplexRealScalOp, ComplexSubtractOp, ComplexSumOp, ConjOp, Imag2ComplexOp, Real2ComplexOp,
} from "../formula/ops/complex.js";
import { LazyTensor, setComplexOperandHook, toLazy, type MatmulOptions, type Operand, type Reduced } from "../lazy/lazytensor.js";
import { REDUCE_KEYS, checkInner, checkOptions, normaliseOptions, type InnerOptions, type ReduceOptions, type WithAxis } from "../lazy/options.js";
import type { ReductionName } from "../reductions/types.js";
import { asTensor, type Tensor, type TensorLike } from "../tensor.js";

/** What a complex binary method accepts: a complex or real LazyTensor, a number, numbers, a 1-D tensor. */
export type ComplexOperand = ComplexLazyTensor<boolean> | Operand;

type Or<A extends boolean, B extends boolean> = A extends true ? true : B extends true ? true : false;

function wrap<S extends boolean>(x: LazyTensor<boolean>): ComplexLazyTensor<S> {
  const z = Object.create(ComplexLazyTensor.prototype) as ComplexLazyTensor<S>;
  (z as unknown as { st: unknown }).st = x.st;
  return z;
}

function isComplex(o: unknown): o is ComplexLazyTensor<boolean> {
  return o instanceof ComplexLazyTensor;
}

/**
 * A symbolic complex M×N (×k) tensor. Build it from interleaved (re, im) data with the
 * LazyTensor construction rules (`new ComplexLazyTensor(z, 0)` for z of shape (M, 2k), or
 * (…, M, 1, 2k) / (…, 1, N, 2k) / (…, 1, 1, 2k)), with `LazyTensor.complex(re, im)`, or from a real
 * LazyTensor with `real2complex()`, `imag2complex()`, `exp1j()`. Reductions keep complex values
 * (`sum`, `sumReduction`, `matmul`) and return interleaved tensors (…, M, 2k); other reductions
 * have no complex meaning and are errors (reduce `.real`, `.imag` or `.abs()` instead). Methods
 * not redefined here act on the interleaved real pairs, as in pykeops.
 */
export class ComplexLazyTensor<S extends boolean = false> extends LazyTensor<S> {
  /** Marks complex LazyTensors (what a real LazyTensor's op checks its operands for). */
  declare readonly isComplex: true;

  /** From interleaved (re, im) data: the LazyTensor rules, with an even last dimension (2k). */
  constructor(x: unknown, axis?: number) {
    super(x, axis);
    if (this.st.f.dim % 2 !== 0)
      argError("x", "interleaved (re, im) data: an even last dimension 2k for k complex components", said(`dimension ${this.st.f.dim}`));
  }

  /** `(…batch, M, N)` with the complex dimension k appended when it is not 1 (as pykeops). */
  override get shape(): number[] {
    const s = super.shape;
    const k = this.st.f.dim / 2;
    if (this.st.f.dim !== 1) s.pop();
    if (k !== 1) s.push(k);
    return s;
  }

  /** Real part (`ComplexReal`): a real LazyTensor of dimension k. */
  get real(): LazyTensor<S> {
    return this.op(ComplexRealOp);
  }
  /** Imaginary part (`ComplexImag`). */
  get imag(): LazyTensor<S> {
    return this.op(ComplexImagOp);
  }
  /** Argument in (−π, π] (`ComplexAngle`). */
  angle(): LazyTensor<S> {
    return this.op(ComplexAngleOp);
  }
  /** Modulus (`ComplexAbs`). */
  override abs(): LazyTensor<S> {
    return this.op(ComplexAbsOp);
  }
  /** Complex conjugate (`Conj`). */
  conj(): ComplexLazyTensor<S> {
    return wrap(this.op(ConjOp));
  }
  /** Complex exponential (`ComplexExp`). */
  override exp(): ComplexLazyTensor<S> {
    return wrap(this.op(ComplexExpOp));
  }
  /** `1 / this`, the complex reciprocal (`LazyTensor.div(1, z)` too). */
  override inv(): ComplexLazyTensor<S> {
    return wrap(toLazy(1, "1").op(Real2ComplexOp).op(ComplexDivideOp, [this as unknown as Operand]));
  }
  /** `-this`. */
  override neg(): ComplexLazyTensor<S> {
    return wrap(this.op(MinusOp));
  }
  /** Not defined for complex values (pykeops raises too). */
  override exp1j(): never {
    throw new KeOpsError("exp1j: expected a real LazyTensor, got a ComplexLazyTensor (exp1j(x) = e^{ix} takes real x)");
  }
  /** Not defined for complex values. */
  override real2complex(): never {
    throw new KeOpsError("real2complex: expected a real LazyTensor, got a ComplexLazyTensor");
  }
  /** Not defined for complex values. */
  override imag2complex(): never {
    throw new KeOpsError("imag2complex: expected a real LazyTensor, got a ComplexLazyTensor");
  }

  /** The other operand as a complex LazyTensor (a real one through Real2Complex). */
  private complexOperand(o: ComplexOperand, what: string): LazyTensor<boolean> {
    if (isComplex(o)) return o as unknown as LazyTensor<boolean>;
    return toLazy(o, what).op(Real2ComplexOp);
  }

  /** `this + other` (`ComplexAdd`; a real operand is made complex first). */
  override add<T extends boolean = false>(other: ComplexOperand): ComplexLazyTensor<Or<S, T>> {
    return wrap(this.op(ComplexAddOp, [this.complexOperand(other, "other")]));
  }
  /** `this - other` (`ComplexSubtract`). */
  override sub<T extends boolean = false>(other: ComplexOperand): ComplexLazyTensor<Or<S, T>> {
    return wrap(this.op(ComplexSubtractOp, [this.complexOperand(other, "other")]));
  }
  /** `this * other`: `ComplexMult`, or `ComplexRealScal` for a real scalar operand. */
  override mul<T extends boolean = false>(other: ComplexOperand): ComplexLazyTensor<Or<S, T>> {
    if (!isComplex(other)) {
      const r = toLazy(other, "other");
      if (r.ndim === 1) return wrap(r.op(ComplexRealScalOp, [this as unknown as Operand]));
    }
    return wrap(this.op(ComplexMultOp, [this.complexOperand(other, "other")]));
  }
  /** `this / other` (`ComplexDivide`). */
  override div<T extends boolean = false>(other: ComplexOperand): ComplexLazyTensor<Or<S, T>> {
    return wrap(this.op(ComplexDivideOp, [this.complexOperand(other, "other")]));
  }

  /**
   * Without an axis (or axis −1): the sum of the complex components (`ComplexSum`, a complex
   * scalar). With axis 0 or 1: the sum reduction over i or j, an interleaved tensor (…, M, 2k).
   */
  override sum(): ComplexLazyTensor<S>;
  override sum(axis: -1): ComplexLazyTensor<S>;
  override sum(options: InnerOptions): ComplexLazyTensor<S>;
  override sum<O extends ReduceOptions & WithAxis>(axisOrOptions: number | O): Reduced<S, O, Tensor>;
  override sum(options: ReduceOptions): ComplexLazyTensor<S> | Reduced<S, ReduceOptions, Tensor>;
  override sum(axisOrOptions?: number | ReduceOptions): unknown {
    const o = normaliseOptions(axisOrOptions, "sum", REDUCE_KEYS);
    const axis = o.axis ?? o.dim;
    if (axis === undefined || axis === -1 || axis === this.nbatchdims + 2) return checkInner(o, "sum"), wrap(this.op(ComplexSumOp));
    return super.sum(axisOrOptions as number);
  }

  /**
   * `K @ v` for a complex K: Σ_j K_ij · v_j with v complex, of shape (N, 2k) interleaved (for a
   * real v, give `(re, 0)` pairs); an interleaved (M, 2k) result.
   */
  override matmul<O extends MatmulOptions = {}>(v: TensorLike, opts?: O): Reduced<S, O, Tensor> {
    checkOptions(opts, "matmul", REDUCE_KEYS);
    if (opts && ("axis" in opts || "dim" in opts)) argError("opts", "no axis (matmul reduces over j)", opts);
    return this.mul(new ComplexLazyTensor(asTensor(v, "v"), 1)).sum({ ...opts, axis: this.nbatchdims + 1 }) as Reduced<S, O, Tensor>;
  }

  /** @internal only the sum keeps complex values; other reductions are errors. */
  override reduce(name: ReductionName, o: ReduceOptions, extra: { K?: number; formula2?: LazyTensor<boolean> } = {}): unknown {
    if (name !== "Sum")
      throw new KeOpsError(`${name}: not defined for a ComplexLazyTensor (only sums keep complex values); reduce .real, .imag or .abs() instead`);
    return super.reduce(name, o, extra);
  }

  /** Swaps the roles of i and j. */
  override t(): ComplexLazyTensor<S> {
    return wrap(super.t());
  }
  /** Not defined for complex values: the solve is real. */
  override solve(): never {
    throw new KeOpsError("solve: not defined for a ComplexLazyTensor (the conjugate gradient solves real symmetric systems)");
  }
}
Object.defineProperty(ComplexLazyTensor.prototype, "isComplex", { value: true });

// ---- real LazyTensors: the ways into complex values ---------------------------------------------

declare module "../lazy/lazytensor.js" {
  interface LazyTensor<S extends boolean> {
    /** `x + 0i` (`Real2Complex`): a ComplexLazyTensor of the same complex dimension. */
    real2complex(): ComplexLazyTensor<S>;
    /** `0 + xi` (`Imag2Complex`). */
    imag2complex(): ComplexLazyTensor<S>;
    /** `e^{ix}` = cos x + i sin x (`ComplexExp1j`). */
    exp1j(): ComplexLazyTensor<S>;
  }
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace LazyTensor {
    /** `re + i·im` from two real operands of the same dimension (a ComplexLazyTensor). */
    let complex: (re: Operand, im: Operand) => ComplexLazyTensor<boolean>;
  }
}

const proto = LazyTensor.prototype as unknown as Record<string, unknown>;
proto.real2complex = function (this: LazyTensor<boolean>) {
  return wrap(this.op(Real2ComplexOp));
};
proto.imag2complex = function (this: LazyTensor<boolean>) {
  return wrap(this.op(Imag2ComplexOp));
};
proto.exp1j = function (this: LazyTensor<boolean>) {
  return wrap(this.op(ComplexExp1jOp));
};
(LazyTensor as unknown as Record<string, unknown>).complex = (re: Operand, im: Operand): ComplexLazyTensor<boolean> => {
  const r = toLazy(re, "re"), i = toLazy(im, "im");
  if (isComplex(r) || isComplex(i)) argError(isComplex(r) ? "re" : "im", "a real operand", said("a ComplexLazyTensor"));
  if (r.ndim !== i.ndim) argError("im", `the dimension of re (${r.ndim})`, said(`dimension ${i.ndim}`));
  return r.real2complex().add(i.imag2complex());
};

/** A real LazyTensor's arithmetic with a complex operand: the real one made complex (as pykeops). */
const reflected = new Map<OpDef, "add" | "sub" | "mul" | "div">([[AddOp, "add"], [SubtractOp, "sub"], [MultOp, "mul"], [DivideOp, "div"]]);
const complexOps = new Set<OpDef>([ComplexRealScalOp, ComplexAddOp, ComplexSubtractOp, ComplexMultOp, ComplexDivideOp]);
setComplexOperandHook((def, self, others) => {
  if (complexOps.has(def)) return undefined;
  const m = reflected.get(def);
  if (!m || others.length !== 1)
    throw new KeOpsError(`${def.name}: not defined with a ComplexLazyTensor operand (take .real, .imag or .abs() first)`);
  const z = others[0] as ComplexLazyTensor<boolean>;
  if (m === "mul" && self.ndim === 1) return z.mul(self);
  return self.real2complex()[m](z);
});
