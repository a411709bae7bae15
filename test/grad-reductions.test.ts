/**
 * The vector–Jacobian product of every reduction, with respect to an i-variable, a j-variable and
 * a parameter, on both axes: against central finite differences of the forward reduction in
 * float64 (js backend), and on every other backend against the js gradients (float64 and float32).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Pm, Tensor, Vi, Vj, type LazyTensor } from "../src/index.js";
import { argumentData, specOf, type KeOpsFunction } from "../src/lazy/keopsfunction.js";
import type { VarData } from "../src/lazy/execute.js";
import { reductionVjp } from "../src/autodiff/reductions.js";
import { bindingData } from "../src/autodiff/vjp.js";
import { assertClose, testBackends, webgpuAbsent, withSeed, type Data } from "./util.js";
import { dotResult, finiteDifferences } from "./grad-helpers.js";

const x = Vi(0, 3), y = Vj(1, 3), p = Pm(2, 3);
/** Scalar and vector formulas that read x, y and p. */
const scalar = x.sub(y).add(p).sqnorm2().neg().mul(0.5);
const vector = x.sub(y).mul(p).square().neg().exp().add(x.mul(y));
const posWeight = x.mul(y).mul(0.3).exp();

type Build = (axis: 0 | 1, backend: string) => KeOpsFunction<unknown>;
const fn = (F: LazyTensor<true>, name: string, extra: Record<string, unknown> = {}): Build => (axis, backend) =>
  (F as unknown as Record<string, (o: object) => KeOpsFunction<unknown>>)[name]!({ axis, backend, call: false, ...extra });

const cases: { name: string; build: Build; zero?: boolean; core?: boolean }[] = [
  { name: "Sum", build: fn(scalar, "sum"), core: true },
  { name: "Sum (vector)", build: fn(vector, "sum") },
  { name: "LogSumExp", build: fn(scalar, "logsumexp") },
  { name: "LogSumExp (vector)", build: fn(vector, "logsumexp"), core: true },
  { name: "LogSumExp weighted", build: fn(scalar, "logsumexp", { weight: posWeight }), core: true },
  { name: "SumSoftMaxWeight", build: (axis, backend) => scalar.sumsoftmaxweight(x.mul(y), { axis, backend: backend as never, call: false }) as KeOpsFunction<unknown>, core: true },
  { name: "Min", build: fn(scalar, "min") },
  { name: "Max (vector)", build: fn(vector, "max") },
  { name: "MinArgMin (vector)", build: fn(vector, "minArgmin"), core: true },
  { name: "MaxArgMax", build: fn(scalar, "maxArgmax") },
  { name: "KMin", build: fn(scalar, "Kmin", { K: 3 }), core: true },
  { name: "KMin (vector)", build: fn(vector, "Kmin", { K: 2 }) },
  { name: "KMinArgKMin", build: fn(scalar, "KminArgKmin", { K: 2 }) },
  { name: "ArgMin", build: fn(scalar, "argmin"), zero: true },
  { name: "ArgMax (vector)", build: fn(vector, "argmax"), zero: true },
  { name: "ArgKMin", build: fn(scalar, "argKmin", { K: 2 }), zero: true },
];

function args(d: Data, M: number, N: number, dtype: "float32" | "float64"): Tensor[] {
  return [d.randn([M, 3], dtype), d.randn([N, 3], dtype), d.randn([3], dtype, 0.5)];
}

function resultOf(f: KeOpsFunction<unknown>, a: readonly Tensor[]): Tensor {
  const r = f(...a) as Tensor | [Tensor, Tensor];
  return Array.isArray(r) ? r[0] : r;
}

