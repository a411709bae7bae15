/**
 * Small-call overhead, the second tutorial's loop (M = 50, N = 30, D = 3, Dv = 4, 1000 calls):
 * per-call µs of a KeOpsFunction call (`call: false`, reused) and of a call that rebuilds the
 * expression each time, for each available backend, next to the kernel alone (the same job run
 * directly) so that the front end's share is visible. Medians of 7 rounds after a warm-up.
 *
 *     node --import tsx bench/smallcall.ts [rounds]
 */
import { pathToFileURL } from "node:url";
import { LazyTensor, Vi, Vj, backendInfo, rand, tensor, type BackendName, type Tensor } from "../src/index.js";
import { makeJob, prepareCall, runJob, type VarData } from "../src/lazy/execute.js";
import { specOf } from "../src/lazy/keopsfunction.js";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Wall-clock and CPU (user + system of this process) µs per call of `f`, medians of `rounds` rounds of `n` calls. */
function perCall(f: () => unknown, n: number, rounds: number): { wall: number; cpu: number } {
  for (let k = 0; k < n; k++) f();
  const walls: number[] = [], cpus: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    for (let k = 0; k < n; k++) f();
    walls.push(((performance.now() - t) * 1000) / n);
    const u = process.cpuUsage(c);
    cpus.push((u.user + u.system) / n);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

/** `12.3 (cpu 10.1)`: on a busy machine the CPU time is the steadier figure. */
const show = (t: { wall: number; cpu: number }): string => `${t.wall.toFixed(1).padStart(6)} (cpu ${t.cpu.toFixed(1).padStart(5)})`;

export function main(rounds = 7): void {
  const [M, N, D, Dv, Niter] = [50, 30, 3, 4, 1000];
  const x = rand([M, D], { seed: 1 }), y = rand([N, D], { seed: 2 }), beta = rand([N, Dv], { seed: 3 });
  const sigmas = tensor([0.5, 1.0, 2.0, 4.0]);
  const squared = (t: Tensor): Tensor => tensor(t.data.map((s) => s * s));
  const [xi, yj, bj] = [Vi(x), Vj(y), Vj(beta)];
  const dxy2 = LazyTensor.sum(xi.sub(yj).pow(2));
  const names = ["auto", ...backendInfo().backends.filter((b) => b.unavailable === null).map((b) => b.name)] as BackendName[];
  console.log(`small calls, M=${M} N=${N}, ${Niter} calls, median of ${rounds} rounds (µs per call; auto = ${backendInfo().auto})`);
  for (const backend of names) {
    const rebuild = perCall(() => LazyTensor.exp(dxy2.neg().div(squared(sigmas))).sum().mul(bj).sumReduction({ axis: 1, backend }), Niter, rounds);
    const fn = LazyTensor.exp(dxy2.neg().div(squared(sigmas))).sum().mul(bj).sumReduction({ axis: 1, call: false, backend });
    const reuse = perCall(() => fn(), Niter, rounds);
    // the kernel alone: one prepared job, run again and again
    const spec = specOf(fn);
    const p = prepareCall(spec.call, "float32");
    const vars = new Map<number, VarData>(
      [...spec.fixed].map(([ind, b]) => [ind, { data: Array.isArray(b.source) ? Float32Array.from(b.source) : (b.source as Tensor).data, cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: "" }]),
    );
    const ready = makeJob(p, p.slotInds.map((i) => vars.get(i)!), { batch: [], nOuter: M, nInner: N }, backend);
    runJob(ready);
    const k = ready.kernel();
    const kernel = perCall(() => k.run(ready.job), Niter, rounds);
    console.log(`  ${backend.padEnd(7)} function ${show(reuse)}   rebuilt ${show(rebuild)}   kernel alone ${show(kernel)}`);
  }
  console.log("  (pykeops 2.3 CPU, from the tutorial: function 140 µs, rebuilt 250 µs; targets ≤ 20 and ≤ 100 µs)");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(Number(process.argv[2] ?? 7));
