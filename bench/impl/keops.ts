/** keops-ts through its public API, on one named backend (`backend: name` in every reduction). */
import { LazyTensor, Tensor, Vi, Vj, tensor, type BackendName, type KeOpsFunction } from "../../src/index.js";
import type { Data } from "../data.js";
import type { Output } from "../types.js";
import { KNN_K, SOLVE_ALPHA, SOLVE_EPS, type Workload } from "../workloads.js";
import { NoFigure, type Impl, type Runner } from "./runner.js";

const t2 = (a: Float32Array, rows: number, dim: number): Tensor => new Tensor(a, [rows, dim]);
const values = (t: Tensor, width: number): Output => ({ values: t.data as Float32Array, width });

/** Async-only backends (webgpu): every reduction is an `async: true` call, awaited. */
const asyncOnly = (backend: BackendName): boolean => backend === "webgpu";

/** W5: forward a = W1, backward through `vjp` with gradOut = 2a (∂ Σ‖a‖² / ∂a). */
function gradient(d: Data, backend: BackendName): Runner {
  const fn = Vi(0, d.D).sub(Vj(1, d.D)).sqnorm2().neg().exp().mul(Vj(2, d.Dv)).sum({ axis: 1, backend }) as unknown as KeOpsFunction<Tensor>;
  const vjp = (fn as unknown as { vjp?: (args: Tensor[], g: Tensor, o?: { async: true }) => Tensor[] | Promise<Tensor[]> }).vjp;
  if (typeof vjp !== "function") throw new NoFigure("not available", "not available yet: KeOpsFunction.vjp (autodiff) is not in this build");
  const args = [t2(d.x, d.M, d.D), t2(d.y, d.N, d.D), t2(d.b, d.N, d.Dv)];
  const cotangent = (a: Tensor): Tensor => {
    const g = new Float32Array(a.data.length);
    for (let k = 0; k < g.length; k++) g[k] = 2 * a.data[k]!;
    return new Tensor(g, a.shape as number[]);
  };
  // webgpu: the forward call and the vjp's reductions as async calls
  if (asyncOnly(backend))
    return {
      call: async () => {
        const a = await fn.callAsync(...args);
        return values((await vjp.call(fn, args, cotangent(a), { async: true }))[0]!, d.D);
      },
    };
  return {
    call: () => {
      const a = fn(...args);
      return values((vjp.call(fn, args, cotangent(a)) as Tensor[])[0]!, d.D);
    },
  };
}

/** W6: `K.solve(b, { alpha, eps })` with the Gaussian kernel on x; `nystrom`: with that preconditioner. */
function solve(d: Data, backend: BackendName, nystrom: boolean): Runner {
  const proto = LazyTensor.prototype as unknown as { solve?: unknown };
  if (typeof proto.solve !== "function") throw new NoFigure("not available", "not available yet: LazyTensor.solve is not in this build");
  const xi = Vi(t2(d.x, d.M, d.D)), xj = Vj(t2(d.x, d.M, d.D));
  const b = t2(d.b, d.M, d.Dv);
  type Solve = (b: unknown, o: object) => Tensor;
  if (asyncOnly(backend)) {
    const K = xi.sub(xj).sqnorm2().neg().exp();
    return {
      call: async () => values(await (K as unknown as { solve: (b: unknown, o: object) => Promise<Tensor> }).solve(b, opts), d.Dv),
      extra: () => ({ cgIterations: iterations }),
    };
  }
  let iterations = 0;
  const opts = {
    alpha: SOLVE_ALPHA, eps: SOLVE_EPS, backend, ...(asyncOnly(backend) ? { async: true } : {}),
    onIteration: (it: number) => (iterations = it),
    ...(nystrom ? { precond: "nystrom" } : {}),
  };
  // API.md: b of shape (M, Dv); pykeops takes Vi(b): accept either form of this build.
  let form: "tensor" | "lazy" | undefined;
  return {
    call: () => {
      const K = xi.sub(xj).sqnorm2().neg().exp();
      const run = (f: "tensor" | "lazy"): Tensor => (K as unknown as { solve: Solve }).solve(f === "tensor" ? b : Vi(b), opts);
      if (form === undefined) {
        try {
          const a = run("tensor");
          form = "tensor";
          return values(a, d.Dv);
        } catch (e) {
          if (nystrom && /precond/.test(String((e as Error).message))) throw new NoFigure("not available", `not available yet: ${(e as Error).message}`);
          form = "lazy";
        }
      }
      return values(run(form), d.Dv);
    },
    extra: () => ({ cgIterations: iterations }),
  };
}

