/**
 * Renders a kernel program as WGSL, in KeOps's GPU scheme (keopscore's GpuReduc1D / GpuReduc2D):
 * one invocation per outer row i; the workgroup stages a tile of every inner variable in
 * workgroup memory (flat f32 arrays, two barriers per tile), each invocation folds the tile into
 * its state in registers (a fresh partial state per tile merged into the total when the reduction
 * is tiled: block_sum). Workgroups along y split the inner range: each writes its partial state,
 * and a second "merge" pass folds the partials in order and finalizes.
 *
 * The update of one pair is the reduction's generic block, or the fast path it declares (see
 * fast.ts: one exp per pair for the log-sum-exp family, a sorted insertion for K-min).
 *
 * Three entry shaders per program: `direct` (one split: finalize and write the outputs), `partial`
 * (write the state bits to the partials buffer) and `merge`.
 *
 * A vector state of many components (src/compile/vout.ts's general form: sums, Kahan sums, the
 * softmax-weighted sum and the weighted log-sum-exp of a vector) keeps each group of D components
 * as an array (`sa0[c]`, in private memory) beside its shared scalars, and writes the
 * per-component term, update, merges, partials and outputs as loops over c: D named registers and
 * D copies of the update make shader compilers superlinearly slow (minutes for D = 1000 on
 * lavapipe). Such a program takes the generic update (not a fast path).
 */
import { withRefusals } from "../../compile/block-inputs.js";
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { loopedBlock, loopedBody, vectorState, type SplitBlock, type VectorState } from "../../compile/vout.js";
import type { Block, Instr, VT } from "../../ir/ssa.js";
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { scheduleOf, type TargetShape } from "../../compile/schedule.js";
import { preludeFor, floatLit, intLit, wgslExpr, wgslType, type WgslNames } from "./wgsl.js";
import { fastUpdate } from "./fast.js";

/** Shape of the kernel: invocations per workgroup, inner indices per tile, whether tiles are staged. */
export interface WgslConfig {
  readonly wg: number;
  readonly tile: number;
  readonly staged: boolean;
  /**
   * Every input slot read from one packed buffer (`inp`, slot s from element P.sh{s}): for
   * programs with more variables than the adapter has storage-buffer bindings.
   */
  readonly packed: boolean;
}

export type PassKind = "direct" | "partial" | "merge";

/**
 * Inner indices per block_sum partial (rounded up to whole tiles): as the JS backend's tile, float32
 * error grows like √(N / BLOCK) roundings of the total.
 */
export const BLOCK = 4096;
/** Partial states of the split inner range merged per group in the merge pass (block_sum). */
const MERGE_GROUP = 16;

/** Invocations per workgroup of the merge pass. */
export const MERGE_WG = 64;

/** The u32 fields of the uniform block, in order, then per-slot and per-output shifts, then inf, nan, one (f32). */
export const UNIFORM_FIELDS = ["nRows", "jBase", "jCount", "jPer", "partRows", "partBase", "nSplit"] as const;

/** Number of 4-byte words of the uniform block of a program. */
export function uniformWords(p: KernelProgram): number {
  const n = UNIFORM_FIELDS.length + p.slots.length + p.red.outputs.length + 3;
  return Math.ceil(n / 4) * 4;
}

/** Binding numbers: 0 the uniforms, then each slot, then each output, then the partials. */
export function bindingsOf(p: KernelProgram, kind: PassKind, packed: boolean): { slots: number[]; outputs: number[]; partials: number } {
  const nIn = packed ? 1 : p.slots.length;
  const slots = kind === "merge" ? [] : Array.from({ length: nIn }, (_, s) => 1 + s);
  const base = 1 + nIn;
  const outputs = kind === "partial" ? [] : p.red.outputs.map((_, o) => base + o);
  const partials = kind === "direct" ? -1 : base + p.red.outputs.length;
  return { slots, outputs, partials };
}

