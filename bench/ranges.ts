/**
 * W9: block-sparse reduction (pykeops's `ranges`) of a local Gaussian kernel, against the dense
 * reduction of the same kernel.
 *
 *   node --import tsx bench/ranges.ts [--sizes 1e5,1e6] [--backends native,wasm,js] [--out bench/results/ranges.md]
 *
 * x = y = N points uniform in the unit cube, b_j standard normal, σ = 0.01;
 * a_i = Σ_j exp(−‖x_i − y_j‖² / 2σ²) b_j. The points are binned in cubic cells of side 0.05
 * (`gridCluster`), sorted (`sortClusters`), and the pairs of cells whose centroids are closer than
 * 4σ + the cell diagonal are kept (`fromMatrix`). Reported: the clustering time, the time of the
 * block-sparse reduction (median of 3 warm runs, first call apart), the kept fraction of the N²
 * pairs, and the dense reduction's time — measured at the sizes where it takes under a minute,
 * extrapolated (N² scaling from the largest measured size) above, and said so. Error: relative L1
 * error of the block-sparse result against the dense one (where measured) or against a float64
 * recomputation of 200 random rows.
 */
import { writeFileSync } from "node:fs";
import { loadavg, cpus, totalmem } from "node:os";
import {
  Tensor, Vi, Vj, backendInfo, clusterRangesCentroids, fromMatrix, gridCluster, sortClusters, type Ranges,
} from "../src/index.js";

function arg(name: string, dflt: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 ? process.argv[k + 1]! : dflt;
}
const sizes = arg("sizes", "1e5,1e6").split(",").map(Number);
const avail = backendInfo().backends.filter((b) => b.unavailable === null).map((b) => b.name);
const backends = arg("backends", avail.join(",")).split(",").filter((b) => avail.includes(b));
const out = arg("out", "bench/results/ranges.md");
const SIGMA = 0.01, CELL = 0.05;

