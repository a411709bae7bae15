/**
 * Renders a kernel program as JavaScript source: `(IN, OFF, nI, i0, i1, OUT, OOFF) => void` for
 * one batch and outer rows i0..i1. Loop-invariant instructions are hoisted by their level. A
 * vector output of alike components (src/compile/vout.ts) is one loop over its components with
 * the state in a Float64Array; so is a general vector state (shared scalars plus groups of
 * components, ./vstate.ts).
 */
import type { Block } from "../../ir/ssa.js";
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { scheduleOf } from "../../compile/schedule.js";
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { loopedBody, vectorOutput, vectorState } from "../../compile/vout.js";
import { JS_PRELUDE } from "./fastmath.js";
import { emit, lit, namer, type Names } from "./emit.js";
import { stateArrays, vectorStatePass, type JsStateEnv } from "./vstate.js";

/**
 * Tile of inner indices accumulated into a fresh partial state (block_sum). Float32 error grows
 * like √(N / tile) rounding steps of the total: 4096 keeps a 1e6-term sum near 3e-7 relative.
 */
export const JS_TILE = 4096;

/** Sum-like programs with a body up to this size compute two outer rows per pass of the inner loop. */
const UNROLL_MAX_BODY = 64;

/**
 * The generated source (a function body returning the kernel). Sum-like (tiled) programs with a
 * small body compute two outer rows per pass over j: the values that depend on j alone (loads of
 * y_j, b_j…) are shared by the two rows, and the two exp chains run side by side (~20% faster
 * in V8); an odd last row takes the one-row loop.
 */
