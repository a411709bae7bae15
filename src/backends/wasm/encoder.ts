/**
 * A small WebAssembly binary encoder: LEB128, value types, the sections a kernel module needs
 * (types, imports, functions, exports, code) and a function-body builder with local allocation.
 * No dependency; see the binary format of the WebAssembly core specification (§5).
 */

/** Value types. */
export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/** A growable byte buffer with the encodings of the binary format. */
export class Bytes {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }

  /** One byte. */
  u8(b: number): this {
    this.reserve(1);
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  /** Raw bytes. */
  raw(bytes: ArrayLike<number>): this {
    this.reserve(bytes.length);
    for (let k = 0; k < bytes.length; k++) this.buf[this.length++] = bytes[k]! & 0xff;
    return this;
  }

  /** Unsigned LEB128 (up to 2^53). */
  uleb(v: number): this {
    if (v < 0 || !Number.isInteger(v)) throw new Error(`uleb: ${v}`);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.u8(b);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a number (int32 range) or a bigint (int64). */
  sleb(v: number | bigint): this {
    let x = BigInt(v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
      this.u8(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  /** Little-endian float32 / float64. */
  f32(v: number): this {
    const d = new DataView(new ArrayBuffer(4));
    d.setFloat32(0, v, true);
    return this.raw(new Uint8Array(d.buffer));
  }
  f64(v: number): this {
    const d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, v, true);
    return this.raw(new Uint8Array(d.buffer));
  }

  /** A UTF-8 name with its length. */
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.uleb(b.length).raw(b);
  }

  /** A length-prefixed copy of another buffer. */
  sized(b: Bytes): this {
    return this.uleb(b.length).raw(b.bytes());
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** A function signature. */
export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

/** A function body under construction: its locals (after the params) and code. */
export class FuncBody {
  code = new Bytes();
  /** Code that runs before `code` (hoisted constants). */
  readonly prologue = new Bytes();
  private readonly locals: ValType[] = [];

  constructor(readonly type: FuncType) {}

  /** A fresh local of type `t`; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.type.params.length + this.locals.length - 1;
  }

  /** The type of a local (or param). */
  typeOf(local: number): ValType {
    const np = this.type.params.length;
    return local < np ? this.type.params[local]! : this.locals[local - np]!;
  }

  /** The body as the code section stores it (locals run-length encoded, then code, then `end`). */
  encode(): Bytes {
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const b = new Bytes().uleb(groups.length);
    for (const [n, t] of groups) b.uleb(n).u8(t);
    b.raw(this.prologue.bytes()).raw(this.code.bytes()).u8(0x0b);
    return new Bytes().sized(b);
  }
}

/** An imported function or the imported memory. */
type Import =
  | { module: string; name: string; kind: "func"; type: number }
  | { module: string; name: string; kind: "memory"; min: number; max: number; shared: boolean };

/** Assembles a module: imported functions come first in the function index space. */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly imports: Import[] = [];
  private readonly funcs: FuncBody[] = [];
  private readonly exports: { name: string; func: number }[] = [];

  /** The index of a function type (deduplicated). */
  typeIndex(t: FuncType): number {
    const key = `${t.params.join(",")}>${t.results.join(",")}`;
    const k = this.types.findIndex((x) => `${x.params.join(",")}>${x.results.join(",")}` === key);
    if (k >= 0) return k;
    this.types.push(t);
    return this.types.length - 1;
  }

  /** Imports a function; returns its function index. Must precede `func`. */
  importFunc(module: string, name: string, t: FuncType): number {
    if (this.funcs.length) throw new Error("imports must precede functions");
    this.imports.push({ module, name, kind: "func", type: this.typeIndex(t) });
    return this.imports.filter((i) => i.kind === "func").length - 1;
  }

  /** Imports a memory (pages of 64 KiB). */
  importMemory(module: string, name: string, min: number, max: number, shared: boolean): void {
    this.imports.push({ module, name, kind: "memory", min, max, shared });
  }

  /** Adds a function; returns its body builder and its function index. */
  func(t: FuncType, exportName?: string): { body: FuncBody; index: number } {
    const body = new FuncBody(t);
    this.typeIndex(t);
    this.funcs.push(body);
    const index = this.imports.filter((i) => i.kind === "func").length + this.funcs.length - 1;
    if (exportName) this.exports.push({ name: exportName, func: index });
    return { body, index };
  }

  /** The binary module. */
  encode(): Uint8Array {
    const out = new Bytes().raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, b: Bytes): void => {
      out.u8(id).sized(b);
    };
    const ty = new Bytes().uleb(this.types.length);
    for (const t of this.types) {
      ty.u8(0x60).uleb(t.params.length).raw(t.params).uleb(t.results.length).raw(t.results);
    }
    section(1, ty);
    if (this.imports.length) {
      const im = new Bytes().uleb(this.imports.length);
      for (const i of this.imports) {
        im.name(i.module).name(i.name);
        if (i.kind === "func") im.u8(0x00).uleb(i.type);
        else im.u8(0x02).u8(i.shared ? 0x03 : 0x01).uleb(i.min).uleb(i.max);
      }
      section(2, im);
    }
    const fn = new Bytes().uleb(this.funcs.length);
    for (const f of this.funcs) fn.uleb(this.typeIndex(f.type));
    section(3, fn);
    const ex = new Bytes().uleb(this.exports.length);
    for (const e of this.exports) ex.name(e.name).u8(0x00).uleb(e.func);
    section(7, ex);
    const co = new Bytes().uleb(this.funcs.length);
    for (const f of this.funcs) co.raw(f.encode().bytes());
    section(10, co);
    return out.bytes();
  }
}
