/**
 * Vector outputs as loops: a formula whose output has D ≥ the loop threshold components that are
 * D alike per-component expressions (`K·b_j[c]`, `b_j[c]·x_i[c]`, `exp(x_i[c] − y_j[c])`: one
 * template of src/compile/loops.ts, its loads affine in c), reduced by a plain sum (state[c] +=
 * f[c], merged state[c] + other[c], finalized as the state itself; direct_sum or block_sum), is
 * rendered as one loop over c with the state as an array instead of D named values and D copies of
 * the update, merge and finalize code. Per component the operations and their order are those of
 * the unrolled kernel, so results are bit-identical.
 *
 * This module recognises the case and writes the loop's instructions (backend-neutral); each
 * renderer emits the loop around them and keeps the state as an array.
 */
import { LOOP_MIN_DIM, emitTerm, loopRegions, matcher, sharedOf, type Tpl } from "./loops.js";
import type { Block, Instr } from "../ir/ssa.js";
import type { ReductionProgram } from "../reductions/types.js";

/** A vector output rendered as a loop over its components. */
export interface VectorOutput {
  /** D: the body's outputs, the state's and the output row's components. */
  readonly count: number;
  /** Body output c (and the update's fval c) as a function of c. */
  readonly term: Tpl;
  /** Body instructions still needed outside the loop (1), the rest only feed the looped outputs. */
  readonly live: Uint8Array;
}

/** Whether `v` of `b` is the instruction `op` with the given operands / immediates. */
function is(b: Block, v: number, op: string, k?: number): boolean {
  const ins = b.code[v]!;
  return ins.op === op && (k === undefined || ins.k[0] === k);
}

/** Each `out[c]` of the block is `add(state c, <second> c)` (in this operand order). */
function perComponentAdd(b: Block, second: "fval" | "other", D: number): boolean {
  return b.out.length === D && b.out.every((v, c) => {
    const ins = b.code[v]!;
    return ins.op === "add" && ins.t === "f" && is(b, ins.a[0]!, "state", c) && is(b, ins.a[1]!, second, c);
  });
}

/**
 * The looped form of a program's vector output (see the file's comment), or null when the body
 * (after the earlier passes) and reduction do not match. `nSlots`: the program's input slots
 * (loads of extra slots, e.g. blocked distances, stay outside the template).
 */
export function vectorOutput(body: Block, red: ReductionProgram, nSlots: number, minDim = LOOP_MIN_DIM): VectorOutput | null {
  const D = body.out.length;
  if (D < Math.max(2, minDim) || red.traits?.shiftExp || red.traits?.sortedK || red.update.guard !== undefined) return null;
  if (red.state.length !== D || red.state.some((s) => s.t !== "f" || !Object.is(s.init, red.state[0]!.init))) return null;
  if (red.outputs.length !== 1 || red.outputs[0]!.t !== "f" || red.outputs[0]!.shape.reduce((a, b) => a * b, 1) !== D) return null;
  if (!perComponentAdd(red.update, "fval", D) || !perComponentAdd(red.merge, "other", D)) return null;
  if (red.finalize.out.length !== D || !red.finalize.out.every((v, c) => is(red.finalize, v, "state", c))) return null;
  const term = matcher(body.code)(body.out);
  if (!term || readsExtra(term, nSlots)) return null;
  const shared = new Set<number>();
  sharedOf(term, shared);
  const live = new Uint8Array(body.code.length);
  // the loop regions of earlier passes are kept whole (they feed shared values)
  const stack = [...shared];
  for (const [a, b] of loopRegions(body)) for (let n = a; n <= b; n++) stack.push(n);
  while (stack.length) {
    const v = stack.pop()!;
    if (live[v]) continue;
    live[v] = 1;
    stack.push(...body.code[v]!.a);
  }
  return { count: D, term, live };
}

function readsExtra(t: Tpl, nSlots: number): boolean {
  if (t.kind === "load") return t.slot >= nSlots;
  return t.kind === "op" && t.args.some((a) => readsExtra(a, nSlots));
}

/** The body's code extended by the loop of a vector output (see {@link loopedBody}). */
export interface LoopedBody {
  /** The body's instructions, then a `loop` of `count` iterations and the term's instructions. */
  readonly code: readonly Instr[];
  /** Index of the `loop` instruction (the first one after the body's; its value is c). */
  readonly loop: number;
  /** The term's value (component c of the body's output) at the loop's level. */
  readonly term: number;
}

/**
 * The body's code followed by an open `loop` region (no `end`: the renderer writes the state
 * update of component c after the term, then closes the loop) whose instructions compute
 * the output's component c from the loop index, reusing the body's values for what every
 * component shares.
 */
export function loopedBody(body: Block, vo: VectorOutput): LoopedBody {
  const code: Instr[] = [...body.code];
  const push = (ins: Instr): number => code.push(ins) - 1;
  const loop = push({ op: "loop", a: [], k: [vo.count], t: "i", level: 2 });
  const term = emitTerm(vo.term, loop, 2, (v) => v, push);
  return { code, loop, term };
}
