/**
 * Emission of SSA values as SIMD code inside one kernel function: how each value is held (local,
 * lane mask, constant, or an operand-stack expression when used once), and the code of every op.
 */
import { type Block, type Instr } from "../../ir/ssa.js";
import type { KernelProgram } from "../../compile/program.js";
import { scheduleOf } from "../../compile/schedule.js";
import { I32, ModuleBuilder, V128, type FuncBody } from "./encoder.js";
import { Asm, OP, SIMD, splatBytes } from "./asm.js";
import { Lanes, type LaneOp, type Mode } from "./lanes.js";
import { BINARY_SIG, IMPORTED_BINARY, IMPORTED_UNARY, UNARY_SIG, emitExp, emitLog } from "./mathlib.js";

/** The compute mode of a program: float64 when its data or its accumulator is float64. */
export function modeOf(p: KernelProgram): Mode {
  return p.dtype === "float64" || p.accDtype === "float64" ? "f64" : "f32";
}

/**
 * Whether the program's reduction is a selection (a guarded update, not tiled): its state is kept
 * replicated in every lane, candidates folded in one at a time where the vector guard passes.
 */
export function replicatedState(p: KernelProgram): boolean {
  const s = scheduleOf(p);
  return s.strategy === "select" && !s.tiled;
}

/**
 * A value as the generator holds it: a vector local (a lane mask when `mask`), a constant, or an
 * expression emitted at its single use.
 */
export type Repr =
  | { readonly local: number; readonly mask: boolean }
  | { readonly c: number }
  | { readonly inline: () => void; readonly mask: boolean };

/**
 * Ops whose code uses no scratch local: a single-use value of one is not stored but computed at
 * its use (an expression tree on the operand stack), which keeps V8's register allocation tight.
 */
const STACKABLE = new Set<string>([
  "load", "loadc", "idx", "select", "add", "sub", "mul", "div", "min", "max", "neg", "abs", "sqrt", "rsqrt", "floor",
  "lt", "le", "gt", "ge", "eq", "ne",
]);

const FCMP: Record<string, LaneOp> = { lt: "lt", le: "le", gt: "gt", ge: "ge", eq: "eq", ne: "ne" };
const ICMP: Record<string, LaneOp> = { lt: "ilt", le: "ile", gt: "igt", ge: "ige", eq: "ieq", ne: "ine" };
const DIRECT: Record<string, LaneOp> = {
  add: "add", sub: "sub", mul: "mul", div: "div", min: "min", max: "max", sqrt: "sqrt", floor: "floor",
};

/** Which values of a block are 0/1 (comparisons and their logic): they are kept as lane masks. */
function booleans(b: Block): boolean[] {
  const isB: boolean[] = [];
  const isConst01 = (v: number): boolean => b.code[v]!.op === "const" && (b.code[v]!.k[0] === 0 || b.code[v]!.k[0] === 1);
  const bool = (v: number): boolean => isB[v]! || isConst01(v);
  b.code.forEach((ins, n) => {
    const [x = -1, y = -1, z = -1] = ins.a;
    isB[n] =
      ins.t === "f" &&
      ((FCMP[ins.op] !== undefined) ||
        ((ins.op === "mul" || ins.op === "max") && bool(x) && bool(y) && !(isConst01(x) && isConst01(y))) ||
        (ins.op === "sub" && b.code[x]!.op === "const" && b.code[x]!.k[0] === 1 && isB[y]!) ||
        (ins.op === "select" && bool(y) && bool(z) && (isB[y]! || isB[z]!)));
  });
  return isB;
}

/** Inputs of a block instance. */
export interface Ctx {
  /** Input k; `c` (an i32 local): in a loop over a vector state, component k + c (src/compile/vout.ts). */
  state?: (k: number, c?: number) => Repr;
  other?: (k: number, c?: number) => Repr;
  fval?: (k: number, c?: number) => Repr;
  /** Local holding j (i32) and the lane offset of this vector. */
  jLocal?: number;
  jOff?: number;
  /** Byte offset added to inner loads (unrolled copies). */
  loadOff?: number;
  /** `idx` is j + jOff in every lane (one candidate replicated) instead of j + jOff + lane. */
  idxSplat?: boolean;
}

