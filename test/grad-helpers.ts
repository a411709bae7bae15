/** Helpers of the gradient tests: row-wise formula evaluation and central finite differences. */
import type { Formula } from "../src/formula/node.js";
import { execute, type VarData } from "../src/lazy/execute.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { reductionByName } from "../src/reductions/index.js";
import { Tensor, type FloatDType } from "../src/tensor.js";

/**
 * Evaluates a formula whose variables are all i-variables (cat 0) on M rows: a Sum over a single
 * j, so row r is F at the data's row r. `data` maps variable index → (M × dim) values.
 */
export function evalRows(f: Formula, data: ReadonlyMap<number, Float64Array | Float32Array>, M: number, backend = "js", dtype: FloatDType = "float64"): Float64Array {
  const vars = new Map<number, VarData>();
  for (const v of f.vars()) {
    const d = data.get(v.ind);
    if (!d) throw new Error(`evalRows: no data for ${v}`);
    vars.set(v.ind, { data: d, cat: 0, dim: v.dim, rows: M, batch: [], name: String(v) });
  }
  const out = execute(
    { formula: f, reduction: reductionByName("Sum")!, axis: 1, K: 1, opts: { backend: backend as never, dtypeAcc: undefined, scheme: "direct_sum" } },
    vars, dtype,
  ) as Tensor;
  return Float64Array.from(out.data);
}

/** ⟨f(args), w⟩ for a function returning a tensor or [values, indices] (values used). */
export function dotResult(fn: KeOpsFunction<unknown>, args: readonly Tensor[], w: Tensor): number {
  const r = fn(...args) as Tensor | [Tensor, Tensor];
  const vals = Array.isArray(r) ? r[0] : r;
  let s = 0;
  for (let k = 0; k < vals.data.length; k++) s += vals.data[k]! * w.data[k]!;
  return s;
}

/** Copies a float64 tensor with entry k moved by `delta`. */
export function bumped(t: Tensor, k: number, delta: number): Tensor {
  const d = Float64Array.from(t.data);
  d[k]! += delta;
  return new Tensor(d, t.shape);
}

/**
 * Central finite differences of a scalar function of `args` with respect to argument `which`,
 * one entry per element of that argument.
 */
export function finiteDifferences(obj: (args: Tensor[]) => number, args: readonly Tensor[], which: number, h = 1e-6): Float64Array {
  const a = args[which]!;
  const out = new Float64Array(a.data.length);
  for (let k = 0; k < a.data.length; k++) {
    const p = [...args], m = [...args];
    const step = h * Math.max(1, Math.abs(a.data[k]!));
    p[which] = bumped(a, k, step);
    m[which] = bumped(a, k, -step);
    out[k] = (obj(p) - obj(m)) / (2 * step);
  }
  return out;
}
