/**
 * The native backend's own pieces: the generated exp/log over the whole float32 range, every SSA
 * op against its definition (vector and scalar code paths, both dtypes), the three kernel schemes,
 * float64 accumulators on float32 data, batches, threads and async runs.
 * (The shared suites — reductions, edges, semantics… — run on native through testBackends().)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LazyTensor, Vi, Vj, Tensor } from "../src/index.js";
import { nativeBackend } from "../src/backends/native/index.js";
import { CXX_PRELUDE } from "../src/backends/native/prelude.js";
import { renderNative } from "../src/backends/native/render.js";
import { compiler } from "../src/backends/native/toolchain.js";
import { SsaBuilder, BINARY, COMPARE, UNARY, evalOp, type Opcode } from "../src/ir/ssa.js";
import type { KernelProgram } from "../src/compile/program.js";
import { reductionByName } from "../src/reductions/index.js";
import type { ReductionName } from "../src/reductions/types.js";
import { allocate, type FloatDType } from "../src/tensor.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, withSeed, withThreads } from "./util.js";

const skip = nativeBackend.unavailable() ?? false;

/** A C++ program that measures the worst ulp error of k_exp32v / k_log32v on a float32 sample, and of k_exp64v on a float64 one. */
const HARNESS = String.raw`
typedef float V16 __attribute__((vector_size(64)));
typedef double V8 __attribute__((vector_size(64)));
extern "C" int printf(const char*, ...);
static int64_t key(float f) { int32_t i; __builtin_memcpy(&i, &f, 4); return i >= 0 ? (int64_t)i : -(int64_t)(i & 0x7fffffff); }
struct Worst { int64_t ulp = 0; float at = 0; int bad = 0; float badAt = 0; };
static void check(Worst& w, float x, float got, double ref) {
  float r = (float)ref;
  if (r != r || got != got || __builtin_isinf(r) || __builtin_isinf(got)) {
    bool same = (r != r && got != got) || r == got;
    if (!same && !w.bad) { w.bad = 1; w.badAt = x; }
    return;
  }
  int64_t d = key(got) - key(r); if (d < 0) d = -d;
  if (d > w.ulp) { w.ulp = d; w.at = x; }
}
static Worst we, wl;
static int64_t key64(double f) { int64_t i; __builtin_memcpy(&i, &f, 8); return i >= 0 ? i : -(i & 0x7fffffffffffffffLL); }
struct Worst64 { int64_t ulp = 0; double at = 0; int bad = 0; double badAt = 0; } wd;
static void batch64(const double* xs) {
  V8 x; __builtin_memcpy(&x, xs, 64);
  V8 e = k_exp64v(x);
  for (int k = 0; k < 8; k++) {
    double r = __builtin_exp(xs[k]), got = e[k];
    if (r != r || got != got || __builtin_isinf(r) || __builtin_isinf(got) || r == 0 || got == 0) {
      bool same = (r != r && got != got) || r == got;
      if (!same && !wd.bad) { wd.bad = 1; wd.badAt = xs[k]; }
      continue;
    }
    int64_t d = key64(got) - key64(r); if (d < 0) d = -d;
    if (d > wd.ulp) { wd.ulp = d; wd.at = xs[k]; }
  }
}
static void batch(const float* xs) {
  V16 x; __builtin_memcpy(&x, xs, 64);
  V16 e = k_exp32v(x), l = k_log32v(x);
  for (int k = 0; k < 16; k++) { check(we, xs[k], e[k], __builtin_exp((double)xs[k])); check(wl, xs[k], l[k], __builtin_log((double)xs[k])); }
}
int main() {
  float buf[16]; int n = 0;
  auto push = [&](float f) { buf[n++] = f; if (n == 16) { batch(buf); n = 0; } };
  auto pushBits = [&](uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); push(f); };
  for (uint64_t u = 0; u < (1ull << 32); u += 127) pushBits((uint32_t)u);
  const float centres[] = { 0.0f, 1.0f, -1.0f, 88.72f, -87.33f, -103.97f, 0.7071f, 1.4142f, 2.0f, 1e-38f, 1e-45f, 0.5f, -0.5f, 3.4e38f };
  for (float c : centres) { uint32_t b; __builtin_memcpy(&b, &c, 4); for (int64_t d = -20000; d <= 20000; d++) pushBits((uint32_t)((int64_t)b + d)); }
  const float specials[] = { INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 88.7228393f, 88.7228394f, 88.73f, -103.972084f, -104.0f, -110.0f, 1e-45f, -1e-45f };
  for (float s : specials) push(s);
  while (n) push(1.0f);
  double dbuf[8]; int m = 0;
  auto push64 = [&](double f) { dbuf[m++] = f; if (m == 8) { batch64(dbuf); m = 0; } };
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int it = 0; it < 4000000; it++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    double u = (double)(s >> 11) * 0x1p-53;
    push64(it & 1 ? -750.0 + 1465.0 * u : (2.0 * u - 1.0) * (it % 3 ? 3.0 : 1e-9));
  }
  const double specials64[] = { INFINITY, -INFINITY, NAN, 0.0, -0.0, 709.782712893384, 709.79, 710.0, 711.0, -708.39, -708.4,
    -745.1332191019411, -745.14, -746.0, -1e300, 1e300, 4.9e-324, -4.9e-324, 1.0, -1.0 };
  for (double x : specials64) push64(x);
  while (m) push64(1.0);
  printf("{\"exp64\":%lld,\"exp64At\":%.17g,\"exp64Bad\":%d,\"exp64BadAt\":%.17g,", (long long)wd.ulp, wd.at, wd.bad, wd.badAt);
  printf("\"exp\":%lld,\"expAt\":%.9g,\"expBad\":%d,\"expBadAt\":%.9g,\"log\":%lld,\"logAt\":%.9g,\"logBad\":%d,\"logBadAt\":%.9g}\n",
    (long long)we.ulp, we.at, we.bad, we.badAt, (long long)wl.ulp, wl.at, wl.bad, wl.badAt);
  return 0;
}
`;