/** The generator of one kernel: its module, function, locals and value emission. */
export class Gen {
  readonly m = new ModuleBuilder();
  readonly f: FuncBody;
  readonly a: Asm;
  readonly L: Lanes;
  readonly U: number;
  private readonly imports = new Map<string, number>();
  private readonly scratch: number[] = [];
  private readonly scalars = new Map<string, number>();
  private readonly cache = new Map<string, number>();
  private readonly bools = new Map<Block, boolean[]>();
  // locals
  readonly tab = 0; readonly i0 = 1; readonly i1 = 2; readonly nI = 3; readonly stride = 4; readonly scratchP = 5;
  readonly base: number[] = [];
  readonly rowBase: number[] = [];
  readonly compBase: number[][] = [];
  readonly outBase: number[] = [];
  readonly outRow: number[] = [];
  q!: number; qn!: number; qb!: number; jq!: number;
  i!: number; j!: number; jb!: number; je!: number; jt!: number; jfull!: number; mask!: number;

  constructor(readonly p: KernelProgram, shared: boolean) {
    const mode = modeOf(p);
    this.m.importMemory("env", "mem", 1, 65536, shared);
    const used = new Set<string>();
    for (const b of [p.body, p.red.update, p.red.merge, p.red.finalize]) for (const ins of b.code) used.add(ins.op);
    for (const name of IMPORTED_UNARY) if (used.has(name)) this.imports.set(name, this.m.importFunc("m", name, UNARY_SIG));
    for (const name of IMPORTED_BINARY) if (used.has(name)) this.imports.set(name, this.m.importFunc("m", name, BINARY_SIG));
    this.f = this.m.func({ params: [I32, I32, I32, I32, I32, I32], results: [] }, "k").body;
    this.a = new Asm(this.f);
    this.L = new Lanes(mode, this.a);
    // vectors per step: two partial states hide the latency of an accumulation chain; selection
    // reductions (one replicated state, cheap vector tests) take four per branch
    this.U = replicatedState(p) ? 4 : 2;
  }

  /** Scratch vector local n (shared by sequential emissions). */
  t = (n: number): number => {
    while (this.scratch.length <= n) this.scratch.push(this.f.local(V128));
    return this.scratch[n]!;
  };

  /** A scalar local by name. */
  scalar(name: string, t: number): number {
    let l = this.scalars.get(name);
    if (l === undefined) this.scalars.set(name, (l = this.f.local(t as typeof I32)));
    return l;
  }

  /** The vector local of value n of block `tag`, copy u (reused across emissions of that block). */
  valueLocal(tag: string, n: number, u: number): number {
    const key = `${tag}:${n}:${u}`;
    let l = this.cache.get(key);
    if (l === undefined) this.cache.set(key, (l = this.f.local(V128)));
    return l;
  }

  boolsOf(b: Block): boolean[] {
    let r = this.bools.get(b);
    if (!r) this.bools.set(b, (r = booleans(b)));
    return r;
  }

  /** Pushes a value as floats / ints (t) or as a lane mask. */
  push(r: Repr, want: "f" | "i" | "mask"): void {
    const { a, L } = this;
    if ("c" in r) {
      if (want === "mask") a.vconst(splatBytes(L.mode === "f32" ? "i32" : "i64", [r.c !== 0 ? -1 : 0]));
      else if (want === "i") L.i(r.c);
      else L.f(r.c);
      return;
    }
    if ("inline" in r) r.inline();
    else a.get(r.local);
    if (r.mask && want !== "mask") {
      L.f(1);
      a.v(SIMD.and);
    } else if (!r.mask && want === "mask") {
      L.f(0).op("ne");
    }
  }

