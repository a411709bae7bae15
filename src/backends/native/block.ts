/**
 * Renders one SSA block as C++ statements, in scalar or SIMD-vector form. The same text serves
 * both: every operation is an operator or an overloaded `k_*` helper of the prelude.
 *
 * Comparisons stay masks (`bool` in scalar code, an integer vector in vector code) and the
 * reductions' logical idioms on them (and = mul, or = max, not = 1 − x) become bit operations;
 * a mask is turned into a 0/1 float only where a float is needed.
 */
import type { Block, Instr } from "../../ir/ssa.js";

/** How values of a block are typed. */
export interface Mode {
  /** Vector code (SIMD lanes) or scalar code. */
  readonly vec: boolean;
  /** Float type of the block's values (a vector typedef in vector code). */
  readonly F: string;
  /** Its element type (`float` / `double`). */
  readonly E: string;
  /** Integer type of the block's `i` values (a vector typedef in vector code). */
  readonly I: string;
  /** Its element type. */
  readonly IE: string;
}

/** How the block's inputs are spelled. */
export interface Inputs {
  /** Component `comp` of a slot: a number, or an int expression (a vector loop's `loadc`). */
  load?(slot: number, comp: number | string, level: number): string;
  /**
   * State component k; in a reduction block looped over a vector state (src/compile/vout.ts),
   * component k + c with c an int expression of the loop's index.
   */
  state?(k: number, c?: string): string;
  other?(k: number, c?: string): string;
  fval?(k: number, c?: string): string;
  idx?: string;
}

type Kind = "f" | "i" | "m";

/** A C literal for a double. */
export function cLit(v: number): string {
  if (Number.isNaN(v)) return "NAN";
  if (v === Infinity) return "INFINITY";
  if (v === -Infinity) return "(-INFINITY)";
  if (Object.is(v, -0)) return "(-0.0)";
  let s = String(v);
  if (!/[.en]/.test(s)) s += ".0";
  return v < 0 ? `(${s})` : s;
}

const INFIX: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/" };
const CMP: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };
const CALL1 = new Set(["abs", "exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf", "log1p", "expm1", "floor", "round", "sign"]);
const CALL2 = new Set(["min", "max", "atan2", "pow"]);

/** Writes the instructions of one block; values are named `<prefix><n>`. */
export class BlockWriter {
  private readonly kinds: Kind[];

  constructor(
    readonly block: Block,
    private readonly prefix: string,
    private readonly mode: Mode,
    private readonly inputs: Inputs,
  ) {
    this.kinds = [];
    for (const ins of block.code) this.kinds.push(this.kindOf(ins));
  }

  private kindOf(ins: Instr): Kind {
    if (Object.hasOwn(CMP, ins.op)) return "m";
    const [a, b, c] = ins.a;
    const mask = (v: number | undefined): boolean => v !== undefined && this.kinds[v] === "m";
    if (ins.op === "select" && mask(b) && mask(c)) return "m";
    if ((ins.op === "mul" || ins.op === "max") && mask(a) && mask(b)) return "m";
    if (ins.op === "sub" && this.isConst(a!, 1) && mask(b)) return "m";
    return ins.t;
  }

  private isConst(v: number, value: number): boolean {
    const ins = this.block.code[v]!;
    return ins.op === "const" && ins.k[0] === value;
  }

  /** A float constant of the block's type. */
  fconst(v: number): string {
    return this.mode.vec ? `((${this.mode.E})${cLit(v)} - ${this.mode.F}{})` : `((${this.mode.E})${cLit(v)})`;
  }

  private iconst(v: number): string {
    return this.mode.vec ? `((${this.mode.IE})(${v | 0}) - ${this.mode.I}{})` : `((${this.mode.IE})(${v | 0}))`;
  }

  /** Value n in its own kind. */
  value(n: number): string {
    const ins = this.block.code[n]!;
    if (ins.op === "const") return ins.t === "i" ? this.iconst(ins.k[0]!) : this.fconst(ins.k[0]!);
    return `${this.prefix}${n}`;
  }

  /** Value n as a float (masks become 0/1). */
  asF(n: number): string {
    return this.kinds[n] === "m" ? `(${this.value(n)} ? ${this.fconst(1)} : ${this.fconst(0)})` : this.value(n);
  }

  /** Value n as a mask (non-zero). */
  asM(n: number): string {
    const k = this.kinds[n];
    if (k === "m") return this.value(n);
    return `(${this.value(n)} != ${k === "i" ? this.iconst(0) : this.fconst(0)})`;
  }

