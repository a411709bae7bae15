// bench/results/webgpu-fast-paths: CPU time of webgpu (lavapipe) reductions, fast path vs generic (NOFAST=1 patch), alternated by the caller
import { Vi, Vj, randn } from "../../../src/index.js";
const N = Number(process.env.N ?? 3000), D = 3;
const x = randn([N, D], { seed: 1 }), y = randn([N, D], { seed: 2 }), b = randn([N, 1], { seed: 3 });
const F = Vi(x).sub(Vj(y)).sqnorm2().neg();
const cases: [string, () => Promise<unknown>][] = [
  ["logsumexp", () => F.logsumexp({ axis: 1, backend: "webgpu", async: true }) as Promise<unknown>],
  ["softmax", () => F.sumsoftmaxweight(Vj(b), { axis: 1, backend: "webgpu", async: true } as never) as Promise<unknown>],
  ["argKmin10", () => F.neg().argKmin({ K: 10, axis: 1, backend: "webgpu", async: true } as never) as Promise<unknown>],
];
const out: Record<string, number> = {};
for (const [name, run] of cases) {
  await run();
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const reps = 3;
  for (let r = 0; r < reps; r++) await run();
  const c = process.cpuUsage(c0);
  out[name] = (c.user + c.system) / 1e3 / reps;
  out[name + "_wall"] = (performance.now() - t0) / reps;
}
console.log(JSON.stringify({ fast: !process.env.NOFAST, N, ...out }));
