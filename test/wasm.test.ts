/**
 * The wasm backend's own pieces: the binary encoder, the generated exp/log (accuracy over the whole
 * float32 range, and float64), every SSA op on special values in every lane, D = 200, threads
 * (sync, async, batches), a float64 accumulator on float32 data, and its place in the registry.
 * (Every other suite runs on wasm through testBackends().) Compile times are not asserted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyTensor, Vi, Vj, backendInfo, zeros, type Tensor } from "../src/index.js";
import { BINARY, COMPARE, SsaBuilder, UNARY, evalOp, type Opcode } from "../src/ir/ssa.js";
import type { KernelJob, KernelProgram } from "../src/compile/program.js";
import { SumReduction } from "../src/reductions/sum.js";
import { Bytes, I32, ModuleBuilder, V128 } from "../src/backends/wasm/encoder.js";
import { Asm, OP, SIMD } from "../src/backends/wasm/asm.js";
import { Lanes, type Mode } from "../src/backends/wasm/lanes.js";
import { emitExp, emitLog } from "../src/backends/wasm/mathlib.js";
import { PARALLEL_PAIRS, resetWasmBackend, wasmBackend } from "../src/backends/wasm/index.js";
import { wa } from "../src/backends/wasm/api.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, withSeed, withThreads } from "./util.js";

const available = wasmBackend.unavailable() === null;
const skip = available ? false : `wasm unavailable: ${wasmBackend.unavailable()}`;

test("encoder: LEB128 and a module that runs", { skip }, () => {
  const hex = (b: Bytes): string => [...b.bytes()].map((x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(hex(new Bytes().uleb(0)), "00");
  assert.equal(hex(new Bytes().uleb(127)), "7f");
  assert.equal(hex(new Bytes().uleb(128)), "8001");
  assert.equal(hex(new Bytes().uleb(624485)), "e58e26");
  assert.equal(hex(new Bytes().sleb(-1)), "7f");
  assert.equal(hex(new Bytes().sleb(63)), "3f");
  assert.equal(hex(new Bytes().sleb(64)), "c000");
  assert.equal(hex(new Bytes().sleb(-123456)), "c0bb78");
  // signed LEB128 round trip of int64 values
  const unsleb = (b: Uint8Array): bigint => {
    let r = 0n, shift = 0n, k = 0, byte = 0;
    do {
      byte = b[k++]!;
      r |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte & 0x80);
    if (byte & 0x40) r -= 1n << shift;
    return r;
  };
  for (const v of [0n, -1n, 0x3ff0000000000000n, 0xfffffffffffffn, -(2n ** 63n), 2n ** 63n - 1n]) assert.equal(unsleb(new Bytes().sleb(v).bytes()), v);
  // (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.add) and a SIMD one: lane sums
  const m = new ModuleBuilder();
  const add = m.func({ params: [I32, I32], results: [I32] }, "add").body;
  new Asm(add).get(0).get(1).op(OP.i32Add);
  const simd = m.func({ params: [I32], results: [I32] }, "splatsum").body;
  const a = new Asm(simd);
  const v = simd.local(V128);
  a.get(0).v(SIMD.i32x4Splat).set(v);
  a.get(v).get(v).v(SIMD.i32x4Add).lane(SIMD.i32x4ExtractLane, 3);
  const bytes = m.encode();
  assert.ok(wa().validate(bytes));
  const ex = new (wa().Instance)(new (wa().Module)(bytes), {}).exports as { add: (a: number, b: number) => number; splatsum: (a: number) => number };
  assert.equal(ex.add(2, 40), 42);
  assert.equal(ex.add(-5, 3), -2);
  assert.equal(ex.splatsum(21), 42);
});

/** A module applying the generated exp or log to an array, vector by vector. */
function mathFn(op: "exp" | "log", mode: Mode): (xs: Float32Array | Float64Array) => Float32Array | Float64Array {
  const m = new ModuleBuilder();
  m.importMemory("env", "mem", 1, 65536, false);
  const body = m.func({ params: [I32, I32], results: [] }, "k").body;
  const a = new Asm(body);
  const L = new Lanes(mode, a);
  const scratch: number[] = [];
  const t = (n: number): number => {
    while (scratch.length <= n) scratch.push(body.local(V128));
    return scratch[n]!;
  };
  const x = body.local(V128), y = body.local(V128);
  a.block().loop();
  a.get(0).get(1).op(OP.i32GeS).brIf(1);
  a.get(0).vmem(SIMD.load, 0, 0).set(x);
  (op === "exp" ? emitExp : emitLog)(L, x, y, t);
  a.get(0).get(y).vmem(SIMD.store, 0, 0);
  a.get(0).i32(16).op(OP.i32Add).set(0);
  a.br(0).end().end();
  const mem = new (wa().Memory)({ initial: 1, maximum: 65536 });
  const k = new (wa().Instance)(new (wa().Module)(m.encode()), { env: { mem } }).exports.k as (p: number, e: number) => void;
  return (xs) => {
    const bytes = xs.length * xs.BYTES_PER_ELEMENT;
    if (mem.buffer.byteLength < bytes + 16) mem.grow(Math.ceil((bytes + 16 - mem.buffer.byteLength) / 65536));
    const V = mode === "f32" ? new Float32Array(mem.buffer) : new Float64Array(mem.buffer);
    V.set(xs, 0);
    k(0, bytes);
    return V.slice(0, xs.length);
  };
}

