// Times one workload with keops-ts/browser in the page (plain JS: the browser loads it as it is).
import * as keops from "../../dist/browser.js";

/**
 * W1 (Gaussian convolution) or W3 (argKmin, K = 10) on the given float32 data: one warm-up call,
 * then `runs` timed calls. Returns the seconds of each run, the output of the last one (for the
 * accuracy check in Node) and the thread decisions of this page.
 */
export async function run({ workload, M, N, D, Dv, x, y, b, runs, threads, async }) {
  keops.setThreads(threads);
  const X = new keops.Tensor(Float32Array.from(x), [M, D]), Y = new keops.Tensor(Float32Array.from(y), [N, D]);
  const B = new keops.Tensor(Float32Array.from(b), [N, Dv]);
  const d2 = () => keops.Vi(X).sub(keops.Vj(Y)).sqnorm2();
  const opts = { axis: 1, backend: "wasm", async };
  const call = workload === "W1" ? () => d2().neg().exp().mul(keops.Vj(B)).sum(opts) : () => d2().argKmin({ K: 10, ...opts });
  await call();
  const seconds = [];
  let out;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    out = await call();
    seconds.push((performance.now() - t0) / 1000);
  }
  return { seconds, data: Array.from(out.data), threads: keops.backendInfo().threads };
}
