/**
 * The second KeOps tutorial, "Advanced usage: Vi, Vj, Pm helpers and symbolic variables", line
 * by line in keops-ts, printing what it prints (the two loop timings and the final LazyTensor).
 * CPU sizes: M = 1000, N = 2000. Python's `a ** 2` on a torch tensor is done on the tensor here
 * (`squared`), and `a ** 2` on a LazyTensor is `a.pow(2)`.
 */
import { pathToFileURL } from "node:url";
import { KeOpsError, LazyTensor, Pm, Tensor, Vi, Vj, rand, randn, tensor } from "keops-ts";

/** Options of {@link main} (the test runs it small and captures the output). */
export interface Tutorial2Options {
  /** Sizes of the first parts (default 1000, 2000 as the tutorial on CPU). */
  M?: number;
  N?: number;
  /** Iterations of the small-call loops (default 1000). */
  Niter?: number;
  /** Where lines go (default console.log). */
  log?: (...parts: unknown[]) => void;
}

/** Element-wise square of a tensor (torch's `sigmas ** 2`). */
function squared(t: Tensor): Tensor {
  return tensor(t.data.map((s) => s * s), { shape: [...t.shape], dtype: t.dtype });
}

/** `"Timing for {} iterations: {:.5f}s = {} x {:.5f}s"`. */
export function timing(Niter: number, seconds: number): string {
  return `Timing for ${Niter} iterations: ${seconds.toFixed(5)}s = ${Niter} x ${(seconds / Niter).toFixed(5)}s`;
}

/** Runs `f`, or prints why a line cannot run in this build (an op or solve not there yet). */
function attempt(log: (...p: unknown[]) => void, what: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof KeOpsError)) throw e;
    log(`(${what}: not available yet — ${e.message.split("\n")[0]})`);
  }
}