for (const arch of ["-march=native", "-march=x86-64-v2"]) {
  test(`exp and log of float32 kernels: ≤ 2 ulp over the whole range, exact specials; float64 exp ≤ 1 ulp (${arch}${arch === "-march=native" ? ": AVX-512 path where available" : ": portable path"})`, { skip: skip || (arch !== "-march=native" && process.arch !== "x64") }, () => {
    const c = compiler().compiler!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keops-ts-math-"));
    try {
      fs.writeFileSync(path.join(dir, "h.cpp"), CXX_PRELUDE + HARNESS);
      execFileSync(c.cmd, [...c.args, "-O2", arch, "-fno-math-errno", "-std=c++17", "-w", "h.cpp", "-o", "h", "-lm"], { cwd: dir, stdio: "pipe" });
      const r = JSON.parse(execFileSync(path.join(dir, "h"), { encoding: "utf8" })) as Record<string, number>;
      assert.equal(r.expBad, 0, `exp: wrong special value at x = ${r.expBadAt}`);
      assert.equal(r.logBad, 0, `log: wrong special value at x = ${r.logBadAt}`);
      assert.ok(r.exp! <= 2, `exp: ${r.exp} ulp at x = ${r.expAt}`);
      assert.ok(r.log! <= 2, `log: ${r.log} ulp at x = ${r.logAt}`);
      assert.equal(r.exp64Bad, 0, `float64 exp: wrong special value at x = ${r.exp64BadAt}`);
      assert.ok(r.exp64! <= 1, `float64 exp: ${r.exp64} ulp at x = ${r.exp64At}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Every op of the SSA, each one output component: out_k = op_k(x_i + 0·z_j, y_i). */
const OPS: Opcode[] = [...UNARY, ...BINARY, ...COMPARE, "select"];
const XS = [0, -0, 1, -1, 0.5, -0.5, 1.5, -2.5, 2.5, 3.7, -3.7, 1e-3, 0.3, 7, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
const YS = [2, -0.5, 0, NaN, Infinity, 3];

function opsProgram(dtype: FloatDType, red: ReductionName): KernelProgram {
  const b = new SsaBuilder((s) => (s === 0 ? 1 : 2));
  const z = b.bin("mul", b.load(1, 0), b.c(0));
  const a = b.bin("add", b.load(0, 0), z);
  const y = b.load(0, 1);
  const out = OPS.map((op) => {
    if ((UNARY as readonly string[]).includes(op)) return b.un(op as never, a);
    if ((BINARY as readonly string[]).includes(op)) return b.bin(op as never, a, y);
    if ((COMPARE as readonly string[]).includes(op)) return b.cmp(op as never, a, y);
    return b.select(b.cmp("lt", a, y), a, y);
  });
  // an int value in the body too: 1 where j < 5
  out.push(b.select(b.cmp("lt", b.idx(), b.ci(5)), b.c(1), b.c(0)));
  return {
    key: `native-ops-test|${dtype}|${red}`,
    dtype,
    accDtype: dtype,
    slots: [{ role: "outer", dim: 2 }, { role: "inner", dim: 1 }],
    body: b.block(out),
    red: reductionByName(red)!.build({ fdim: out.length, K: 1, scheme: "block_sum" }),
  };
}

function expectedOp(op: Opcode, x: number, y: number, dtype: FloatDType): number {
  const r = (v: number): number => (dtype === "float32" ? Math.fround(v) : v);
  const a = r(x + 0);
  return r(evalOp(op, op === "select" ? [a < r(y) ? 1 : 0, a, r(y)] : [a, r(y)]));
}

for (const dtype of ["float32", "float64"] as const)
  for (const [red, N] of [["Max", 37], ["Sum", 1]] as const)
    test(`every SSA op against its definition: ${dtype}, ${red} over N = ${N} (${red === "Max" ? "mask-scan, vector + tail" : "lanes, tail only"})`, { skip }, () => {
      const p = opsProgram(dtype, red);
      const pairs = XS.flatMap((x) => YS.map((y) => [x, y] as const));
      const M = pairs.length, D = p.body.out.length;
      const inp = allocate(dtype, M * 2);
      pairs.forEach(([x, y], i) => { inp[2 * i] = x; inp[2 * i + 1] = y; });
      const out = allocate(dtype, M * D);
      const outs: (Float32Array | Float64Array | Int32Array)[] = [out];
      if (red === "Max") outs.push(new Int32Array(M * D));
      nativeBackend.compile(p).run({
        inputs: [inp, allocate(dtype, N)], outputs: outs, nOuter: M, nInner: N, nBatch: 1,
        inOffsets: new Int32Array([0, 0]), outOffsets: new Int32Array(outs.length),
      });
      // erf: libm's against the SSA definition's incomplete-gamma evaluation, both to ~1e-15
      const tolOf = (op: Opcode): number => (dtype === "float32" ? 2 ** -21 : op === "erf" ? 1e-14 : 2 ** -50);
      pairs.forEach(([x, y], i) => {
        OPS.forEach((op, k) => {
          let e = expectedOp(op, x, y, dtype);
          const g = out[i * D + k]!;
          if (red === "Sum") e = e + 0; // 0 + v: −0 becomes +0
          const what = `${op}(${x}, ${y}) ${dtype}: got ${g}, expected ${e}`;
          if (Number.isNaN(e)) assert.ok(Number.isNaN(g), what);
          else if (!Number.isFinite(e) || e === 0) assert.ok(Object.is(g, e), what);
          else assert.ok(Math.abs(g - e) <= tolOf(op) * Math.abs(e) + 1e-300, what);
        });
        assert.equal(out[i * D + OPS.length], red === "Max" ? 1 : Math.min(N, 5), "int index in the body");
      });
    });

test("the kernel scheme follows the reduction: lanes (sums), scan (min/K-min), shiftexp (log-sum-exp)", { skip }, () => {
  const prog = (name: ReductionName, K = 1): KernelProgram => {
    const b = new SsaBuilder((s) => (s === 0 ? 1 : 2));
    const d = [0, 1, 2].map((c) => b.bin("sub", b.load(0, c), b.load(1, c)));
    const v = d.reduce((acc, x) => b.bin("add", acc, b.bin("mul", x, x)), b.c(0));
    return {
      key: `scheme|${name}`, dtype: "float32", accDtype: "float32",
      slots: [{ role: "outer", dim: 3 }, { role: "inner", dim: 3 }],
      body: b.block([v]), red: reductionByName(name)!.build({ fdim: 1, K, scheme: "block_sum" }),
    };
  };
  assert.equal(renderNative(prog("Sum")).scheme, "lanes");
  assert.equal(renderNative(prog("ArgKMin", 4)).scheme, "scan");
  assert.equal(renderNative(prog("MinArgMin")).scheme, "scan");
  assert.equal(renderNative(prog("LogSumExp")).scheme, "shiftexp");
});

test("float32 data with float64 accumulators; kahan and direct schemes; log-sum-exp with ±∞ and NaN rows", { skip }, () =>
  withSeed((d) => {
    const x = d.randn([70, 3]), y = d.randn([301, 3]), w = d.uniform([301, 2], 0.5, 2);
    const F = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg();
    for (const [acc, scheme] of [["float64", "block_sum"], ["float64", "direct_sum"], ["float32", "kahan_scheme"], ["float32", "direct_sum"]] as const) {
      const opt = { axis: 1, backend: "native", dtypeAcc: acc, sumScheme: scheme } as const;
      for (const [fn, args] of [
        [F.exp().sum(opt), [x, y]], [F.logsumexp(opt), [x, y]],
        [F.sumsoftmaxweight(Vj(2, 2), opt), [x, y, w]], [F.logsumexp({ ...opt, weight: Vj(2, 2).sum() }), [x, y, w]],
      ] as unknown as [(...a: Tensor[]) => Tensor, Tensor[]][]) {
        const ref = reference(fn as never, ...args);
        assertClose(fn(...args).data, ref.values!, { rtol: 2e-5, what: `${acc} ${scheme}` });
      }
      const m = F.min(opt) as unknown as (...a: Tensor[]) => Tensor;
      assertClose(m(x, y).data, reference(m as never, x, y).values!, { rtol: 1e-6, what: `min ${acc}` });
    }
    // rows whose values are all −∞, contain +∞, or NaN
    const big = new Tensor(Float32Array.from([0, 0, 0, Infinity, 0, 0, NaN, 0, 0]), [3, 3]);
    const l = F.logsumexp({ axis: 1, backend: "native" }) as unknown as (...a: Tensor[]) => Tensor;
    const out = l(big, y).data;
    assertClose([out[0]!], [reference(l as never, big, y).values![0]!], { rtol: 1e-5, what: "finite row" });
    assert.equal(out[1], -Infinity, "every exponent −∞: log 0");
    assert.ok(Number.isNaN(out[2]!), "NaN row");
    const l2 = Vi(0, 1).mul(Vj(1, 1)).logsumexp({ axis: 1, backend: "native" }) as unknown as (...a: Tensor[]) => Tensor;
    const inf = l2(new Tensor(Float32Array.from([Infinity]), [1, 1]), new Tensor(Float32Array.from([1, 2, -1]), [3, 1]));
    assert.equal(inf.data[0], Infinity, "+∞ exponents give +∞");
  }));

test("threads (KEOPS_TS_THREADS = 1, 2, 3), batches and async runs give identical results", { skip }, () =>
  withSeed(async (d) => {
    const B = 3, M = 401, N = 1503;
    const x = d.randn([B, M, 1, 3]), y = d.randn([1, 1, N, 3]), b = d.randn([B, 1, N, 2]);
    const f = new LazyTensor(x).sub(new LazyTensor(y)).sqnorm2();
    const g = f.neg().exp().mul(new LazyTensor(b));
    const runs = ["1", "2", "3"].map((n) => withThreads(n, () => [g.sum({ axis: 2, backend: "native" }) as Tensor, f.argKmin({ K: 5, axis: 2, backend: "native" }) as Tensor]));
    const asy = await Promise.all([g.sum({ axis: 2, backend: "native", async: true }), f.argKmin({ K: 5, axis: 2, backend: "native", async: true })]);
    for (const r of [...runs.slice(1), asy]) {
      assert.deepEqual([...r[0]!.data], [...runs[0]![0]!.data]);
      assert.deepEqual([...r[1]!.data], [...runs[0]![1]!.data]);
    }
    assert.deepEqual([...runs[0]![0]!.shape], [B, M, 2]);
    const small = reference(g.sum({ axis: 2, call: false }) as never);
    assertClose(runs[0]![0]!.data, small.values!, { rtol: 1e-5 });
    const ks = reference(f.argKmin({ K: 5, axis: 2, call: false }) as never);
    assertExact(runs[0]![1]!.data, ks.indices!);
  }));

test("a kernel over more arrays than koffi can pass is declined: auto falls back, native says why", { skip }, () => {
  let f: LazyTensor<boolean> = Vi(new Tensor(new Float32Array([1, 2, 3]), [3, 1]));
  const ys: number[] = [];
  for (let k = 0; k < 60; k++) {
    ys.push(k);
    f = f.add(Vj(new Tensor(new Float32Array([k, 2 * k]), [2, 1])) as never);
  }
  const s = f.sum({ axis: 1 }) as Tensor; // auto: wasm or js
  const tot = ys.reduce((a, k) => a + 3 * k, 0);
  assert.deepEqual([...s.data], [1, 2, 3].map((x) => 2 * x + tot));
  assert.throws(() => f.sum({ axis: 1, backend: "native" }), /reads and writes 62 arrays \(koffi passes at most 64 arguments, so at most 57\)/);
});

test("async calls compile a new native kernel off the calling thread (the event loop keeps running); two concurrent calls are both right", { skip }, () =>
  withSeed(async (d) => {
    const M = 50, N = 70;
    const x = d.randn([M, 3]), y = d.randn([N, 3]), b = d.randn([N, 1]);
    // an integer constant no earlier run has compiled (it is part of the C++ source)
    const c = 1000 + Math.floor(d.rng.uniform() * 1e9);
    const K = Vi(x).sub(Vj(y)).sqnorm2().mul(c).neg().exp().mul(Vj(b)).add(Vj(b).mul(c));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    const [r1, r2] = await Promise.all([K.sum({ axis: 1, backend: "native", async: true }), K.sum({ axis: 1, backend: "native", async: true })]);
    const ms = performance.now() - t0;
    clearInterval(timer);
    // g++ takes a few hundred ms: the 5 ms timer must have fired throughout, not once at the end
    assert.ok(ticks >= Math.min(5, ms / 20), `the event loop was blocked: ${ticks} ticks in ${ms.toFixed(0)} ms`);
    const want = K.sum({ axis: 1, backend: "js" }) as Tensor;
    assertClose(r1.data, want.data, { rtol: 1e-5 });
    assertClose(r2.data, want.data, { rtol: 1e-5 });
  }));
