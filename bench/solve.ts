/**
 * W6, standalone: `K.solve(b, { alpha: 0.1, eps: 1e-6 })` with the Gaussian kernel
 * K_ij = exp(−‖x_i − x_j‖²) on the W6 data (x ~ N(0, 1) in 3-D, b of dim 1), M = 1e4 by default.
 * Reports iterations, time and the relative residual ‖(αI + K)a − b‖ / ‖b‖ on 200 rows recomputed
 * in float64. pykeops 2.3 on this machine: 377 iterations, 117 s.
 *
 * usage: node --import tsx bench/solve.ts [--M 10000] [--backends native,js] [--precond none,nystrom] [--rank 200] [--seed 0] [--out file.json]
 * Prints one line per run and, last, `RESULTS {json}` (also written to `--out`). Issue 21's figure
 * (M = 1e5 with the Nyström preconditioner of automatic rank) in one command:
 *   node --import tsx bench/solve.ts --M 100000 --backends native --precond nystrom
 */
import { pathToFileURL } from "node:url";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { LazyTensor, Tensor, Vi, Vj, backendInfo, type BackendName } from "../src/index.js";
import { nystromStats } from "../src/solve/nystrom.js";
import { checkRows, makeData } from "./data.js";
import { SOLVE_ALPHA, SOLVE_EPS, workload } from "./workloads.js";

function arg(name: string, dflt: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 && process.argv[k + 1] !== undefined ? process.argv[k + 1]! : dflt;
}

/** One W6 run's figures. */
export interface SolveFigure {
  backend: string;
  precond: string;
  M: number;
  iterations: number;
  seconds: number;
  /** CPU seconds of the process (all threads): on a loaded machine, CPU / threads estimates the unloaded time. */
  cpuSeconds: number;
  /** cpuSeconds / threads: the wall time on an idle machine if every part kept all threads busy (a lower bound). */
  idleEstimateSeconds: number;
  /** Relative residual ‖(αI + K)a − b‖ / ‖b‖ on 200 rows, recomputed in float64. */
  relResidual: number;
  /** The solver's own last residual (root mean square of b − (αI + K)a, the quantity compared with eps). */
  cgResidual: number;
  /** Wall and CPU seconds from the call to the end of the first iteration (the preconditioner's setup + one iteration). */
  firstIteration: { seconds: number; cpuSeconds: number };
  /** Wall and CPU seconds per iteration after the first (mean). */
  perIteration: { seconds: number; cpuSeconds: number };
  /** The Nyström preconditioner: rank, pilot rows, compiled products, wall seconds of its parts. */
  nystrom?: { rank: number; pilot: number; compiled: boolean; seconds: { landmarks: number; columns: number; factor: number } };
  threads: number;
  /** 1-minute load average before and after the run (2 cores: above 2 means shared). */
  load: [number, number];
}

/** Relative residual on `rows`, in float64 from the float32 inputs. */
function residual(x: Float32Array, b: Float32Array, a: ArrayLike<number>, rows: number[], M: number): number {
  let num = 0, den = 0;
  for (const i of rows) {
    let Ka = 0;
    for (let j = 0; j < M; j++) {
      const d0 = x[3 * i]! - x[3 * j]!, d1 = x[3 * i + 1]! - x[3 * j + 1]!, d2 = x[3 * i + 2]! - x[3 * j + 2]!;
      Ka += Math.exp(-(d0 * d0 + d1 * d1 + d2 * d2)) * Number(a[j]);
    }
    const r = SOLVE_ALPHA * Number(a[i]) + Ka - b[i]!;
    num += r * r;
    den += b[i]! * b[i]!;
  }
  return Math.sqrt(num / den);
}

