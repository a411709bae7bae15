/**
 * Instruction emission on a function body: core opcodes, and 128-bit SIMD opcodes (prefix 0xFD,
 * LEB128 sub-opcode) as the SIMD proposal (now WebAssembly 2.0) numbers them.
 *
 * Fused multiply-add: where the engine validates relaxed SIMD (`f32x4.relaxed_madd` …; V8 ≥ 11.4,
 * Chrome ≥ 114, Node ≥ 22; Node 20 with `--experimental-wasm-relaxed-simd`), a product followed by
 * an add or subtract is fused as it is emitted (a peephole over the last instructions, see
 * {@link Asm.v}): every renderer and the math library get it without writing it. The plain SIMD
 * code stays the path everywhere else. relaxed_madd may round once (fused, x86 with FMA) or twice:
 * results agree with the plain path within float rounding either way.
 */
import { WA } from "./api.js";
import { Bytes, type FuncBody } from "./encoder.js";

/** Core opcodes used by the kernels. */
export const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f, call: 0x10, drop: 0x1a,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, f32Load: 0x2a, f64Load: 0x2b, i32Store: 0x36, f32Store: 0x38, f64Store: 0x39,
  i32Const: 0x41, i64Const: 0x42, f32Const: 0x43, f64Const: 0x44,
  i32Eqz: 0x45, i32LtS: 0x48, i32GeS: 0x4e, i32GtS: 0x4a,
  i32Ctz: 0x68, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74,
  i32WrapI64: 0xa7, i64ExtendI32S: 0xac, f32DemoteF64: 0xb6, f64PromoteF32: 0xbb,
  selectOp: 0x1b,
} as const;

/** SIMD sub-opcodes (after 0xFD). */
export const SIMD = {
  load: 0x00, load32Splat: 0x09, load64Splat: 0x0a, store: 0x0b, const: 0x0c, shuffle: 0x0d,
  i32x4Splat: 0x11, i64x2Splat: 0x12, f32x4Splat: 0x13, f64x2Splat: 0x14,
  i32x4ExtractLane: 0x1b, i32x4ReplaceLane: 0x1c, i64x2ExtractLane: 0x1d, i64x2ReplaceLane: 0x1e,
  f32x4ExtractLane: 0x1f, f32x4ReplaceLane: 0x20, f64x2ExtractLane: 0x21, f64x2ReplaceLane: 0x22,
  i32x4Eq: 0x37, i32x4Ne: 0x38, i32x4LtS: 0x39, i32x4GtS: 0x3b, i32x4LeS: 0x3d, i32x4GeS: 0x3f,
  f32x4Eq: 0x41, f32x4Ne: 0x42, f32x4Lt: 0x43, f32x4Gt: 0x44, f32x4Le: 0x45, f32x4Ge: 0x46,
  f64x2Eq: 0x47, f64x2Ne: 0x48, f64x2Lt: 0x49, f64x2Gt: 0x4a, f64x2Le: 0x4b, f64x2Ge: 0x4c,
  not: 0x4d, and: 0x4e, andnot: 0x4f, or: 0x50, xor: 0x51, bitselect: 0x52, anyTrue: 0x53,
  f32x4Ceil: 0x67, f32x4Floor: 0x68, f32x4Trunc: 0x69, f32x4Nearest: 0x6a,
  f64x2Ceil: 0x74, f64x2Floor: 0x75, f64x2Trunc: 0x7a, f64x2Nearest: 0x94,
  i32x4Bitmask: 0xa4, i32x4Shl: 0xab, i32x4ShrS: 0xac, i32x4ShrU: 0xad, i32x4Add: 0xae, i32x4Sub: 0xb1,
  i64x2Bitmask: 0xc4, i64x2ExtendLowI32x4S: 0xc7, i64x2Shl: 0xcb, i64x2ShrS: 0xcc, i64x2ShrU: 0xcd, i64x2Add: 0xce, i64x2Sub: 0xd1,
  i64x2Eq: 0xd6, i64x2Ne: 0xd7, i64x2LtS: 0xd8, i64x2GtS: 0xd9, i64x2LeS: 0xda, i64x2GeS: 0xdb,
  f32x4Abs: 0xe0, f32x4Neg: 0xe1, f32x4Sqrt: 0xe3, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7,
  f32x4Min: 0xe8, f32x4Max: 0xe9, f32x4Pmin: 0xea, f32x4Pmax: 0xeb,
  f64x2Abs: 0xec, f64x2Neg: 0xed, f64x2Sqrt: 0xef, f64x2Add: 0xf0, f64x2Sub: 0xf1, f64x2Mul: 0xf2, f64x2Div: 0xf3,
  f64x2Min: 0xf4, f64x2Max: 0xf5, f64x2Pmin: 0xf6, f64x2Pmax: 0xf7,
  i32x4TruncSatF32x4S: 0xf8, f32x4ConvertI32x4S: 0xfa, i32x4TruncSatF64x2SZero: 0xfc, f64x2ConvertLowI32x4S: 0xfe,
  // relaxed SIMD: madd(a, b, c) = a·b + c, nmadd(a, b, c) = −(a·b) + c
  f32x4RelaxedMadd: 0x105, f32x4RelaxedNmadd: 0x106, f64x2RelaxedMadd: 0x107, f64x2RelaxedNmadd: 0x108,
} as const;