export function renderJs(p0: KernelProgram): string {
  const p = withLoops(p0);
  const fastExp = p.dtype === "float32";
  const r32 = p.accDtype === "float32";
  const acc = (x: string): string => (r32 ? `fr(${x})` : x);
  const { body, red } = p;
  const rows = outputRowSizes(p);
  const L: string[] = [];
  const sch = scheduleOf(p);
  const { perCall, perRow, perPair, rowDependent } = sch.body;
  const { tile, merges } = sch.target({ lanes: 1, elemBytes: 8, accBytes: 8, tile: JS_TILE });
  const tiled = merges.includes("tile");
  const slotLoad = (row: string) => (slot: number, comp: number | string): string => {
    const s = p.slots[slot]!;
    if (s.role === "param") return `a${slot}[o${slot} + ${comp}]`;
    return `a${slot}[o${slot} + ${s.role === "outer" ? row : "j"} * ${s.dim} + ${comp}]`;
  };
  /** Body names of copy c (the c-th row of a pass): row-dependent values get a suffix. */
  const bodyNames = (row: string, c: number): Names =>
    namer(body, "body", (n) => (rowDependent.has(n) ? `b${n}_${c}` : `b${n}`), { load: slotLoad(row) });
  L.push("return function kernel(IN, OFF, nI, i0, i1, OUT, OOFF) {");
  p.slots.forEach((_, s) => L.push(`  const a${s} = IN[${s}], o${s} = OFF[${s}];`));
  rows.forEach((_, o) => L.push(`  const r${o} = OUT[${o}], q${o} = OOFF[${o}];`));
  emit(body, bodyNames("i", 0), fastExp, (n) => perCall.has(n), L, "  ");
  const nS = red.state.length;
  const init = (k: number): string => (red.state[k]!.t === "i" ? String(red.state[k]!.init | 0) : lit(red.state[k]!.init));
  const S = tiled ? "s" : "t";
  // a vector output looped over its components (src/compile/vout.ts): the state is an array
  const vo = vectorOutput(body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
  if (vo) {
    L.push(`  const vT = new Float64Array(${vo.count});`);
    if (tiled) L.push(`  const vS = new Float64Array(${vo.count});`);
  }
  // the general form (src/compile/vout.ts, ./vstate.ts): shared scalars and groups of D
  // components, one row per pass; a state it cannot write falls back to the unrolled kernel
  const vs = vo ? null : vectorState(body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM);
  const vsEnv: JsStateEnv | null = vs && {
    p, vs, tile: tiled ? tile : null, fastExp, r32, perRow, perPair, init, rows,
    bodyNames: (block, row) => namer(block, "body", (n) => (rowDependent.has(n) ? `b${n}_0` : `b${n}`), { load: slotLoad(row) }),
  };
  const vsPass = vsEnv && orNull(() => vectorStatePass(vsEnv, "i"));
  if (vsEnv && vsPass) L.push(...stateArrays(vsEnv));

  /** The statements of one pass over j for the rows `rowExprs` (one or two), at `indent`. */
  const pass = (rowExprs: readonly string[]): string[] => {
    if (vo) return loopedPass(rowExprs[0]!);
    if (vsPass) return vsPass;
    const out: string[] = [];
    const copies = rowExprs.map((row, c) => ({ row, c, names: bodyNames(row, c) }));
    for (const { names } of copies) emit(body, names, fastExp, (n) => perRow.has(n), out, "    ");
    for (const { c } of copies) for (let k = 0; k < nS; k++) out.push(`    let t${k}_${c} = ${init(k)};`);
    // the j loop: updates `s` (a fresh tile partial when tiled, else the total itself)
    const inner: string[] = [];
    emit(body, copies[0]!.names, fastExp, (n) => perPair.has(n) && !rowDependent.has(n), inner, "      ");
    for (const { c, names } of copies) {
      emit(body, names, fastExp, (n) => perPair.has(n) && rowDependent.has(n), inner, "      ");
      if (p.dtype === "float32") body.out.forEach((v, k) => inner.push(`      const f${k}_${c} = fr(${names.value(v)});`));
      const upNames = namer(red.update, "update", (n) => `u${n}_${c}`, {
        state: (k) => `${S}${k}_${c}`,
        // float32 programs round the formula's values to float32 (the body itself runs in double)
        fval: (k) => (p.dtype === "float32" ? `f${k}_${c}` : names.value(body.out[k]!)),
      });
      const assign = (k: number, v: string): string => `${S}${k}_${c} = ${red.state[k]!.t === "i" ? v : acc(v)};`;
      if (sch.guard) {
        const pre = sch.guard.prefix;
        emit(red.update, upNames, fastExp, (n) => pre.has(n), inner, "      ", r32);
        inner.push(`      if (${upNames.value(sch.guard.value)} !== 0) {`);
        emit(red.update, upNames, fastExp, (n) => !pre.has(n), inner, "        ", r32);
        red.update.out.forEach((v, k) => inner.push(`        ${assign(k, upNames.value(v))}`));
        inner.push("      }");
      } else {
        emit(red.update, upNames, fastExp, () => true, inner, "      ", r32);
        // compute all new values before assigning (SSA values are consts already)
        red.update.out.forEach((v, k) => inner.push(`      ${assign(k, upNames.value(v))}`));
      }
    }
    if (tiled) {
      out.push(`    for (let jt = 0; jt < nI; jt += ${tile}) {`);
      out.push(`      const je = Math.min(nI, jt + ${tile});`);
      for (const { c } of copies) for (let k = 0; k < nS; k++) out.push(`      let s${k}_${c} = ${init(k)};`);
      out.push("      for (let j = jt; j < je; j++) {");
      out.push(...inner.map((l) => "  " + l));
      out.push("      }");
      for (const { c } of copies) {
        const mgNames = namer(red.merge, "merge", (n) => `m${n}_${c}`, { state: (k) => `t${k}_${c}`, other: (k) => `s${k}_${c}` });
        emit(red.merge, mgNames, fastExp, () => true, out, "      ", r32);
        red.merge.out.forEach((v, k) => out.push(`      t${k}_${c} = ${red.state[k]!.t === "i" ? mgNames.value(v) : acc(mgNames.value(v))};`));
      }
      out.push("    }");
    } else {
      out.push("    for (let j = 0; j < nI; j++) {");
      out.push(...inner);
      out.push("    }");
    }
    for (const { row, c } of copies) {
      const finNames = namer(red.finalize, "finalize", (n) => `z${n}_${c}`, { state: (k) => `t${k}_${c}` });
      emit(red.finalize, finNames, fastExp, () => true, out, "    ");
      let pos = 0;
      rows.forEach((size, o) => {
        for (let r = 0; r < size; r++, pos++) out.push(`    r${o}[q${o} + ${row} * ${size} + ${r}] = ${finNames.value(red.finalize.out[pos]!)};`);
      });
    }
    return out;
  };

  /**
   * One row's pass of a looped vector output: per j, the body's code outside the loop then, per
   * component c, `X[c] = X[c] + term(c)` into the tile partial vS (block_sum: merged per
   * component into the total vT) or into vT; the row's outputs written by a loop.
   */
  const loopedPass = (row: string): string[] => {
    const D = vo!.count;
    const lb = loopedBody(body, vo!);
    const first = body.code.length;
    // the body's instructions still needed outside the loop, by level
    const live = (set: ReadonlySet<number>) => (n: number): boolean => n < first && set.has(n) && vo!.live[n] === 1;
    const looped: Block = { code: lb.code, out: [] };
    const names = namer(looped, "body", (n) => (rowDependent.has(n) ? `b${n}_0` : `b${n}`), { load: slotLoad(row) });
    const out: string[] = [];
    emit(looped, names, fastExp, live(perRow), out, "    ");
    out.push(`    vT.fill(${init(0)});`);
    const inner: string[] = [];
    emit(looped, names, fastExp, live(perPair), inner, "      ");
    emit(looped, names, fastExp, (n) => n >= first, inner, "      "); // the loop's head and the term
    const c = names.value(lb.loop);
    const fv = p.dtype === "float32" ? `fr(${names.value(lb.term)})` : names.value(lb.term);
    const X = tiled ? "vS" : "vT";
    inner.push(`        ${X}[${c}] = ${acc(`(${X}[${c}] + ${fv})`)};`, "      }");
    if (tiled) {
      out.push(`    for (let jt = 0; jt < nI; jt += ${tile}) {`);
      out.push(`      const je = Math.min(nI, jt + ${tile});`);
      out.push(`      vS.fill(${init(0)});`);
      out.push("      for (let j = jt; j < je; j++) {");
      out.push(...inner.map((l) => "  " + l));
      out.push("      }");
      out.push(`      for (let c = 0; c < ${D}; c++) vT[c] = ${acc("(vT[c] + vS[c])")};`);
      out.push("    }");
    } else {
      out.push("    for (let j = 0; j < nI; j++) {");
      out.push(...inner);
      out.push("    }");
    }
    out.push(`    for (let c = 0; c < ${D}; c++) r0[q0 + ${row} * ${D} + c] = vT[c];`);
    return out;
  };

  L.push("  let i = i0;");
  if (tiled && !vo && !vsPass && body.code.length <= UNROLL_MAX_BODY) {
    L.push("  for (; i + 1 < i1; i += 2) {");
    L.push("    const ii = i + 1;");
    L.push(...pass(["i", "ii"]));
    L.push("  }");
  }
  L.push("  for (; i < i1; i++) {");
  L.push(...pass(["i"]));
  L.push("  }");
  L.push("};");
  return JS_PRELUDE + "\n" + L.join("\n");
}

/** `f()`, or null where it throws (a form a specialised writer cannot render: the generic one takes it). */
function orNull<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}
