/**
 * Measures one figure in a fresh process, so that its peak resident memory is its own:
 * `node --import tsx bench/one.ts '<FigureSpec as JSON>'`. Prints one line `@@RESULT <json>`.
 *
 * Protocol: load the implementation (untimed), make the data, time the first call (kernel
 * compilation / warm-up included), then `runs` warm runs; stop early, reporting "skipped", when
 * the runs left would take the figure over its time budget. Peak RSS is `ru_maxrss` of this
 * process once the runs are done (before the float64 check).
 */
import { makeData, checkRows } from "./data.js";
import { relativeError } from "./reference.js";
import { median, since } from "./stats.js";
import type { FigureResult, FigureSpec, Output } from "./types.js";
import { workload } from "./workloads.js";
import { NoFigure, type Impl } from "./impl/runner.js";

const MiB = 2 ** 20;

async function implFor(name: string): Promise<Impl> {
  if (name.startsWith("keops:")) return (await import("./impl/keops.js")).keopsImpl(name.slice(6) as never);
  if (name === "tfjs-cpu" || name === "tfjs-wasm") return (await import("./impl/tfjs.js")).tfjsImpl(name === "tfjs-cpu" ? "cpu" : "wasm");
  if (name === "plain-js") return (await import("./impl/plainjs.js")).plainJsImpl;
  if (name === "faiss") return (await import("./impl/faiss.js")).faissImpl;
  throw new Error(`unknown implementation ${name}`);
}

function isOom(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return e instanceof RangeError && /alloc|memory|Invalid array length|Invalid typed array length/i.test(m) || /out of memory|OOM|Cannot allocate/i.test(m);
}

async function measure(spec: FigureSpec): Promise<FigureResult> {
  const w = workload(spec.workload);
  const impl = await implFor(spec.impl);
  const extra: Record<string, string | number | boolean> = { ...(await impl.init()) };
  const baseRssMiB = process.memoryUsage().rss / MiB;
  const data = makeData(w, spec.size, spec.seed);
  const runner = await impl.setup(w, data, spec.size);
  const t0 = performance.now();
  let last: Output = await runner.call();
  const firstS = since(t0);
  const times: number[] = [];
  for (let r = 0; r < spec.runs; r++) {
    const elapsed = since(t0);
    const perRun = r === 0 ? firstS : median(times);
    const predicted = elapsed + perRun * (spec.runs - r);
    if (predicted > spec.budgetS) {
      return {
        spec, status: "skipped", firstS, timesS: times, baseRssMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024,
        note: `skipped (predicted ${Math.round(predicted)} s for the first call + ${spec.runs} runs, budget ${spec.budgetS} s; first call took ${firstS.toFixed(1)} s${times.length ? `, warm runs ${times.map((t) => t.toFixed(1)).join(", ")} s` : ""})`,
      };
    }
    const t = performance.now();
    last = await runner.call();
    times.push(since(t));
  }
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const med = median(times);
  const pairs = w.pairs(spec.size);
  Object.assign(extra, runner.extra?.() ?? {});
  const relErr = relativeError(w, data, last, checkRows(data.M, spec.checkRows, spec.seed + 7));
  return {
    spec, status: "ok", firstS, timesS: times, medianS: med, minS: Math.min(...times), maxS: Math.max(...times),
    pairsPerS: pairs === null ? null : pairs / med, peakRssMiB, baseRssMiB, relErr, extra,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as FigureSpec;
  let res: FigureResult;
  try {
    res = await measure(spec);
  } catch (e) {
    if (e instanceof NoFigure) res = { spec, status: e.status, note: e.note };
    else if (/not available in this build|not (yet )?implemented/i.test(String((e as Error)?.message)))
      res = { spec, status: "not available", note: `not available yet: ${String((e as Error).message).split("\n")[0]}` };
    else if (/cannot run this reduction/.test(String((e as Error)?.message)))
      res = { spec, status: "not available", note: `declined by the backend: ${String((e as Error).message).split("\n")[0]}` };
    else if (isOom(e)) res = { spec, status: "out of memory", note: `out of memory: ${String((e as Error).message ?? e).split("\n")[0]}`, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
    else res = { spec, status: "failed", note: `failed: ${String((e as Error)?.message ?? e).split("\n")[0]}` };
  }
  process.stdout.write(`@@RESULT ${JSON.stringify(res)}\n`, () => process.exit(0));
}

void main();
