/**
 * The JS renderer's instruction writer: how an SSA instruction is spelled in JavaScript, how a
 * block's picked instructions are declared, and how a block's inputs are named.
 */
import type { Block, Instr } from "../../ir/ssa.js";
import { withRefusals } from "../../compile/block-inputs.js";

/** A float constant as a JS literal. */
export function lit(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "(-Infinity)";
  if (Object.is(v, -0)) return "(-0)";
  return v < 0 ? `(${v})` : String(v);
}

const FN: Record<string, string> = {
  abs: "Math.abs", log: "Math.log", sqrt: "Math.sqrt", sin: "Math.sin", cos: "Math.cos", tan: "Math.tan",
  asin: "Math.asin", acos: "Math.acos", atan: "Math.atan", sinh: "Math.sinh", cosh: "Math.cosh",
  tanh: "Math.tanh", log1p: "Math.log1p", expm1: "Math.expm1", floor: "Math.floor", erf: "erf",
  round: "roundHalfAway", sign: "sign", min: "Math.min", max: "Math.max", atan2: "Math.atan2", pow: "Math.pow",
};
const INFIX: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/" };
const CMP: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "===", ne: "!==" };

/** How a block's inputs are spelled. */
export interface Names {
  value(n: number): string;
  /** Component `comp` of a slot: a number, or an int expression (in a vector loop). */
  load(slot: number, comp: number | string): string;
  /** State component k, or (`c` given: in a loop over a vector state) component k + c. */
  state(k: number, c?: string): string;
  other(k: number, c?: string): string;
  fval(k: number, c?: string): string;
}

function expr(ins: Instr, nm: Names, fastExp: boolean): string {
  const a = ins.a.map((v) => nm.value(v));
  switch (ins.op) {
    case "const": return lit(ins.k[0]!);
    case "load": return nm.load(ins.k[0]!, ins.k[1]!);
    case "loadc": return nm.load(ins.k[0]!, affine(ins.k[1]!, ins.k[2]!, a[0]!));
    case "idx": return "j";
    case "state": return nm.state(ins.k[0]!, looped(ins, a));
    case "other": return nm.other(ins.k[0]!, looped(ins, a));
    case "fval": return nm.fval(ins.k[0]!, looped(ins, a));
    case "select": return `(${a[0]} !== 0 ? ${a[1]} : ${a[2]})`;
    case "neg": return `(-${a[0]})`;
    case "exp": return `${fastExp ? "fexp" : "Math.exp"}(${a[0]})`;
    case "rsqrt": return `(1 / Math.sqrt(${a[0]}))`;
    default:
      if (INFIX[ins.op]) return `(${a[0]} ${INFIX[ins.op]} ${a[1]})`;
      if (CMP[ins.op]) return `(${a[0]} ${CMP[ins.op]} ${a[1]} ? 1 : 0)`;
      if (FN[ins.op]) return `${FN[ins.op]}(${a.join(", ")})`;
      throw new Error(`js renderer: unknown op ${ins.op}`);
  }
}

/** A looped input's component offset from its base (its loop's index; unit stride only), or undefined. */
function looped(ins: Instr, a: readonly string[]): string | undefined {
  if (!ins.a.length) return undefined;
  if (ins.k[1] !== 1) throw new Error(`js renderer: a looped ${ins.op} of stride ${ins.k[1]}`);
  return a[0];
}

/** The component base + stride·c of a vector loop's load, as an expression. */
function affine(base: number, stride: number, c: string): string {
  return `(${base} + ${stride === 1 ? c : `${stride} * ${c}`})`;
}

/** Ops whose float result is exact given its operands (no rounding to emulate). */
const EXACT = new Set(["const", "load", "idx", "state", "other", "fval", "select", "neg", "abs", "lt", "le", "gt", "ge", "eq", "ne", "min", "max"]);

/**
 * Emits the picked instructions of a block, each declared under its name in `nm`. With
 * `round32`, every rounding float operation is wrapped in Math.fround, so float32 accumulators
 * behave as in float32 (Kahan needs it).
 */
export function emit(block: Block, nm: Names, fastExp: boolean, pick: (n: number, ins: Instr) => boolean, lines: string[], indent: string, round32 = false): void {
  block.code.forEach((ins, n) => {
    if (!pick(n, ins)) return;
    if (ins.op === "const") return; // constants are inlined
    // loop regions (src/compile/loops.ts)
    if (ins.op === "acc") return void lines.push(`${indent}let ${nm.value(n)} = ${nm.value(ins.a[0]!)};`);
    if (ins.op === "loop") return void lines.push(`${indent}for (let ${nm.value(n)} = 0; ${nm.value(n)} < ${ins.k[0]}; ${nm.value(n)}++) {`);
    if (ins.op === "next") return void lines.push(`${indent}  ${nm.value(ins.a[0]!)} = ${nm.value(ins.a[1]!)};`);
    if (ins.op === "end") return void lines.push(`${indent}}`);
    const e = expr(ins, nm, fastExp);
    lines.push(`${indent}const ${nm.value(n)} = ${round32 && ins.t === "f" && !EXACT.has(ins.op) ? `fr(${e})` : e};`);
  });
}

/** Names of a block's values (`name(n)`) and inputs; a block reading an input it has no business with is a bug. */
export function namer(block: Block, label: string, name: (n: number) => string, given: Partial<Omit<Names, "value">>): Names {
  return {
    ...withRefusals<Omit<Names, "value">>("js", label, given, ["load", "state", "other", "fval"]),
    value: (n) => (block.code[n]!.op === "const" ? lit(block.code[n]!.k[0]!) : name(n)),
  };
}