/** Runs W6 once on `backend` with `precond` (a warm-up at M = 300 compiles the kernels first). */
export function runW6(M: number, backend: string, precond: "none" | "nystrom", rank: number | undefined, seed: number): SolveFigure {
  const d = makeData(workload("W6"), M, seed);
  const x = new Tensor(d.x, [M, 3]);
  const b = new Tensor(d.b, [M, 1]);
  const opts = { alpha: SOLVE_ALPHA, eps: SOLVE_EPS, backend: backend as BackendName, precond, rank };
  const kernel = (t: Tensor): LazyTensor => Vi(t).sub(Vj(t)).sqnorm2().neg().exp();
  const w = makeData(workload("W6"), 300, seed + 1);
  kernel(new Tensor(w.x, [300, 3])).solve(new Tensor(w.b, [300, 1]), opts);
  let iterations = 0, cgResidual = NaN;
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const cpu = (): number => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  let first = { seconds: NaN, cpuSeconds: NaN };
  const a = kernel(x).solve(b, {
    ...opts,
    onIteration: (k, r) => {
      iterations = k;
      cgResidual = r;
      if (k === 1) first = { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpu() };
    },
  });
  const cpuSeconds = cpu();
  const seconds = (performance.now() - t0) / 1000;
  const threads = backendInfo().threads.count;
  const rest = Math.max(1, iterations - 1);
  return {
    backend, precond, M, iterations, seconds, cpuSeconds, idleEstimateSeconds: cpuSeconds / threads,
    relResidual: residual(d.x, d.b, a.data, checkRows(M, 200, seed), M), cgResidual,
    firstIteration: first,
    perIteration: { seconds: (seconds - first.seconds) / rest, cpuSeconds: (cpuSeconds - first.cpuSeconds) / rest },
    nystrom: precond === "nystrom" ? structuredClone(nystromStats) : undefined,
    threads, load: [load0, loadavg()[0]!],
  };
}

async function main(): Promise<void> {
  const M = Number(arg("M", "10000"));
  const avail = backendInfo().backends.filter((x) => x.unavailable === null).map((x) => x.name);
  const backends = arg("backends", avail.join(",")).split(",").filter((x) => avail.includes(x));
  const preconds = arg("precond", "none,nystrom").split(",") as ("none" | "nystrom")[];
  const rank = process.argv.includes("--rank") ? Number(arg("rank", "200")) : undefined;
  const seed = Number(arg("seed", "0"));
  const out: SolveFigure[] = [];
  for (const backend of backends)
    for (const precond of preconds) {
      const f = runW6(M, backend, precond, rank, seed);
      out.push(f);
      const n = f.nystrom;
      console.log(
        `W6 M=${M} ${backend.padEnd(6)} precond=${precond.padEnd(7)} ${String(f.iterations).padStart(4)} iterations  ${f.seconds.toFixed(2).padStart(7)} s ` +
          `(CPU ${f.cpuSeconds.toFixed(1)} s on ${f.threads} threads: ≥ ${f.idleEstimateSeconds.toFixed(1)} s idle)  residual ${f.cgResidual.toExponential(2)} (eps ${SOLVE_EPS}), ` +
          `relative ${f.relResidual.toExponential(2)}  load ${f.load.map((l) => l.toFixed(1)).join(" → ")}` +
          (n ? `\n    Nyström rank ${n.rank} (pilot ${n.pilot || "none"}, ${n.compiled ? "compiled" : "JavaScript"} products): landmarks ${n.seconds.landmarks.toFixed(2)} s, K_nm ${n.seconds.columns.toFixed(2)} s, B + Cholesky ${n.seconds.factor.toFixed(2)} s` : "") +
          `\n    first iteration done at ${f.firstIteration.seconds.toFixed(2)} s (CPU ${f.firstIteration.cpuSeconds.toFixed(1)} s), then ${f.perIteration.seconds.toFixed(2)} s per iteration (CPU ${f.perIteration.cpuSeconds.toFixed(2)} s)`,
      );
    }
  const json = JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, runs: out });
  const file = arg("out", "");
  if (file) writeFileSync(file, json + "\n");
  console.log(`RESULTS ${json}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