  /** Value n as a state value of type t (float or int). */
  asState(n: number): string {
    return this.kinds[n] === "m" ? this.asF(n) : this.value(n);
  }

  private expr(n: number): string {
    const ins = this.block.code[n]!;
    const a = ins.a;
    const f = (k: number): string => this.asF(a[k]!);
    const inp = this.inputs;
    const need = <T,>(x: T | undefined, what: string): T => {
      if (x === undefined) throw new Error(`native renderer: this block reads no ${what}`);
      return x;
    };
    switch (ins.op) {
      case "load": return need(inp.load, "inputs")(ins.k[0]!, ins.k[1]!, ins.level);
      case "loadc": {
        const c = `${this.prefix}${a[0]}`, stride = ins.k[2]!;
        return need(inp.load, "inputs")(ins.k[0]!, `(${ins.k[1]} + ${stride === 1 ? c : `${stride} * ${c}`})`, ins.level);
      }
      case "idx": return need(inp.idx, "index");
      case "state": return need(inp.state, "state")(ins.k[0]!, this.comp(ins));
      case "other": return need(inp.other, "other state")(ins.k[0]!, this.comp(ins));
      case "fval": return need(inp.fval, "formula values")(ins.k[0]!, this.comp(ins));
      case "select": {
        const [x, y] = [a[1]!, a[2]!];
        const both = this.kinds[x] === "m" && this.kinds[y] === "m";
        const vx = both ? this.value(x) : this.asState(x), vy = both ? this.value(y) : this.asState(y);
        return `(${this.asM(a[0]!)} ? ${vx} : ${vy})`;
      }
      case "neg": return `(-${f(0)})`;
      case "rsqrt": return `(${this.fconst(1)} / k_sqrt(${f(0)}))`;
      default:
        break;
    }
    if (this.kinds[n] === "m" && !Object.hasOwn(CMP, ins.op)) {
      if (ins.op === "mul") return `(${this.value(a[0]!)} & ${this.value(a[1]!)})`;
      if (ins.op === "max") return `(${this.value(a[0]!)} | ${this.value(a[1]!)})`;
      return this.mode.vec ? `(~${this.value(a[1]!)})` : `(!${this.value(a[1]!)})`;
    }
    if (INFIX[ins.op]) return `(${f(0)} ${INFIX[ins.op]} ${f(1)})`;
    if (CMP[ins.op]) {
      const x = a[0]!, y = a[1]!;
      const ints = this.kinds[x] === "i" && this.kinds[y] === "i";
      return ints ? `(${this.value(x)} ${CMP[ins.op]} ${this.value(y)})` : `(${f(0)} ${CMP[ins.op]} ${f(1)})`;
    }
    if (CALL1.has(ins.op)) return `k_${ins.op}(${f(0)})`;
    if (CALL2.has(ins.op)) return `k_${ins.op}(${f(0)}, ${f(1)})`;
    throw new Error(`native renderer: unknown op ${ins.op}`);
  }

  /** A looped input's component offset from its base (stride · the loop's index), or undefined. */
  private comp(ins: Instr): string | undefined {
    if (!ins.a.length) return undefined;
    const c = `${this.prefix}${ins.a[0]}`, stride = ins.k[1]!;
    return stride === 1 ? c : `${stride} * ${c}`;
  }

  /** Emits the picked instructions (constants are inlined, never emitted). */
  emit(pick: (n: number, ins: Instr) => boolean, lines: string[], indent: string): void {
    this.block.code.forEach((ins, n) => {
      if (ins.op === "const" || !pick(n, ins)) return;
      const name = `${this.prefix}${n}`;
      // loop regions (src/compile/loops.ts): a mutable accumulator, a counted loop
      if (ins.op === "acc") lines.push(`${indent}${this.mode.F} ${name} = ${this.asF(ins.a[0]!)};`);
      else if (ins.op === "loop") lines.push(`${indent}for (int ${name} = 0; ${name} < ${ins.k[0]}; ${name}++) {`);
      else if (ins.op === "next") lines.push(`${indent}  ${this.prefix}${ins.a[0]} = ${this.asF(ins.a[1]!)};`);
      else if (ins.op === "end") lines.push(`${indent}}`);
      else lines.push(`${indent}const auto ${name} = ${this.expr(n)};`);
    });
  }
}
