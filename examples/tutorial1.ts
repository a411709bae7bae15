/**
 * The first KeOps tutorial, "Fancy reductions, solving linear systems", line by line in keops-ts
 * (reductions part; the solving part lives in examples/solve.ts). CPU sizes: M = 1000, N = 2000.
 */
import { pathToFileURL } from "node:url";
import { LazyTensor, randn, type Tensor } from "keops-ts";

/** A result's shape as a JavaScript array, and its dtype (pykeops prints `torch.Size([1000, 3])`). */
export function size(t: Tensor): string {
  return `[${t.shape.join(", ")}] ${t.dtype}`;
}

/** The first values of a result, e.g. `first values 1.2346, 0.5432, …`. */
export function first(t: Tensor, n = 3): string {
  const v = Array.from(t.data.subarray(0, n), (x) => (t.dtype === "int32" ? String(x) : x.toFixed(4)));
  return `first values ${v.join(", ")}${t.size > n ? ", …" : ""}`;
}

export function main(): void {
  const [M, N] = [1000, 2000];
  const D = 3;

  const x = randn([M, D], { seed: 0 });
  const y = randn([N, D], { seed: 1 });

  const x_i = new LazyTensor(x.reshape([M, 1, D])); // (M, 1, D) LazyTensor
  const y_j = new LazyTensor(y.reshape([1, N, D])); // (1, N, D) LazyTensor

  const V_ij = x_i.sub(y_j); // (M, N, D) symbolic tensor of differences
  const S_ij = V_ij.pow(2).sum(-1); // (M, N, 1) = (M, N) symbolic matrix of squared distances

  console.log(String(S_ij));
  console.log(String(V_ij));

  const sum_i = S_ij.sum({ dim: 1 });
  console.log("Sum reduction of S_ij wrt. the 'N' dimension:", size(sum_i), "—", first(sum_i));
  console.log("Sum reduction of V_ij wrt. the 'M' dimension:", size(V_ij.sum({ axis: 0 })));
  console.log("LogSumExp reduction of S_ij wrt. the 'M' dimension:", size(S_ij.logsumexp({ dim: 0 })));
  console.log(
    "LogSumExp reduction of S_ij, with 'weight' V_ij, wrt. the 'N' dimension:",
    size(S_ij.logsumexp({ dim: 1, weight: V_ij })),
  );

  console.log("Min    reduction of S_ij wrt. the 'M' dimension:", size(S_ij.min({ dim: 0 })));
  console.log("ArgMin reduction of S_ij wrt. the 'N' dimension:", size(S_ij.argmin({ dim: 1 })));
  console.log("Max    reduction of V_ij wrt. the 'M' dimension:", size(V_ij.max({ dim: 0 })));
  console.log("ArgMax reduction of V_ij wrt. the 'N' dimension:", size(V_ij.argmax({ dim: 1 })));

  let [m_i, s_i] = S_ij.minArgmin({ dim: 0 });
  console.log("Min-ArgMin reduction on S_ij wrt. the 'M' dimension:", size(m_i), size(s_i));
  [m_i, s_i] = V_ij.maxArgmax({ dim: 1 });
  console.log("Max-ArgMax reduction on V_ij wrt. the 'N' dimension:", size(m_i), size(s_i));

  let K = 5;
  console.log("KMin    reduction of S_ij wrt. the 'M' dimension:", size(S_ij.Kmin({ K, dim: 0 })));
  const nn = S_ij.argKmin({ K, dim: 1 });
  console.log("ArgKMin reduction of S_ij wrt. the 'N' dimension:", size(nn), "—", first(nn, K));
  K = 7;
  console.log("KMin    reduction of V_ij wrt. the 'M' dimension:", size(V_ij.Kmin({ K, dim: 0 })));
  console.log("ArgKMin reduction of V_ij wrt. the 'N' dimension:", size(V_ij.argKmin({ K, dim: 1 })));

  const a_i = S_ij.sumsoftmaxweight(V_ij, { dim: 1 });
  console.log("SumSoftMaxWeight reduction of S_ij, with weights V_ij, wrt. the 'N' dimension:", size(a_i), "—", first(a_i));
  console.log("The whole result, as console.log prints a Tensor:");
  console.log(a_i);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
