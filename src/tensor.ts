import { KeOpsError, argError, describe, said } from "./errors.js";
import { Rng, freshSeed } from "./random.js";
import { checkKeys } from "./check-options.js";
import { INSPECT, formatTensor } from "./inspect.js";

/** Element types of dense tensors. Float results keep their inputs' dtype; indices are int32. */
export type DType = "float32" | "float64" | "int32";
/** Floating dtypes, the only ones a formula computes in. */
export type FloatDType = "float32" | "float64";
/** Storage of a tensor of the given dtype. */
export type TypedArrayOf<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "float64"
    ? Float64Array
    : Int32Array;
/** Any storage a Tensor may hold. */
export type TensorData = Float32Array | Float64Array | Int32Array;
/** Nested arrays of numbers, as accepted by {@link tensor}. */
export type NestedArray = number | readonly NestedArray[];

/** Options of the tensor constructors. */
export interface TensorOptions {
  /** Element type (default float32, as PyTorch). */
  dtype?: DType;
  /** Shape, needed when values are a flat typed array meant as a matrix. */
  shape?: readonly number[];
}

/** Options of the random constructors. */
export interface RandomOptions {
  /** Float element type (default float32). */
  dtype?: FloatDType;
  /** Seed of the generator; a fresh random one when omitted (see {@link lastSeed}). */
  seed?: number;
}

/** Number of entries of a shape (1 for a scalar's empty shape). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function checkShape(shape: unknown, arg: string): readonly number[] {
  if (!Array.isArray(shape)) argError(arg, "an array of non-negative integers", shape);
  for (const s of shape) {
    if (typeof s !== "number" || !Number.isInteger(s) || s < 0)
      argError(arg, "an array of non-negative integers", said(`[${shape.map(describe).join(", ")}]`));
  }
  return shape as readonly number[];
}

/** The dtype of a typed array. */
export function dtypeOfArray(a: TensorData): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  return "int32";
}

/** Allocates storage for `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TensorData {
  if (dtype === "float32") return new Float32Array(n);
  if (dtype === "float64") return new Float64Array(n);
  return new Int32Array(n);
}

/**
 * A dense, row-major, contiguous tensor: the inputs and outputs of keops-ts.
 */
export class Tensor {
  /** Element type. */
  readonly dtype: DType;
  /** Shape; the product of its entries is `data.length`. */
  readonly shape: readonly number[];
  /** Row-major contiguous storage. */
  readonly data: TensorData;

  /** Wraps `data` (not copied) with a `shape`; throws a KeOpsError if the sizes differ. */
  constructor(data: TensorData, shape: readonly number[]) {
    if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array))
      argError("data", "a Float32Array, Float64Array or Int32Array", data);
    const sh = checkShape(shape, "shape");
    if (sizeOf(sh) !== data.length)
      argError("data", `${sizeOf(sh)} elements for shape (${sh.join(", ")})`, said(`${data.length} elements`));
    this.data = data;
    this.shape = Object.freeze([...sh]);
    this.dtype = dtypeOfArray(data);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** A view with another shape of the same size; shares data. One entry may be -1. */
  reshape(shape: readonly number[]): Tensor {
    const sh = [...shape];
    const free = sh.indexOf(-1);
    if (free >= 0) {
      const rest = sizeOf(sh.filter((_, k) => k !== free));
      sh[free] = rest === 0 ? 0 : this.size / rest;
    }
    checkShape(sh, "shape");
    if (sizeOf(sh) !== this.size)
      argError("shape", `a shape of ${this.size} elements`, said(`(${shape.join(", ")})`));
    return new Tensor(this.data, sh);
  }

  /** Nested arrays of numbers (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const d = this.data;
    const rec = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return d[off]!;
      const n = this.shape[dim]!;
      let stride = 1;
      for (let k = dim + 1; k < this.shape.length; k++) stride *= this.shape[k]!;
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(rec(dim + 1, off + i * stride));
      return out;
    };
    return rec(0, 0);
  }

  /** A copy with another dtype. */
  astype(dtype: DType): Tensor {
    const out = allocate(dtype, this.size);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  /**
   * Shape, dtype and values, summarised NumPy-style above 1000 elements (first and last three
   * entries of each axis), e.g. `Tensor(shape [1000, 3], float32)` then `[[ 1.6243, …], …]`.
   */
  toString(): string {
    return formatTensor(this);
  }

  /** What `console.log` / `util.inspect` print: as {@link Tensor.toString}. */
  [INSPECT](): string {
    return formatTensor(this);
  }
}

