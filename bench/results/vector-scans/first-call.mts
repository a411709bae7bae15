// One process per figure (bench/results/vector-scans): a D = 1000 per-component reduction of
// |x_i − y_j| (or −(x_i − y_j)² for LogSumExp) on the native backend, float32, with an empty
// kernel cache: the first call (render + g++ + run, M = 5, N = 9), then the median of 3 calls at
// M = N = 2000 with the kernel cached, 1 thread. argv[2]: the reduction; argv[3]: "on" (loops)
// or "off" (KEOPS_TS_LOOP_MIN = 1e9: the guarded, unrolled kernel the previous main compiled);
// argv[4]: D (default 1000). A kernel the native backend declines is reported as such.
// Prints one JSON line (wall times); run.sh wraps each process in /usr/bin/time for the CPU time
// of the process and its children (g++ included).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
const [red = "Min", mode = "on", dim = "1000"] = process.argv.slice(2);
if (mode === "off") process.env.KEOPS_TS_LOOP_MIN = "1000000000";
process.env.KEOPS_TS_THREADS = "1";
process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "kc-vscans-"));
const { Vi, Vj, tensor } = await import("../../../src/index.js");
const { Rng } = await import("../../../src/random.js");
const D = Number(dim);
const rng = new Rng(7);
const mk = (n: number): Float32Array => Float32Array.from({ length: n * D }, () => rng.normal());
const f = (x: unknown, y: unknown) =>
  red === "LogSumExp" ? Vi(x as never).sub(Vj(y as never)).square().neg() : Vi(x as never).sub(Vj(y as never)).abs();
const data = (M: number, N: number) => [tensor(mk(M), { shape: [M, D] }), tensor(mk(N), { shape: [N, D] })] as const;
const call = ([x, y]: readonly unknown[]) => {
  const o = { axis: 1 as const, backend: "native" as const };
  const e = f(x, y) as never as Record<string, (o: object) => unknown>;
  return red === "ArgKMin" ? e.argKmin!({ ...o, K: 3 }) : e[{ Min: "min", ArgMin: "argmin", MinArgMin: "minArgmin", Max: "max", LogSumExp: "logsumexp" }[red]!]!(o);
};
const small = data(5, 9), big = data(2000, 2000);
let t = performance.now();
try {
  call(small);
} catch (e) {
  console.log(JSON.stringify({ red, loops: mode, D, declined: (e as Error).message }));
  process.exit(0);
}
const first = performance.now() - t;
const runs: number[] = [];
for (let k = 0; k < 3; k++) {
  t = performance.now();
  call(big);
  runs.push(performance.now() - t);
}
runs.sort((a, b) => a - b);
console.log(JSON.stringify({ red, loops: mode, D, firstCallMs: Math.round(first), runMs2000: Math.round(runs[1]!), runsMs: runs.map(Math.round) }));
fs.rmSync(process.env.KEOPS_TS_CACHE, { recursive: true, force: true });