function uniforms(seed: number, n: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[k] = s / 4294967296;
  }
  return a;
}
function normals(seed: number, n: number): Float32Array {
  const u = uniforms(seed, 2 * n);
  return Float32Array.from({ length: n }, (_, k) => Math.sqrt(-2 * Math.log(1 - u[2 * k]!)) * Math.cos(2 * Math.PI * u[2 * k + 1]!));
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
const fmt = (s: number): string => (s < 1e-3 ? `${(s * 1e6).toFixed(0)} µs` : s < 1 ? `${(s * 1e3).toFixed(1)} ms` : `${s.toFixed(2)} s`);

interface Problem { x: Tensor; b: Tensor; ranges: Ranges; kept: number; clusterTime: number; cells: number }

function problem(N: number): Problem {
  const x0 = new Tensor(uniforms(1 + N, 3 * N), [N, 3]);
  const b0 = new Tensor(normals(2 + N, N), [N, 1]);
  const [r, clusterTime] = time(() => {
    const lab = gridCluster(x0, CELL);
    const [[x, b], sorted] = sortClusters([x0, b0], lab);
    const [rng, cen] = clusterRangesCentroids(x!, sorted);
    const C = cen.shape[0]!, c = cen.data;
    const cut = (4 * SIGMA + CELL * Math.sqrt(3)) ** 2;
    const keep = new Int32Array(C * C);
    for (let p = 0; p < C; p++)
      for (let q = 0; q < C; q++) {
        const dx = c[3 * p]! - c[3 * q]!, dy = c[3 * p + 1]! - c[3 * q + 1]!, dz = c[3 * p + 2]! - c[3 * q + 2]!;
        keep[p * C + q] = dx * dx + dy * dy + dz * dz < cut ? 1 : 0;
      }
    const ranges = fromMatrix(rng, rng, new Tensor(keep, [C, C]));
    let kept = 0;
    for (let p = 0; p < C; p++)
      for (let q = 0; q < C; q++)
        if (keep[p * C + q]) kept += (rng.data[2 * p + 1]! - rng.data[2 * p]!) * (rng.data[2 * q + 1]! - rng.data[2 * q]!);
    return { x: x!, b: b!, ranges, kept, cells: C };
  });
  return { ...r, clusterTime };
}

function reduce(p: Problem, backend: string, ranges: Ranges | undefined): Tensor {
  const xi = Vi(p.x).div(SIGMA), yj = Vj(p.x).div(SIGMA);
  return xi.sub(yj).sqnorm2().div(-2).exp().mul(Vj(p.b)).sum({ axis: 1, backend: backend as never, ranges }) as Tensor;
}

function measure(f: () => Tensor, runs: number): { first: number; med: number; min: number; max: number; result: Tensor } {
  const [result, first] = time(f);
  const ts: number[] = [];
  for (let k = 0; k < runs; k++) ts.push(time(f)[1]);
  return { first, med: median(ts), min: Math.min(...ts), max: Math.max(...ts), result };
}

function l1(a: ArrayLike<number>, ref: ArrayLike<number>, rows?: readonly number[]): number {
  let e = 0, t = 0;
  for (const i of rows ?? Array.from({ length: ref.length }, (_, k) => k)) (e += Math.abs(a[i]! - ref[i]!), t += Math.abs(ref[i]!));
  return e / t;
}

/** Float64 dense value of a_i for a few rows. */
function exactRows(p: Problem, rows: readonly number[]): Float64Array {
  const x = p.x.data, b = p.b.data, N = p.b.shape[0]!;
  const outArr = new Float64Array(N);
  for (const i of rows) {
    let s = 0;
    for (let j = 0; j < N; j++) {
      const dx = (x[3 * i]! - x[3 * j]!) / SIGMA, dy = (x[3 * i + 1]! - x[3 * j + 1]!) / SIGMA, dz = (x[3 * i + 2]! - x[3 * j + 2]!) / SIGMA;
      s += Math.exp(-(dx * dx + dy * dy + dz * dz) / 2) * b[j]!;
    }
    outArr[i] = s;
  }
  return outArr;
}

const lines: string[] = [];
const log = (s: string): void => {
  console.log(s);
  lines.push(s);
};
const load0 = loadavg()[0]!;
log(`# W9: block-sparse local Gaussian kernel (\`ranges\`)`);
log("");
log(`\`node --import tsx bench/ranges.ts --sizes ${sizes.join(",")} --backends ${backends.join(",")}\` on ${new Date().toISOString()}.`);
log(`Machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; shared with other jobs: load average (1 min) ${load0.toFixed(2)} at the start.`);
log("");
log(`x = y = N points uniform in [0, 1)³ (float32), σ = ${SIGMA}, a_i = Σ_j exp(−‖x_i − y_j‖²/2σ²) b_j; cells of side ${CELL}, pairs of cells kept when their centroids are closer than 4σ + the cell diagonal. Times: median of 3 warm runs (min – max), first call apart.`);
log("");
log("| N | backend | clustering | kept pairs | block-sparse | dense | dense ÷ block-sparse | rel. L1 error |");
log("|---|---|---|---|---|---|---|---|");
let denseRef: { N: number; backend: string; med: number }[] = [];
for (const N of sizes) {
  const p = problem(N);
  const rows = Array.from({ length: 200 }, (_, k) => Math.floor((k * N) / 200));
  const exact = exactRows(p, rows);
  for (const backend of backends) {
    if (backend !== "native" && N > 5e4) continue; // the slower backends at the smallest size only
    const s = measure(() => reduce(p, backend, p.ranges), 3);
    const pairs = N * N;
    let dense: string, ratio: string, err: string;
    if (pairs <= 1.5e10) {
      const d = measure(() => reduce(p, backend, undefined), 2);
      denseRef.push({ N, backend, med: d.med });
      dense = `${fmt(d.med)} (${fmt(d.min)} – ${fmt(d.max)}), measured`;
      ratio = `${(d.med / s.med).toFixed(1)}×`;
      err = `${(100 * l1(s.result.data, d.result.data)).toFixed(4)} % vs dense`;
    } else {
      const ref = denseRef.filter((r) => r.backend === backend).sort((a, b) => b.N - a.N)[0];
      const est = ref ? ref.med * (N / ref.N) ** 2 : NaN;
      dense = ref ? `≈ ${fmt(est)}, extrapolated (N² from N = ${ref.N.toExponential(0)})` : "not measured";
      ratio = ref ? `≈ ${(est / s.med).toFixed(0)}×` : "–";
      err = `${(100 * l1(s.result.data, exact, rows)).toFixed(4)} % vs float64, 200 rows`;
    }
    log(`| ${N.toExponential(0)} | ${backend} | ${fmt(p.clusterTime)} (${p.cells} cells) | ${(p.kept / (N * N) * 100).toFixed(3)} % (${p.kept.toExponential(2)}) | ${fmt(s.med)} (${fmt(s.min)} – ${fmt(s.max)}); first ${fmt(s.first)} | ${dense} | ${ratio} | ${err} |`);
  }
}
log("");
log(`Load average (1 min) at the end: ${loadavg()[0]!.toFixed(2)}.`);
writeFileSync(out, lines.join("\n") + "\n");
