/**
 * The lowered program: straight-line scalar SSA. This is the contract between the formula
 * level and every backend — backends never see formulas, only these instructions.
 *
 * A value is the index of the instruction that defines it. Types: `f` (a float of the kernel's
 * compute or accumulator precision) and `i` (an int32: indices). Comparisons yield 0/1 floats;
 * `select(c, x, y)` picks x where c ≠ 0.
 */

/** Value types. */
export type VT = "f" | "i";

/** Unary float operations every backend implements. */
export const UNARY = [
  "neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan",
  "sinh", "cosh", "tanh", "erf", "log1p", "expm1", "floor", "round", "sign",
] as const;
/** Binary float operations every backend implements (`pow` is the float power; min/max propagate NaN). */
export const BINARY = ["add", "sub", "mul", "div", "min", "max", "atan2", "pow"] as const;
/** Comparisons: yield 1 where true, 0 where false (NaN compares false, `ne` true). */
export const COMPARE = ["lt", "le", "gt", "ge", "eq", "ne"] as const;

export type UnaryOp = (typeof UNARY)[number];
export type BinaryOp = (typeof BINARY)[number];
export type CompareOp = (typeof COMPARE)[number];

/**
 * Instruction opcodes.
 * - `const` k=[value]; `load` k=[slot, component]; `idx`: the current inner index j (int);
 * - `state` k=[s] / `other` k=[s]: a reduction state component (of this / of the merged-in state);
 * - `fval` k=[c]: component c of the formula body's output (in a reduction's update block);
 * - in a reduction block extended by a loop over a vector state (src/compile/vout.ts), `state`,
 *   `other` and `fval` may read a=[loop] k=[base, stride]: component base + stride·index;
 * - `select` a=[cond, x, y]; unary, binary and compare ops as listed above;
 * - loop regions (src/compile/loops.ts builds them; only body blocks hold them), see {@link LoopOp}.
 */
export type Opcode = "const" | "load" | "idx" | "state" | "other" | "fval" | "select" | UnaryOp | BinaryOp | CompareOp | LoopOp;

/**
 * The opcodes of a loop region: a counted loop over a vector dimension, written as contiguous
 * instructions of one level, `acc…acc loop … next…next end`:
 * - `acc` a=[init] (type f): a loop-carried value (a partial sum, a fold's running value, a
 *   counter: a loop may carry several); inside the loop it reads the current
 *   iteration's value, after `end` the final one;
 * - `loop` k=[count] (type i): opens the loop; its value is the loop index 0…count−1, read only by
 *   `loadc`;
 * - `loadc` a=[loop] k=[slot, base, stride] (type f): component base + stride·index of a slot;
 * - `next` a=[acc, value]: the accumulator's value for the next iteration (no value of its own;
 *   the `next`s of a loop follow its last value, and a `next`'s value is never an `acc`, so
 *   assigning them one after the other is assigning them at once; and a `next` precedes those
 *   of the other accumulators its value reads, for a renderer that computes a value used once
 *   where it is used);
 * - `end` k=[loop]: closes the loop (no value).
 * Values defined between `loop` and `end` are read only there; regions do not nest.
 */
export type LoopOp = "acc" | "loop" | "loadc" | "next" | "end";

/** The loop-region opcodes. */
export const LOOP_OPS: readonly LoopOp[] = ["acc", "loop", "loadc", "next", "end"];

/** The loop regions of a block, as [first, last] instruction indices (the `acc`s to the `end`). */
export function loopRegions(block: Block): [number, number][] {
  const r: [number, number][] = [];
  let start = -1;
  block.code.forEach((ins, n) => {
    if (ins.op === "acc" && start < 0) start = n;
    else if (ins.op === "end") {
      r.push([start, n]);
      start = -1;
    }
  });
  return r;
}