/** W7: the tutorial's loop; `reuse` builds the function once (call: false), else each call rebuilds. */
function tutorial(d: Data, backend: BackendName, calls: number, reuse: boolean): Runner {
  const xi = Vi(t2(d.x, d.M, d.D)), yj = Vj(t2(d.y, d.N, d.D)), bj = Vj(t2(d.b, d.N, d.Dv));
  const dxy2 = LazyTensor.sum(xi.sub(yj).pow(2)) as LazyTensor<false>;
  const sig2 = (): Tensor => tensor(d.sigmas!.map((s) => s * s));
  const build = (): LazyTensor<false> => dxy2.neg().div(sig2()).exp().sum().mul(bj);
  if (reuse) {
    const fn = build().sumReduction({ axis: 1, call: false, backend }) as unknown as KeOpsFunction<Tensor>;
    return {
      call: () => {
        let g!: Tensor;
        for (let k = 0; k < calls; k++) g = fn();
        return values(g, d.Dv);
      },
    };
  }
  return {
    call: () => {
      let g!: Tensor;
      for (let k = 0; k < calls; k++) g = build().sumReduction({ axis: 1, backend }) as Tensor;
      return values(g, d.Dv);
    },
  };
}

let fresh = 0;

/** W8: each call runs a formula never seen before (a fresh integer constant in it). */
function newFormula(d: Data, backend: BackendName): Runner {
  const x = t2(d.x, d.M, d.D), y = t2(d.y, d.N, d.D), b = t2(d.b, d.N, d.Dv);
  const base = 1_000_003 + Math.floor(Math.random() * 1e9);
  return {
    call: () => {
      const c = base + fresh++;
      Vi(x).sub(Vj(y)).sqnorm2().mul(c).neg().exp().mul(Vj(b)).sum({ axis: 1, backend });
      return { width: 1 };
    },
    extra: () => ({ formula: "Sum_j Exp(-(IntCst(c) * SqDist(x_i, y_j))) * b_j, c fresh per call" }),
  };
}

/** keops-ts on `backend`. */
export function keopsImpl(backend: BackendName): Impl {
  return {
    init: async () => {
      const asm = backend === "wasm" ? ((await import("../../src/backends/wasm/asm.js")) as { wasmFma?: () => boolean }) : {};
      return { backend, ...(asm.wasmFma ? { wasmFma: asm.wasmFma() } : {}) };
    },
    setup(w: Workload, d: Data, size: number): Runner {
      const x = t2(d.x, d.M, d.D), y = t2(d.y, d.N, d.D), b = t2(d.b, d.N, d.Dv);
      const d2 = (): LazyTensor<false> => Vi(x).sub(Vj(y)).sqnorm2();
      if (asyncOnly(backend)) {
        const a = { axis: 1 as const, backend, async: true as const };
        switch (w.id) {
          case "W1":
          case "W2":
            return { call: async () => values(await d2().neg().exp().mul(Vj(b)).sum(a), d.Dv) };
          case "W3":
            return { call: async () => ({ indices: (await d2().argKmin({ K: KNN_K, ...a })).data as Int32Array, width: KNN_K }) };
          case "W4":
            return { call: async () => values(await d2().neg().logsumexp(a), 1) };
          case "W5":
            return gradient(d, backend);
          case "W6":
            return solve(d, backend, w.key === "W6-nystrom");
          default:
            throw new NoFigure("not available", `${w.key} on ${backend}: not measured (its calls are blocking; ${backend} runs only async ones)`);
        }
      }
      switch (w.id) {
        case "W1":
        case "W2":
          return { call: () => values(d2().neg().exp().mul(Vj(b)).sum({ axis: 1, backend }) as Tensor, d.Dv) };
        case "W3":
          return { call: () => ({ indices: (d2().argKmin({ K: KNN_K, axis: 1, backend }) as Tensor).data as Int32Array, width: KNN_K }) };
        case "W4":
          return { call: () => values(d2().neg().logsumexp({ axis: 1, backend }) as Tensor, 1) };
        case "W5":
          return gradient(d, backend);
        case "W6":
          return solve(d, backend, w.key === "W6-nystrom");
        case "W7":
          return tutorial(d, backend, size, w.key === "W7-reuse");
        case "W8":
          return newFormula(d, backend);
        default:
          throw new NoFigure("not available", `no keops-ts implementation of ${w.key}`);
      }
    },
  };
}
