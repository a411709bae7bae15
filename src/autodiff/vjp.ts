/** `KeOpsFunction.vjp`: one gradient per argument, from the reduction gradients. */
import { KeOpsError, argError, said } from "../errors.js";
import { checkMode } from "../backends/registry.js";
import type { Binding } from "../lazy/bindings.js";
import { dtypeOf, type VarData } from "../lazy/execute.js";
import { argumentData, type FunctionSpec } from "../lazy/keopsfunction.js";
import { Tensor, asTensor, type TensorLike } from "../tensor.js";
import { checkOptions, VJP_KEYS, type VjpOptions } from "../lazy/options.js";
import { runSteps, runStepsAsync, type ReductionSteps } from "../lazy/steps.js";
import { reductionVjpSteps } from "./reductions.js";

/** The data of a bound (fixed) variable. */
export function bindingData(ind: number, b: Binding): VarData {
  return {
    data: Array.isArray(b.source) ? b.source : (b.source as Tensor).data,
    cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: `Var(${ind},${b.dim},${b.cat})`,
  };
}

/**
 * Gradients of ⟨f(args), gradOut⟩ with respect to each argument of a KeOpsFunction (its symbolic
 * variables in index order), each shaped like the argument; parameters are summed over i and j.
 * With `opts.async`, a Promise of them, every reduction run with `async: true` (so on webgpu too).
 */
export function functionVjp(spec: FunctionSpec, args: readonly TensorLike[], gradOut: TensorLike, opts?: VjpOptions): Tensor[] | Promise<Tensor[]> {
  checkOptions(opts, "vjp", VJP_KEYS);
  if (opts?.async !== undefined && typeof opts.async !== "boolean") argError("vjp: async", "a boolean", opts.async);
  const s = opts?.backend === undefined ? spec : { ...spec, call: { ...spec.call, opts: { ...spec.call.opts, backend: opts.backend } } };
  // the whole gradient is watched once (the vjp's options, else the function's), not each reduction
  const made = spec.call.opts;
  const watch = { onProgress: opts?.onProgress ?? made.onProgress, signal: opts?.signal ?? made.signal };
  if (opts?.async) return runStepsAsync(functionVjpSteps(s, args, gradOut), watch);
  checkMode(s.call.opts.backend, "blocking"); // also where the gradient needs no reduction (zero, empty)
  return runSteps(functionVjpSteps(s, args, gradOut), watch);
}

/** {@link functionVjp} as steps (a blocking or an asynchronous driver runs its reductions). */
function* functionVjpSteps(spec: FunctionSpec, args: readonly TensorLike[], gradOut: TensorLike): ReductionSteps<Tensor[]> {
  const red = spec.call.reduction.name;
  if (red === "Max_SumShiftExp" || red === "Max_SumShiftExpWeight")
    throw new KeOpsError(
      `vjp: no gradient for the raw reduction ${red} (its (max, shifted sum) pair is differentiable only through the log-sum-exp or softmax built on it, as in KeOps): use LogSumExp (with a weight) or SumSoftMaxWeight`,
    );
  const order = [...spec.symbolic].sort((a, b) => a[0] - b[0]);
  if (args.length !== order.length)
    argError("args", `${order.length} tensor(s), for ${order.map(([i, d, c]) => `Var(${i},${d},${c})`).join(", ") || "no symbolic variable"}`, said(`${args.length}`));
  const vars = new Map<number, VarData>();
  for (const [ind, b] of spec.fixed) vars.set(ind, bindingData(ind, b));
  const shapes: (readonly number[])[] = [];
  order.forEach(([ind, dim, cat], k) => {
    const d = argumentData(args[k]!, ind, dim, cat, k);
    vars.set(ind, d);
    const a = args[k]!;
    shapes.push(a instanceof Tensor ? a.shape : cat === 2 && (typeof a === "number" || Array.isArray(a)) ? [dim] : asTensor(a, "argument").shape);
  });
  const dtype = dtypeOf(vars.values(), spec.dtype);
  const g = asTensor(gradOut, "gradOut");
  const grads = yield* reductionVjpSteps(spec.call, vars, g, order.map(([ind]) => ind), dtype);
  return order.map(([ind], k) => {
    const t = grads.get(ind)!;
    return new Tensor(t.data, shapes[k]!);
  });
}
