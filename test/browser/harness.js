// Runs reduction cases with keops-ts/browser, in a page or in a Web Worker (plain JS: the browser
// loads it as it is). Each case is a genred formula with its arguments; the result goes back to
// Node, which compares it with the float64 reference. Also reports the host's thread decisions
// and how many rows worker threads computed (proof that the parallel path ran).
import * as keops from "../../dist/browser.js";
import { poolLimits, poolStats } from "../../dist/backends/workers.js";

const prepare = (c) => [
  keops.genred(c.formula, c.aliases, c.opts),
  c.args.map((a) => new keops.Tensor(a.dtype === "float64" ? Float64Array.from(a.data) : Float32Array.from(a.data), a.shape)),
];

/**
 * Runs `cases` ({ formula, aliases, opts, args: [{ data, shape, dtype }], backend, async }) on
 * `threads` threads. `warm`: first one async call of the last case, then wait until its workers
 * have started (in a browser, workers start only when their creator's thread yields to its event
 * loop, so blocking calls in a row would otherwise find them not running yet).
 */
export async function runCases(cases, threads, warm) {
  keops.setThreads(threads);
  // blocking runs (inside a Web Worker) wait for a nested worker to take a chunk before taking
  // their own share: that workers take rows must not depend on which thread is faster
  poolLimits.awaitWorkers = warm;
  const info = keops.backendInfo();
  if (warm && cases.length) {
    const [f, args] = prepare(cases[cases.length - 1]);
    await f.callAsync(...args, { backend: cases[0].backend });
    for (const t0 = Date.now(); poolStats.started() < threads; ) {
      if (Date.now() - t0 > 20000) throw new Error(`only ${poolStats.started()} of ${threads} workers started in 20 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const out = [];
  for (const c of cases) {
    const [f, args] = prepare(c);
    const before = poolStats.workerRows;
    try {
      const r = c.async ? await f.callAsync(...args, { backend: c.backend }) : f(...args, { backend: c.backend });
      out.push({ data: Array.from(r.data), shape: r.shape, dtype: r.dtype, workerRows: poolStats.workerRows - before });
    } catch (e) {
      out.push({ error: String(e && e.stack || e) });
    }
  }
  // the LazyTensor front end too: a Gaussian convolution written as in the tutorials
  const x = keops.tensor([[0, 0], [1, 0]]), y = keops.tensor([[0, 0], [0, 1], [3, 4]]);
  const lazy = Array.from(keops.Vi(x).sub(keops.Vj(y)).sqnorm2().sum({ axis: 1 }).data);
  // bad input is a KeOpsError here too; the native cache does not exist
  const error = (f) => {
    try {
      f();
      return "no error";
    } catch (e) {
      return `${e instanceof keops.KeOpsError ? "KeOpsError" : "other"}: ${e.message}`;
    }
  };
  const errors = [
    error(() => keops.genred("Exp(-SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"])),
    error(() => keops.Vi(x).sub(keops.Vj(y)).sqnorm2().argKmin({ K: 5, axis: 1 })),
    error(() => keops.nativeCacheDir()),
    String(keops.clearNativeCache()),
  ];
  return {
    results: out,
    lazy,
    errors,
    info: { auto: info.auto, threads: info.threads, backends: info.backends },
    isolated: globalThis.crossOriginIsolated === true,
    shared: typeof SharedArrayBuffer !== "undefined",
  };
}

/** In a page: runs the cases inside a module Web Worker started from this folder. */
export function runInWorker(cases, threads, warm) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    w.onmessage = (e) => {
      w.terminate();
      resolve(e.data);
    };
    w.onerror = (e) => reject(new Error(`worker: ${e.message}`));
    w.postMessage({ cases, threads, warm });
  });
}
