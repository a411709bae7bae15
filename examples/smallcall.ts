/**
 * Small-call overhead, the second tutorial's loop (M = 50, N = 30, D = 3, Dv = 4, 1000 calls):
 * per-call µs of a KeOpsFunction call (`call: false`, reused) and of a call that rebuilds the
 * expression each time, for each available backend, next to the kernel alone (the same job run
 * directly) so that the front end's share is visible. Medians of 7 rounds after a warm-up.
 *
 *     node --import tsx examples/smallcall.ts [rounds]
 */
import { pathToFileURL } from "node:url";
import { LazyTensor, Vi, Vj, backendInfo, rand, tensor, type BackendName, type Tensor } from "../src/index.js";
import { makeJob, prepareCall, runJob, type VarData } from "../src/lazy/execute.js";
import { specOf } from "../src/lazy/keopsfunction.js";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** µs per call of `f` over `n` calls, median of `rounds` rounds. */
function perCall(f: () => unknown, n: number, rounds: number): number {
  for (let k = 0; k < n; k++) f();
  const ts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let k = 0; k < n; k++) f();
    ts.push(((performance.now() - t) * 1000) / n);
  }
  return median(ts);
}

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
    const kernel = perCall(() => ready.kernel.run(ready.job), Niter, rounds);
    console.log(`  ${backend.padEnd(7)} function ${reuse.toFixed(1).padStart(7)}   rebuilt ${rebuild.toFixed(1).padStart(7)}   kernel alone ${kernel.toFixed(1).padStart(7)}`);
  }
  console.log("  (pykeops 2.3 CPU, from the tutorial: function 140 µs, rebuilt 250 µs; targets ≤ 20 and ≤ 100 µs)");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(Number(process.argv[2] ?? 7));