/** The spacing of floats at |v| (float32: 23 fraction bits; float64: 52), subnormals included. */
function ulp(v: number, mode: Mode): number {
  const [bits, minExp] = mode === "f32" ? [23, -126] : [52, -1022];
  const a = Math.abs(v);
  let e = Math.max(minExp, Math.floor(Math.log2(a)));
  if (2 ** e > a && e > minExp) e--;
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - bits);
}

for (const mode of ["f32", "f64"] as const)
  for (const op of ["exp", "log"] as const)
    test(`generated ${op} (${mode}): ≤ 2 ulp over the whole range, specials exact`, { skip }, () =>
      withSeed((d) => {
        const n = 1 << 17;
        const xs = mode === "f32" ? new Float32Array(n) : new Float64Array(n);
        const u32 = new Uint32Array(xs.buffer);
        // half random bit patterns (every exponent, both signs, NaNs, subnormals) …
        for (let k = 0; k < u32.length / 2; k++) u32[k] = Math.floor(d.rng.uniform() * 2 ** 32) >>> 0;
        // … half spread over where the result is finite and nonzero, subnormal results included
        const span = mode === "f32" ? [-104, 89] : [-745, 710];
        for (let k = n / 2; k < n; k++) {
          const r = span[0]! + (span[1]! - span[0]!) * d.rng.uniform();
          xs[k] = op === "exp" ? r : Math.exp(r * (k % 2 ? 1 : 0.01));
        }
        const specials = [0, -0, Infinity, -Infinity, NaN, 1, -1, 1e-45, 5e-324, 88.72, 709.7, -87.3, -745.1, 3.4e38, 1.7e308];
        specials.forEach((s, k) => (xs[k] = s));
        const ys = mathFn(op, mode)(xs);
        let worst = 0;
        for (let k = 0; k < n; k++) {
          const x = xs[k]!;
          const exact = op === "exp" ? Math.exp(x) : Math.log(x);
          const want = mode === "f32" ? Math.fround(exact) : exact;
          const got = ys[k]!;
          if (!Number.isFinite(want)) {
            assert.ok(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${op}(${x}) = ${got}, expected ${want}`);
            continue;
          }
          assert.ok(Number.isFinite(got), `${op}(${x}) = ${got}, expected ${want}`);
          const e = Math.abs(got - exact) / ulp(exact, mode);
          if (e > worst) worst = e;
          assert.ok(e <= 2, `${op}(${x}) = ${got}, expected ${exact} (${e.toFixed(2)} ulp)`);
        }
        assert.ok(worst <= 2, `worst ${worst} ulp`);
      }));

/** Special values for every op: zeros, halves (round), NaN, infinities, subnormals, large. */
const SPECIALS = [0, -0, 1, -1, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, 0.3, -0.7, 3.7, -3.7, 100, -100, 1e-3, 1e-40, 1e30, -1e30, Infinity, -Infinity, NaN, 2];

/**
 * A program whose row i is op(a_i, c_i): Σ_j select(x_i = j, op(a_j, c_j), 0) over inner rows
 * (j, a, c); every lane of the kernel evaluates the op on its own values.
 */
function opProgram(op: Opcode, dtype: "float32" | "float64"): KernelProgram {
  const b = new SsaBuilder((s) => (s === 0 ? 1 : 2));
  const xi = b.load(0, 0), yj = b.load(1, 0), av = b.load(1, 1), cv = b.load(1, 2);
  const v = (UNARY as readonly string[]).includes(op)
    ? b.un(op as never, av)
    : (BINARY as readonly string[]).includes(op)
      ? b.bin(op as never, av, cv)
      : op === "select"
        ? b.select(av, cv, b.c(7))
        : b.cmp(op as never, av, cv);
  const body = b.block([b.select(b.cmp("eq", xi, yj), v, b.c(0))]);
  return {
    key: `wasm.test|${op}|${dtype}`, dtype, accDtype: dtype,
    slots: [{ role: "outer", dim: 1 }, { role: "inner", dim: 3 }],
    body, red: SumReduction.build({ fdim: 1, K: 1, scheme: "direct_sum" }),
  };
}

test("every SSA op, float32 and float64, special values in every lane", { skip }, () => {
  const ops: Opcode[] = [...UNARY, ...BINARY, ...COMPARE, "select"];
  const pairs: [number, number][] = [];
  for (const a of SPECIALS) for (const c of SPECIALS) pairs.push([a, c]);
  const N = pairs.length;
  for (const dtype of ["float32", "float64"] as const) {
    const A = dtype === "float32" ? Float32Array : Float64Array;
    const x = new A(N);
    x.forEach((_, k) => (x[k] = k));
    const y = new A(3 * N);
    pairs.forEach(([a, c], k) => y.set([k, a, c], 3 * k));
    for (const op of ops) {
      const out = new A(N);
      const job: KernelJob = { inputs: [x, y], outputs: [out], nOuter: N, nInner: N, nBatch: 1, inOffsets: new Int32Array(2), outOffsets: new Int32Array(1) };
      wasmBackend.compile(opProgram(op, dtype)).run(job);
      const r = (v: number): number => (dtype === "float32" ? Math.fround(v) : v);
      for (let k = 0; k < N; k++) {
        const a = y[3 * k + 1]!, c = y[3 * k + 2]!;
        const exact = op === "select" ? (a !== 0 ? c : 7) : evalOp(op, [a, c]);
        const want = r(exact) + 0; // the sum turns −0 into +0
        const got = out[k]!;
        const what = `${dtype} ${op}(${a}, ${c}) = ${got}, expected ${want}`;
        if (Number.isNaN(want) || !Number.isFinite(want)) {
          assert.ok(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), what);
        } else if (op === "exp" || op === "log" || op === "rsqrt") {
          assert.ok(Math.abs(got - exact) <= 2 * ulp(exact, dtype === "float32" ? "f32" : "f64"), what);
        } else assert.equal(got, want, what);
      }
    }
  }
});

test("D = 200 on the wasm backend: Gaussian sum across tiles, argmin and logsumexp", { skip }, () =>
  withSeed((d) => {
    const D = 200, M = 7, N = 1100;
    const x = d.randn([M, D], "float32", 0.1), y = d.randn([N, D], "float32", 0.1), b = d.randn([N, 3], "float32");
    const g = Vi(0, D).sub(Vj(1, D)).sqnorm2().neg().exp().mul(Vj(2, 3)).sum({ axis: 1, backend: "wasm" }) as unknown as (...a: Tensor[]) => Tensor;
    assertClose(g(x, y, b).data, reference(g as never, x, y, b).values!, { rtol: 2e-5, what: "gaussian D=200" });
    const xi = d.randint([M, D], -2, 2, "float32"), yi = d.randint([N, D], -2, 2, "float32");
    const am = Vi(0, D).sub(Vj(1, D)).sqnorm2().argmin({ axis: 1, backend: "wasm" }) as unknown as (...a: Tensor[]) => Tensor;
    assertExact(am(xi, yi).data, reference(am as never, xi, yi).indices!, "argmin D=200");
    const ls = Vi(0, D).mul(Vj(1, D)).logsumexp({ axis: 1, backend: "wasm" }) as unknown as (...a: Tensor[]) => Tensor;
    assertClose(ls(x, y).data, reference(ls as never, x, y).values!, { rtol: 2e-5, what: "logsumexp D=200 (vector)" });
  }));

test("worker threads (sync and async) give the single-thread results, with batches; argKmin across threads", { skip }, () =>
  withSeed(async (d) => {
    const B = 3, M = 401, N = 1803;
    assert.ok(B * M * N >= PARALLEL_PAIRS, "the run must be large enough to use threads");
    const x = d.randn([B, M, 1, 3], "float32"), y = d.randn([1, 1, N, 3], "float32"), b = d.randn([B, 1, N, 2], "float32");
    const f = new LazyTensor(x).sub(new LazyTensor(y)).sqnorm2().neg().exp().mul(new LazyTensor(b));
    const one = withThreads("1", () => f.sum({ axis: 2, backend: "wasm" }) as Tensor);
    const two = withThreads("2", () => f.sum({ axis: 2, backend: "wasm" }) as Tensor);
    const three = withThreads("3", () => f.sum({ axis: 2, backend: "wasm" }) as Tensor);
    const asy = await withThreads("2", () => f.sum({ axis: 2, backend: "wasm", async: true }));
    assert.deepEqual([...one.shape], [B, M, 2]);
    assert.deepEqual([...two.data], [...one.data]);
    assert.deepEqual([...three.data], [...one.data]);
    assert.deepEqual([...asy.data], [...one.data]);
    // the oracle at this size: the js backend (the reference is too slow here; both are checked against it elsewhere)
    const js = withThreads("1", () => f.sum({ axis: 2, backend: "js" }) as Tensor);
    // two float32 sums of 1803 signed terms in different orders: their rounding scales with Σ|terms|
    const mag = withThreads("1", () => f.abs().sum({ axis: 2, backend: "js" }) as Tensor);
    assertClose(one.data, js.data, { rtol: 2e-5, atol: Array.from(mag.data, (m) => 2e-6 * m) });
    const xi = d.randint([B * M, 3], -3, 3, "float32"), yi = d.randint([N, 3], -3, 3, "float32");
    const lazy = Vi(xi).sub(Vj(yi)).sqnorm2();
    const want = withThreads("1", () => lazy.argKmin({ K: 5, axis: 1, backend: "js" }) as Tensor);
    assertExact(withThreads("2", () => lazy.argKmin({ K: 5, axis: 1, backend: "wasm" }) as Tensor).data, want.data, "argKmin, 2 threads");
    const ka = await withThreads("2", () => lazy.argKmin({ K: 5, axis: 1, backend: "wasm", async: true }) as unknown as Promise<Tensor>);
    assertExact(ka.data, want.data, "argKmin async");
  }));

test("selection reductions: ties and NaNs across lanes, unrolled copies and the masked tail", { skip }, () =>
  withSeed((d) => {
    for (const dtype of ["float32", "float64"] as const)
      for (let N = 1; N <= 41; N += 4) {
        const M = 6;
        const x = d.randint([M, 2], -1, 1, dtype), y = d.randint([N, 2], -1, 1, dtype);
        for (let k = 0; k < N * 2; k++) if (d.rng.uniform() < 0.08) y.data[k] = NaN;
        const F = Vi(0, 2).sub(Vj(1, 2)).abs();
        const K = Math.min(N, 3);
        const fns = [
          F.minArgmin({ axis: 1, backend: "wasm" }),
          F.maxArgmax({ axis: 1, backend: "wasm" }),
          F.sum().KminArgKmin({ K, axis: 1, backend: "wasm" }),
          F.sum().argKmin({ K, axis: 1, backend: "wasm" }),
        ] as unknown as ((...a: Tensor[]) => Tensor | [Tensor, Tensor])[];
        fns.forEach((fn, n) => {
          const ref = reference(fn as never, x, y);
          const out = fn(x, y);
          const [vals, inds] = Array.isArray(out) ? out : [undefined, out];
          const what = `#${n} ${dtype} N=${N}`;
          if (vals) assertClose(vals.data, ref.values!, { rtol: 0, atol: 0, what });
          assertExact(inds!.data, ref.indices!, `${what} indices`);
        });
      }
  }));

