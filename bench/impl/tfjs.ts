/**
 * Peer: dense TensorFlow.js (tfjs-core with tfjs-backend-cpu or tfjs-backend-wasm), the way a
 * JavaScript user writes these workloads without keops-ts: materialise the M × N matrix, then
 * reduce it. Intermediates are disposed as soon as possible (peak ≈ two M × N float32 matrices);
 * figures whose matrices would exceed {@link DENSE_LIMIT_BYTES} are reported "out of memory".
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { Data } from "../data.js";
import type { Output } from "../types.js";
import { KNN_K, SOLVE_ALPHA, SOLVE_EPS, W7_M, W7_N, type Workload } from "../workloads.js";
import { DENSE_LIMIT_BYTES, NoFigure, formatBytes, type Impl, type Runner } from "./runner.js";

type TF = typeof import("@tensorflow/tfjs-core");
type T = import("@tensorflow/tfjs-core").Tensor;

/** Matrices of M × N float32 alive at the peak, per workload. */
const PEAK_MATRICES: Record<string, number> = { W1: 2, W2: 2, W3: 6, W4: 2, W5: 4, W6: 2, W7: 2 };

/** Why the dense matrices of `w` at M = N = `size` do not fit, or null when they do. */
export function denseOutOfMemory(w: Workload, size: number, backend: "cpu" | "wasm"): string | null {
  const bytes = size * size * 4 * (PEAK_MATRICES[w.id] ?? 2);
  if (bytes <= DENSE_LIMIT_BYTES) return null;
  return `out of memory: the dense M × N matrices need ~${formatBytes(bytes)} (> ${formatBytes(DENSE_LIMIT_BYTES)} allowed${backend === "wasm" ? "; wasm32 heaps stop at 4 GiB" : ""})`;
}

