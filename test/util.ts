/** Test utilities: seeded data (seed printed on failure), closeness checks, backends under test. */
import assert from "node:assert/strict";
import { Rng, freshSeed } from "../src/random.js";
import { Tensor, allocate, type FloatDType } from "../src/tensor.js";
import { backendInfo } from "../src/index.js";

/** Sizes every numeric test covers: empty, single, ragged and tile-crossing. */
export const SIZES = [0, 1, 7, 64, 257, 1000] as const;

/** Backends to test with blocking calls: every available one, or `KEOPS_TEST_BACKENDS=js,native` (async-only ones excluded: see {@link testTargets}). */
export function testBackends(): string[] {
  const avail = backendInfo().backends.filter((b) => b.unavailable === null && b.caps.blocking).map((b) => b.name);
  const env = process.env.KEOPS_TEST_BACKENDS;
  return env ? env.split(",").filter((b) => avail.includes(b)) : avail;
}

/** A backend under test, how the suites call it (blocking, or `async: true`) and the dtypes it computes in. */
export interface Target {
  readonly backend: string;
  readonly async: boolean;
  readonly dtypes: readonly FloatDType[];
}

let gpu: Promise<string | null> | undefined;

/**
 * Whether the webgpu backend has an adapter here (a software one counts: lavapipe or SwiftShader,
 * set up by scripts/webgpu-adapter.sh / Chromium), probed with a tiny async reduction: null when
 * it has, else why not. `KEOPS_TEST_WEBGPU=0` leaves webgpu out.
 */
export function webgpuAbsent(): Promise<string | null> {
  gpu ??= (async () => {
    if (process.env.KEOPS_TEST_WEBGPU === "0") return "KEOPS_TEST_WEBGPU=0";
    const env = process.env.KEOPS_TEST_BACKENDS;
    if (env && !env.split(",").includes("webgpu")) return "not in KEOPS_TEST_BACKENDS";
    const { Vi } = await import("../src/index.js");
    try {
      await Vi(new Tensor(new Float32Array([1]), [1, 1])).sum({ axis: 0, backend: "webgpu", async: true });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  })();
  return gpu;
}

/**
 * What the shared suites run on: {@link testBackends} with blocking calls, and webgpu with
 * `async: true` calls (float32) where it has an adapter.
 */
export async function testTargets(): Promise<Target[]> {
  const out: Target[] = testBackends().map((backend) => ({ backend, async: false, dtypes: ["float32", "float64"] }));
  if ((await webgpuAbsent()) === null) out.unshift({ backend: "webgpu", async: true, dtypes: ["float32"] });
  return out;
}

/** Calls a reduction function (a KeOpsFunction: `call: false` or symbolic) the target's way. */
export async function callOn<T>(t: Target, fn: unknown, ...args: unknown[]): Promise<T> {
  const f = fn as ((...a: unknown[]) => T) & { callAsync(...a: unknown[]): Promise<T> };
  return t.async ? f.callAsync(...args) : f(...args);
}

/** Seeded random data for one test. */
export class Data {
  readonly rng: Rng;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
  }
  /** Standard normal values. */
  randn(shape: number[], dtype: FloatDType = "float32", scale = 1): Tensor {
    return this.fill(shape, dtype, () => scale * this.rng.normal());
  }
  /** Uniform values in [lo, hi). */
  uniform(shape: number[], lo: number, hi: number, dtype: FloatDType = "float32"): Tensor {
    return this.fill(shape, dtype, () => lo + (hi - lo) * this.rng.uniform());
  }
  /** Integers in [lo, hi] as floats (exact in float32: for min/argmin tests with ties). */
  randint(shape: number[], lo: number, hi: number, dtype: FloatDType = "float32"): Tensor {
    return this.fill(shape, dtype, () => lo + Math.floor((hi - lo + 1) * this.rng.uniform()));
  }
  private fill(shape: number[], dtype: FloatDType, f: () => number): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = allocate(dtype, n);
    for (let k = 0; k < n; k++) d[k] = f();
    return new Tensor(d, shape);
  }
}

/** A seed for test data: `KEOPS_TEST_SEED`, else a fresh one. */
export function testSeed(): number {
  return process.env.KEOPS_TEST_SEED ? Number(process.env.KEOPS_TEST_SEED) : freshSeed();
}

/**
 * Runs `body` with seeded data (`seed`: one several tests share); the seed (from `KEOPS_TEST_SEED` or fresh) is printed in the
 * error message on failure so the failure can be replayed.
 */
export async function withSeed(body: (d: Data) => void | Promise<void>, seed = testSeed()): Promise<void> {
  try {
    await body(new Data(seed));
  } catch (e) {
    if (e instanceof Error) e.message = `${e.message}\n    [replay with KEOPS_TEST_SEED=${seed}]`;
    throw e;
  }
}

/** Options of {@link assertClose}. */
export interface CloseOptions {
  /** Relative tolerance: each element's own |expected| times this. */
  rtol: number;
  /**
   * Absolute tolerance: one number for every element, or one per element (e.g. rtol × Σ_j |term_ij|
   * for a sum whose terms cancel: its rounding error scales with the terms, not with the result).
   * Default: rtol itself, an absolute error of rtol near zero (test data are of order 1). Never
   * scaled by the largest expected value, which would hide errors in small entries.
   */
  atol?: number | ArrayLike<number>;
  /** What is compared (for the message). */
  what?: string;
}

/** Element-wise |a − e| ≤ atol + rtol·|e|; NaN matches NaN, infinities must match exactly. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): void {
  const what = o.what ?? "values";
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  const atol = o.atol ?? o.rtol;
  if (typeof atol !== "number") assert.equal(atol.length, expected.length, `${what}: ${atol.length} absolute tolerances for ${expected.length} values`);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k]!, e = expected[k]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${k}]: got ${a}, expected NaN`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.equal(a, e, `${what}[${k}]: got ${a}, expected ${e}`);
      continue;
    }
    const err = Math.abs(a - e);
    const tol = (typeof atol === "number" ? atol : atol[k]!) + o.rtol * Math.abs(e);
    assert.ok(err <= tol, `${what}[${k}]: got ${a}, expected ${e} (error ${err.toExponential(2)} > ${tol.toExponential(2)})`);
  }
}

/** Exact equality of integer arrays. */
export function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what = "indices"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  for (let k = 0; k < expected.length; k++) assert.equal(actual[k], expected[k], `${what}[${k}]: got ${actual[k]}, expected ${expected[k]}`);
}

/** Float tolerance by dtype for sums. */
export function rtolFor(dtype: FloatDType): number {
  return dtype === "float32" ? 1e-5 : 1e-12;
}

/** Runs `f` with `KEOPS_TS_THREADS` set to `n`, restoring it afterwards (for thread-count tests). */
export function withThreads<T>(n: string, f: () => T): T {
  const old = process.env.KEOPS_TS_THREADS;
  process.env.KEOPS_TS_THREADS = n;
  try {
    return f();
  } finally {
    if (old === undefined) delete process.env.KEOPS_TS_THREADS;
    else process.env.KEOPS_TS_THREADS = old;
  }
}

/** Occurrences of the wasm SIMD opcode `sub` (0xFD + its LEB128) in a module's bytes. */
export function simdOps(bytes: Uint8Array, sub: number): number {
  const enc = sub < 0x80 ? [sub] : [(sub & 0x7f) | 0x80, sub >> 7];
  let n = 0;
  for (let k = 0; k + enc.length < bytes.length; k++) if (bytes[k] === 0xfd && enc.every((b, q) => bytes[k + 1 + q] === b)) n++;
  return n;
}