test("float32 data with a float64 accumulator", { skip }, () =>
  withSeed((d) => {
    const x = d.randn([33, 3], "float32"), y = d.randn([5000, 3], "float32");
    const fn = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().sum({ axis: 1, backend: "wasm", dtypeAcc: "float64", sumScheme: "direct_sum" }) as unknown as (...a: Tensor[]) => Tensor;
    const out = fn(x, y);
    assert.equal(out.dtype, "float32");
    assertClose(out.data, reference(fn as never, x, y).values!, { rtol: 1e-6 });
  }));

test("registry: wasm is registered after native and before js", () => {
  const names = backendInfo().backends.map((b) => b.name);
  assert.ok(names.includes("wasm"));
  assert.ok(names.indexOf("wasm") < names.indexOf("js"));
  if (names.includes("native")) assert.ok(names.indexOf("native") < names.indexOf("wasm"));
});

test("without shared memory (no cross-origin isolation): one thread, sync and async", { skip }, () =>
  withSeed(async (d) => {
    const x = d.randn([300, 3], "float32"), y = d.randn([8000, 3], "float32");
    const F = Vi(x).sub(Vj(y)).sqnorm2();
    const sum = (): Tensor => withThreads("2", () => F.neg().exp().sum({ axis: 1, backend: "wasm" }) as Tensor);
    const knn = (): Tensor => withThreads("2", () => F.argKmin({ K: 4, axis: 1, backend: "wasm" }) as Tensor);
    const shared = [sum(), knn()];
    try {
      resetWasmBackend(false);
      assert.deepEqual([...sum().data], [...shared[0]!.data]);
      assert.deepEqual([...knn().data], [...shared[1]!.data]);
      const a = await withThreads("2", () => F.neg().exp().sum({ axis: 1, backend: "wasm", async: true }) as unknown as Promise<Tensor>);
      assert.deepEqual([...a.data], [...shared[0]!.data]);
    } finally {
      resetWasmBackend(true);
    }
  }));