/** Loads tfjs-core and the backend; the wasm binaries come from the local package, no network. */
async function load(backend: "cpu" | "wasm"): Promise<TF> {
  const tf = await import("@tensorflow/tfjs-core");
  if (backend === "cpu") await import("@tensorflow/tfjs-backend-cpu");
  else {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const req = createRequire(import.meta.url);
    wasm.setWasmPaths(path.join(path.dirname(req.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep);
  }
  const silence = console.warn;
  console.warn = () => {};
  try {
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialise`);
    await tf.ready();
  } finally {
    console.warn = silence;
  }
  return tf;
}

/** `f(prev)` then disposes `prev`: keeps one intermediate alive at a time. */
function step(prev: T, f: (t: T) => T): T {
  const next = f(prev);
  prev.dispose();
  return next;
}

/** −‖x_i − y_j‖² (M × N) as x·yᵀ·2 − ‖x‖² − ‖y‖². */
function negSqdist(tf: TF, x: T, y: T): T {
  const [M, N] = [x.shape[0]!, y.shape[0]!];
  const x2 = tf.tidy(() => tf.reshape(tf.sum(tf.square(x), 1), [M, 1]));
  const y2 = tf.tidy(() => tf.reshape(tf.sum(tf.square(y), 1), [1, N]));
  const x2s = tf.tidy(() => tf.mul(x, 2));
  let m = tf.matMul(x2s, y, false, true);
  x2s.dispose();
  m = step(m, (t) => tf.sub(t, x2));
  m = step(m, (t) => tf.sub(t, y2));
  x2.dispose();
  y2.dispose();
  return m;
}

/** exp(−‖x_i − y_j‖²) (M × N). */
function gaussian(tf: TF, x: T, y: T): T {
  return step(negSqdist(tf, x, y), (t) => tf.exp(t));
}

async function out(t: T, width: number): Promise<Output> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return { values: v, width };
}

/** Dense conjugate gradient on (alpha·Id + K) a = b, K materialised once per call. */
async function denseCG(tf: TF, x: T, b: T, iters: { n: number }): Promise<T> {
  const K = gaussian(tf, x, x);
  const A = (p: T): T => tf.tidy(() => tf.add(tf.matMul(K, p), tf.mul(p, SOLVE_ALPHA)));
  let a = tf.zerosLike(b), r = tf.clone(b), p = tf.clone(b);
  // KeOps's stopping rule, as keops-ts applies it: ‖r‖² < M·eps²
  const tol2 = b.shape[0]! * SOLVE_EPS * SOLVE_EPS;
  let rr = (await tf.sum(tf.square(r)).data())[0]!;
  let k = 0;
  const maxIter = 10 * b.shape[0]!;
  while (rr >= tol2 && k < maxIter) {
    const Ap = A(p);
    const pAp = (await tf.sum(tf.mul(p, Ap)).data())[0]!;
    const alpha = rr / pAp;
    a = step(a, (t) => tf.tidy(() => tf.add(t, tf.mul(p, alpha))));
    r = step(r, (t) => tf.tidy(() => tf.sub(t, tf.mul(Ap, alpha))));
    Ap.dispose();
    const rr2 = (await tf.tidy(() => tf.sum(tf.square(r))).data())[0]!;
    p = step(p, (t) => tf.tidy(() => tf.add(r, tf.mul(t, rr2 / rr))));
    rr = rr2;
    k++;
  }
  iters.n = k;
  K.dispose();
  r.dispose();
  p.dispose();
  return a;
}

/** Dense TensorFlow.js on `backend`. */
export function tfjsImpl(backend: "cpu" | "wasm"): Impl {
  let tf!: TF;
  return {
    async init() {
      tf = await load(backend);
      const flags: Record<string, string | number | boolean> = { tfjsBackend: tf.getBackend(), tfjsVersion: tf.version_core };
      if (backend === "wasm") {
        flags.wasmSimd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
        flags.wasmThreads = Boolean(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"));
      }
      return flags;
    },
    setup(w: Workload, d: Data, size: number): Runner {
      const oom = denseOutOfMemory(w, d.M, backend);
      if (oom) throw new NoFigure("out of memory", oom);
      const x = tf.tensor2d(d.x, [d.M, d.D]), y = tf.tensor2d(d.y, [d.N, d.D]), b = tf.tensor2d(d.b, [d.N, d.Dv]);
      switch (w.id) {
        case "W1":
        case "W2":
          return { call: () => out(step(gaussian(tf, x, y), (K) => tf.matMul(K, b)), d.Dv) };
        case "W3":
          return {
            call: async () => {
              const { indices, values } = tf.topk(negSqdist(tf, x, y), KNN_K, true);
              values.dispose();
              const idx = (await indices.data()) as Int32Array;
              indices.dispose();
              return { indices: idx, width: KNN_K };
            },
          };
        case "W4":
          return { call: () => out(step(negSqdist(tf, x, y), (t) => tf.logSumExp(t, 1)), 1) };
        case "W5":
          // tfjs-core's node bundle ships without gradient registrations (they come with the
          // @tensorflow/tfjs union package), so tf.grad cannot run here: the backward pass is
          // written by hand, dense: W = (a·bᵀ) ∘ K, ∂/∂x_i = −4 (Σ_j W_ij x_i − Σ_j W_ij y_j).
          return {
            call: () => {
              const K = gaussian(tf, x, y);
              const g = tf.tidy(() => {
                const a = tf.matMul(K, b);
                const W = tf.mul(tf.matMul(a, b, false, true), K);
                return tf.mul(tf.sub(tf.mul(tf.sum(W, 1, true), x), tf.matMul(W, y)), -4);
              });
              K.dispose();
              return out(g, d.D);
            },
            extra: () => ({ backward: "hand-written (tf.grad unavailable: no gradients in tfjs-core's node bundle)" }),
          };
        case "W6": {
          const iters = { n: 0 };
          return { call: async () => out(await denseCG(tf, x, b, iters), d.Dv), extra: () => ({ cgIterations: iters.n }) };
        }
        case "W7": {
          const s2 = d.sigmas!.map((s) => s * s);
          return {
            call: async () => {
              let g!: Float32Array;
              for (let c = 0; c < size; c++) {
                const t = tf.tidy(() => {
                  const nd = negSqdist(tf, x, y);
                  const k = tf.sum(tf.exp(tf.div(tf.reshape(nd, [W7_M, W7_N, 1]), tf.tensor1d(s2))), 2);
                  return tf.matMul(k, b);
                });
                g = t.dataSync() as Float32Array;
                t.dispose();
              }
              return { values: g, width: d.Dv };
            },
          };
        }
        default:
          throw new NoFigure("not available", `TensorFlow.js has no implementation of ${w.key} here`);
      }
    },
  };
}

