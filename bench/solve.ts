/**
 * W6, standalone: `K.solve(b, { alpha: 0.1, eps: 1e-6 })` with the Gaussian kernel
 * K_ij = exp(−‖x_i − x_j‖²) on the W6 data (x ~ N(0, 1) in 3-D, b of dim 1), M = 1e4 by default.
 * Reports iterations, time and the relative residual ‖(αI + K)a − b‖ / ‖b‖ on 200 rows recomputed
 * in float64. pykeops 2.3 on this machine: 377 iterations, 117 s.
 *
 * usage: node --import tsx bench/solve.ts [--M 10000] [--backends native,js] [--precond none,nystrom] [--rank 200] [--seed 0]
 * Prints one line per run and, last, `RESULTS {json}`.
 */
import { pathToFileURL } from "node:url";
import { LazyTensor, Tensor, Vi, Vj, backendInfo, type BackendName } from "../src/index.js";
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
  relResidual: number;
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
  let iterations = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const a = kernel(x).solve(b, { ...opts, onIteration: (k) => (iterations = k) });
  const c1 = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (c1.user + c1.system) / 1e6;
  return { backend, precond, M, iterations, seconds, cpuSeconds, relResidual: residual(d.x, d.b, a.data, checkRows(M, 200, seed), M) };
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
      console.log(`W6 M=${M} ${backend.padEnd(6)} precond=${precond.padEnd(7)} ${String(f.iterations).padStart(4)} iterations  ${f.seconds.toFixed(2).padStart(7)} s (CPU ${f.cpuSeconds.toFixed(1)} s)  relative residual ${f.relResidual.toExponential(2)}`);
    }
  console.log(`RESULTS ${JSON.stringify(out)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