  /** Stores lane 0 of the vector on the stack (an int or a float) as element `elem` of the row whose address is below it. */
  storeLane0(isInt: boolean, elem: number): void {
    const { a, L } = this;
    if (isInt) {
      if (L.mode === "f32") a.lane(SIMD.i32x4ExtractLane, 0);
      else a.lane(SIMD.i64x2ExtractLane, 0).op(OP.i32WrapI64);
      a.mem(OP.i32Store, 2, elem * 4);
    } else if (L.mode === "f32") a.lane(SIMD.f32x4ExtractLane, 0).mem(OP.f32Store, 2, elem * 4);
    else a.lane(SIMD.f64x2ExtractLane, 0).mem(OP.f64Store, 3, elem * 8);
  }

  /**
   * Emits the instructions of `block` picked by `pick` for copy `u`; `vals` maps values already
   * known (from other emissions of hoisted levels) and receives the new ones.
   */
  emitBlock(tag: string, block: Block, u: number, ctx: Ctx, vals: Map<number, Repr>, pick: (n: number, ins: Instr) => boolean): void {
    const isB = this.boolsOf(block);
    const total = this.usesOf(block);
    this.current = block;
    const here = new Map<number, number>();
    block.code.forEach((ins, n) => {
      if (pick(n, ins) && !vals.has(n)) for (const v of ins.a) here.set(v, (here.get(v) ?? 0) + 1);
    });
    block.code.forEach((ins, n) => {
      if (!pick(n, ins) || vals.has(n)) return;
      if (ins.op === "const") {
        vals.set(n, { c: ins.k[0]! });
        return;
      }
      if (ins.op === "state") return void vals.set(n, ctx.state!(ins.k[0]!, this.component(ins, vals)));
      if (ins.op === "other") return void vals.set(n, ctx.other!(ins.k[0]!, this.component(ins, vals)));
      if (ins.op === "fval") return void vals.set(n, ctx.fval!(ins.k[0]!, this.component(ins, vals)));
      if (ins.op === "acc" || ins.op === "loop" || ins.op === "next" || ins.op === "end") return this.loopOp(tag, n, u, ins, vals);
      const args = ins.a.map((v) => vals.get(v)!);
      const types = ins.a.map((v) => block.code[v]!.t);
      if (STACKABLE.has(ins.op) && total[n] === 1 && here.get(n) === 1) {
        vals.set(n, { inline: () => this.instr(ins, args, isB[n]!, types, null, ctx), mask: isB[n]! });
        return;
      }
      const out = this.valueLocal(tag, n, u);
      this.instr(ins, args, isB[n]!, types, out, ctx);
      vals.set(n, { local: out, mask: isB[n]! });
    });
  }

  /** A looped input's loop index (an i32 local; unit stride only), or undefined for a plain input. */
  private component(ins: Instr, vals: Map<number, Repr>): number | undefined {
    if (!ins.a.length) return undefined;
    if (ins.k[1] !== 1) throw new Error(`wasm renderer: a looped ${ins.op} of stride ${ins.k[1]}`);
    return (vals.get(ins.a[0]!) as { local: number }).local;
  }

  /**
   * The structure of a loop region (src/compile/loops.ts): the accumulator a vector local that
   * the loop keeps (persistent: not reset at the loop's entry), the index an i32 local, the loop a
   * do-while (a region counts at least two terms).
   */
  private loopOp(tag: string, n: number, u: number, ins: Instr, vals: Map<number, Repr>): void {
    const a = this.a;
    if (ins.op === "acc") {
      const l = this.valueLocal(tag, n, u);
      a.persistent.add(l);
      this.push(vals.get(ins.a[0]!)!, "f");
      a.set(l);
      vals.set(n, { local: l, mask: false });
    } else if (ins.op === "loop") {
      const c = this.scalar(`loop:${tag}:${n}:${u}`, I32);
      a.i32(0).set(c);
      a.openLoop();
      vals.set(n, { local: c, mask: false });
    } else if (ins.op === "next") {
      this.push(vals.get(ins.a[1]!)!, "f");
      a.set((vals.get(ins.a[0]!) as { local: number }).local);
    } else {
      const loop = ins.k[0]!;
      const c = (vals.get(loop) as { local: number }).local;
      a.get(c).i32(1).op(OP.i32Add).tee(c).i32(this.current!.code[loop]!.k[0]!).op(OP.i32GeS).brIf(1);
      a.closeLoop();
    }
  }