/** One SSA instruction. */
export interface Instr {
  readonly op: Opcode;
  /** Operand values. */
  readonly a: readonly number[];
  /** Immediate operands. */
  readonly k: readonly number[];
  /** Result type. */
  readonly t: VT;
  /**
   * Loop level: 0 invariant (constants, parameters), 1 depends on the outer index i,
   * 2 depends on the inner index j, 3 depends on the reduction state.
   */
  readonly level: number;
}

/** A straight-line block with its outputs. */
export interface Block {
  readonly code: readonly Instr[];
  readonly out: readonly number[];
}

const unarySet = new Set<string>(UNARY);
const binarySet = new Set<string>(BINARY);
const compareSet = new Set<string>(COMPARE);

/** Evaluates one op on numbers (float64), for constant folding and as the semantic definition. */
export function evalOp(op: Opcode, x: number[]): number {
  const [a = NaN, b = NaN, c = NaN] = x;
  switch (op) {
    case "neg": return -a;
    case "abs": return Math.abs(a);
    case "exp": return Math.exp(a);
    case "log": return Math.log(a);
    case "sqrt": return Math.sqrt(a);
    case "rsqrt": return 1 / Math.sqrt(a);
    case "sin": return Math.sin(a);
    case "cos": return Math.cos(a);
    case "tan": return Math.tan(a);
    case "asin": return Math.asin(a);
    case "acos": return Math.acos(a);
    case "atan": return Math.atan(a);
    case "sinh": return Math.sinh(a);
    case "cosh": return Math.cosh(a);
    case "tanh": return Math.tanh(a);
    case "erf": return erf(a);
    case "log1p": return Math.log1p(a);
    case "expm1": return Math.expm1(a);
    case "floor": return Math.floor(a);
    case "round": return roundHalfAway(a);
    case "sign": return sign(a);
    case "add": return a + b;
    case "sub": return a - b;
    case "mul": return a * b;
    case "div": return a / b;
    case "min": return Math.min(a, b);
    case "max": return Math.max(a, b);
    case "atan2": return Math.atan2(a, b);
    case "pow": return Math.pow(a, b);
    case "lt": return a < b ? 1 : 0;
    case "le": return a <= b ? 1 : 0;
    case "gt": return a > b ? 1 : 0;
    case "ge": return a >= b ? 1 : 0;
    case "eq": return a === b ? 1 : 0;
    case "ne": return a !== b ? 1 : 0;
    case "select": return a !== 0 ? b : c;
    default: throw new Error(`evalOp: ${op} is not a pure operation`);
  }
}

/** Rounds half away from zero (C's `round`), the semantics of the SSA `round`. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** −1, 0 or 1 (NaN for NaN), the semantics of the SSA `sign`. */
export function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN;
}

/**
 * The error function to double precision, as the regularised incomplete gamma function
 * erf(z) = P(1/2, z²): its power series (all terms positive) for z² < 1.5, Lentz's continued
 * fraction of Q(1/2, z²) = erfc(z) beyond. Self-contained: embedded as text in JS kernels and workers.
 */
export function erf(x: number): number {
  if (x !== x) return x;
  const z = x < 0 ? -x : x;
  if (z > 6) return x < 0 ? -1 : 1; // erfc(6) < 3e-17
  const t = z * z;
  const scale = (Math.exp(-t) * z) / 1.7724538509055159; // e^(−t)·t^(1/2)/Γ(1/2)
  let r: number;
  if (t < 1.5) {
    let ap = 0.5, del = 2, sum = 2;
    for (let n = 0; n < 200; n++) {
      ap += 1;
      del *= t / ap;
      sum += del;
      if (del < sum * 1e-17) break;
    }
    r = sum * scale;
  } else {
    const tiny = 1e-300;
    let b = t + 0.5, c = 1 / tiny, d = 1 / b, h = d;
    for (let i = 1; i < 300; i++) {
      const an = -i * (i - 0.5);
      b += 2;
      d = an * d + b;
      if (Math.abs(d) < tiny) d = tiny;
      c = b + an / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-16) break;
    }
    r = 1 - scale * h;
  }
  return x < 0 ? -r : r;
}

