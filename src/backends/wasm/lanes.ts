/**
 * The lane geometry of a kernel: float32 programs compute on f32x4 with i32x4 integers, float64
 * programs on f64x2 with i64x2 integers (integers and floats share the lane width, so comparison
 * masks of either select either).
 */
import { Asm, SIMD, splatBytes } from "./asm.js";

export type Mode = "f32" | "f64";

const F32OPS = {
  add: SIMD.f32x4Add, sub: SIMD.f32x4Sub, mul: SIMD.f32x4Mul, div: SIMD.f32x4Div, min: SIMD.f32x4Min, max: SIMD.f32x4Max, pmin: SIMD.f32x4Pmin, pmax: SIMD.f32x4Pmax,
  abs: SIMD.f32x4Abs, neg: SIMD.f32x4Neg, sqrt: SIMD.f32x4Sqrt, floor: SIMD.f32x4Floor, trunc: SIMD.f32x4Trunc,
  nearest: SIMD.f32x4Nearest,
  eq: SIMD.f32x4Eq, ne: SIMD.f32x4Ne, lt: SIMD.f32x4Lt, gt: SIMD.f32x4Gt, le: SIMD.f32x4Le, ge: SIMD.f32x4Ge,
  splat: SIMD.f32x4Splat, extract: SIMD.f32x4ExtractLane, replace: SIMD.f32x4ReplaceLane,
  ieq: SIMD.i32x4Eq, ine: SIMD.i32x4Ne, ilt: SIMD.i32x4LtS, igt: SIMD.i32x4GtS, ile: SIMD.i32x4LeS, ige: SIMD.i32x4GeS,
  iadd: SIMD.i32x4Add, isub: SIMD.i32x4Sub, ishl: SIMD.i32x4Shl, ishrS: SIMD.i32x4ShrS, ishrU: SIMD.i32x4ShrU,
  isplat: SIMD.i32x4Splat, iextract: SIMD.i32x4ExtractLane,
} as const;

const F64OPS: Record<keyof typeof F32OPS, number> = {
  add: SIMD.f64x2Add, sub: SIMD.f64x2Sub, mul: SIMD.f64x2Mul, div: SIMD.f64x2Div, min: SIMD.f64x2Min, max: SIMD.f64x2Max, pmin: SIMD.f64x2Pmin, pmax: SIMD.f64x2Pmax,
  abs: SIMD.f64x2Abs, neg: SIMD.f64x2Neg, sqrt: SIMD.f64x2Sqrt, floor: SIMD.f64x2Floor, trunc: SIMD.f64x2Trunc,
  nearest: SIMD.f64x2Nearest,
  eq: SIMD.f64x2Eq, ne: SIMD.f64x2Ne, lt: SIMD.f64x2Lt, gt: SIMD.f64x2Gt, le: SIMD.f64x2Le, ge: SIMD.f64x2Ge,
  splat: SIMD.f64x2Splat, extract: SIMD.f64x2ExtractLane, replace: SIMD.f64x2ReplaceLane,
  ieq: SIMD.i64x2Eq, ine: SIMD.i64x2Ne, ilt: SIMD.i64x2LtS, igt: SIMD.i64x2GtS, ile: SIMD.i64x2LeS, ige: SIMD.i64x2GeS,
  iadd: SIMD.i64x2Add, isub: SIMD.i64x2Sub, ishl: SIMD.i64x2Shl, ishrS: SIMD.i64x2ShrS, ishrU: SIMD.i64x2ShrU,
  isplat: SIMD.i64x2Splat, iextract: SIMD.i64x2ExtractLane,
} as const;

export type LaneOp = keyof typeof F32OPS;

/** Lane helpers for one mode. */
export class Lanes {
  /** Lanes per vector. */
  readonly W: number;
  /** Bytes per float element. */
  readonly bytes: number;
  private readonly ops: Record<keyof typeof F32OPS, number>;

  constructor(readonly mode: Mode, readonly a: Asm) {
    this.W = mode === "f32" ? 4 : 2;
    this.bytes = mode === "f32" ? 4 : 8;
    this.ops = mode === "f32" ? F32OPS : F64OPS;
  }

  /** Emits a lane-typed operation. */
  op(name: LaneOp): this {
    this.a.v(this.ops[name]);
    return this;
  }
  /** local.set / local.get (chaining helpers). */
  set(local: number): this {
    this.a.set(local);
    return this;
  }
  get(local: number): this {
    this.a.get(local);
    return this;
  }
  tee(local: number): this {
    this.a.tee(local);
    return this;
  }
  /** Pushes a float constant in every lane. */
  f(x: number): this {
    this.a.vconst(splatBytes(this.mode, [x]));
    return this;
  }
  /** Pushes an integer constant in every lane (int32 or int64 lanes). */
  i(x: number | bigint): this {
    this.a.vconst(splatBytes(this.mode === "f32" ? "i32" : "i64", [x]));
    return this;
  }
  /** Pushes per-lane integers. */
  iLanes(xs: readonly number[]): this {
    this.a.vconst(splatBytes(this.mode === "f32" ? "i32" : "i64", xs));
    return this;
  }
  /** Pushes the lane-wise sum of a local vector and a constant. */
  fBin(local: number, name: LaneOp, x: number): this {
    this.a.get(local);
    this.f(x);
    return this.op(name);
  }
  /** The byte shuffle moving lane (l + half) mod W to lane l (a merge of the lanes by halves). */
  rotation(half: number): number[] {
    const lanes: number[] = [];
    const eb = 16 / this.W;
    for (let l = 0; l < this.W; l++) for (let b = 0; b < eb; b++) lanes.push(((l + half) % this.W) * eb + b);
    return lanes;
  }
  /** Log2 of the bytes per element. */
  get shift(): number {
    return this.mode === "f32" ? 2 : 3;
  }
  /** Bits of the float mantissa. */
  get mantissa(): number {
    return this.mode === "f32" ? 23 : 52;
  }
  /** Exponent bias. */
  get bias(): number {
    return this.mode === "f32" ? 127 : 1023;
  }
  /** The integer lanes (i32x4 / i64x2) of a float vector rounded to the nearest integer (saturating). */
  toInt(): this {
    if (this.mode === "f32") this.a.v(SIMD.i32x4TruncSatF32x4S);
    else this.a.v(SIMD.i32x4TruncSatF64x2SZero).v(SIMD.i64x2ExtendLowI32x4S);
    return this;
  }
  /** Float lanes from integer lanes (exact for |x| < 2^31). */
  toFloat(): this {
    if (this.mode === "f32") this.a.v(SIMD.f32x4ConvertI32x4S);
    else {
      this.i(0);
      this.a.shuffle([0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]).v(SIMD.f64x2ConvertLowI32x4S);
    }
    return this;
  }
}