function flatten(v: NestedArray, arg: string): { values: number[]; shape: number[] } {
  const shape: number[] = [];
  let probe: NestedArray = v;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = (probe as readonly NestedArray[])[0]!;
  }
  const values: number[] = [];
  const rec = (x: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (typeof x !== "number") argError(arg, "a (nested) array of numbers of a regular shape", said(`an entry ${describe(x)}`));
      values.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim])
      argError(arg, `nested arrays of a regular shape (${shape.join(", ")})`, said(`a ragged array at depth ${dim}`));
    for (const e of x as readonly NestedArray[]) rec(e, dim + 1);
  };
  rec(v, 0);
  return { values, shape };
}

/**
 * Builds a tensor from a number, nested arrays, a typed array (with an optional `shape`) or a Tensor.
 * Floats default to float32; a typed array keeps its own dtype unless `dtype` is given.
 */
export function tensor(values: NestedArray | TensorData | Tensor, opts: TensorOptions = {}): Tensor {
  checkKeys(opts, "tensor", ["dtype", "shape"]);
  if (values instanceof Tensor) {
    const t = opts.dtype && opts.dtype !== values.dtype ? values.astype(opts.dtype) : values;
    return opts.shape ? t.reshape(opts.shape) : t;
  }
  if (ArrayBuffer.isView(values)) {
    if (!(values instanceof Float32Array || values instanceof Float64Array || values instanceof Int32Array))
      argError("values", "a Float32Array, Float64Array or Int32Array", values);
    const shape = opts.shape ? checkShape(opts.shape, "shape") : [values.length];
    let data: TensorData = values;
    if (opts.dtype && opts.dtype !== dtypeOfArray(values)) {
      data = allocate(opts.dtype, values.length);
      data.set(values);
    }
    return new Tensor(data, shape);
  }
  if (typeof values !== "number" && !Array.isArray(values))
    argError("values", "a number, nested arrays of numbers, a typed array or a Tensor", values);
  const { values: flat, shape } = flatten(values as NestedArray, "values");
  const data = allocate(opts.dtype ?? "float32", flat.length);
  data.set(flat);
  const t = new Tensor(data, shape);
  return opts.shape ? t.reshape(opts.shape) : t;
}

function filled(shape: readonly number[], dtype: DType, fill: (k: number) => number): Tensor {
  checkShape(shape, "shape");
  const n = sizeOf(shape);
  const data = allocate(dtype, n);
  for (let k = 0; k < n; k++) data[k] = fill(k);
  return new Tensor(data, shape);
}

/** A tensor of zeros (float32 unless `dtype` says otherwise). */
export function zeros(shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
  checkKeys(opts, "zeros", ["dtype"]);
  return filled(shape, opts.dtype ?? "float32", () => 0);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
  checkKeys(opts, "ones", ["dtype"]);
  return filled(shape, opts.dtype ?? "float32", () => 1);
}

let seedUsed = 0;
/** The seed used by the latest {@link rand} / {@link randn} call (to reproduce a failure). */
export function lastSeed(): number {
  return seedUsed;
}

function rngFor(opts: RandomOptions, method: string): Rng {
  checkKeys(opts, method, ["dtype", "seed"]);
  const seed = opts.seed ?? freshSeed();
  if (typeof seed !== "number" || !Number.isFinite(seed)) argError("seed", "a finite number", seed);
  seedUsed = seed;
  return new Rng(seed);
}

/** Uniform random numbers in [0, 1). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const rng = rngFor(opts, "rand");
  return filled(shape, opts.dtype ?? "float32", () => rng.uniform());
}

/** Standard normal random numbers. */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const rng = rngFor(opts, "randn");
  return filled(shape, opts.dtype ?? "float32", () => rng.normal());
}

/** Anything accepted where a tensor is expected. */
export type TensorLike = Tensor | NestedArray | TensorData;

/** Converts a tensor-like argument, naming `arg` in errors. */
export function asTensor(x: TensorLike, arg: string, dtype?: DType): Tensor {
  if (x instanceof Tensor) return dtype && x.dtype !== dtype ? x.astype(dtype) : x;
  if (typeof x === "number" || Array.isArray(x) || ArrayBuffer.isView(x)) {
    try {
      return tensor(x as NestedArray | TensorData, dtype ? { dtype } : {});
    } catch (e) {
      if (e instanceof KeOpsError) throw new KeOpsError(e.message.replace(/^values/, arg));
      throw e;
    }
  }
  return argError(arg, "a Tensor, a typed array or nested arrays of numbers", x);
}