for (const c of cases)
  for (const axis of [0, 1] as const) {
    test(`vjp of ${c.name} (axis ${axis}) matches finite differences`, () =>
      withSeed((d) => {
        for (const [M, N] of [[4, 5], [1, 3], [3, 1]] as const) {
          if (/K/.test(c.name) && (axis === 1 ? N : M) < 3) continue; // K ≤ the reduced length
          const f = c.build(axis, "js");
          const a = args(d, M, N, "float64");
          const out = resultOf(f, a);
          const w = d.randn([...out.shape], "float64");
          const grads = f.vjp(a, w);
          assert.equal(grads.length, 3);
          grads.forEach((g, k) => {
            assert.deepEqual(g.shape, a[k]!.shape, `gradient ${k} shape`);
            assert.equal(g.dtype, "float64");
            if (c.zero) {
              assert.ok(Array.from(g.data).every((v) => v === 0), `${c.name}: arg-reductions have zero gradient`);
              return;
            }
            const fd = finiteDifferences((aa) => dotResult(f, aa, w), a, k);
            assertClose(g.data, fd, { rtol: 1e-5, atol: 1e-6 * Math.max(1, ...Array.from(fd, Math.abs)), what: `${c.name} axis ${axis} (M=${M}, N=${N}) d/d argument ${k}` });
          });
        }
      }));
  }

test("vjp with empty ranges gives zeros of the right shapes", () =>
  withSeed((d) => {
    for (const c of cases)
      for (const [M, N] of [[0, 4], [4, 0]] as const) {
        const f = c.build(1, "js");
        const a = args(d, M, N, "float64");
        if (/K/.test(c.name) && N === 0) continue; // K > N is an error
        const w = d.randn([...resultOf(f, a).shape], "float64");
        const g = f.vjp(a, w);
        g.forEach((t, k) => {
          assert.deepEqual(t.shape, a[k]!.shape);
          assert.ok(Array.from(t.data).every((v) => v === 0), `${c.name} M=${M} N=${N}: argument ${k}`);
        });
      }
  }));

const others = testBackends().filter((b) => b !== "js");
for (const backend of others)
  for (const c of cases.filter((k) => k.core))
    for (const dtype of ["float64", "float32"] as const)
      test(`vjp of ${c.name} on ${backend} (${dtype}) equals the js vjp`, () =>
        withSeed((d) => {
          const axis = (d.rng.uniform() < 0.5 ? 0 : 1) as 0 | 1;
          const a = args(d, 37, 23, dtype);
          const ref = c.build(axis, "js");
          const f = c.build(axis, backend);
          const w = d.randn([...resultOf(ref, a).shape], dtype);
          const want = ref.vjp(a, w);
          const got = f.vjp(a, w);
          got.forEach((g, k) =>
            assertClose(g.data, want[k]!.data, { rtol: dtype === "float64" ? 1e-10 : 2e-4, what: `${c.name} axis ${axis} on ${backend}: argument ${k}` }));
        }));

/**
 * webgpu (async only): `vjp(args, gradOut, { async: true })` runs every reduction of the gradient
 * on the GPU. Against the float64 js vjp (itself checked against finite differences above) on the
 * same float32 data, both axes, sizes 0 and 1 and past the kernel's workgroup (128 rows), tile (128
 * j) and split of j (few rows, many j). The min family on integer data: float32 selects exactly
 * the pairs float64 does (ties to the lowest index on both).
 */
const gpuCases = cases.filter((c) => c.core || /^(Min|ArgMin|MaxArgMax)$/.test(c.name));
const onIntegers = (name: string): boolean => /Min|Max/.test(name);
for (const c of gpuCases)
  test(`vjp of ${c.name} on webgpu (async: true) equals the float64 vjp`, { skip: process.env.KEOPS_TEST_WEBGPU === "0" && "KEOPS_TEST_WEBGPU=0" }, async (t) => {
    const absent = await webgpuAbsent();
    if (absent !== null) return t.skip(`webgpu: ${absent}`);
    await withSeed(async (d) => {
      for (const axis of [0, 1] as const)
        for (const [M, N] of [[0, 5], [5, 0], [1, 1], [129, 130], [2, 700]] as const) {
          if (/K/.test(c.name) && (axis === 1 ? N : M) < 3) continue; // K ≤ the reduced length
          const a = onIntegers(c.name) ? [d.randint([M, 3], -3, 3), d.randint([N, 3], -3, 3), d.randint([3], -1, 1)] : args(d, M, N, "float32");
          const a64 = a.map((x) => new Tensor(Float64Array.from(x.data), x.shape));
          const ref = c.build(axis, "js");
          const f = c.build(axis, "webgpu");
          const w = d.randn([...resultOf(ref, a64).shape], "float32");
          const want = ref.vjp(a64, new Tensor(Float64Array.from(w.data), w.shape));
          const got = await f.vjp(a, w, { async: true });
          const where = `${c.name} axis ${axis} (M=${M}, N=${N})`;
          assert.equal(got.length, 3);
          // each gradient element is a float32 sum of n pair terms (x_i: over j, y_j: over i, the
          // parameter: over every pair), whose rounding grows like √n (a random walk): at a point
          // where the terms cancel the absolute error is ~√n·u·|term|, not relative to the result
          const terms = [N, M, M * N];
          got.forEach((g, k) => {
            assert.equal(g.dtype, "float32", `${where}: argument ${k} dtype`);
            assert.deepEqual(g.shape, a[k]!.shape, `${where}: argument ${k} shape`);
            const scale = Math.max(1, ...Array.from(want[k]!.data, Math.abs));
            const atol = 2e-5 * scale * Math.max(1, Math.sqrt(terms[k]! / 100));
            assertClose(g.data, want[k]!.data, { rtol: 1e-4, atol, what: `${where}: d/d argument ${k}` });
          });
        }
    });
  });

