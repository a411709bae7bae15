/**
 * Evaluating SSA blocks in JavaScript, in float64: the distributed parent merges partial
 * reduction states with the reduction's own `merge` block and finalizes them with its `finalize`
 * block (src/distributed/merge.ts). Semantics are {@link evalOp}'s, op for op.
 *
 * {@link compileBlock} turns a block into a JavaScript function once (the merge of a K-min state
 * runs a few hundred instructions per row and shard); {@link evalBlock} is the plain interpreter,
 * the definition the compiled form is tested against.
 */
import { evalOp, type Block, type Instr } from "./ssa.js";

/** What a block reads: reduction states, formula values, the inner index, variable loads. */
export interface BlockEnv {
  readonly state?: ArrayLike<number>;
  readonly other?: ArrayLike<number>;
  readonly fval?: ArrayLike<number>;
  readonly idx?: number;
  readonly load?: (slot: number, comp: number) => number;
}

function input(ins: Instr, env: BlockEnv): number {
  const arr = ins.op === "state" ? env.state : ins.op === "other" ? env.other : env.fval;
  const v = arr?.[ins.k[0]!];
  if (v === undefined) throw new Error(`evalBlock: the block reads ${ins.op}[${ins.k[0]}], which the environment lacks`);
  return v;
}

/** Evaluates a block instruction by instruction; returns its outputs. */
export function evalBlock(block: Block, env: BlockEnv): number[] {
  const v = new Float64Array(block.code.length);
  block.code.forEach((ins, i) => {
    switch (ins.op) {
      case "const": v[i] = ins.k[0]!; break;
      case "state": case "other": case "fval": v[i] = input(ins, env); break;
      case "idx":
        if (env.idx === undefined) throw new Error("evalBlock: the block reads the inner index, which the environment lacks");
        v[i] = env.idx;
        break;
      case "load":
        if (!env.load) throw new Error("evalBlock: the block loads a variable, which the environment lacks");
        v[i] = env.load(ins.k[0]!, ins.k[1]!);
        break;
      default: v[i] = evalOp(ins.op, ins.a.map((a) => v[a]!));
    }
  });
  return block.out.map((o) => v[o]!);
}

/** A compiled block: reads `state` and `other`, writes the outputs into `out`. */
export type CompiledBlock = (state: ArrayLike<number>, other: ArrayLike<number>, out: Float64Array) => void;

const INFIX: Readonly<Record<string, string>> = { add: "+", sub: "-", mul: "*", div: "/" };
const COMPARE: Readonly<Record<string, string>> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "===", ne: "!==" };
const MATH: Readonly<Record<string, string>> = {
  abs: "Math.abs", exp: "Math.exp", log: "Math.log", sqrt: "Math.sqrt", min: "Math.min", max: "Math.max",
  floor: "Math.floor", log1p: "Math.log1p", expm1: "Math.expm1", pow: "Math.pow", atan2: "Math.atan2",
};

function literal(x: number): string {
  return Object.is(x, -0) ? "-0" : String(x);
}

/**
 * Compiles a block that reads only `state`, `other` and constants (a merge or finalize block)
 * into a JavaScript function with the semantics of {@link evalBlock}.
 */
export function compileBlock(block: Block): CompiledBlock {
  const lines: string[] = [];
  block.code.forEach((ins, i) => {
    const a = ins.a.map((x) => `v${x}`);
    let e: string;
    if (ins.op === "const") e = literal(ins.k[0]!);
    else if (ins.op === "state") e = `s[${ins.k[0]}]`;
    else if (ins.op === "other") e = `o[${ins.k[0]}]`;
    else if (ins.op === "fval" || ins.op === "idx" || ins.op === "load")
      throw new Error(`compileBlock: ${ins.op} is not available outside a kernel (merge and finalize blocks only)`);
    else if (ins.op === "select") e = `(${a[0]} !== 0 ? ${a[1]} : ${a[2]})`;
    else if (ins.op === "neg") e = `-${a[0]}`;
    else if (INFIX[ins.op]) e = `${a[0]} ${INFIX[ins.op]} ${a[1]}`;
    else if (COMPARE[ins.op]) e = `(${a[0]} ${COMPARE[ins.op]} ${a[1]} ? 1 : 0)`;
    else if (MATH[ins.op]) e = `${MATH[ins.op]}(${a.join(", ")})`;
    else e = `ev(${JSON.stringify(ins.op)}, [${a.join(", ")}])`;
    lines.push(`const v${i} = ${e};`);
  });
  block.out.forEach((o, k) => lines.push(`out[${k}] = v${o};`));
  const make = new Function("ev", `return function block(s, o, out) {\n${lines.join("\n")}\n};`) as (ev: typeof evalOp) => CompiledBlock;
  return make(evalOp);
}