test("a program too large for one wasm function is declined with its reason (a blocked squared distance and looped vector outputs and states are not)", { skip }, () => {
  const D = 4000;
  const t = (shape: number[]): Tensor => zeros(shape, { dtype: "float32" });
  const y = new LazyTensor(t([3, 1, D])).sub(new LazyTensor(t([1, 3, D])));
  // a vector-valued formula whose components are unlike (a Concat of two shapes of D each): unrolled
  // (one of alike components is a loop, whatever the reduction: src/compile/vout.ts, loop-form.ts)
  assert.throws(() => y.concat(y.neg().exp()).max({ axis: 1, backend: "wasm" }), (e: Error) => e.name === "KeOpsError" && /too large for one WebAssembly function/.test(e.message));
  const s = y.neg().exp().sum({ axis: 1, backend: "wasm" }) as Tensor;
  assert.deepEqual([...s.shape], [3, D]);
  assert.ok(s.data.every((v) => v === 3));
  const [m, am] = y.neg().exp().maxArgmax({ axis: 1, backend: "wasm" }) as [Tensor, Tensor];
  assert.ok(m.data.every((v) => v === 1) && am.data.every((v) => v === 0));
  // ‖x − y‖² reads a dot tile and norms (src/compile/blocked.ts), an L1 distance is a loop: D is only a loop bound
  assert.deepEqual([...(y.sqnorm2().neg().exp().sum({ axis: 1, backend: "wasm" }) as Tensor).data], [3, 3, 3]);
  assert.deepEqual([...(y.abs().sum().neg().exp().sum({ axis: 1, backend: "wasm" }) as Tensor).data], [3, 3, 3]);
});
