/**
 * Renders a kernel program as a WebAssembly module with 128-bit SIMD:
 * `k(table, i0, i1, nI, stride, scratch)` computes outer rows i0..i1 of one batch (`scratch`: the
 * calling thread's own scratch bytes).
 *
 * Memory layout (prepared by the runner, all floats in the compute precision): `table` holds the
 * byte address of each input slot then of each output; an inner (j-indexed) slot is stored one
 * array per coordinate, coordinate c at `base + c·stride`, padded to whole vectors; outer and
 * parameter slots are row-major as given; outputs row-major.
 *
 * Design (as the native backend): tiles of j in the SIMD lanes (f32x4 / f64x2), U vectors per
 * step (2; 4 for selections); instructions hoisted by loop level (0: once per call, 1: once per
 * row, 2+: per j vector); the last partial vector of a row runs with a lane mask.
 * - Accumulating reductions (sums, log-sum-exp): each unrolled vector and lane holds a partial
 *   state; block_sum tiles fold into the total with the reduction's merge block; the unrolled
 *   vectors, then the lanes (by shuffles), are combined with the merge block, and the finalize
 *   block runs on lane 0.
 * - Selection reductions (a guarded update: min, argmin, K-min …): one state replicated in every
 *   lane; the guard tests whole vectors of candidates against it (its state-only parts, such as
 *   "is the K-th slot empty", are recomputed only when the state changes); where some lane
 *   passes, the candidates go to scratch memory and the passing ones are folded in one at a time
 *   in index order (lowest set bit of the test's bitmask first), so each is newer than the state.
 * Comparison results and their logic (mul = and, max = or, 1 − x = not, select) stay lane masks;
 * single-use pure values are operand-stack expressions; constants live in locals.
 */
import { dependencies, type Block, type Instr } from "../../compile/ssa.js";
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { I32, ModuleBuilder, V128, type FuncBody } from "./encoder.js";
import { Asm, OP, SIMD, splatBytes } from "./asm.js";
import { Lanes, type LaneOp, type Mode } from "./lanes.js";
import { BINARY_SIG, IMPORTED_BINARY, IMPORTED_UNARY, UNARY_SIG, emitExp, emitLog } from "./mathlib.js";

/** Inner indices per block_sum tile (a multiple of every lanes × unroll). */
export const WASM_TILE = 1024;

/** The compute mode of a program: float64 when its data or its accumulator is float64. */
export function modeOf(p: KernelProgram): Mode {
  return p.dtype === "float64" || p.accDtype === "float64" ? "f64" : "f32";
}

/**
 * Whether the program's reduction is a selection (a guarded update, not tiled): its state is kept
 * replicated in every lane, candidates folded in one at a time where the vector guard passes.
 */
export function replicatedState(p: KernelProgram): boolean {
  const g = p.red.update.guard;
  return g !== undefined && p.red.update.code[g]!.op !== "const" && !p.red.tiled;
}

/** A value as the generator holds it: a vector local (a lane mask when `mask`) or a constant. */
type Repr =
  | { readonly local: number; readonly mask: boolean }
  | { readonly c: number }
  | { readonly inline: () => void; readonly mask: boolean };

/**
 * Ops whose code uses no scratch local: a single-use value of one is not stored but computed at
 * its use (an expression tree on the operand stack), which keeps V8's register allocation tight.
 */
