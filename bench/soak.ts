/**
 * Soak: many calls, each with a formula never seen before (a fresh integer constant, so a new
 * kernel each time), on one backend; samples the resident memory (after a full GC) and, for the
 * native backend, the kernel libraries loaded (koffi's and the process's own /proc/self/maps).
 * Every bounded cache must stay bounded: plans, kernels, worker kernels, loaded libraries.
 *
 *   node --expose-gc --import tsx bench/soak.ts --backend wasm --calls 20000 [--every 1000] [--json out.json]
 *
 * Prints one line per sample and a summary (JSON with --json). The native backend compiles a
 * C++ kernel per call (about a second each): use a smaller --calls there, or `--loaded 16`
 * to lower the bound on loaded libraries so that a short run crosses it many times.
 */
import fs from "node:fs";
import os from "node:os";
import { Vi, Vj, randn, type Tensor } from "../src/index.js";
import { nativeLimits, nativeStats } from "../src/backends/native/index.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const k = argv.indexOf(`--${name}`);
  return k >= 0 && argv[k + 1] !== undefined ? argv[k + 1]! : dflt;
};
const backend = opt("backend", "wasm");
const calls = Number(opt("calls", "20000"));
const every = Number(opt("every", String(Math.max(1, Math.round(calls / 20)))));
const out = opt("json", "");
if (argv.includes("--loaded")) nativeLimits.loaded = Number(opt("loaded", "128"));

const gc = (globalThis as { gc?: () => void }).gc;
const rssMiB = (): number => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};
/** Kernel libraries mapped into this process (distinct .so files of the kernel cache). */
function mappedKernels(): number {
  try {
    const maps = fs.readFileSync("/proc/self/maps", "utf8");
    return new Set(maps.split("\n").filter((l) => /native-v1\/[0-9a-f]{40}\.(so|dylib)/.test(l)).map((l) => l.slice(l.indexOf("/")))).size;
  } catch {
    return -1;
  }
}

const x = randn([64, 3], { seed: 1 }), y = randn([64, 3], { seed: 2 }), b = randn([64, 1], { seed: 3 });
const base = Date.now() % 1_000_000 * 1000; // constants never seen by this machine's disk cache either
const samples: { calls: number; seconds: number; rssMiB: number; loaded: number; mapped: number }[] = [];
const t0 = Date.now();
const sample = (n: number): void => {
  const s = { calls: n, seconds: (Date.now() - t0) / 1000, rssMiB: Math.round(rssMiB() * 10) / 10, loaded: nativeStats.loaded(), mapped: backend === "native" ? mappedKernels() : 0 };
  samples.push(s);
  console.log(JSON.stringify(s));
};
sample(0);
let check = 0;
for (let k = 1; k <= calls; k++) {
  const r = Vi(x).sub(Vj(y)).sqnorm2().add(base + k).inv().mul(Vj(b)).sum({ axis: 1, backend: backend as never }) as Tensor;
  check += r.data[0]!;
  if (k % every === 0 || k === calls) sample(k);
}
const first = samples[1] ?? samples[0]!, last = samples[samples.length - 1]!;
const summary = {
  backend, calls, seconds: last.seconds, callsPerSecond: Math.round(calls / Math.max(1e-9, last.seconds)),
  rssMiB: { start: samples[0]!.rssMiB, firstSample: first.rssMiB, end: last.rssMiB, max: Math.max(...samples.map((s) => s.rssMiB)) },
  loaded: { max: Math.max(...samples.map((s) => s.loaded)), bound: nativeLimits.loaded, loads: nativeStats.loads, unloads: nativeStats.unloads },
  mappedMax: Math.max(...samples.map((s) => s.mapped)),
  load: os.loadavg().map((l) => Math.round(l * 100) / 100), cores: os.cpus().length, node: process.version, check,
};
console.log(JSON.stringify(summary));
if (out) fs.writeFileSync(out, JSON.stringify({ summary, samples }, null, 1));