/** (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)) */
export const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 0x60, 3, 0x7b, 0x7b, 0x7b, 1, 0x7b, 3, 2, 1, 0,
  10, 13, 1, 11, 0, 0x20, 0, 0x20, 1, 0x20, 2, 0xfd, 0x85, 0x02, 0x0b,
]);

/** Whether this engine validates relaxed SIMD's fused multiply-add. */
export function engineHasRelaxedSimd(): boolean {
  try {
    return WA?.validate(RELAXED_PROBE) === true;
  } catch {
    return false;
  }
}

let fmaMode: boolean | undefined;

/**
 * Whether kernels rendered from now on fuse multiply-adds: by default where the engine has
 * relaxed SIMD, unless the environment variable `KEOPS_TS_WASM_FMA=0` turns it off. `on` forces
 * it (tests and benchmarks compare both paths; forcing it on where the engine lacks relaxed SIMD
 * gives modules that do not validate). Kernels already compiled keep their form.
 */
export function wasmFma(on?: boolean): boolean {
  if (on !== undefined) fmaMode = on;
  if (fmaMode === undefined) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KEOPS_TS_WASM_FMA;
    fmaMode = env !== "0" && engineHasRelaxedSimd();
  }
  return fmaMode;
}

/** What the FMA peephole remembers of an instruction: where it starts, and what it is. */
interface Emitted {
  readonly at: number;
  /** `get`: local.get of `local`; `mul`: f32x4.mul / f64x2.mul; `other`: anything else. */
  readonly kind: "get" | "mul" | "other";
  readonly local?: number;
}

/** Block type: no result. */
const EMPTY = 0x40;

/** Emits instructions into a function body. */
export class Asm {
  private readonly consts = new Map<string, number>();
  /** Open loops: the code outside, and the locals the loop assigns. */
  private readonly loops: { outer: Bytes; assigned: Set<number> }[] = [];
  /** Locals whose values live across loops (reduction states …): never reset. */
  readonly persistent = new Set<number>();
  /** Whether products followed by a sum are fused (relaxed SIMD). */
  readonly fma = wasmFma();
  /** The last instructions emitted into `histCode` (the FMA peephole's window). */
  private hist: Emitted[] = [];
  private histCode: Bytes | undefined;
  /** Scratch vector local of the peephole (the addend moved above the product's operands). */
  private fmaTmp = -1;
  constructor(readonly f: FuncBody) {}

