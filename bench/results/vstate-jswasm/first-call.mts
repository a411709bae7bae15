// First call (render + compile + run) of an attention on js or wasm, in this process's CPU time
// (process.cpuUsage): q, k of dimension 8, v of dimension 1000, M = N = 200, float32.
// argv[2]: js | wasm; argv[3]: "on" (loops) or "off" (KEOPS_TS_LOOP_MIN = 1e9: the unrolled
// kernel). Prints one JSON line (bench/results/vstate-jswasm/results.jsonl, via run.sh).
const [backend = "js", mode = "on"] = process.argv.slice(2);
if (mode === "off") process.env.KEOPS_TS_LOOP_MIN = "1000000000";
const { Vi, Vj, Tensor } = await import("../../../src/index.js");
const { Rng } = await import("../../../src/random.js");
const rng = new Rng(3);
const mk = (n: number, d: number) => new Tensor(Float32Array.from({ length: n * d }, () => rng.normal()), [n, d]);
const q = mk(200, 8), k = mk(200, 8), v = mk(200, 1000);
const c0 = process.cpuUsage();
let line: Record<string, unknown>;
try {
  Vi(q).dot(Vj(k)).sumsoftmaxweight(Vj(v), { axis: 1, backend: backend as never });
  const c = process.cpuUsage(c0);
  line = { backend, loops: mode, firstCallCpuS: +((c.user + c.system) / 1e6).toFixed(2) };
} catch (e) {
  line = { backend, loops: mode, error: (e as Error).message };
}
console.log(JSON.stringify(line));