const STACKABLE = new Set<string>([
  "load", "idx", "select", "add", "sub", "mul", "div", "min", "max", "neg", "abs", "sqrt", "rsqrt", "floor",
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
interface Ctx {
  state?: (k: number) => Repr;
  other?: (k: number) => Repr;
  fval?: (k: number) => Repr;
  /** Local holding j (i32) and the lane offset of this vector. */
  jLocal?: number;
  jOff?: number;
  /** Byte offset added to inner loads (unrolled copies). */
  loadOff?: number;
  /** `idx` is j + jOff in every lane (one candidate replicated) instead of j + jOff + lane. */
  idxSplat?: boolean;
}

/** The result of rendering. */
export interface RenderedKernel {
  readonly bytes: Uint8Array;
  readonly mode: Mode;
  /** Lanes per vector × unrolled vectors: rows of inner data are padded to a multiple of this. */
  readonly pad: number;
  /** Bytes of scratch memory each thread passes to the kernel. */
  readonly scratchBytes: number;
}

class Gen {
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

  /**
   * Emits the instructions of `block` picked by `pick` for copy `u`; `vals` maps values already
   * known (from other emissions of hoisted levels) and receives the new ones.
   */
  emitBlock(tag: string, block: Block, u: number, ctx: Ctx, vals: Map<number, Repr>, pick: (n: number, ins: Instr) => boolean): void {
    const isB = this.boolsOf(block);
    const total = this.usesOf(block);
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
      if (ins.op === "state") return void vals.set(n, ctx.state!(ins.k[0]!));
      if (ins.op === "other") return void vals.set(n, ctx.other!(ins.k[0]!));
      if (ins.op === "fval") return void vals.set(n, ctx.fval!(ins.k[0]!));
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

/** Renders the module of a program. `shared`: import a shared memory (threads). */
export function renderWasm(p: KernelProgram, shared: boolean): RenderedKernel {
  const g = new Gen(p, shared);
  const { a, L, f, U } = g;
  const { body, red } = p;
  const W = L.W;
  const nS = red.state.length;
  const nSlots = p.slots.length;
  const rows = outputRowSizes(p);
  // locals
  g.q = f.local(I32); g.qn = f.local(I32); g.qb = f.local(I32); g.jq = f.local(I32);
  g.i = f.local(I32); g.j = f.local(I32); g.jb = f.local(I32); g.je = f.local(I32); g.jt = f.local(I32); g.jfull = f.local(I32);
  g.mask = f.local(V128);
  for (const s of p.slots) {
    g.base.push(f.local(I32));
    g.rowBase.push(s.role === "outer" ? f.local(I32) : -1);
    g.compBase.push(s.role === "inner" ? Array.from({ length: s.dim }, () => f.local(I32)) : []);
  }
  rows.forEach(() => {
    g.outBase.push(f.local(I32));
    g.outRow.push(f.local(I32));
  });
  const vecState = (): number[] => Array.from({ length: nS }, () => f.local(V128));
  // The guard's parts that read only the state (e.g. "is the K-th slot empty") change only when
  // the state does: they are computed before each j loop and after each update, not per step.
  const up = red.update;
  const guard = up.guard !== undefined && up.code[up.guard]!.op !== "const" ? up.guard : undefined;
  const pre = guard === undefined ? new Set<number>() : dependencies(up, [guard]);
  const stateOnly: boolean[] = [];
  up.code.forEach((ins, n) => {
    stateOnly[n] = ins.op === "state" || ins.op === "const" || (ins.op !== "fval" && ins.op !== "idx" && ins.a.length > 0 && ins.a.every((v) => stateOnly[v]!));
  });
  const hoisted = [...pre].filter((n) => stateOnly[n] && up.code[n]!.op !== "state" && up.code[n]!.op !== "const");
  const upBools = g.boolsOf(up);
  /**
   * Guarded (selection) reductions keep one state replicated in every lane: the guard tests a
   * whole vector of candidates against it, and only where some lane passes are the lanes folded
   * in, one at a time in index order (so each candidate is newer than the state, as the
   * reduction's update assumes). Insertions are then as rare as for a scalar loop, instead of
   * one partial state per lane each taking its own insertions.
   */
  const replicated = replicatedState(p);
  /** The copy whose locals hold the hoisted guard parts (one state: one set). */
  const hu = (u: number): number => (replicated ? 0 : u);
  const T0 = vecState();
  const T = replicated ? Array.from({ length: U }, () => T0) : [T0, ...Array.from({ length: U - 1 }, vecState)];
  const S = red.tiled ? Array.from({ length: U }, vecState) : T;
  const O = vecState();
  for (const st of [...T, ...S]) for (const l of st) a.persistent.add(l);
  for (let u = 0; u < U; u++) for (const h of hoisted) a.persistent.add(g.valueLocal("u", h, hu(u)));
  const stateT = (k: number): "f" | "i" => red.state[k]!.t;

  // bases from the table; inner coordinate arrays
  for (let s = 0; s < nSlots; s++) a.get(g.tab).mem(OP.i32Load, 2, 4 * s).set(g.base[s]!);
  rows.forEach((_, o) => a.get(g.tab).mem(OP.i32Load, 2, 4 * (nSlots + o)).set(g.outBase[o]!));
  p.slots.forEach((s, k) => {
    if (s.role !== "inner") return;
    for (let c = 0; c < s.dim; c++) a.get(g.base[k]!).get(g.stride).i32(c).op(OP.i32Mul).op(OP.i32Add).set(g.compBase[k]![c]!);
  });
  const bodyVals = new Map<number, Repr>();
  const noState: Ctx = {};
  g.emitBlock("b", body, 0, noState, bodyVals, (_, ins) => ins.level === 0);

  // rows
  a.get(g.i0).set(g.i);
  a.openLoop();
  a.get(g.i).get(g.i1).op(OP.i32GeS).brIf(1);
  p.slots.forEach((s, k) => {
    if (s.role === "outer") a.get(g.base[k]!).get(g.i).i32(s.dim * L.bytes).op(OP.i32Mul).op(OP.i32Add).set(g.rowBase[k]!);
  });
  rows.forEach((size, o) => {
    const eb = red.outputs[o]!.t === "i" ? 4 : L.bytes;
    a.get(g.outBase[o]!).get(g.i).i32(size * eb).op(OP.i32Mul).op(OP.i32Add).set(g.outRow[o]!);
  });
  g.emitBlock("b", body, 0, noState, bodyVals, (_, ins) => ins.level === 1);
  const initState = (target: number[][]): void => {
    for (const st of new Set(target))
      red.state.forEach((s, k) => {
        g.push({ c: s.init }, s.t);
        a.set(st[k]!);
      });
  };
  initState(T);

  const refresh = (u: number, st: number[]): void => {
    if (!hoisted.length) return;
    g.emitBlock("u", up, hu(u), { state: (k) => ({ local: st[k]!, mask: false }) }, new Map(), (n) => pre.has(n) && stateOnly[n]!);
  };

  /** Emits the update (guard test, rest, assignment) for the inputs of `ctx` into state `st`. */
  const update = (u: number, st: number[], ctx: Ctx, masked: boolean): void => {
    const upVals = new Map<number, Repr>(hoisted.map((n) => [n, { local: g.valueLocal("u", n, hu(u)), mask: upBools[n]! }]));
    const full: Ctx = { ...ctx, state: (k) => ({ local: st[k]!, mask: false }) };
    const assign = (): void => {
      up.out.forEach((v, k) => {
        g.push(upVals.get(v)!, stateT(k));
        if (masked) a.get(st[k]!).get(g.mask).v(SIMD.bitselect);
        a.set(O[k]!);
      });
      for (let k = 0; k < nS; k++) a.get(O[k]!).set(st[k]!);
      refresh(u, st);
    };
    if (guard !== undefined) {
      g.emitBlock("u", up, u, full, upVals, (n) => pre.has(n));
      g.push(upVals.get(guard)!, "mask");
      if (masked) a.get(g.mask).v(SIMD.and);
      a.v(SIMD.anyTrue).if();
      g.emitBlock("u", up, u, full, upVals, () => true);
      assign();
      a.end();
    } else {
      g.emitBlock("u", up, u, full, upVals, () => true);
      assign();
    }
  };

  /**
   * One step of j: vector copies `us` (the unrolled ones, or copy 0 alone when `masked`: lanes
   * past `je` keep their state) into their states `st[u]`.
   */
  const step = (us: readonly number[], st: number[][], masked: boolean): void => {
    const fvals = us.map((u) => {
      const ctxBase: Ctx = { jLocal: g.j, jOff: u * W, loadOff: u * W * L.bytes };
      const vals = new Map(bodyVals);
      g.emitBlock("b", body, u, ctxBase, vals, (_, ins) => ins.level >= 2);
      return { ctxBase, vals, fval: (k: number): Repr => vals.get(body.out[k]!)! };
    });
    if (!replicated) {
      us.forEach((u, n) => update(u, st[u]!, { ...fvals[n]!.ctxBase, fval: fvals[n]!.fval }, masked));
      return;
    }
    // the vector tests of every copy against the replicated state: bit u·W + l of `bits` is
    // lane l of copy u passing (lanes past `je` cleared), one branch for all
    us.forEach((u, n) => {
      const upVals = new Map<number, Repr>(hoisted.map((h) => [h, { local: g.valueLocal("u", h, hu(u)), mask: upBools[h]! }]));
      g.emitBlock("u", up, u, { ...fvals[n]!.ctxBase, fval: fvals[n]!.fval, state: (k) => ({ local: st[u]![k]!, mask: false }) }, upVals, (h) => pre.has(h));
      g.push(upVals.get(guard!)!, "mask");
      if (masked) a.get(g.mask).v(SIMD.and);
      a.v(L.mode === "f32" ? SIMD.i32x4Bitmask : SIMD.i64x2Bitmask);
      if (u > 0) a.i32(u * W).op(OP.i32Shl).get(g.qn).op(OP.i32Or);
      a.set(g.qn);
    });
    a.get(g.qn).if();
    // candidates to the scratch area (component k of candidate q at (k·U·W + q)·bytes), then a
    // loop over them: one copy of the update's code whatever the lanes and unrolling
    const nq = U * W;
    us.forEach((u, n) => {
      body.out.forEach((v, k) => {
        const r = fvals[n]!.vals.get(v)!;
        if ("c" in r) return;
        a.get(g.scratchP);
        g.push(r, "f");
        a.vmem(SIMD.store, 0, (k * nq + u * W) * L.bytes);
      });
    });
    // each passing candidate in index order (a candidate failing the test against a state fails
    // it against every later one: selection states only improve), q = lowest set bit
    a.openLoop();
    a.get(g.qn).op(OP.i32Eqz).brIf(1);
    a.get(g.qn).op(OP.i32Ctz).set(g.q);
    a.get(g.qn).get(g.qn).i32(1).op(OP.i32Sub).op(OP.i32And).set(g.qn);
    a.get(g.j).get(g.q).op(OP.i32Add).set(g.jq);
    a.get(g.q).i32(L.shift).op(OP.i32Shl).get(g.scratchP).op(OP.i32Add).set(g.qb);
    const lane = body.out.map((v, k): Repr => {
      const r = fvals[0]!.vals.get(v)!;
      if ("c" in r) return r;
      const loc = g.valueLocal("lane", k, 0);
      a.get(g.qb).vmem(L.mode === "f32" ? SIMD.load32Splat : SIMD.load64Splat, 0, k * nq * L.bytes).set(loc);
      return { local: loc, mask: false };
    });
    update(0, st[0]!, { jLocal: g.jq, jOff: 0, idxSplat: true, fval: (k) => lane[k]! }, false);
    a.closeLoop();
    a.end();
  };

  /** Emits a fold of `other` into `st` with the merge block. */
  const merge = (st: number[], other: (k: number) => Repr): void => {
    const vals = new Map<number, Repr>();
    g.emitBlock("m", red.merge, 0, { state: (k) => ({ local: st[k]!, mask: false }), other }, vals, () => true);
    red.merge.out.forEach((v, k) => {
      g.push(vals.get(v)!, stateT(k));
      a.set(O[k]!);
    });
    for (let k = 0; k < nS; k++) a.get(O[k]!).set(st[k]!);
  };

  /** The loop over j in [jt, je) with states `st`. */
  const jLoop = (st: number[][]): void => {
    for (let u = 0; u < (replicated ? 1 : U); u++) refresh(u, st[u]!);
    // jfull = jt + ((je − jt) & −(W·U))
    a.get(g.jt).get(g.je).get(g.jt).op(OP.i32Sub).i32(-(W * U)).op(OP.i32And).op(OP.i32Add).set(g.jfull);
    a.get(g.jt).set(g.j);
    a.openLoop();
    a.get(g.j).get(g.jfull).op(OP.i32GeS).brIf(1);
    a.get(g.j).i32(L.shift).op(OP.i32Shl).set(g.jb);
    step(Array.from({ length: U }, (_, u) => u), st, false);
    a.get(g.j).i32(W * U).op(OP.i32Add).set(g.j);
    a.closeLoop();
    // the rest, one masked vector at a time
    a.openLoop();
    a.get(g.j).get(g.je).op(OP.i32GeS).brIf(1);
    a.get(g.j).i32(L.shift).op(OP.i32Shl).set(g.jb);
    a.get(g.j);
    if (L.mode === "f32") a.v(SIMD.i32x4Splat);
    else a.op(OP.i64ExtendI32S).v(SIMD.i64x2Splat);
    L.iLanes(Array.from({ length: W }, (_, l) => l)).op("iadd");
    a.get(g.je);
    if (L.mode === "f32") a.v(SIMD.i32x4Splat);
    else a.op(OP.i64ExtendI32S).v(SIMD.i64x2Splat);
    L.op("ilt").set(g.mask);
    step([0], st, true);
    a.get(g.j).i32(W).op(OP.i32Add).set(g.j);
    a.closeLoop();
  };

  if (red.tiled) {
    a.i32(0).set(g.jt);
    a.openLoop();
    a.get(g.jt).get(g.nI).op(OP.i32GeS).brIf(1);
    // je = min(nI, jt + TILE)
    a.get(g.jt).i32(WASM_TILE).op(OP.i32Add).tee(g.je).get(g.nI).get(g.je).get(g.nI).op(OP.i32LtS).op(OP.selectOp).set(g.je);
    initState(S);
    jLoop(S);
    for (let u = 0; u < U; u++) merge(T[u]!, (k) => ({ local: S[u]![k]!, mask: false }));
    a.get(g.jt).i32(WASM_TILE).op(OP.i32Add).set(g.jt);
    a.closeLoop();
  } else {
    a.i32(0).set(g.jt);
    a.get(g.nI).set(g.je);
    jLoop(T);
  }
  // unrolled copies, then lanes (by halves), into lane 0 of T[0]
  if (!replicated) for (let u = 1; u < U; u++) merge(T[0]!, (k) => ({ local: T[u]![k]!, mask: false }));
  const oth = vecState();
  for (let half = W / 2; half >= 1 && !replicated; half /= 2) {
    const lanes: number[] = [];
    const eb = 16 / W;
    for (let l = 0; l < W; l++) for (let b = 0; b < eb; b++) lanes.push(((l + half) % W) * eb + b);
    for (let k = 0; k < nS; k++) a.get(T[0]![k]!).get(T[0]![k]!).shuffle(lanes).set(oth[k]!);
    merge(T[0]!, (k) => ({ local: oth[k]!, mask: false }));
  }
  // finalize and store lane 0
  const finVals = new Map<number, Repr>();
  g.emitBlock("z", red.finalize, 0, { state: (k) => ({ local: T[0]![k]!, mask: false }) }, finVals, () => true);
  let pos = 0;
  rows.forEach((size, o) => {
    const isInt = red.outputs[o]!.t === "i";
    for (let r = 0; r < size; r++, pos++) {
      a.get(g.outRow[o]!);
      g.push(finVals.get(red.finalize.out[pos]!)!, isInt ? "i" : "f");
      if (isInt) {
        if (L.mode === "f32") a.lane(SIMD.i32x4ExtractLane, 0);
        else a.lane(SIMD.i64x2ExtractLane, 0).op(OP.i32WrapI64);
        a.mem(OP.i32Store, 2, r * 4);
      } else if (L.mode === "f32") a.lane(SIMD.f32x4ExtractLane, 0).mem(OP.f32Store, 2, r * 4);
      else a.lane(SIMD.f64x2ExtractLane, 0).mem(OP.f64Store, 3, r * 8);
    }
  });
  a.get(g.i).i32(1).op(OP.i32Add).set(g.i);
  a.closeLoop();
  return { bytes: g.m.encode(), mode: L.mode, pad: W * U, scratchBytes: Math.max(16, body.out.length * W * U * L.bytes) };
}