  /** The block being emitted (set by emitBlock). */
  private current: Block | null = null;

  private readonly uses = new Map<Block, number[]>();
  /** Uses of each value of a block: by its instructions, its outputs and its guard. */
  usesOf(b: Block): number[] {
    let u = this.uses.get(b);
    if (!u) {
      u = new Array<number>(b.code.length).fill(0);
      for (const ins of b.code) for (const v of ins.a) u[v]!++;
      for (const v of b.out) u[v]! += 2;
      const g = (b as { guard?: number }).guard;
      if (g !== undefined) u[g]! += 2;
      this.uses.set(b, u);
    }
    return u;
  }

  /** Emits one instruction into local `out`, or leaves its value on the stack (`out` null). */
  private instr(ins: Instr, args: Repr[], asMask: boolean, types: string[], out: number | null, ctx: Ctx): void {
    const { a, L } = this;
    const op = ins.op;
    const pf = (k: number): void => this.push(args[k]!, types[k] === "i" ? "i" : "f");
    if (op === "load") {
      const [slot, comp] = ins.k as [number, number];
      const role = this.p.slots[slot]!.role;
      if (role === "inner") {
        a.get(this.compBase[slot]![comp]!).get(this.jb).op(OP.i32Add);
        a.vmem(SIMD.load, 0, ctx.loadOff ?? 0);
      } else {
        a.get(role === "param" ? this.base[slot]! : this.rowBase[slot]!);
        a.vmem(L.mode === "f32" ? SIMD.load32Splat : SIMD.load64Splat, 0, comp * L.bytes);
      }
    } else if (op === "loadc") {
      // component kb + ks·c of a slot, c the loop's index (an i32 local)
      const [slot, kb, ks] = ins.k as [number, number, number];
      const role = this.p.slots[slot]!.role;
      a.get((args[0] as { local: number }).local);
      if (ks !== 1) a.i32(ks).op(OP.i32Mul);
      if (kb !== 0) a.i32(kb).op(OP.i32Add);
      if (role === "inner") {
        a.get(this.stride).op(OP.i32Mul).get(this.base[slot]!).op(OP.i32Add).get(this.jb).op(OP.i32Add);
        a.vmem(SIMD.load, 0, ctx.loadOff ?? 0);
      } else {
        a.i32(L.bytes).op(OP.i32Mul).get(role === "param" ? this.base[slot]! : this.rowBase[slot]!).op(OP.i32Add);
        a.vmem(L.mode === "f32" ? SIMD.load32Splat : SIMD.load64Splat, 0, 0);
      }
    } else if (op === "idx") {
      a.get(ctx.jLocal!);
      if (L.mode === "f32") a.v(SIMD.i32x4Splat);
      else a.op(OP.i64ExtendI32S).v(SIMD.i64x2Splat);
      const off = ctx.jOff ?? 0;
      L.iLanes(ctx.idxSplat ? [off] : Array.from({ length: L.W }, (_, l) => off + l)).op("iadd");
    } else if (op === "select") {
      const want = asMask ? "mask" : ins.t === "i" ? "i" : "f";
      this.push(args[1]!, want);
      this.push(args[2]!, want);
      this.push(args[0]!, "mask");
      a.v(SIMD.bitselect);
    } else if (FCMP[op]) {
      if (types[0] === "i") {
        pf(0);
        pf(1);
        L.op(ICMP[op]!);
      } else {
        pf(0);
        pf(1);
        L.op(FCMP[op]!);
      }
      if (!asMask) {
        L.f(1);
        a.v(SIMD.and);
      }
    } else if (asMask) {
      // logic on masks: mul = and, max = or, 1 − x = not, (select handled above)
      if (op === "sub") {
        this.push(args[1]!, "mask");
        a.v(SIMD.not);
      } else {
        this.push(args[0]!, "mask");
        this.push(args[1]!, "mask");
        a.v(op === "mul" ? SIMD.and : SIMD.or);
      }
    } else if (DIRECT[op]) {
      pf(0);
      if (args.length > 1) pf(1);
      L.op(DIRECT[op]!);
    } else if (op === "neg" || op === "abs") {
      // sign-bit logic with the mask in a register (V8 rebuilds the mask of f32x4.neg/abs each time)
      pf(0);
      L.f(-0);
      a.v(op === "neg" ? SIMD.xor : SIMD.andnot);
    } else if (op === "rsqrt") {
      L.f(1);
      pf(0);
      L.op("sqrt").op("div");
    } else if (op === "exp" || op === "log") {
      pf(0);
      a.set(this.t(10));
      (op === "exp" ? emitExp : emitLog)(L, this.t(10), out!, this.t);
      return;
    } else if (op === "round") {
      // half away from zero: t = trunc(x); t + copysign(1, x) where |x − t| ≥ 0.5
      pf(0);
      a.set(this.t(0));
      a.get(this.t(0));
      L.op("trunc").set(this.t(1));
      a.get(this.t(1)).get(this.t(0));
      L.f(-0);
      a.v(SIMD.and);
      L.f(1);
      a.v(SIMD.or);
      L.op("add");
      a.get(this.t(1)).get(this.t(0)).get(this.t(1));
      L.op("sub").op("abs").f(0.5).op("ge");
      a.v(SIMD.bitselect);
    } else if (op === "sign") {
      pf(0);
      a.set(this.t(0));
      a.get(this.t(0));
      L.f(0).op("gt").f(1);
      a.v(SIMD.and).get(this.t(0));
      L.f(0).op("lt").f(-1);
      a.v(SIMD.and).v(SIMD.or);
      a.set(this.t(1));
      a.get(this.t(0)).get(this.t(1)).get(this.t(0)).get(this.t(0));
      L.op("ne");
      a.v(SIMD.bitselect);
    } else if (this.imports.has(op)) {
      this.callPerLane(this.imports.get(op)!, args.length, () => pf(0), () => pf(1));
    } else {
      throw new Error(`wasm renderer: unknown op ${op}`);
    }
    if (out !== null) a.set(out);
  }

  /** Calls an imported float64 function once per lane; leaves the vector of results on the stack. */
  private callPerLane(fn: number, arity: number, push0: () => void, push1: () => void): void {
    const { a, L } = this;
    const f32 = L.mode === "f32";
    push0();
    a.set(this.t(0));
    if (arity > 1) {
      push1();
      a.set(this.t(1));
    }
    const res = this.scalar("callres", 0x7c);
    for (let l = 0; l < L.W; l++) {
      for (let k = 0; k < arity; k++) {
        a.get(this.t(k)).lane(f32 ? SIMD.f32x4ExtractLane : SIMD.f64x2ExtractLane, l);
        if (f32) a.op(OP.f64PromoteF32);
      }
      a.call(fn);
      if (l === 0) {
        if (f32) a.op(OP.f32DemoteF64);
        L.op("splat").set(this.t(2));
      } else {
        a.set(res);
        a.get(this.t(2)).get(res);
        if (f32) a.op(OP.f32DemoteF64);
        a.lane(f32 ? SIMD.f32x4ReplaceLane : SIMD.f64x2ReplaceLane, l).set(this.t(2));
      }
    }
    a.get(this.t(2));
  }
}
