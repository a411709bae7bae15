/**
 * Not a test: compile time and pairs/s of the wasm backend against the js backend, same run.
 * W1 = Gaussian convolution (D = 3, b of dim 1), W3 = argKmin (K = 10, D = 3).
 * Run: `node --import tsx bench/wasm-measure.ts [sizes…]` (KEOPS_TS_THREADS sets the threads; the js
 * backend is skipped above JS_MAX = 3e4 points, its runs there take minutes).
 */
import { Vi, Vj, Tensor } from "../src/index.js";
import type { BlockingBackend, KernelProgram } from "../src/compile/program.js";
import { wasmBackend } from "../src/backends/wasm/index.js";
import { jsBackend } from "../src/backends/js/index.js";
import { Rng } from "../src/random.js";

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
const SIZES = sizes.length ? sizes : [1e4, 3e4, 1e5];
const rng = new Rng(1);
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

/** Times each backend's `compile` (render + compile + instantiate), ms. */
const compileMs: Record<string, number> = {};
for (const b of [wasmBackend, jsBackend] as BlockingBackend[]) {
  const inner = b.compile.bind(b);
  (b as { compile: (p: KernelProgram) => unknown }).compile = (p: KernelProgram) => {
    const t = performance.now();
    const k = inner(p);
    compileMs[b.name] = performance.now() - t;
    return k;
  };
}

/**
 * Compile time of never-seen kernels, ms: [wasm, js]. Constants are kernel parameters, so new
 * kernels come from new structure: W1 over the schemes and axes, W3 over K and the axes.
 */
function compileTimes(kind: "W1" | "W3", variant: number): [number, number] {
  const x = new Tensor(rand(48), [16, 3]), y = new Tensor(rand(48), [16, 3]), b = new Tensor(rand(16), [16, 1]);
  const out: number[] = [];
  const axis = (variant % 2) as 0 | 1;
  for (const backend of ["wasm", "js"] as const) {
    const d2 = Vi(x).sub(Vj(y)).sqnorm2();
    if (kind === "W1") {
      const scheme = (["block_sum", "kahan_scheme", "direct_sum"] as const)[Math.floor(variant / 2) % 3]!;
      d2.neg().exp().mul(axis === 1 ? Vj(b) : Vi(b)).sum({ axis, backend, sumScheme: scheme });
    } else d2.argKmin({ K: 10 - Math.floor(variant / 2), axis, backend });
    out.push(compileMs[backend]!);
  }
  return out as [number, number];
}

/** Seconds per call: wall clock, and CPU time of the process (every thread). */
function time(fn: () => unknown, minMs = 400): { wall: number; cpu: number } {
  fn(); // compile + warm
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  do {
    fn();
    n++;
    t = performance.now();
  } while (t - t0 < minMs);
  const c = process.cpuUsage(c0);
  return { wall: (t - t0) / n / 1000, cpu: (c.user + c.system) / 1e6 / n };
}

console.log(`threads: ${process.env.KEOPS_TS_THREADS ?? "all cores"}`);
for (const kind of ["W1", "W3"] as const) {
  const ct = Array.from({ length: 5 }, (_, k) => compileTimes(kind, k));
  const med = (k: number): number => ct.map((c) => c[k]!).sort((a, b) => a - b)[2]!;
  console.log(`${kind} compile of a new kernel (median of 5): wasm ${med(0).toFixed(2)} ms (render + compile + instantiate), js ${med(1).toFixed(2)} ms`);
  for (const n of SIZES) {
    const x = new Tensor(rand(n * 3), [n, 3]), y = new Tensor(rand(n * 3), [n, 3]), b = new Tensor(rand(n), [n, 1]);
    const rate: Record<string, number> = {};
    const cpuRate: Record<string, number> = {};
    const JS_MAX = Number(process.env.JS_MAX ?? 3e4);
    for (const backend of n <= JS_MAX ? (["js", "wasm"] as const) : (["wasm"] as const)) {
      const d2 = Vi(x).sub(Vj(y)).sqnorm2();
      const s = kind === "W1"
        ? time(() => d2.neg().exp().mul(Vj(b)).sum({ axis: 1, backend }))
        : time(() => d2.argKmin({ K: 10, axis: 1, backend }));
      rate[backend] = (n * n) / s.wall;
      cpuRate[backend] = (n * n) / s.cpu;
    }
    if (rate.js === undefined) {
      console.log(`${kind} M=N=${n}: wasm ${rate.wasm!.toExponential(2)} pairs/s | per CPU-second: wasm ${cpuRate.wasm!.toExponential(2)} (js skipped)`);
      continue;
    }
    console.log(
      `${kind} M=N=${n}: js ${rate.js!.toExponential(2)} pairs/s, wasm ${rate.wasm!.toExponential(2)} pairs/s, ratio ${(rate.wasm! / rate.js!).toFixed(2)}` +
        ` | per CPU-second: js ${cpuRate.js!.toExponential(2)}, wasm ${cpuRate.wasm!.toExponential(2)}, ratio ${(cpuRate.wasm! / cpuRate.js!).toFixed(2)}`,
    );
  }
}