  /** Records the instruction that starts at `at` (the window is cleared when the code buffer changes). */
  private track(at: number, kind: Emitted["kind"], local?: number): void {
    if (!this.fma) return;
    if (this.histCode !== this.b) {
      this.histCode = this.b;
      this.hist = [];
    }
    this.hist.push({ at, kind, local });
    if (this.hist.length > 4) this.hist.shift();
  }

  /**
   * The FMA peephole, at an f32x4/f64x2 add or sub (`madd`/`nmadd`: the fused opcodes):
   * - `… mul, get c, add` → `… get c, madd` (a·b + c);
   * - `get a, get b, mul, add|sub` with x below on the stack → `set t, get a, get b, get t,
   *   madd|nmadd` (x + a·b, x − a·b).
   * Returns whether it rewrote the code (then the add/sub is emitted).
   */
  private fuse(add: boolean, madd: number, nmadd: number): boolean {
    if (!this.fma || this.histCode !== this.b) return false;
    const h = this.hist, n = h.length;
    const last = h[n - 1], prev = h[n - 2], prev2 = h[n - 3];
    if (add && last?.kind === "get" && prev?.kind === "mul") {
      const c = last.local!;
      this.b.length = prev.at;
      this.hist = [];
      this.get(c).v(madd);
      return true;
    }
    if (last?.kind === "mul" && prev?.kind === "get" && prev2?.kind === "get") {
      const [a, b] = [prev2.local!, prev.local!];
      if (this.fmaTmp < 0) this.fmaTmp = this.f.local(0x7b);
      this.b.length = prev2.at;
      this.hist = [];
      this.set(this.fmaTmp).get(a).get(b).get(this.fmaTmp).v(add ? madd : nmadd);
      return true;
    }
    return false;
  }

  /**
   * Opens `block loop`. The loop is emitted aside, then preceded by a reset (to a constant) of
   * every vector temporary it assigns: otherwise the value a temporary holds at a loop's exit
   * flows, through the phis of enclosing loops, back into the loop's entry, and V8 keeps every
   * temporary alive across iterations (spilling each one, every iteration).
   */
  openLoop(): this {
    this.loops.push({ outer: this.f.code, assigned: new Set() });
    this.f.code = new Bytes();
    return this.block().loop();
  }

  /** Closes the loop opened by {@link openLoop} (`br 0 end end`). */
  closeLoop(): this {
    this.br(0).end().end();
    const { outer, assigned } = this.loops.pop()!;
    const body = this.f.code;
    this.f.code = outer;
    const zero = new Uint8Array(16);
    for (const l of assigned) {
      if (this.persistent.has(l) || this.f.typeOf(l) !== 0x7b) continue;
      this.track(this.b.length, "other");
      this.b.u8(0xfd).uleb(SIMD.const).raw(zero);
      this.set(l);
    }
    for (const l of assigned) this.note(l);
    this.track(this.b.length, "other");
    this.b.raw(body.bytes());
    return this;
  }

  private note(local: number): void {
    const top = this.loops[this.loops.length - 1];
    if (top) top.assigned.add(local);
  }

  private get b() {
    return this.f.code;
  }

