/** Edge sizes on every backend: D = 1 and D = 200, K = N, single rows and columns. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, type Tensor } from "../src/index.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, testBackends, withSeed } from "./util.js";

for (const backend of testBackends()) {
  const opt = { backend: backend as never };

  test(`[${backend}] D = 200: Gaussian kernel with a 200-dim signal, on both axes`, () =>
    withSeed((d) => {
      for (const dtype of ["float32", "float64"] as const)
        for (const axis of [0, 1] as const) {
          const [M, N] = axis === 1 ? [37, 300] : [300, 37];
          const x = d.randn([M, 200], dtype, 0.1), y = d.randn([N, 200], dtype, 0.1), b = d.randn([axis === 1 ? N : M, 200], dtype);
          const bv = axis === 1 ? Vj(2, 200) : Vi(2, 200);
          const fn = Vi(0, 200).sub(Vj(1, 200)).sqnorm2().neg().exp().mul(bv).sum({ axis, ...opt }) as unknown as (...a: Tensor[]) => Tensor;
          const ref = reference(fn as never, x, y, b);
          const out = fn(x, y, b);
          assert.deepEqual([...out.shape], ref.shape);
          assertClose(out.data, ref.values!, { rtol: dtype === "float32" ? 2e-5 : 1e-12, what: `D=200 ${dtype} axis=${axis}` });
        }
    }));

  test(`[${backend}] D = 1, K = N (full sort), M or N = 1`, () =>
    withSeed((d) => {
      for (const [M, N] of [[1, 9], [9, 1], [5, 17], [1, 1]] as const) {
        const x = d.randint([M, 1], -4, 4, "float32"), y = d.randint([N, 1], -4, 4, "float32");
        const fn = Vi(0, 1).sub(Vj(1, 1)).abs().KminArgKmin({ K: N, axis: 1, ...opt }) as unknown as (...a: Tensor[]) => [Tensor, Tensor];
        const [v, i] = fn(x, y);
        const ref = reference(fn as never, x, y);
        assert.deepEqual([...v.shape], [M, N]);
        assertClose(v.data, ref.values!, { rtol: 0, atol: 0 });
        assertExact(i.data, ref.indices!);
        const g = Vi(0, 1).sub(Vj(1, 1)).argKmin({ K: M, axis: 0, ...opt }) as unknown as (...a: Tensor[]) => Tensor;
        assertExact(g(x, y).data, reference(g as never, x, y).indices!);
      }
    }));
}