/**
 * Builds a block with common-subexpression elimination and constant folding.
 * `slotLevel` gives the loop level of each input slot (0 parameter, 1 outer, 2 inner).
 */
export class SsaBuilder {
  readonly code: Instr[] = [];
  /**
   * Value numbering: an open-addressing table of instruction indices (−1: empty) hashed by
   * (op, operands, immediates, type). Two instructions are one value when those are equal, the
   * immediates compared as numbers with NaN equal to NaN (and 0 to −0, as their decimal forms are).
   * Reduction blocks of a vector state of D ≈ 1000 components hold 10⁵ instructions: no key strings.
   */
  private table = new Int32Array(1024).fill(-1);

  constructor(private readonly slotLevel: (slot: number) => number = () => 2) {}

  private emit(op: Opcode, a: number[], k: number[], t: VT, level: number): number {
    const mask = this.table.length - 1;
    let slot = hashInstr(op, a, k, t) & mask;
    for (let id = this.table[slot]!; id !== -1; slot = (slot + 1) & mask, id = this.table[slot]!) {
      if (sameInstr(this.code[id]!, op, a, k, t)) return id;
    }
    const id = this.code.push({ op, a, k, t, level }) - 1;
    this.table[slot] = id;
    if (this.code.length * 2 > this.table.length) this.grow();
    return id;
  }

  /** Doubles the value-numbering table (rehashing every instruction). */
  private grow(): void {
    const table = new Int32Array(this.table.length * 2).fill(-1);
    const mask = table.length - 1;
    this.code.forEach((ins, id) => {
      let slot = hashInstr(ins.op, ins.a, ins.k, ins.t) & mask;
      while (table[slot] !== -1) slot = (slot + 1) & mask;
      table[slot] = id;
    });
    this.table = table;
  }

  private lvl(a: number[]): number {
    let l = 0;
    for (const v of a) l = Math.max(l, this.code[v]!.level);
    return l;
  }

  /** The value of a constant, or undefined. */
  constValue(v: number): number | undefined {
    const ins = this.code[v]!;
    return ins.op === "const" ? ins.k[0] : undefined;
  }

  /** The type of a value. */
  type(v: number): VT {
    return this.code[v]!.t;
  }

  /** A float constant. */
  c(value: number): number {
    return this.emit("const", [], [value], "f", 0);
  }

  /** An int constant. */
  ci(value: number): number {
    return this.emit("const", [], [value | 0], "i", 0);
  }

  /** Loads component `comp` of input slot `slot`. */
  load(slot: number, comp: number): number {
    return this.emit("load", [], [slot, comp], "f", this.slotLevel(slot));
  }

  /** The inner index j. */
  idx(): number {
    return this.emit("idx", [], [], "i", 2);
  }

  /** A reduction-block input: `state`, `other` (merge) or `fval` (formula output). */
  input(kind: "state" | "other" | "fval", k: number, t: VT = "f"): number {
    return this.emit(kind, [], [k], t, kind === "fval" ? 2 : 3);
  }

  /** A unary float op (folded when constant). */
  un(op: UnaryOp, x: number): number {
    if (!unarySet.has(op)) throw new Error(`unknown unary op ${op}`);
    const cx = this.constValue(x);
    if (cx !== undefined) return this.c(evalOp(op, [cx]));
    return this.emit(op, [x], [], "f", this.lvl([x]));
  }

  /** A binary float op (folded when constant; x+0, x*1, x*0 is not folded: NaN·0 ≠ 0). */
  bin(op: BinaryOp, x: number, y: number): number {
    if (!binarySet.has(op)) throw new Error(`unknown binary op ${op}`);
    const cx = this.constValue(x);
    const cy = this.constValue(y);
    if (cx !== undefined && cy !== undefined) return this.c(evalOp(op, [cx, cy]));
    if ((op === "mul" && cy === 1) || ((op === "add" || op === "sub") && cy === 0) || (op === "div" && cy === 1)) return x;
    if ((op === "mul" && cx === 1) || (op === "add" && cx === 0)) return y;
    return this.emit(op, [x, y], [], "f", this.lvl([x, y]));
  }

