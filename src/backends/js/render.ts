/**
 * Renders a kernel program as JavaScript source: `(IN, OFF, nI, i0, i1, OUT, OOFF) => void` for
 * one batch and outer rows i0..i1. Loop-invariant instructions are hoisted by their level.
 */
import { dependencies, type Block, type Instr } from "../../compile/ssa.js";
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { JS_PRELUDE } from "./fastmath.js";

/**
 * Tile of inner indices accumulated into a fresh partial state (block_sum). Float32 error grows
 * like √(N / tile) rounding steps of the total: 4096 keeps a 1e6-term sum near 3e-7 relative.
 */
export const JS_TILE = 4096;

function lit(v: number): string {
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
interface Names {
  value(n: number): string;
  load(slot: number, comp: number): string;
  state(k: number): string;
  other(k: number): string;
  fval(k: number): string;
}

function expr(ins: Instr, nm: Names, fastExp: boolean): string {
  const a = ins.a.map((v) => nm.value(v));
  switch (ins.op) {
    case "const": return lit(ins.k[0]!);
    case "load": return nm.load(ins.k[0]!, ins.k[1]!);
    case "idx": return "j";
    case "state": return nm.state(ins.k[0]!);
    case "other": return nm.other(ins.k[0]!);
    case "fval": return nm.fval(ins.k[0]!);
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

/** Ops whose float result is exact given its operands (no rounding to emulate). */
const EXACT = new Set(["const", "load", "idx", "state", "other", "fval", "select", "neg", "abs", "lt", "le", "gt", "ge", "eq", "ne", "min", "max"]);

/**
 * Emits the picked instructions of a block. With `round32`, every rounding float operation is
 * wrapped in Math.fround, so float32 accumulators behave as in float32 (Kahan needs it).
 */
function emit(block: Block, prefix: string, nm: Names, fastExp: boolean, pick: (n: number, ins: Instr) => boolean, lines: string[], indent: string, round32 = false): void {
  block.code.forEach((ins, n) => {
    if (!pick(n, ins)) return;
    if (ins.op === "const") return; // constants are inlined
    const e = expr(ins, nm, fastExp);
    lines.push(`${indent}const ${prefix}${n} = ${round32 && ins.t === "f" && !EXACT.has(ins.op) ? `fr(${e})` : e};`);
  });
}

/** Names of a block's values and inputs; a block reading an input it has no business with is a bug. */
function namer(block: Block, prefix: string, given: Partial<Omit<Names, "value">>): Names {
  const refuse = (what: string) => (): never => {
    throw new Error(`js renderer: block "${prefix}" reads no ${what}`);
  };
  return {
    load: given.load ?? refuse("inputs"),
    state: given.state ?? refuse("state"),
    other: given.other ?? refuse("other state"),
    fval: given.fval ?? refuse("formula values"),
    value: (n) => (block.code[n]!.op === "const" ? lit(block.code[n]!.k[0]!) : `${prefix}${n}`),
  };
}

/** The generated source (a function body returning the kernel). */
export function renderJs(p: KernelProgram): string {
  const fastExp = p.dtype === "float32";
  const r32 = p.accDtype === "float32";
  const acc = (x: string): string => (r32 ? `fr(${x})` : x);
  const { body, red } = p;
  const rows = outputRowSizes(p);
  const L: string[] = [];
  const slotLoad = (slot: number, comp: number): string => {
    const s = p.slots[slot]!;
    if (s.role === "param") return `a${slot}[o${slot} + ${comp}]`;
    return `a${slot}[o${slot} + ${s.role === "outer" ? "i" : "j"} * ${s.dim} + ${comp}]`;
  };
  const bodyNames = namer(body, "b", { load: slotLoad });
  L.push("return function kernel(IN, OFF, nI, i0, i1, OUT, OOFF) {");
  p.slots.forEach((_, s) => L.push(`  const a${s} = IN[${s}], o${s} = OFF[${s}];`));
  rows.forEach((_, o) => L.push(`  const r${o} = OUT[${o}], q${o} = OOFF[${o}];`));
  emit(body, "b", bodyNames, fastExp, (_, ins) => ins.level === 0, L, "  ");
  L.push("  for (let i = i0; i < i1; i++) {");
  emit(body, "b", bodyNames, fastExp, (_, ins) => ins.level === 1, L, "    ");
  const nS = red.state.length;
  const init = (k: number): string => (red.state[k]!.t === "i" ? String(red.state[k]!.init | 0) : lit(red.state[k]!.init));
  for (let k = 0; k < nS; k++) L.push(`    let t${k} = ${init(k)};`);
  // the j loop: updates `s` (a fresh tile partial when tiled, else the total itself)
  const S = red.tiled ? "s" : "t";
  const upNames = namer(red.update, "u", {
    state: (k) => `${S}${k}`,
    // float32 programs round the formula's values to float32 (the body itself runs in double)
    fval: (k) => (p.dtype === "float32" ? `f${k}` : bodyNames.value(body.out[k]!)),
  });
  const assign = (k: number, v: string): string =>
    `${S}${k} = ${red.state[k]!.t === "i" ? v : acc(v)};`;
  const inner: string[] = [];
  emit(body, "b", bodyNames, fastExp, (_, ins) => ins.level >= 2, inner, "      ");
  if (p.dtype === "float32") body.out.forEach((v, k) => inner.push(`      const f${k} = fr(${bodyNames.value(v)});`));
  const guard = red.update.guard;
  if (guard !== undefined && red.update.code[guard]!.op !== "const") {
    const pre = dependencies(red.update, [guard]);
    emit(red.update, "u", upNames, fastExp, (n) => pre.has(n), inner, "      ", r32);
    inner.push(`      if (${upNames.value(guard)} !== 0) {`);
    emit(red.update, "u", upNames, fastExp, (n) => !pre.has(n), inner, "        ", r32);
    red.update.out.forEach((v, k) => inner.push(`        ${assign(k, upNames.value(v))}`));
    inner.push("      }");
  } else {
    emit(red.update, "u", upNames, fastExp, () => true, inner, "      ", r32);
    // compute all new values before assigning (SSA values are consts already)
    red.update.out.forEach((v, k) => inner.push(`      ${assign(k, upNames.value(v))}`));
  }
  if (red.tiled) {
    L.push(`    for (let jt = 0; jt < nI; jt += ${JS_TILE}) {`);
    L.push(`      const je = Math.min(nI, jt + ${JS_TILE});`);
    for (let k = 0; k < nS; k++) L.push(`      let s${k} = ${init(k)};`);
    L.push("      for (let j = jt; j < je; j++) {");
    L.push(...inner.map((l) => "  " + l));
    L.push("      }");
    const mgNames = namer(red.merge, "m", {
      state: (k) => `t${k}`,
      other: (k) => `s${k}`,
    });
    emit(red.merge, "m", mgNames, fastExp, () => true, L, "      ", r32);
    red.merge.out.forEach((v, k) => L.push(`      t${k} = ${red.state[k]!.t === "i" ? mgNames.value(v) : acc(mgNames.value(v))};`));
    L.push("    }");
  } else {
    L.push("    for (let j = 0; j < nI; j++) {");
    L.push(...inner);
    L.push("    }");
  }
  const finNames = namer(red.finalize, "z", { state: (k) => `t${k}` });
  emit(red.finalize, "z", finNames, fastExp, () => true, L, "    ");
  let pos = 0;
  rows.forEach((size, o) => {
    for (let r = 0; r < size; r++, pos++) L.push(`    r${o}[q${o} + i * ${size} + ${r}] = ${finNames.value(red.finalize.out[pos]!)};`);
  });
  L.push("  }");
  L.push("};");
  return JS_PRELUDE + "\n" + L.join("\n");
}
