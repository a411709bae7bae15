/**
 * Evaluating SSA blocks in JavaScript, in float64: the distributed parent merges partial
 * reduction states with the reduction's own `merge` block and finalizes them with its `finalize`
 * block (src/distributed/merge.ts). Semantics are {@link evalOp}'s, op for op.
 *
 * {@link RowEvaluator} runs a block over many rows at once, one tight loop per instruction (the
 * merge of a K-min state is a few thousand instructions, per row and shard); {@link evalBlock} is
 * the plain interpreter, one row at a time: the definition the row form is tested against.
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

/** Evaluates a block instruction by instruction (loop regions included); returns its outputs. */
export function evalBlock(block: Block, env: BlockEnv): number[] {
  const code = block.code;
  const v = new Float64Array(code.length);
  const load = (slot: number, comp: number): number => {
    if (!env.load) throw new Error("evalBlock: the block loads a variable, which the environment lacks");
    return env.load(slot, comp);
  };
  let nexts: [number, number][] = [];
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    switch (ins.op) {
      case "const": v[i] = ins.k[0]!; break;
      case "state": case "other": case "fval": v[i] = input(ins, env); break;
      case "idx":
        if (env.idx === undefined) throw new Error("evalBlock: the block reads the inner index, which the environment lacks");
        v[i] = env.idx;
        break;
      case "load": v[i] = load(ins.k[0]!, ins.k[1]!); break;
      case "acc": v[i] = v[ins.a[0]!]!; break;
      case "loop": v[i] = 0; break;
      case "loadc": v[i] = load(ins.k[0]!, ins.k[1]! + ins.k[2]! * v[ins.a[0]!]!); break;
      case "next": nexts.push([ins.a[0]!, v[ins.a[1]!]!]); break;
      case "end": {
        for (const [acc, x] of nexts) v[acc] = x;
        nexts = [];
        const loop = ins.k[0]!;
        if (++v[loop]! < code[loop]!.k[0]!) i = loop; // the next iteration starts after `loop`
        break;
      }
      default: v[i] = evalOp(ins.op, ins.a.map((a) => v[a]!));
    }
  }
  return block.out.map((o) => v[o]!);
}

/**
 * A block evaluated over many rows at once, instruction by instruction over columns of rows
 * (a tight loop per instruction: fast whatever the block's size, with no code generation).
 * Reads `state` and `other` (one column per component) and constants: merge and finalize blocks.
 */
export class RowEvaluator {
  private readonly cols: Float64Array[];
  constructor(
    private readonly block: Block,
    /** Most rows per call. */
    readonly maxRows: number,
  ) {
    for (const ins of block.code)
      if (ins.op === "fval" || ins.op === "idx" || ins.op === "load")
        throw new Error(`RowEvaluator: ${ins.op} is not available outside a kernel (merge and finalize blocks only)`);
    this.cols = block.code.map((ins) => (ins.op === "state" || ins.op === "other" ? new Float64Array(0) : new Float64Array(maxRows)));
  }

  /** Evaluates rows [0, n) of the inputs; returns the output columns (valid until the next call). */
  run(state: readonly Float64Array[], other: readonly Float64Array[], n: number): Float64Array[] {
    if (n > this.maxRows) throw new Error(`RowEvaluator: ${n} rows, at most ${this.maxRows}`);
    const v = this.cols;
    this.block.code.forEach((ins, i) => {
      const [a, b, c] = ins.a.map((x) => v[x]!) as [Float64Array, Float64Array, Float64Array];
      const o = v[i]!;
      switch (ins.op) {
        case "state": case "other": {
          const src = (ins.op === "state" ? state : other)[ins.k[0]!];
          if (!src) throw new Error(`RowEvaluator: the block reads ${ins.op}[${ins.k[0]}], which is not given`);
          v[i] = src;
          return;
        }
        case "const": o.fill(ins.k[0]!, 0, n); return;
        case "add": for (let r = 0; r < n; r++) o[r] = a[r]! + b[r]!; return;
        case "sub": for (let r = 0; r < n; r++) o[r] = a[r]! - b[r]!; return;
        case "mul": for (let r = 0; r < n; r++) o[r] = a[r]! * b[r]!; return;
        case "div": for (let r = 0; r < n; r++) o[r] = a[r]! / b[r]!; return;
        case "max": for (let r = 0; r < n; r++) o[r] = Math.max(a[r]!, b[r]!); return;
        case "min": for (let r = 0; r < n; r++) o[r] = Math.min(a[r]!, b[r]!); return;
        case "lt": for (let r = 0; r < n; r++) o[r] = a[r]! < b[r]! ? 1 : 0; return;
        case "le": for (let r = 0; r < n; r++) o[r] = a[r]! <= b[r]! ? 1 : 0; return;
        case "gt": for (let r = 0; r < n; r++) o[r] = a[r]! > b[r]! ? 1 : 0; return;
        case "ge": for (let r = 0; r < n; r++) o[r] = a[r]! >= b[r]! ? 1 : 0; return;
        case "eq": for (let r = 0; r < n; r++) o[r] = a[r]! === b[r]! ? 1 : 0; return;
        case "ne": for (let r = 0; r < n; r++) o[r] = a[r]! !== b[r]! ? 1 : 0; return;
        case "select": for (let r = 0; r < n; r++) o[r] = a[r]! !== 0 ? b[r]! : c[r]!; return;
        case "exp": for (let r = 0; r < n; r++) o[r] = Math.exp(a[r]!); return;
        case "log": for (let r = 0; r < n; r++) o[r] = Math.log(a[r]!); return;
        default: {
          const op = ins.op;
          const args = ins.a.map((x) => v[x]!);
          for (let r = 0; r < n; r++) o[r] = evalOp(op, args.map((col) => col[r]!));
        }
      }
    });
    return this.block.out.map((k) => v[k]!);
  }
}
