// Warm runs of the log-sum-exp family on one backend, against the keops-ts checkout at argv[2]
// (run.sh passes this commit and the one before the one-exp update, alternately). Prints one JSON
// line per workload: the median and min of 7 warm calls (wall ms), after one first call.
// argv[3]: js | wasm | native. Workloads (float32, seeded data):
//   lse:     log Σ_j exp(−|x_i − y_j|²), x, y of dimension 3, M = N (js 4000, wasm 8000);
//   ssmw:    the softmax-weighted sum of 4-dimensional weights, same sizes;
//   lse-vec: log Σ_j exp(−|x_i − y_j|) per component, dimension 128 (a looped vector state),
//            M = N = 1000 (native only: js/wasm render it too, the native figure is the one the
//            loop threshold changed).
import { execSync } from "node:child_process";
const [root = ".", backend = "js"] = process.argv.slice(2);
const { Vi, Vj, Tensor } = await import(`${root}/src/index.js`);
const { Rng } = await import(`${root}/src/random.js`);
const rng = new Rng(5);
const mk = (n: number, d: number) => new Tensor(Float32Array.from({ length: n * d }, () => rng.normal()), [n, d]);
const commit = execSync("git rev-parse --short HEAD", { cwd: root }).toString().trim();
const time = (f: () => unknown): { median: number; min: number } => {
  f();
  const t: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: +t[3]!.toFixed(1), min: +t[0]!.toFixed(1) };
};
const be = { backend: backend as never };
const work: [string, number, () => unknown][] = [];
if (backend !== "native") {
  const n = backend === "js" ? 4000 : 8000;
  const x = mk(n, 3), y = mk(n, 3), b = mk(n, 4);
  const K = Vi(x).sub(Vj(y)).sqnorm2().neg();
  work.push(["lse", n, () => K.logsumexp({ axis: 1, ...be })]);
  work.push(["ssmw", n, () => K.sumsoftmaxweight(Vj(b), { axis: 1, ...be })]);
} else {
  const x = mk(1000, 128), y = mk(1000, 128);
  const F = Vi(x).sub(Vj(y)).abs().neg();
  work.push(["lse-vec", 1000, () => F.logsumexp({ axis: 1, ...be })]);
}
for (const [name, n, f] of work) console.log(JSON.stringify({ commit, backend, workload: name, M: n, N: n, ...time(f) }));
