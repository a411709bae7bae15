/**
 * Measures one figure in a fresh process, so that its peak resident memory is its own:
 * `node --import tsx bench/one.ts '<FigureSpec as JSON>'`. Prints one line `@@RESULT <json>`.
 *
 * Protocol: load the implementation (untimed), make the data, time the first call (kernel
 * compilation / warm-up included), then `runs` warm runs; stop early, reporting "skipped", when
 * the runs left would take the figure over its time budget (judged from the warm runs, or from the
 * first call when that alone took half the budget). Peak RSS is `ru_maxrss` of this
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
  if (name.startsWith("keops:")) return (await import("./impl/keops.js")).keopsImpl(name.slice(6).split("+")[0] as never);
  if (name === "tfjs-cpu" || name === "tfjs-wasm") return (await import("./impl/tfjs.js")).tfjsImpl(name === "tfjs-cpu" ? "cpu" : "wasm");
  if (name === "plain-js") return (await import("./impl/plainjs.js")).plainJsImpl;
  if (name === "faiss") return (await import("./impl/faiss.js")).faissImpl;
  if (name === "usearch") return (await import("./impl/usearch.js")).usearchImpl;
  throw new Error(`unknown implementation ${name}`);
}

const cache = new Map<string, { impl: Impl; flags: Record<string, string | number | boolean> }>();

/** The implementation, loaded and initialised once per process. */
async function loaded(name: string): Promise<{ impl: Impl; flags: Record<string, string | number | boolean> }> {
  let c = cache.get(name);
  if (!c) {
    const impl = await implFor(name);
    c = { impl, flags: await impl.init() };
    cache.set(name, c);
  }
  return c;
}

function isOom(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return e instanceof RangeError && /alloc|memory|Invalid array length|Invalid typed array length/i.test(m) || /out of memory|OOM|Cannot allocate/i.test(m);
}

async function measure(spec: FigureSpec): Promise<FigureResult> {
  const w = workload(spec.workload);
  const { impl, flags } = await loaded(spec.impl);
  const extra: Record<string, string | number | boolean> = { ...flags };
  const baseRssMiB = process.memoryUsage().rss / MiB;
  const data = makeData(w, spec.size, spec.seed);
  const runner = await impl.setup(w, data, spec.size);
  const t0 = performance.now();
  let last: Output = await runner.call();
  const firstS = last.seconds ?? since(t0);
  const times: number[] = [];
  for (let r = 0; r < spec.runs; r++) {
    // the first call includes compilation: it alone decides only when it already used half the budget
    const elapsed = since(t0);
    const perRun = r === 0 ? (firstS > spec.budgetS / 2 ? firstS : 0) : median(times);
    const predicted = elapsed + perRun * (spec.runs - r);
    if (predicted > spec.budgetS) {
      return {
        spec, status: "skipped", firstS, timesS: times, baseRssMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024,
        note: `skipped (predicted ${Math.round(predicted)} s for the first call + ${spec.runs} runs, budget ${spec.budgetS} s; first call took ${firstS.toFixed(1)} s${times.length ? `, warm runs ${times.map((t) => t.toFixed(1)).join(", ")} s` : ""})`,
      };
    }
    const t = performance.now();
    last = await runner.call();
    times.push(last.seconds ?? since(t));
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

/** Measures one figure, turning its failure into a result. */
async function figure(spec: FigureSpec): Promise<FigureResult> {
  try {
    return await measure(spec);
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).split("\n")[0]!;
    if (e instanceof NoFigure) return { spec, status: e.status, note: e.note };
    if (/not available in this build|not (yet )?implemented/i.test(msg)) return { spec, status: "not available", note: `not available yet: ${msg}` };
    if (/cannot run this reduction/.test(msg)) return { spec, status: "not available", note: `declined by the backend: ${msg}` };
    if (isOom(e)) return { spec, status: "out of memory", note: `out of memory: ${msg}`, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
    return { spec, status: "failed", note: `failed: ${msg}` };
  }
}

/** argv[2]: one FigureSpec, or an array of them (quick mode: one process per implementation). */
async function main(): Promise<void> {
  const arg = JSON.parse(process.argv[2] ?? "") as FigureSpec | FigureSpec[];
  for (const spec of Array.isArray(arg) ? arg : [arg]) {
    const res = await figure(spec);
    await new Promise<void>((done) => process.stdout.write(`@@RESULT ${JSON.stringify(res)}\n`, () => done()));
  }
  process.exit(0);
}

void main();