  /** A comparison, 1 or 0. Operands must have one type (both f or both i). */
  cmp(op: CompareOp, x: number, y: number): number {
    if (!compareSet.has(op)) throw new Error(`unknown comparison ${op}`);
    if (this.type(x) !== this.type(y)) throw new Error("cmp: operand types differ");
    const cx = this.constValue(x);
    const cy = this.constValue(y);
    if (cx !== undefined && cy !== undefined) return this.c(evalOp(op, [cx, cy]));
    return this.emit(op, [x, y], [], "f", this.lvl([x, y]));
  }

  /** `cond ≠ 0 ? x : y`; x and y of one type. */
  select(cond: number, x: number, y: number): number {
    if (this.type(x) !== this.type(y)) throw new Error("select: operand types differ");
    const cc = this.constValue(cond);
    if (cc !== undefined) return cc !== 0 ? x : y;
    if (x === y) return x;
    return this.emit("select", [cond, x, y], [], this.type(x), this.lvl([cond, x, y]));
  }

  /** Logical and / or / not of 0/1 values. */
  and(x: number, y: number): number {
    return this.bin("mul", x, y);
  }
  or(x: number, y: number): number {
    return this.bin("max", x, y);
  }
  not(x: number): number {
    return this.bin("sub", this.c(1), x);
  }
  /** 1 where x is NaN. */
  isnan(x: number): number {
    return this.cmp("ne", x, x);
  }

  /** Finishes the block. */
  block(out: number[]): Block {
    return { code: this.code.slice(), out };
  }
}

const bits = new Float64Array(1);
const words = new Int32Array(bits.buffer);
const opCodes = new Map<string, number>();

/** A hash of an instruction's identity (op, operands, immediates, type); equal for 0 and −0, and for every NaN. */
function hashInstr(op: string, a: readonly number[], k: readonly number[], t: VT): number {
  let code = opCodes.get(op);
  if (code === undefined) opCodes.set(op, (code = opCodes.size + 1));
  let h = Math.imul(code, 0x9e3779b1) ^ (t === "i" ? 0x5bd1e995 : 0);
  for (const v of a) h = Math.imul(h ^ v, 0x85ebca6b) + 0x27d4eb2f;
  for (const x of k) {
    bits[0] = x === 0 ? 0 : x !== x ? NaN : x;
    h = Math.imul(h ^ words[0]!, 0xc2b2ae35) + 0x165667b1;
    h = Math.imul(h ^ words[1]!, 0x85ebca6b) + 0x27d4eb2f;
  }
  return (h ^ (h >>> 15)) >>> 0;
}

/** Whether `ins` is the instruction (op, a, k, t): immediates equal as numbers, NaN equal to NaN. */
function sameInstr(ins: Instr, op: string, a: readonly number[], k: readonly number[], t: VT): boolean {
  if (ins.op !== op || ins.t !== t || ins.a.length !== a.length || ins.k.length !== k.length) return false;
  for (let q = 0; q < a.length; q++) if (ins.a[q] !== a[q]) return false;
  for (let q = 0; q < k.length; q++) {
    const x = ins.k[q]!, y = k[q]!;
    if (x !== y && !(x !== x && y !== y)) return false;
  }
  return true;
}

/** The instructions (indices) a set of values depends on, in program order. */
export function dependencies(block: Block, roots: readonly number[]): Set<number> {
  const need = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const v = stack.pop()!;
    if (need.has(v)) continue;
    need.add(v);
    for (const a of block.code[v]!.a) stack.push(a);
  }
  return need;
}