function uniformStruct(p: KernelProgram): string {
  const f = UNIFORM_FIELDS.map((n) => `  ${n}: u32,`);
  p.slots.forEach((_, s) => f.push(`  sh${s}: u32,`));
  p.red.outputs.forEach((_, o) => f.push(`  oh${o}: u32,`));
  f.push("  inf: f32,", "  nan: f32,", "  one: f32,");
  const pad = uniformWords(p) - (UNIFORM_FIELDS.length + p.slots.length + p.red.outputs.length + 3);
  for (let k = 0; k < pad; k++) f.push(`  pad${k}: u32,`);
  return `struct Params {\n${f.join("\n")}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

/** Emits `let` lines for the picked instructions of a block. */
function emit(block: Block, nm: WgslNames, pick: (n: number, ins: Instr) => boolean, out: string[], indent: string, exact: boolean): void {
  block.code.forEach((ins, n) => {
    if (!pick(n, ins) || ins.op === "const") return;
    // loop regions (src/compile/loops.ts): a mutable accumulator, a counted loop (u32 index)
    const v = nm.value(n);
    if (ins.op === "acc") return void out.push(`${indent}var ${v}: f32 = ${nm.value(ins.a[0]!)};`);
    if (ins.op === "loop") return void out.push(`${indent}for (var ${v} = 0u; ${v} < ${ins.k[0]}u; ${v} = ${v} + 1u) {`);
    if (ins.op === "next") return void out.push(`${indent}  ${nm.value(ins.a[0]!)} = ${nm.value(ins.a[1]!)};`);
    if (ins.op === "end") return void out.push(`${indent}}`);
    const same = ins.a.length === 2 && ins.a[0] === ins.a[1] && block.code[ins.a[0]!]!.t === "f";
    out.push(`${indent}let ${nm.value(n)}: ${wgslType(ins.t)} = ${wgslExpr(ins, nm, exact, same)};`);
  });
}

function namer(block: Block, prefix: string, given: Partial<Omit<WgslNames, "value">>): WgslNames {
  return {
    ...withRefusals<Omit<WgslNames, "value">>("webgpu", prefix, given, ["load", "idx", "state", "other", "fval"]),
    value: (n) => {
      const ins = block.code[n]!;
      if (ins.op === "const") return ins.t === "i" ? intLit(ins.k[0]!) : floatLit(ins.k[0]!);
      return `${prefix}${n}`;
    },
  };
}

const init = (t: VT, v: number): string => (t === "i" ? intLit(v) : floatLit(v));
/** A state component as stored in the partials buffer (u32 bits) and back. */
const toBits = (t: VT, x: string): string => `bitcast<u32>(${x})`;
const fromBits = (t: VT, x: string): string => `bitcast<${wgslType(t)}>(${x})`;

/**
 * The state as the passes declare, reset, merge and store it: D named values `s0 … s{D−1}`, or
 * for a looped vector output (`vo`) one array `s` of D components, handled by loops over c
 * (per component the same operations as the named form: state[c] + other[c]).
 */
interface States {
  /** Declares the state `name`, initialised (`init`) or not. */
  decl(name: string, init: boolean, out: string[], indent: string): void;
  /** Sets `name` to the reduction's initial state. */
  reset(name: string, out: string[], indent: string): void;
  /** Merges the state `other` (named like `target`) into `target`. */
  merge(target: string, other: string, prefix: string, out: string[], indent: string): void;
  /** Writes the state `name` to the partials buffer, its row starting at word `base`. */
  store(name: string, base: string, out: string[], indent: string): void;
  /** Declares `name` (`var` if `mutable`, else `let`) read from the partials buffer, its row starting at word `base`. */
  fetch(name: string, base: string, mutable: boolean, out: string[], indent: string): void;
  /** Finalizes the state `name` and writes the outputs of row `row`. */
  write(name: string, row: string, out: string[], indent: string): void;
}

function statesOf(p: KernelProgram, vs: VectorState | null): States {
  const { red } = p;
  if (vs) return vectorStates(p, vs);
  const nm = (n: string) => (k: number): string => `${n}${k}`;
  return {
    decl: (n, i, out, ind) => red.state.forEach((st, k) => out.push(`${ind}var ${n}${k}: ${wgslType(st.t)}${i ? ` = ${init(st.t, st.init)}` : ""};`)),
    reset: (n, out, ind) => red.state.forEach((st, k) => out.push(`${ind}${n}${k} = ${init(st.t, st.init)};`)),
    merge: (tg, o, prefix, out, ind) => mergeInto(p, tg, nm(o), prefix, out, ind),
    store: (n, base, out, ind) => red.state.forEach((st, k) => out.push(`${ind}part[${base} + ${k}u] = ${toBits(st.t, `${n}${k}`)};`)),
    fetch: (n, base, mutable, out, ind) => red.state.forEach((st, k) => out.push(`${ind}${mutable ? "var" : "let"} ${n}${k}: ${wgslType(st.t)} = ${fromBits(st.t, `part[${base} + ${k}u]`)};`)),
    write: (n, row, out, ind) => writeOutputs(p, nm(n), row, out, ind),
  };
}

/**
 * The states of a looped vector state: its shared scalars `n0 … n{first−1}` and its groups as
 * arrays `na0 …`; the merge and finalize blocks rendered split (the shared part, then one loop
 * over c).
 */
function vectorStates(p: KernelProgram, vs: VectorState): States {
  const { red } = p;
  const D = vs.count;
  const scalars = red.state.slice(0, vs.first);
  const groups = Array.from({ length: vs.groups }, (_, g) => red.state[vs.first + g * D]!);
  const each = (body: string, out: string[], indent: string): void => void out.push(`${indent}for (var c = 0u; c < ${D}u; c = c + 1u) { ${body} }`);
  const at = (k: number): number => vs.first + k * D;
  const names = (n: string) => (k: number, c?: string): string => (k < vs.first ? `${n}${k}` : `${n}a${(k - vs.first) / D}[${c}]`);
  return {
    decl: (n, i, out, ind) => {
      scalars.forEach((st, k) => out.push(`${ind}var ${n}${k}: ${wgslType(st.t)}${i ? ` = ${init(st.t, st.init)}` : ""};`));
      groups.forEach((st, g) => {
        out.push(`${ind}var ${n}a${g}: array<${wgslType(st.t)}, ${D}>;`);
        if (i) each(`${n}a${g}[c] = ${init(st.t, st.init)};`, out, ind);
      });
    },
    reset: (n, out, ind) => {
      scalars.forEach((st, k) => out.push(`${ind}${n}${k} = ${init(st.t, st.init)};`));
      groups.forEach((st, g) => each(`${n}a${g}[c] = ${init(st.t, st.init)};`, out, ind));
    },
    merge: (tg, o, prefix, out, ind) => {
      const nm = splitBlock(red.merge, vs.merge, D, prefix, { state: names(tg), other: names(o) }, out, ind, true, (g, v) => `${tg}a${g}[c] = ${v};`);
      red.merge.out.slice(0, vs.first).forEach((v, k) => out.push(`${ind}${tg}${k} = ${nm.value(v)};`));
    },
    store: (n, base, out, ind) => {
      scalars.forEach((st, k) => out.push(`${ind}part[${base} + ${k}u] = ${toBits(st.t, `${n}${k}`)};`));
      groups.forEach((st, g) => each(`part[${base} + ${at(g)}u + c] = ${toBits(st.t, `${n}a${g}[c]`)};`, out, ind));
    },
    fetch: (n, base, mutable, out, ind) => {
      scalars.forEach((st, k) => out.push(`${ind}${mutable ? "var" : "let"} ${n}${k}: ${wgslType(st.t)} = ${fromBits(st.t, `part[${base} + ${k}u]`)};`));
      groups.forEach((st, g) => {
        out.push(`${ind}var ${n}a${g}: array<${wgslType(st.t)}, ${D}>;`);
        each(`${n}a${g}[c] = ${fromBits(st.t, `part[${base} + ${at(g)}u + c]`)};`, out, ind);
      });
    },
    write: (n, row, out, ind) =>
      void splitBlock(red.finalize, vs.finalize, D, "z", { state: names(n) }, out, ind, false, (r, v) => {
        const { output: o, offset } = vs.outRuns[r]!;
        return `out${o}[P.oh${o} + ${row} * ${outputRowSizes(p)[o]!}u + ${offset ? `${offset}u + ` : ""}c] = ${v};`;
      }),
  };
}

/**
 * Emits a reduction block split for a vector state of D components: its shared instructions,
 * then its loop over the components, assigning each run's value with `assign(run, value)`; the
 * loop is `for c < D` unless `loop` opens another one (its index named `loop.index`). Returns the
 * names (of the shared outputs, for the caller to assign).
 */
function splitBlock(
  b: Block, sp: SplitBlock, D: number, prefix: string, given: Partial<Omit<WgslNames, "value">>, out: string[], ind: string, exact: boolean,
  assign: (run: number, v: string) => string,
  loop: { index: string; open(out: string[]): void } = { index: "c", open: (o) => void o.push(`${ind}for (var c = 0u; c < ${D}u; c = c + 1u) {`) },
): WgslNames {
  const lb = loopedBlock(b, sp, D);
  const nm0 = namer({ code: [...lb.code], out: [] }, prefix, given);
  const nm: WgslNames = { ...nm0, value: (n) => (n === lb.loop ? loop.index : nm0.value(n)) };
  emit(b, nm, (n) => sp.outside[n] === 1, out, ind, exact);
  loop.open(out);
  emit({ code: [...lb.code], out: [] }, nm, (n) => n > lb.loop, out, ind + "  ", exact);
  lb.terms.forEach((v, r) => out.push(`${ind}  ${assign(r, nm.value(v))}`));
  out.push(`${ind}}`);
  return nm;
}

/** The outputs written from the finalize block (state names given). */
function writeOutputs(p: KernelProgram, state: (k: number) => string, row: string, out: string[], indent: string): void {
  const { red } = p;
  const fin = namer(red.finalize, "z", { state });
  emit(red.finalize, fin, () => true, out, indent, false);
  let pos = 0;
  outputRowSizes(p).forEach((size, o) => {
    for (let r = 0; r < size; r++, pos++) out.push(`${indent}out${o}[P.oh${o} + ${row} * ${size}u + ${r}u] = ${fin.value(red.finalize.out[pos]!)};`);
  });
}

/** Merges `other` into the state variables `s{k}` (the merge block), at `indent`. */
function mergeInto(p: KernelProgram, target: string, other: (k: number) => string, prefix: string, out: string[], indent: string): void {
  const { red } = p;
  const mg = namer(red.merge, prefix, { state: (k) => `${target}${k}`, other });
  emit(red.merge, mg, () => true, out, indent, true);
  red.merge.out.forEach((v, k) => out.push(`${indent}${target}${k} = ${mg.value(v)};`));
}

function bindings(p: KernelProgram, kind: PassKind, packed: boolean): string {
  const b = bindingsOf(p, kind, packed);
  const L: string[] = [];
  b.slots.forEach((n, s) => L.push(`@group(0) @binding(${n}) var<storage, read> ${packed ? "inp" : `in${s}`}: array<f32>;`));
  b.outputs.forEach((n, o) => L.push(`@group(0) @binding(${n}) var<storage, read_write> out${o}: array<${wgslType(p.red.outputs[o]!.t)}>;`));
  if (b.partials >= 0) L.push(`@group(0) @binding(${b.partials}) var<storage, read_write> part: array<u32>;`);
  return L.join("\n") + "\n";
}

/**
 * The schedule's target shape of a WGSL kernel: scalar invocations, tiles of j sized to the
 * workgroup memory (at most one per invocation), the inner range split across workgroups.
 */
export function gpuShape(wg: number, workgroupBytes: number): TargetShape {
  return { lanes: 1, elemBytes: 4, accBytes: 4, tile: { bytes: workgroupBytes, min: 1, max: wg }, splitInner: true };
}

/** The WGSL of one pass of a program. */
export function renderWgsl(p0: KernelProgram, cfg: WgslConfig, kind: PassKind): string {
  const p = withLoops(p0); // D-term sums as loops over the vector dimension (src/compile/loops.ts)
  const main = kind === "merge" ? mergePass(p) : reducePass(p, cfg, kind);
  return uniformStruct(p) + bindings(p, kind, cfg.packed) + preludeFor(main) + main;
}

function reducePass(p: KernelProgram, cfg: WgslConfig, kind: PassKind): string {
  const { body, red } = p;
  const { wg, tile, staged } = cfg;
  const src = (slot: number): string => (cfg.packed ? "inp" : `in${slot}`);
  const nS = red.state.length;
  const inner = p.slots.map((s, k) => ({ ...s, k })).filter((s) => s.role === "inner");
  const L: string[] = [];
  L.push(`const WG: u32 = ${wg}u;`, `const TJ: u32 = ${tile}u;`);
  if (staged) for (const s of inner) L.push(`var<workgroup> w${s.k}: array<f32, ${tile * s.dim}>;`);
  L.push(`@compute @workgroup_size(${wg})`);
  L.push("fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {");
  L.push("  let lid = lid3.x;");
  L.push("  let row = wid.x * WG + lid;");
  L.push("  let valid = row < P.nRows;");
  L.push("  let r = min(row, P.nRows - 1u);");
  L.push("  let j0 = wid.y * P.jPer;");
  L.push("  let j1 = min(P.jCount, j0 + P.jPer);");
  const load = (slot: number, c: number | string): string => {
    const s = p.slots[slot]!;
    const comp = typeof c === "number" ? `${c}u` : c;
    if (s.role === "param") return `${src(slot)}[P.sh${slot} + ${comp}]`;
    if (s.role === "outer") return `${src(slot)}[P.sh${slot} + r * ${s.dim}u + ${comp}]`;
    return staged ? `w${slot}[jj * ${s.dim}u + ${comp}]` : `${src(slot)}[P.sh${slot} + (jt + jj) * ${s.dim}u + ${comp}]`;
  };
  const sc = scheduleOf(p);
  // a looped vector state: the body's code that only feeds its looped outputs is not emitted, the
  // loop (loopedBody) computes their component c, the update's loop reads it as fval c
  const vs = vectorState(body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
  const looped = vs ? loopedBody(body, vs) : null;
  const bn = namer(looped ? { code: [...looped.code], out: body.out } : body, "b", { load, idx: () => "i32(P.jBase + jt + jj)" });
  const live = (n: number): boolean => !vs || vs.live[n] === 1;
  const st = statesOf(p, vs);
  const tiled = sc.target(gpuShape(wg, 0)).merges.includes("tile");
  emit(body, bn, (n) => (sc.body.perCall.has(n) || sc.body.perRow.has(n)) && live(n), L, "  ", false);
  st.decl("s", true, L, "  ");
  if (tiled) st.decl("t", false, L, "  ");
  L.push("  for (var jt = j0; jt < j1; jt = jt + TJ) {");
  L.push("    let tn = min(TJ, j1 - jt);");
  if (staged) {
    L.push("    workgroupBarrier();");
    for (const s of inner) {
      L.push(`    for (var e = lid; e < tn * ${s.dim}u; e = e + WG) { w${s.k}[e] = ${src(s.k)}[P.sh${s.k} + jt * ${s.dim}u + e]; }`);
    }
    L.push("    workgroupBarrier();");
  }
  L.push("    if (valid) {");
  const S = tiled ? "t" : "s";
  // block_sum: a fresh partial state per block of BLOCK inner indices, merged into the total at its end
  const block = Math.ceil(BLOCK / tile) * tile;
  if (tiled) {
    L.push(`      if ((jt - j0) % ${block}u == 0u) {`);
    st.reset("t", L, "        ");
    L.push("      }");
  }
  L.push("      for (var jj = 0u; jj < tn; jj = jj + 1u) {");
  emit(body, bn, (n) => sc.body.perPair.has(n) && live(n), L, "        ", false);
  const up = namer(red.update, "u", { state: (k) => `${S}${k}`, fval: (k) => bn.value(body.out[k]!), idx: () => "i32(P.jBase + jt + jj)" });
  if (vs && looped && sc.fast?.kind === "shiftExp") {
    // the one-exp fast path (SumSoftMaxWeight, LogSumExp with a vector weight: one group, its
    // looped sums weighted by the body's looped outputs), the looped sums updated in a loop
    const c = bn.value(looped.loop);
    L.push(...fastUpdate(sc.fast, up, "        ", {
      first: vs.first,
      open: (out, ind) => emit({ code: [...looped.code], out: [] }, bn, (n) => n >= body.code.length, out, ind, false),
      sum: `${S}a0[${c}]`,
      weight: bn.value(looped.term),
    }));
  } else if (vs && looped) {
    // the update's shared part, then one loop over c: the body's term (fval c), the groups' update
    // (the body's loop, opened by its term's instructions, is the update's: its index names c)
    const c = bn.value(looped.loop);
    const open = (out: string[]): void => emit({ code: [...looped.code], out: [] }, bn, (n) => n >= body.code.length, out, "        ", false);
    const uv = splitBlock(red.update, vs.update, vs.count, "u", {
      state: (k, i) => (k < vs.first ? `${S}${k}` : `${S}a${(k - vs.first) / vs.count}[${i}]`),
      fval: (k) => (k < vs.fbase ? bn.value(body.out[k]!) : bn.value(looped.term)),
      idx: () => "i32(P.jBase + jt + jj)",
    }, L, "        ", true, (g, v) => `${S}a${g}[${c}] = ${v};`, { index: c, open });
    red.update.out.slice(0, vs.first).forEach((v, k) => L.push(`        ${S}${k} = ${uv.value(v)};`));
  } else if (sc.fast) L.push(...fastUpdate(sc.fast, up, "        "));
  else if (sc.guard) {
    // the select strategy: the guard's prefix, then the rest of the update only where it passes
    const { value: guard, prefix: pre } = sc.guard;
    emit(red.update, up, (n) => pre.has(n), L, "        ", true);
    L.push(`        if (${up.value(guard)} != 0.0f) {`);
    emit(red.update, up, (n) => !pre.has(n), L, "          ", true);
    red.update.out.forEach((v, k) => L.push(`          ${S}${k} = ${up.value(v)};`));
    L.push("        }");
  } else {
    emit(red.update, up, () => true, L, "        ", true);
    red.update.out.forEach((v, k) => L.push(`        ${S}${k} = ${up.value(v)};`));
  }
  L.push("      }");
  if (tiled) {
    L.push(`      if ((jt + tn - j0) % ${block}u == 0u || jt + tn >= j1) {`);
    st.merge("s", "t", "m", L, "        ");
    L.push("      }");
  }
  L.push("    }");
  L.push("  }");
  L.push("  if (valid) {");
  if (kind === "direct") st.write("s", "r", L, "    ");
  else st.store("s", `((P.partBase + wid.y) * P.partRows + r) * ${nS}u`, L, "    ");
  L.push("  }");
  L.push("}");
  return L.join("\n") + "\n";
}

function mergePass(p: KernelProgram): string {
  const { red } = p;
  const nS = red.state.length;
  const tiled = scheduleOf(p).target(gpuShape(MERGE_WG, 0)).merges.includes("tile");
  const st = statesOf(p, vectorState(p.body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM));
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${MERGE_WG})`);
  L.push("fn main(@builtin(global_invocation_id) g: vec3<u32>) {");
  L.push("  let r = g.x;");
  L.push("  if (r >= P.nRows) { return; }");
  st.fetch("s", `r * ${nS}u`, true, L, "  ");
  if (tiled) {
    // block_sum over the partials too: groups of MERGE_GROUP merged into a fresh state, then into the total
    st.decl("t", false, L, "  ");
    L.push(`  for (var q0 = 1u; q0 < P.nSplit; q0 = q0 + ${MERGE_GROUP}u) {`);
    st.reset("t", L, "    ");
    L.push(`    for (var q = q0; q < min(P.nSplit, q0 + ${MERGE_GROUP}u); q = q + 1u) {`);
    L.push(`      let base = (q * P.partRows + r) * ${nS}u;`);
    st.fetch("o", "base", false, L, "      ");
    st.merge("t", "o", "m", L, "      ");
    L.push("    }");
    st.merge("s", "t", "n", L, "    ");
    L.push("  }");
  } else {
    L.push("  for (var q = 1u; q < P.nSplit; q = q + 1u) {");
    L.push(`    let base = (q * P.partRows + r) * ${nS}u;`);
    st.fetch("o", "base", false, L, "    ");
    st.merge("s", "o", "m", L, "    ");
    L.push("  }");
  }
  st.write("s", "r", L, "  ");
  L.push("}");
  return L.join("\n") + "\n";
}
