/**
 * What keops-ts is for: a kernel sum over a million points, whose dense matrix would not fit in
 * any memory, in a few hundred MB. Gaussian kernel density a_i = Σ_j exp(−‖x_i − x_j‖² / σ²) at
 * every point, with a progress bar (`onProgress`) and Ctrl-C stopping it cleanly (`signal`).
 *
 *     npm run example -- large                 # 1e6 points (minutes: 1e12 kernel values)
 *     npm run example -- large --points 2e5    # smaller
 *     npm run example -- large --seconds 15    # as many points as ~15 s allows (what the demo runs)
 */
import { pathToFileURL } from "node:url";
import { KeOpsError, Vi, Vj, backendInfo, rand, type Progress, type Tensor } from "keops-ts";

/** Options of {@link main}. */
export interface LargeOptions {
  /** Number of points (default 1e6). */
  points?: number;
  /** Instead of `points`: as many points as the measured speed computes in about this many seconds (at least 5e4, at most 1e6). */
  seconds?: number;
  /** Where lines go (default console.log). */
  log?: (line: string) => void;
}

const MiB = 2 ** 20;
const fmtBytes = (b: number): string => (b >= 2 ** 40 ? `${(b / 2 ** 40).toFixed(1)} TiB` : b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / MiB).toFixed(0)} MiB`);
const fmtSeconds = (s: number): string => (!Number.isFinite(s) ? "?" : s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** A progress bar on a terminal (redrawn in place); elsewhere one line per tenth. */
function progressBar(log: (line: string) => void): (p: Progress) => void {
  const tty = process.stderr.isTTY === true;
  let tenth = 0; // lines from 10 % on: the first estimates come from small chunks
  return (p) => {
    const pct = (100 * p.fraction).toFixed(0).padStart(3);
    const text = `${pct} %  ${p.pairsPerSecond.toExponential(2)} pairs/s  ${p.fraction < 1 ? `${fmtSeconds(p.secondsLeft)} left` : "done"}`;
    if (tty) {
      const width = 30, done = Math.round(width * p.fraction);
      process.stderr.write(`\r[${"#".repeat(done)}${".".repeat(width - done)}] ${text}   ${p.fraction === 1 ? "\n" : ""}`);
    } else if (Math.floor(10 * p.fraction) > tenth) {
      tenth = Math.floor(10 * p.fraction);
      log(`  ${text}`);
    }
  };
}

/** Points spread over a few blobs in the unit square (2-D, float32). */
function blobs(n: number, seed: number): Tensor {
  const u = rand([n, 4], { seed });
  const x = rand([n, 2], { seed: seed + 1 });
  const centres = [[0.25, 0.3], [0.7, 0.25], [0.5, 0.75], [0.8, 0.8]];
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(u.data[4 * i]! * 4)]!;
    // Box–Muller from two uniforms, σ = 0.08 around the centre
    const r = Math.sqrt(-2 * Math.log(1 - u.data[4 * i + 1]!)) * 0.08, t = 2 * Math.PI * u.data[4 * i + 2]!;
    x.data[2 * i] = c[0]! + r * Math.cos(t);
    x.data[2 * i + 1] = c[1]! + r * Math.sin(t);
  }
  return x;
}

/** Runs the example; returns the densities and what it measured. */
export async function main(opts: LargeOptions = {}): Promise<{ n: number; seconds: number; a: Tensor }> {
  const log = opts.log ?? console.log;
  const sigma = 0.05;
  const density = (x: Tensor) => Vi(x).sub(Vj(x)).sqnorm2().div(-(sigma * sigma)).exp();

  let n = opts.points ?? 1e6;
  if (opts.seconds !== undefined) {
    // measure this machine's speed on 2e4 points, then size the run
    const probe = blobs(20_000, 7);
    density(probe).sum({ axis: 1 }); // compiles the kernel
    const t = performance.now();
    density(probe).sum({ axis: 1 });
    const rate = 4e8 / Math.max(1e-3, (performance.now() - t) / 1000);
    n = Math.round(Math.min(1e6, Math.max(5e4, Math.sqrt(rate * opts.seconds))) / 1000) * 1000;
  }
  if (!Number.isInteger(n) || n < 1) throw new KeOpsError(`points: expected a positive integer, got ${n}`);

  const x = blobs(n, 1);
  const pairs = n * n;
  log(`${n.toLocaleString("en")} points in 2-D → a ${n.toLocaleString("en")} × ${n.toLocaleString("en")} kernel matrix: ${pairs.toExponential(1)} entries,`);
  log(`${fmtBytes(4 * pairs)} if it were stored in float32. keops-ts never stores it (backend: ${backendInfo().auto}).`);

  const rssBefore = process.memoryUsage().rss;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort(new Error("Ctrl-C"));
  process.once("SIGINT", onSigint);
  const t0 = performance.now();
  let a: Tensor;
  try {
    a = await density(x).sum({ axis: 1, async: true, onProgress: progressBar(log), signal: stop.signal });
  } catch (e) {
    if (e instanceof KeOpsError && e.name === "AbortError") {
      log(`Stopped: ${e.message} (the workers are free again; nothing else to clean up).`);
      return { n, seconds: (performance.now() - t0) / 1000, a: x };
    }
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
  }
  const seconds = (performance.now() - t0) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;

  // check a few rows against a direct float64 sum
  let worst = 0;
  for (const i of [0, 1, Math.floor(n / 2), n - 1]) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const dx = x.data[2 * i]! - x.data[2 * j]!, dy = x.data[2 * i + 1]! - x.data[2 * j + 1]!;
      s += Math.exp(-(dx * dx + dy * dy) / (sigma * sigma));
    }
    worst = Math.max(worst, Math.abs(a.data[i]! - s) / s);
  }
  let hi = 0;
  for (let i = 1; i < n; i++) if (a.data[i]! > a.data[hi]!) hi = i;
  log(`Done in ${fmtSeconds(seconds)}: ${(pairs / seconds).toExponential(2)} kernel values per second.`);
  log(`Densities a: shape [${a.shape.join(", ")}], first values ${Array.from(a.data.subarray(0, 3), (v) => v.toFixed(2)).join(", ")}; densest point #${hi} at (${x.data[2 * hi]!.toFixed(3)}, ${x.data[2 * hi + 1]!.toFixed(3)}), a = ${a.data[hi]!.toFixed(1)}.`);
  log(`4 rows checked against a direct float64 sum: largest relative error ${worst.toExponential(1)}.`);
  log(`Memory: resident set ${fmtBytes(rssBefore)} before the reduction, peak ${fmtBytes(peak)} (the whole process) — against ${fmtBytes(4 * pairs)} for the dense matrix.`);
  return { n, seconds, a };
}

/** `--points N`, `--seconds S` from the command line. */
function cli(argv: readonly string[]): LargeOptions {
  const o: LargeOptions = {};
  for (let k = 0; k < argv.length; k++) {
    const v = Number(argv[k + 1]);
    if (argv[k] === "--points") (o.points = v), k++;
    else if (argv[k] === "--seconds") (o.seconds = v), k++;
    else throw new KeOpsError(`large: unknown argument ${JSON.stringify(argv[k])} (accepted: --points N, --seconds S)`);
  }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main(cli(process.argv.slice(2)));
