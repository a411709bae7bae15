/**
 * The wasm backend's fused multiply-add (relaxed SIMD): the peephole's rewrites, and kernels
 * rendered with and without it (float32 and float64; sum, log-sum-exp, arg-K-min) against a
 * float64 recomputation. Node 20 validates relaxed SIMD only with
 * `--experimental-wasm-relaxed-simd`: there this file runs itself again in a child with the flag.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Vi, Vj, type LazyTensor } from "../src/index.js";
import type { KernelJob } from "../src/compile/program.js";
import { plan } from "../src/compile/plan.js";
import { reductionByName } from "../src/reductions/index.js";
import { allocate, type FloatDType } from "../src/tensor.js";
import { ModuleBuilder, V128, type ValType } from "../src/backends/wasm/encoder.js";
import { Asm, SIMD, engineHasRelaxedSimd, wasmFma } from "../src/backends/wasm/asm.js";
import { compileWasm, wasmBackend } from "../src/backends/wasm/index.js";
import { wa } from "../src/backends/wasm/api.js";
import { assertClose, simdOps, withSeed, type Data } from "./util.js";

const FLAG = "--experimental-wasm-relaxed-simd";
const here = engineHasRelaxedSimd();
const wasm = wasmBackend.unavailable() === null;

test("relaxed SIMD: the engine is probed, and the FMA default follows it", () => {
  assert.equal(typeof here, "boolean");
  if (process.env.KEOPS_TS_WASM_FMA !== "0") assert.equal(wasmFma(), here);
});

if (!here && wasm && !process.execArgv.includes(FLAG)) {
  test(`relaxed SIMD: this engine needs ${FLAG}: the FMA tests run in a child with it`, () => {
    const file = fileURLToPath(import.meta.url);
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // the child reports in TAP on its stdout, not to this runner
    const r = spawnSync(process.execPath, [FLAG, "--import", "tsx", "--test", "--test-reporter=tap", file], { encoding: "utf8", env });
    assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /# fail 0/);
    assert.doesNotMatch(r.stdout, /# pass 0\b/);
  });
} else if (wasm) {
  const v = simdOps;

  test("FMA peephole: a·b + c, c + a·b, c − a·b fuse; a·b − c and non-adjacent sums do not", () => {
    const prev = wasmFma();
    wasmFma(true);
    try {
      const m = new ModuleBuilder();
      const sig = { params: [V128, V128, V128] as ValType[], results: [V128] as ValType[] };
      const fns: [string, (a: Asm) => void][] = [
        ["abc", (a) => a.get(0).get(1).v(SIMD.f32x4Mul).get(2).v(SIMD.f32x4Add)], // a·b + c
        ["cab", (a) => a.get(2).get(0).get(1).v(SIMD.f32x4Mul).v(SIMD.f32x4Add)], // c + a·b
        ["csub", (a) => a.get(2).get(0).get(1).v(SIMD.f32x4Mul).v(SIMD.f32x4Sub)], // c − a·b
        ["absub", (a) => a.get(0).get(1).v(SIMD.f32x4Mul).get(2).v(SIMD.f32x4Sub)], // a·b − c: not fused
        ["split", (a) => a.get(0).get(1).v(SIMD.f32x4Mul).get(2).v(SIMD.f32x4Abs).v(SIMD.f32x4Add)], // a·b + |c|: not fused
      ];
      for (const [name, emit] of fns) emit(new Asm(m.func(sig, name).body));
      const bytes = m.encode();
      assert.equal(v(bytes, SIMD.f32x4RelaxedMadd), 2);
      assert.equal(v(bytes, SIMD.f32x4RelaxedNmadd), 1);
      assert.ok(wa().validate(bytes));
    } finally {
      wasmFma(prev);
    }
  });

  /** Runs `e` reduced over j on wasm, rendered with or without FMA, on x (M × D), y (N × D), b (N × 1). */
  const runKernel = (e: LazyTensor<boolean>, red: string, K: number, dtype: FloatDType, fma: boolean, x: Float64Array | Float32Array, y: Float64Array | Float32Array, b: Float64Array | Float32Array, M: number, N: number): { v: ArrayLike<number>; bytes: Uint8Array } => {
    const prev = wasmFma();
    wasmFma(fma);
    try {
      const p = plan({ formula: e.node, reduction: reductionByName(red)!, axis: 1, K, scheme: "block_sum", dtype, accDtype: dtype }).program;
      const k = compileWasm(p);
      const width = red === "ArgKMin" ? K : 1;
      const out = red === "ArgKMin" ? new Int32Array(M * width) : allocate(dtype, M * width);
      const inputs = p.slots.map((_, s) => [x, y, b][s]!);
      const job: KernelJob = { inputs, outputs: [out], nOuter: M, nInner: N, nBatch: 1, inOffsets: new Int32Array(p.slots.length), outOffsets: new Int32Array(1) };
      k.run(job);
      return { v: out, bytes: k.rendered.bytes };
    } finally {
      wasmFma(prev);
    }
  };

  for (const dtype of ["float32", "float64"] as const)
    test(`FMA kernels [${dtype}]: sum, log-sum-exp and arg-K-min agree with float64 and with the plain SIMD path`, () =>
      withSeed((d: Data) => {
        const D = 5, M = 37, N = 203, K = 4;
        const x = d.randn([M, D], dtype).data as Float32Array, y = d.randn([N, D], dtype).data as Float32Array;
        const b = d.randn([N, 1], dtype).data as Float32Array;
        const sq = (i: number, j: number): number => {
          let s = 0;
          for (let c = 0; c < D; c++) s += (x[i * D + c]! - y[j * D + c]!) ** 2;
          return s;
        };
        const d2 = Vi(0, D).sub(Vj(1, D)).sqnorm2();
        const conv = d2.neg().exp().mul(Vj(2, 1));
        const want = Float64Array.from({ length: M }, (_, i) => {
          let s = 0;
          for (let j = 0; j < N; j++) s += Math.exp(-sq(i, j)) * b[j]!;
          return s;
        });
        const lse = Float64Array.from({ length: M }, (_, i) => {
          const f = Array.from({ length: N }, (_, j) => -sq(i, j));
          const m = Math.max(...f);
          return m + Math.log(f.reduce((s, v) => s + Math.exp(v - m), 0));
        });
        const rtol = dtype === "float32" ? 2e-5 : 1e-12;
        for (const fma of [false, true]) {
          const s = runKernel(conv, "Sum", 1, dtype, fma, x, y, b, M, N);
          assertClose(s.v, want, { rtol, what: `sum, fma ${fma}` });
          if (fma) assert.ok(v(s.bytes, dtype === "float32" ? SIMD.f32x4RelaxedMadd : SIMD.f64x2RelaxedMadd) > 0, "no relaxed_madd in the FMA kernel");
          else assert.equal(v(s.bytes, SIMD.f32x4RelaxedMadd) + v(s.bytes, SIMD.f64x2RelaxedMadd), 0);
          assertClose(runKernel(d2.neg(), "LogSumExp", 1, dtype, fma, x, y, b, M, N).v, lse, { rtol, what: `logsumexp, fma ${fma}` });
          // arg-K-min: the float64 ranking, except where two distances tie within float rounding
          const idx = runKernel(d2, "ArgKMin", K, dtype, fma, x, y, b, M, N).v;
          const eps = dtype === "float32" ? 1e-5 : 1e-12;
          for (let i = 0; i < M; i++) {
            const order = Array.from({ length: N }, (_, j) => j).sort((p, q) => sq(i, p) - sq(i, q) || p - q);
            for (let r = 0; r < K; r++) {
              const got = idx[i * K + r]!, exp = order[r]!;
              if (got !== exp) assert.ok(Math.abs(sq(i, got) - sq(i, exp)) <= eps * (1 + sq(i, exp)), `row ${i} rank ${r}: ${got} vs ${exp} (fma ${fma})`);
            }
          }
        }
      }));
}
