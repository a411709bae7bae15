/** Every reduction × axis × scalar/vector formula × dtype × size, on every backend, against the reference. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyTensor, Vi, Vj, Tensor, type FloatDType } from "../src/index.js";
import { reference } from "./reference.js";
import { SIZES, assertClose, assertExact, callOn, rtolFor, testTargets, withSeed, type Data, type Target } from "./util.js";

type Case = {
  name: string;
  /** Builds the reduction over symbolic x (i, dim 3) and y (j, dim 3) as a function. */
  build: (F: LazyTensor<true>, axis: 0 | 1, backend: string) => unknown;
  vector: boolean;
  ints?: boolean;
};

const x = Vi(0, 3), y = Vj(1, 3);
const scalar = x.sub(y).sqnorm2().neg().mul(0.3); // -0.3·|x−y|²
const vector = x.sub(y);                         // x−y, dim 3
const weight = x.mul(y);                          // dim 3, for weighted reductions

const cases: Case[] = [
  { name: "Sum", vector: false, build: (F, axis, backend) => F.sum({ axis, call: false, backend: backend as never }) },
  { name: "Sum (vector)", vector: true, build: (F, axis, backend) => F.sum({ axis, call: false, backend: backend as never }) },
  { name: "LogSumExp", vector: false, build: (F, axis, backend) => F.logsumexp({ axis, backend: backend as never }) },
  { name: "LogSumExp (vector)", vector: true, build: (F, axis, backend) => F.logsumexp({ axis, backend: backend as never }) },
  { name: "LogSumExp weighted", vector: false, build: (F, axis, backend) => F.logsumexp({ axis, weight: weight.abs(), backend: backend as never }) },
  { name: "SumSoftMaxWeight", vector: false, build: (F, axis, backend) => F.sumsoftmaxweight(weight, { axis, backend: backend as never }) },
  { name: "Min", vector: false, ints: true, build: (F, axis, backend) => F.min({ axis, backend: backend as never }) },
  { name: "Max (vector)", vector: true, ints: true, build: (F, axis, backend) => F.max({ axis, backend: backend as never }) },
  { name: "ArgMin (vector)", vector: true, ints: true, build: (F, axis, backend) => F.argmin({ axis, backend: backend as never }) },
  { name: "ArgMax", vector: false, ints: true, build: (F, axis, backend) => F.argmax({ axis, backend: backend as never }) },
  { name: "MinArgMin", vector: false, ints: true, build: (F, axis, backend) => F.minArgmin({ axis, backend: backend as never }) },
  { name: "MaxArgMax (vector)", vector: true, ints: true, build: (F, axis, backend) => F.maxArgmax({ axis, backend: backend as never }) },
  { name: "KMin", vector: false, ints: true, build: (F, axis, backend) => F.Kmin({ K: 3, axis, backend: backend as never }) },
  { name: "ArgKMin (vector)", vector: true, ints: true, build: (F, axis, backend) => F.argKmin({ K: 4, axis, backend: backend as never }) },
  { name: "KMinArgKMin", vector: false, ints: true, build: (F, axis, backend) => F.KminArgKmin({ K: 2, axis, backend: backend as never }) },
];

function data(d: Data, M: number, N: number, dtype: FloatDType, ints: boolean): [Tensor, Tensor] {
  return ints
    ? [d.randint([M, 3], -3, 3, dtype), d.randint([N, 3], -3, 3, dtype)]
    : [d.randn([M, 3], dtype), d.randn([N, 3], dtype)];
}

async function check(t: Target, fn: (...a: Tensor[]) => unknown, X: Tensor, Y: Tensor, dtype: FloatDType, what: string): Promise<void> {
  const ref = reference(fn as never, X, Y);
  const out = await callOn<Tensor | [Tensor, Tensor]>(t, fn, X, Y);
  const [vals, inds] = Array.isArray(out) ? out : ref.values ? [out, undefined] : [undefined, out];
  if (ref.values) {
    assert.ok(vals, `${what}: missing values`);
    assert.deepEqual([...vals.shape], ref.shape, `${what}: shape`);
    assert.equal(vals.dtype, dtype);
    assertClose(vals.data, ref.values, { rtol: rtolFor(dtype) * 4, what });
  }
  if (ref.indices) {
    assert.ok(inds, `${what}: missing indices`);
    assert.deepEqual([...inds.shape], ref.shape, `${what}: index shape`);
    assert.equal(inds.dtype, "int32");
    assertExact(inds.data, ref.indices, `${what} indices`);
  }
}

/** Inner sizes crossing the webgpu kernel's tiles (128) and its split of j (several workgroups along y when rows are few). */
const GPU_SIZES = [[130, 129], [2, 700]] as const;

for (const t of await testTargets()) {
  const backend = t.backend;
  for (const c of cases) {
    test(`[${backend}${t.async ? " async" : ""}] ${c.name} on both axes, ${t.dtypes.join("/")}, sizes ${SIZES.join(",")}`, () =>
      withSeed(async (d) => {
        for (const dtype of t.dtypes)
          for (const axis of [0, 1] as const)
            for (const [M, N] of [[0, 5], [5, 0], [1, 1], [7, 64], [257, 7], [64, 257], [1000, 33], [3, 1000], ...(t.async ? GPU_SIZES : [])] as const) {
              const F = c.vector ? vector : scalar;
              const K = c.name.includes("KMin") ? (c.name.startsWith("ArgK") ? 4 : c.name === "KMin" ? 3 : 2) : undefined;
              const reduced = axis === 1 ? N : M;
              if (K !== undefined && K > reduced) continue; // K above the reduced length is an error (tested in errors)
              const [X, Y] = data(d, M, N, dtype, c.ints ?? false);
              const fn = c.build(F, axis, backend) as (...a: Tensor[]) => unknown;
              await check(t, fn, X, Y, dtype, `${c.name} axis=${axis} ${dtype} M=${M} N=${N}`);
            }
      }));
  }
}