  op(code: number): this {
    this.track(this.b.length, "other");
    this.b.u8(code);
    return this;
  }
  get(local: number): this {
    this.track(this.b.length, "get", local);
    this.b.u8(OP.localGet).uleb(local);
    return this;
  }
  set(local: number): this {
    this.note(local);
    this.track(this.b.length, "other");
    this.b.u8(OP.localSet).uleb(local);
    return this;
  }
  tee(local: number): this {
    this.note(local);
    this.track(this.b.length, "other");
    this.b.u8(OP.localTee).uleb(local);
    return this;
  }
  i32(v: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.i32Const).sleb(v | 0);
    return this;
  }
  i64(v: bigint): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.i64Const).sleb(v);
    return this;
  }
  f32(v: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.f32Const).f32(v);
    return this;
  }
  f64(v: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.f64Const).f64(v);
    return this;
  }
  call(fn: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.call).uleb(fn);
    return this;
  }
  /** `block` / `loop` / `if` with no result. */
  block(): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.block).u8(EMPTY);
    return this;
  }
  loop(): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.loop).u8(EMPTY);
    return this;
  }
  if(): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.if).u8(EMPTY);
    return this;
  }
  end(): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.end);
    return this;
  }
  br(depth: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.br).uleb(depth);
    return this;
  }
  brIf(depth: number): this {
    this.track(this.b.length, "other");
    this.b.u8(OP.brIf).uleb(depth);
    return this;
  }
  /** A core memory access with alignment log2 `align` and constant `offset`. */
  mem(code: number, align: number, offset = 0): this {
    this.track(this.b.length, "other");
    this.b.u8(code).uleb(align).uleb(offset);
    return this;
  }
  /** A SIMD instruction (an add or sub right after a product may be fused: see {@link fuse}). */
  v(sub: number): this {
    if (sub === SIMD.f32x4Add || sub === SIMD.f32x4Sub) {
      if (this.fuse(sub === SIMD.f32x4Add, SIMD.f32x4RelaxedMadd, SIMD.f32x4RelaxedNmadd)) return this;
    } else if (sub === SIMD.f64x2Add || sub === SIMD.f64x2Sub) {
      if (this.fuse(sub === SIMD.f64x2Add, SIMD.f64x2RelaxedMadd, SIMD.f64x2RelaxedNmadd)) return this;
    }
    this.track(this.b.length, sub === SIMD.f32x4Mul || sub === SIMD.f64x2Mul ? "mul" : "other");
    this.b.u8(0xfd).uleb(sub);
    return this;
  }
  /** A SIMD memory access. */
  vmem(sub: number, align: number, offset = 0): this {
    this.track(this.b.length, "other");
    this.b.u8(0xfd).uleb(sub).uleb(align).uleb(offset);
    return this;
  }
  /** A SIMD lane instruction. */
  lane(sub: number, lane: number): this {
    this.track(this.b.length, "other");
    this.b.u8(0xfd).uleb(sub).u8(lane);
    return this;
  }
  /**
   * Pushes a 128-bit constant. Constants live in locals set once in the prologue: V8 does not
   * hoist a `v128.const` out of a loop, and rebuilding it at each use costs instructions.
   */
  vconst(bytes: Uint8Array): this {
    const key = bytes.join(",");
    let l = this.consts.get(key);
    if (l === undefined) {
      l = this.f.local(0x7b);
      this.consts.set(key, l);
      this.f.prologue.u8(0xfd).uleb(SIMD.const).raw(bytes).u8(OP.localSet).uleb(l);
    }
    return this.get(l);
  }
  /** `i8x16.shuffle a b` with 16 lane indices. */
  shuffle(lanes: readonly number[]): this {
    this.track(this.b.length, "other");
    this.b.u8(0xfd).uleb(SIMD.shuffle).raw(lanes);
    return this;
  }
}

/** 16 bytes holding `lanes` copies of a float32/float64/int32/int64 value. */
export function splatBytes(kind: "f32" | "f64" | "i32" | "i64", values: readonly (number | bigint)[]): Uint8Array {
  const buf = new ArrayBuffer(16);
  const d = new DataView(buf);
  const w = kind === "f32" || kind === "i32" ? 4 : 8;
  for (let l = 0; l < 16 / w; l++) {
    const x = values[l % values.length]!;
    if (kind === "f32") d.setFloat32(l * 4, Number(x), true);
    else if (kind === "f64") d.setFloat64(l * 8, Number(x), true);
    else if (kind === "i32") d.setInt32(l * 4, Number(x), true);
    else d.setBigInt64(l * 8, BigInt(x), true);
  }
  return new Uint8Array(buf);
}
