/**
 * Computations made of several reductions (gradients, a solve's backward pass) written once, as
 * generators: each yields the reductions it needs and is resumed with their results, so that one
 * body serves a blocking driver ({@link runSteps}: `execute`) and an asynchronous one
 * ({@link runStepsAsync}: `executeAsync`, which an async-only backend such as webgpu requires).
 */
import type { FloatDType } from "../tensor.js";
import { execute, executeAsync, type ReductionCall, type ReductionResult, type VarData } from "./execute.js";

/** One reduction a computation asks to have run. */
export interface ReductionRequest {
  readonly call: ReductionCall;
  readonly vars: ReadonlyMap<number, VarData>;
  readonly dtype: FloatDType;
}

/** A computation that yields reductions to run and returns `T`. */
export type ReductionSteps<T> = Generator<ReductionRequest, T, ReductionResult>;

/** Asks for one reduction and returns its result: `const r = yield* reduce(call, vars, dtype)`. */
export function* reduce(call: ReductionCall, vars: ReadonlyMap<number, VarData>, dtype: FloatDType): ReductionSteps<ReductionResult> {
  return yield { call, vars, dtype };
}

/** Runs the steps with blocking reductions. */
export function runSteps<T>(steps: ReductionSteps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(execute(r.value.call, r.value.vars, r.value.dtype));
  return r.value;
}

/** Runs the steps with each reduction run off the calling thread (`async: true`). */
export async function runStepsAsync<T>(steps: ReductionSteps<T>): Promise<T> {
  let r = steps.next();
  while (!r.done) r = steps.next(await executeAsync(r.value.call, r.value.vars, r.value.dtype));
  return r.value;
}