test("webgpu gradients: a blocking vjp (even one that needs no reduction) is the async-only KeOpsError; a backend given to vjp overrides", { skip: process.env.KEOPS_TEST_WEBGPU === "0" && "KEOPS_TEST_WEBGPU=0" }, async (t) => {
  const absent = await webgpuAbsent();
  if (absent !== null) return t.skip(`webgpu: ${absent}`);
  await withSeed(async (d) => {
    const a = args(d, 6, 7, "float32");
    const sumFn = cases[0]!.build(1, "webgpu");
    const w = d.randn([6, 1]);
    const asyncOnly = /^KeOpsError: backend: "webgpu" cannot run this reduction: the webgpu backend runs only with async: true/;
    assert.throws(() => sumFn.vjp(a, w), asyncOnly);
    assert.throws(() => cases.find((c) => c.name === "ArgMin")!.build(1, "webgpu").vjp(a, w), asyncOnly); // zero, no reduction
    assert.throws(() => sumFn.vjp(args(d, 0, 7, "float32"), d.randn([0, 1])), asyncOnly); // empty
    // the function's backend overridden by vjp's option, either way
    const onJs = sumFn.vjp(a, w, { backend: "js" });
    const onGpu = await cases[0]!.build(1, "js").vjp(a, w, { async: true, backend: "webgpu" });
    onGpu.forEach((g, k) => assertClose(g.data, onJs[k]!.data, { rtol: 1e-4, atol: 1e-5, what: `argument ${k}` }));
    assert.throws(() => sumFn.vjp(a, w, { asynk: true } as never), /vjp.*asynk.*async/);
    await assert.rejects(sumFn.vjp([a[0]!], w, { async: true }), /KeOpsError: args: expected 3 tensor/);
  });
});

test("reductionVjp (the internal API of solve's gradient): given forward values, same result", () =>
  withSeed((d) => {
    for (const c of cases.filter((k) => /LogSumExp|SoftMax|Sum$/.test(k.name)))
      for (const axis of [0, 1] as const) {
        const f = c.build(axis, "js");
        const a = args(d, 5, 6, "float64");
        const spec = specOf(f);
        const vars = new Map<number, VarData>([...spec.fixed].map(([ind, b]) => [ind, bindingData(ind, b)]));
        [...spec.symbolic].sort((p, q) => p[0] - q[0]).forEach(([ind, dim, cat], k) => vars.set(ind, argumentData(a[k]!, ind, dim, cat, k)));
        const out = resultOf(f, a);
        const w = d.randn([...out.shape], "float64");
        const wrt = [...spec.symbolic].map(([ind]) => ind).sort((p, q) => p - q);
        const g1 = reductionVjp(spec.call, vars, w, wrt, "float64");
        const g2 = reductionVjp(spec.call, vars, w, wrt, "float64", out);
        const want = f.vjp(a, w);
        wrt.forEach((ind, k) => {
          assertClose(g1.get(ind)!.data, want[k]!.data, { rtol: 1e-14, what: `${c.name}: variable ${ind}` });
          assertClose(g2.get(ind)!.data, want[k]!.data, { rtol: 1e-12, what: `${c.name} with forward: variable ${ind}` });
        });
      }
  }));