/** The tutorial; returns the per-call seconds of the two loops (rebuilt expression, function). */
export function main(opts: Tutorial2Options = {}): { rebuild: number; reuse: number } {
  const log = opts.log ?? console.log;

  // ---- The Vi, Vj, Pm decorators --------------------------------------------------------------
  let [M, N] = [opts.M ?? 1000, opts.N ?? 2000];
  let D = 3;
  let x = randn([M, D]);
  let y = randn([N, D]);

  let x_i = Vi(x); // (M, 1, D) LazyTensor, equivalent to LazyTensor( x[:,None,:] )
  let y_j = Vj(y); // (1, N, D) LazyTensor, equivalent to LazyTensor( y[None,:,:] )

  let D2xy = x_i.sub(y_j).pow(2).sum();
  let gamma = D2xy.sumReduction({ dim: 1 });

  // ---- Other examples -------------------------------------------------------------------------
  const indmin = x_i.sub(y_j).pow(2).sum().argmin({ axis: 0 });
  attempt(log, "x ** 1.5 (Powf)", () => x_i.dot(y_j).abs().pow(1.5).sumsoftmaxweight(x_i, { axis: 1 }));
  let res: unknown = x_i.slice(0, 2).mul(y_j.slice(2)).sub(x_i.slice(2).mul(y_j.slice(0, 2))).sqnorm2().sum({ axis: 1 });

  // Kernel inversion
  const e_i = Vi(rand([M, D]));
  const x_j = Vj(x);
  const D2xx = LazyTensor.sum(x_i.sub(x_j).pow(2));
  const sigma = 0.25;
  const Kxx = D2xx.neg().div(sigma ** 2).exp();
  const solve = (LazyTensor as unknown as { solve?: (K: LazyTensor, b: LazyTensor, o: { alpha: number }) => unknown }).solve;
  if (typeof solve === "function") attempt(log, "solve", () => (res = solve(Kxx, e_i, { alpha: 0.1 })));
  else log("(solve: not available yet)");

  // ---- Use of loops or vector operations for sums of kernels ----------------------------------
  let sigmas = tensor([0.5, 1.0, 2.0, 4.0]);
  let b_j = Vj(rand([N, D]));
  let Kxy: LazyTensor | 0 = 0;
  for (const s of sigmas.data) {
    const term = LazyTensor.exp(D2xy.neg().div(s ** 2));
    Kxy = Kxy === 0 ? term : Kxy.add(term); // Kxy += …
  }
  gamma = (Kxy as LazyTensor).mul(b_j).sumReduction({ axis: 1 });

  Kxy = LazyTensor.exp(D2xy.neg().div(squared(sigmas))).sum();
  gamma = Kxy.mul(b_j).sumReduction({ axis: 1 });

  // ---- The "no call" mode ---------------------------------------------------------------------
  [M, N] = [opts.M ?? 1000, opts.N ?? 2000];
  let Dv: number;
  [D, Dv] = [3, 4];
  x = randn([M, D]);
  y = randn([N, D]);
  const b = randn([N, Dv]);
  sigmas = tensor([0.5, 1.0, 2.0, 4.0]);

  x_i = Vi(x);
  y_j = Vj(y);
  b_j = Vj(b);
  D2xy = x_i.sub(y_j).pow(2).sum(-1);
  Kxy = LazyTensor.exp(D2xy.neg().div(squared(sigmas))).sum();
  let gammafun = Kxy.mul(b_j).sumReduction({ axis: 1, call: false });

  gamma = gammafun();

  // the small-size comparison
  [M, N] = [50, 30];
  x = rand([M, D]);
  y = rand([N, D]);
  const beta = rand([N, Dv]);
  let [xi, yj, bj] = [Vi(x), Vj(y), Vj(beta)];
  const dxy2 = LazyTensor.sum(xi.sub(yj).pow(2));
  const Niter = opts.Niter ?? 1000;

  log(`Small problem (M = ${M}, N = ${N}), the formula built and reduced in each of ${Niter} calls:`);
  let start = performance.now();
  for (let k = 0; k < Niter; k++) {
    const Kxyb = LazyTensor.exp(dxy2.neg().div(squared(sigmas))).sum().mul(bj);
    gamma = Kxyb.sumReduction({ axis: 1 });
  }
  let end = performance.now();
  const rebuild = (end - start) / 1000 / Niter;
  log(timing(Niter, (end - start) / 1000));

  log(`The same ${Niter} calls of one function made once with call: false (the formula is not rebuilt):`);
  start = performance.now();
  const Kxyb = LazyTensor.exp(dxy2.neg().div(squared(sigmas))).sum().mul(bj);
  gammafun = Kxyb.sumReduction({ axis: 1, call: false });
  for (let k = 0; k < Niter; k++) gamma = gammafun();
  end = performance.now();
  const reuse = (end - start) / 1000 / Niter;
  log(timing(Niter, (end - start) / 1000));

  // ---- Using "symbolic" variables in formulas -------------------------------------------------
  const sxi = Vi(0, D);
  const syj = Vj(1, D);
  const sbj = Vj(2, Dv);
  const Sigmas = Pm(3, 4);
  const sdxy2 = LazyTensor.sum(sxi.sub(syj).pow(2));
  const sKxyb = LazyTensor.exp(sdxy2.neg().div(Sigmas.pow(2))).sum().mul(sbj);
  const symfun = sKxyb.sumReduction({ axis: 1 });
  gamma = symfun(x, y, beta, sigmas);

  // symbolic and fixed variables mixed: a function of y only
  xi = Vi(x);
  const myj = Vj(0, D);
  bj = Vj(beta);
  const mdxy2 = LazyTensor.sum(xi.sub(myj).pow(2));
  const mKxyb = LazyTensor.exp(mdxy2.neg().div(squared(sigmas))).sum().mul(bj);
  const mixedfun = mKxyb.sumReduction({ axis: 1 });
  gamma = mixedfun(y);
  log(`gamma = mixedfun(y): shape [${(gamma as Tensor).shape.join(", ")}], first row [${Array.from((gamma as Tensor).data.subarray(0, Dv), (v) => v.toFixed(4)).join(", ")}]`);
  log(String(mixedfun));

  void [indmin, res, gamma];
  return { rebuild, reuse };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
