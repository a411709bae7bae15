/**
 * Not a test: wasm blocked distances (issue 21) before / after, in alternating fresh processes.
 *
 *   node --import tsx bench/wasm-blocked.ts [--reps 2] [--out bench/results/wasm-blocked/run.json] [--only W3-D64,…]
 *
 * Each figure runs in its own child (`--one W D n`): W3 = argKmin (K = 10), W1 = Gaussian sum
 * exp(−‖x − y‖²/D)·b, b of dim 1, M = N = n, float32, backend "wasm" (2 threads unless
 * KEOPS_TS_THREADS says), `KEOPS_TS_BLOCKED=0` (before) or on (after), with and without
 * `--experimental-wasm-relaxed-simd` (Node 20: relaxed SIMD's FMA only with the flag). A child
 * times the first call (render + compile + the call), then warm calls for ≥ `minMs`, and reports
 * wall and CPU time per call (process.cpuUsage: every thread) and the compile time of the kernel
 * alone (wasmBackend.compile). The K-NN results of 50 rows are checked against a float64 ranking.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadavg } from "node:os";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const k = args.indexOf(name);
  return k >= 0 ? args[k + 1]! : dflt;
};

interface Figure {
  workload: string;
  D: number;
  n: number;
  blocked: boolean;
  relaxed: boolean;
  firstCallMs: number;
  compileMs: number;
  wallS: number;
  cpuS: number;
  calls: number;
  pairsPerS: number;
  pairsPerCpuS: number;
  knnMismatches?: number;
  load: number;
}

async function one(W: string, D: number, n: number): Promise<void> {
  const { Vi, Vj, Tensor } = await import("../src/index.js");
  const { wasmBackend } = await import("../src/backends/wasm/index.js");
  const { wasmFma } = await import("../src/backends/wasm/asm.js");
  const { blockedEnabled } = await import("../src/compile/blocked.js");
  const { Rng } = await import("../src/random.js");
  const rng = new Rng(7);
  const rand = (k: number): Float32Array => Float32Array.from({ length: k }, () => rng.normal());
  const x = new Tensor(rand(n * D), [n, D]), y = new Tensor(rand(n * D), [n, D]), b = new Tensor(rand(n), [n, 1]);
  let compileMs = 0;
  const inner = wasmBackend.compile.bind(wasmBackend);
  wasmBackend.compile = (p) => {
    const t = performance.now();
    const k = inner(p);
    compileMs += performance.now() - t;
    return k;
  };
  const d2 = Vi(x).sub(Vj(y)).sqnorm2();
  const call = (): unknown => (W === "W3" ? d2.argKmin({ K: 10, axis: 1, backend: "wasm" }) : d2.mul(-1 / D).exp().mul(Vj(b)).sum({ axis: 1, backend: "wasm" }));
  const t0 = performance.now();
  const first = call() as InstanceType<typeof Tensor>;
  const firstCallMs = performance.now() - t0;
  const minMs = Number(process.env.MIN_MS ?? 3000);
  let calls = 0;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let w = w0;
  do {
    call();
    calls++;
    w = performance.now();
  } while (w - w0 < minMs || calls < 2);
  const c = process.cpuUsage(c0);
  const wallS = (w - w0) / 1000 / calls, cpuS = (c.user + c.system) / 1e6 / calls;
  let knnMismatches: number | undefined;
  if (W === "W3") {
    knnMismatches = 0;
    const xd = x.data as Float32Array, yd = y.data as Float32Array, idx = first.data as Int32Array;
    for (let i = 0; i < Math.min(n, 50); i++) {
      const dd = Float64Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let k = 0; k < D; k++) s += (xd[i * D + k]! - yd[j * D + k]!) ** 2;
        return s;
      });
      const nx = xd.subarray(i * D, (i + 1) * D).reduce((s, v) => s + v * v, 0);
      const order = Array.from(dd.keys()).sort((p, q) => dd[p]! - dd[q]! || p - q);
      for (let r = 0; r < 10; r++) {
        const got = idx[i * 10 + r]!, want = order[r]!;
        const ny = (j: number): number => yd.subarray(j * D, (j + 1) * D).reduce((s, v) => s + v * v, 0);
        // a tie within float32 rounding of the expansion (as test/blocked.test.ts judges)
        if (got !== want && Math.abs(dd[got]! - dd[want]!) > 2 ** -20 * (nx + Math.max(ny(got), ny(want)))) knnMismatches++;
      }
    }
  }
  const fig: Figure = {
    workload: W === "W3" ? `W3-D${D}` : `W1-D${D}`, D, n, blocked: blockedEnabled(), relaxed: wasmFma(),
    firstCallMs, compileMs, wallS, cpuS, calls, pairsPerS: (n * n) / wallS, pairsPerCpuS: (n * n) / cpuS, knnMismatches, load: loadavg()[0]!,
  };
  console.log(JSON.stringify(fig));
}

function driver(): void {
  const reps = Number(arg("--reps", "2"));
  const out = arg("--out", "bench/results/wasm-blocked/run.json");
  const only = arg("--only", "");
  const cases: [string, number, number][] = [["W3", 64, 1e4], ["W3", 128, 1e4], ["W3", 256, 1e4], ["W1", 64, 1e4], ["W3", 1024, 1e3]];
  const figs: Figure[] = [];
  for (const [W, D, n] of cases) {
    if (only && !only.split(",").includes(`${W}-D${D}`)) continue;
    for (let r = 0; r < reps; r++)
      for (const relaxed of [false, true])
        for (const blocked of [false, true]) {
          const flags = relaxed ? ["--experimental-wasm-relaxed-simd"] : [];
          const env = { ...process.env, KEOPS_TS_BLOCKED: blocked ? "1" : "0", KEOPS_TS_THREADS: process.env.KEOPS_TS_THREADS ?? "2" };
          const res = spawnSync(process.execPath, [...flags, "--import", "tsx", "bench/wasm-blocked.ts", "--one", W, String(D), String(n)], { env, encoding: "utf8" });
          const line = res.stdout.trim().split("\n").pop() ?? "";
          if (res.status !== 0 || !line.startsWith("{")) {
            console.error(`${W} D=${D} n=${n} blocked=${blocked} relaxed=${relaxed}: failed\n${res.stderr}`);
            continue;
          }
          const f = JSON.parse(line) as Figure;
          figs.push(f);
          console.log(`${f.workload} n=${n} ${blocked ? "blocked" : "unblocked"} ${f.relaxed ? "relaxed" : "plain"}: ${f.pairsPerCpuS.toExponential(2)} pairs/CPU-s, ${f.pairsPerS.toExponential(2)} pairs/s wall, first call ${f.firstCallMs.toFixed(0)} ms (compile ${f.compileMs.toFixed(1)} ms), load ${f.load.toFixed(1)}${f.knnMismatches !== undefined ? `, K-NN mismatches ${f.knnMismatches}` : ""}`);
        }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, figures: figs }, null, 1) + "\n");
}

if (args[0] === "--one") await one(args[1]!, Number(args[2]), Number(args[3]));
else driver();
