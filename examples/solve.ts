/**
 * The first KeOps tutorial, "Solving linear systems", line by line in keops-ts (CPU sizes:
 * M = 1000), then what its warning leaves out: a long solve with progress reporting, and the error
 * keops-ts raises where pykeops would loop forever (an indefinite K).
 */
import { pathToFileURL } from "node:url";
import { LazyTensor, SolveConvergenceError, Vi, Vj, randn, type Tensor } from "keops-ts";
import { first, size } from "./tutorial1.js";

function tutorial(): { x: Tensor; b_i: Tensor; alpha: number; g_i: Tensor } {
  const M = 1000, D = 3;
  const x = randn([M, D], { seed: 0 }); // Random point cloud
  const x_i = new LazyTensor(x.reshape([M, 1, D])); // (M, 1, D) LazyTensor
  const x_j = new LazyTensor(x.reshape([1, M, D])); // (1, M, D) LazyTensor

  const K_xx = x_i.sub(x_j).pow(2).sum(-1).neg().exp(); // Symbolic (M, M) Gaussian kernel matrix

  const alpha = 0.1; // "Ridge" regularization parameter
  const b_i = randn([M, 4], { seed: 1 }); // Target signal, supported by the x_i's
  const a_i = K_xx.solve(b_i, { alpha }); // Source signal, supported by the x_i's

  console.log(`a_i is now a ${a_i.constructor.name} of shape ${size(a_i)}; ${first(a_i)}.`);

  // (alpha·Id + K_xx) a ≃ b
  const Ka = K_xx.matmul(a_i);
  let err = 0;
  for (let k = 0; k < b_i.size; k++) err += (alpha * a_i.data[k]! + Ka.data[k]! - b_i.data[k]!) ** 2;
  console.log(`Mean squared reconstruction error: ${(err / b_i.size).toExponential(2)}`);

  // [g_i] = torch.autograd.grad((a_i**2).sum(), [x]):
  // x enters K twice (as x_i and x_j); written with symbolic variables, the solve is a function of
  // them whose vjp gives each gradient, and the gradient with respect to x is their sum.
  const K_sym = Vi(0, D).sub(Vj(1, D)).pow(2).sum(-1).neg().exp();
  const solveK = K_sym.solve(b_i, { alpha, call: false });
  const a = solveK(x, x);
  const twoA = a.astype("float32");
  for (let k = 0; k < twoA.size; k++) twoA.data[k] = 2 * a.data[k]!; // d(Σ a²)/da = 2a
  const [gx_i, gx_j] = solveK.vjp([x, x], twoA) as [Tensor, Tensor];
  const g_i = gx_i.astype("float32");
  for (let k = 0; k < g_i.size; k++) g_i.data[k]! += gx_j.data[k]!;
  console.log(`g_i is now a ${g_i.constructor.name} of shape ${size(g_i)}.`);
  return { x, b_i, alpha, g_i };
}

/** The same gradient the way pykeops.torch writes it, through TensorFlow.js's autodiff (keops-ts/tfjs). */
async function tfjsGradient(x: Tensor, b: Tensor, alpha: number, g_core: Tensor): Promise<void> {
  let tf: typeof import("@tensorflow/tfjs-core"), ktf: typeof import("keops-ts/tfjs");
  try {
    tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-cpu");
    ktf = await import("keops-ts/tfjs");
  } catch {
    console.log("(TensorFlow.js is not installed: the tf.grad version is skipped)");
    return;
  }
  await tf.setBackend("cpu");
  const xt = tf.tensor(x.data as Float32Array, [...x.shape]);
  const bt = tf.tensor(b.data as Float32Array, [...b.shape]);
  const solveOf = (xx: typeof xt): typeof xt => {
    const x_i = new ktf.LazyTensor(xx, 0), x_j = new ktf.LazyTensor(xx, 1);
    return x_i.sub(x_j).square().sum(-1).neg().exp().solve(bt, { alpha });
  };
  // [g_i] = torch.autograd.grad((a_i ** 2).sum(), [x]). With the @tensorflow/tfjs union package
  // (which registers the gradients of tf's own ops) that is tf.grad((xx) => tf.sum(tf.square(
  // solveOf(xx))))(xt); with tfjs-core alone, give tf.grad the cotangent of a_i, 2·a_i:
  const g_i = tf.grad(solveOf)(xt, tf.mul(solveOf(xt), 2));
  const gd = g_i.dataSync();
  let diff = 0, scale = 0;
  for (let k = 0; k < gd.length; k++) (diff = Math.max(diff, Math.abs(gd[k]! - g_core.data[k]!)), scale = Math.max(scale, Math.abs(g_core.data[k]!)));
  console.log(`With keops-ts/tfjs, tf.grad gives a tf.Tensor of shape [${g_i.shape.join(", ")}] (max difference with the vjp above: ${(diff / scale).toExponential(1)} relative).`);
}

/** A larger, worse-conditioned solve, with progress reported by onIteration. */
function longSolve(M: number): void {
  const D = 3;
  const x = randn([M, D], { seed: 2 });
  const K = Vi(x).sub(Vj(x)).sqnorm2().mul(-2).exp();
  const b = randn([M, 1], { seed: 3 });
  const t0 = performance.now();
  let shown = 0;
  const a = K.solve(b, {
    alpha: 0.01,
    onIteration: (k, residual) => {
      if (k % 50 === 0) console.log(`  iteration ${String(k).padStart(4)}: residual ${residual.toExponential(2)} (eps = 1e-6), ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    },
    // fraction: the residual's way down to eps (log scale); at most a few calls a second
    onProgress: (p) => {
      if (p.fraction >= shown + 0.25 || p.fraction === 1) console.log(`  progress ${(100 * p.fraction).toFixed(0)} %`), (shown = p.fraction);
    },
  });
  console.log(`Solved M = ${M} in ${((performance.now() - t0) / 1000).toFixed(1)} s, a of shape ${size(a)}.`);
}

/** pykeops loops forever on an indefinite K; keops-ts stops and says why. */
function indefinite(): void {
  const M = 500;
  const x = randn([M, 3], { seed: 4 });
  const K = Vi(x).dot(Vj(x)).sub(2); // a rank-3 positive part minus a constant: indefinite
  try {
    K.solve(randn([M, 1], { seed: 5 }), { alpha: 0.1 });
  } catch (e) {
    if (!(e instanceof SolveConvergenceError)) throw e;
    console.log(`Indefinite K: ${e.name} after ${e.iterations} iteration(s): ${e.message.split(". ")[0]}.`);
  }
}

export async function main(): Promise<void> {
  const t = tutorial();
  await tfjsGradient(t.x, t.b_i, t.alpha, t.g_i);
  console.log("\nA longer solve, with progress (onIteration):");
  longSolve(Number(process.env.SOLVE_DEMO_M ?? 2000));
  console.log();
  indefinite();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
