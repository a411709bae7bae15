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
 * - Blocked distances (./dot.ts; `KEOPS_TS_BLOCKED=0` turns them off): a body whose D-term sums
 *   read dot tiles and norms runs by blocks of DOT_ROWS rows; per tile of JT columns the block's
 *   dot tiles are filled, then each row runs the same j loop over the tile, its states restored
 *   from and saved to scratch memory around it (a block_sum partial per tile); the rows finish
 *   after the last tile.
 * - A vector output of alike components under a plain sum (src/compile/vout.ts, ./vout.ts): one
 *   loop over the components per step, the states in scratch memory instead of locals; the
 *   general vector state (shared scalars plus groups of D components, ./vstate.ts): the shared
 *   components in locals, the groups in scratch memory, every block split around one loop.
 * Comparison results and their logic (mul = and, max = or, 1 − x = not, select) stay lane masks;
 * single-use pure values are operand-stack expressions; constants live in locals.
 */
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { scheduleOf } from "../../compile/schedule.js";
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { vectorOutput, vectorState, type VectorState } from "../../compile/vout.js";
import { I32, V128 } from "./encoder.js";
import { OP, SIMD } from "./asm.js";
import type { Mode } from "./lanes.js";
import { Gen, replicatedState, type Ctx, type Repr } from "./values.js";
import { DOT_ROWS, dotTileBytes, emitDotTiles, wasmBlocked, type WasmBlocked } from "./dot.js";
import { WasmVectorOutput } from "./vout.js";
import { WasmVectorState } from "./vstate.js";

export { modeOf, replicatedState } from "./values.js";

/** Inner indices per block_sum tile (a multiple of every lanes × unroll). */
export const WASM_TILE = 1024;



/** The result of rendering. */
export interface RenderedKernel {
  readonly bytes: Uint8Array;
  readonly mode: Mode;
  /** Lanes per vector × unrolled vectors: rows of inner data are padded to a multiple of this. */
  readonly pad: number;
  /** Bytes of scratch memory each thread passes to the kernel. */
  readonly scratchBytes: number;
  /** The blocked-distance form it runs (src/backends/wasm/dot.ts), or null. */
  readonly blocked: WasmBlocked | null;
}


/** Renders the module of a program. `shared`: import a shared memory (threads). */
export function renderWasm(p0: KernelProgram, shared: boolean): RenderedKernel {
  try {
    return renderModule(p0, shared, true);
  } catch (e) {
    // a vector state this renderer cannot write: the unrolled kernel; any other error is reported
    const blocked = wasmBlocked(p0);
    if (!wasmVectorState(withLoops(blocked?.program ?? p0), blocked?.nOwn ?? p0.slots.length)) throw e;
    return renderModule(p0, shared, false);
  }
}

/** {@link renderWasm}; `general`: a general vector state (./vstate.ts) is looped. */
function renderModule(p0: KernelProgram, shared: boolean, general: boolean): RenderedKernel {
  // blocked distances: D-term sums read norms and dot tiles (src/compile/blocked.ts, ./dot.ts),
  // then the remaining D-term sums as loops over the vector dimension (src/compile/loops.ts)
  const blocked = wasmBlocked(p0);
  const p = withLoops(blocked?.program ?? p0);
  const g = new Gen(p, shared);
  const { a, L, f, U } = g;
  const { body, red } = p;
  const W = L.W;
  const nS = red.state.length;
  const nSlots = p.slots.length;
  const rows = outputRowSizes(p);
  // a vector output looped over its components (src/compile/vout.ts, ./vout.ts): the body's code
  // that feeds only the looped outputs is not emitted, the states live in scratch memory
  const vo = vectorOutput(body, red, blocked?.nOwn ?? nSlots, p.loopMin ?? LOOP_MIN_DIM);
  const vs = vo || !general ? null : wasmVectorState(p, blocked?.nOwn ?? nSlots);
  const vl = vo ?? vs;
  const keep = (set: ReadonlySet<number>): ((n: number) => boolean) => (vl ? (n) => set.has(n) && vl.live[n] === 1 : (n) => set.has(n));
  // locals
  g.q = f.local(I32); g.qn = f.local(I32); g.qb = f.local(I32); g.jq = f.local(I32);
  g.i = f.local(I32); g.j = f.local(I32); g.jb = f.local(I32); g.je = f.local(I32); g.jt = f.local(I32); g.jfull = f.local(I32);
  g.mask = f.local(V128);
  // the inner coordinates read (by the body, or by the dot tiles from coordinate 0): a blocked
  // distance no longer reads the others
  const read = new Set(body.code.filter((ins, n) => ins.op === "load" && (!vl || vl.live[n] === 1)).map((ins) => `${ins.k[0]},${ins.k[1]}`));
  for (const e of blocked?.extra ?? []) if (e.kind === "dot") read.add(`${e.inner},0`);
  p.slots.forEach((s, k) => {
    g.base.push(f.local(I32));
    g.rowBase.push(s.role === "outer" ? f.local(I32) : -1);
    g.compBase.push(s.role === "inner" ? Array.from({ length: s.dim }, (_, c) => (read.has(`${k},${c}`) ? f.local(I32) : -1)) : []);
  });
  rows.forEach(() => {
    g.outBase.push(f.local(I32));
    g.outRow.push(f.local(I32));
  });
  // the state's components in locals: none for a looped vector output, the shared ones of a vector state
  const nSh = vo ? 0 : vs ? vs.first : nS;
  const vecState = (): number[] => Array.from({ length: nSh }, () => f.local(V128));
  const sch = scheduleOf(p);
  const { perCall, perRow, perPair } = sch.body;
  const { tile, merges } = sch.target({ lanes: W, unroll: U, elemBytes: L.bytes, accBytes: L.bytes, tile: WASM_TILE });
  const tiled = merges.includes("tile");
  const vw = vo ? new WasmVectorOutput(g, body, vo, red.state[0]!.init, 0) : null;
  // The guard's parts that read only the state (e.g. "is the K-th slot empty") change only when
  // the state does: they are computed before each j loop and after each update, not per step.
  const up = red.update;
  const guard = sch.guard?.value;
  const pre = sch.guard?.prefix ?? new Set<number>();
  const hoisted = sch.guard?.stateOnly ?? [];
  const hoistedSet = new Set(hoisted);
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
  const S = tiled ? Array.from({ length: U }, vecState) : T;
  const O = vecState();
  for (const st of [...T, ...S]) for (const l of st) a.persistent.add(l);
  for (let u = 0; u < U; u++) for (const h of hoisted) a.persistent.add(g.valueLocal("u", h, hu(u)));
  const stateT = (k: number): "f" | "i" => red.state[k]!.t;
  const vsw = vs ? new WasmVectorState(g, body, vs, T, S, 0) : null;

  // bases from the table; inner coordinate arrays
  for (let s = 0; s < nSlots; s++) a.get(g.tab).mem(OP.i32Load, 2, 4 * s).set(g.base[s]!);
  rows.forEach((_, o) => a.get(g.tab).mem(OP.i32Load, 2, 4 * (nSlots + o)).set(g.outBase[o]!));
  p.slots.forEach((s, k) => {
    if (s.role !== "inner") return;
    for (let c = 0; c < s.dim; c++) if (read.has(`${k},${c}`)) a.get(g.base[k]!).get(g.stride).i32(c).op(OP.i32Mul).op(OP.i32Add).set(g.compBase[k]![c]!);
  });
  const bodyVals = new Map<number, Repr>();
  const noState: Ctx = {};
  g.emitBlock("b", body, 0, noState, bodyVals, keep(perCall));

  /** Row i's input and output addresses. */
  const rowBases = (): void => {
    p.slots.forEach((s, k) => {
      if (s.role === "outer") a.get(g.base[k]!).get(g.i).i32(s.dim * L.bytes).op(OP.i32Mul).op(OP.i32Add).set(g.rowBase[k]!);
    });
    rows.forEach((size, o) => {
      const eb = red.outputs[o]!.t === "i" ? 4 : L.bytes;
      a.get(g.outBase[o]!).get(g.i).i32(size * eb).op(OP.i32Mul).op(OP.i32Add).set(g.outRow[o]!);
    });
  };
  const initState = (target: number[][]): void => {
    for (const st of new Set(target))
      red.state.forEach((s, k) => {
        g.push({ c: s.init }, s.t);
        a.set(st[k]!);
      });
  };

  const refresh = (u: number, st: number[]): void => {
    if (!hoisted.length) return;
    g.emitBlock("u", up, hu(u), { state: (k) => ({ local: st[k]!, mask: false }) }, new Map(), (n) => hoistedSet.has(n) || (pre.has(n) && (up.code[n]!.op === "state" || up.code[n]!.op === "const")));
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
      g.emitBlock("b", body, u, ctxBase, vals, keep(perPair));
      return { ctxBase, vals, fval: (k: number): Repr => vals.get(body.out[k]!)! };
    });
    if (vw) return vw.step(us.map((u, n) => ({ u, ctx: fvals[n]!.ctxBase, vals: fvals[n]!.vals })), tiled, masked);
    if (vsw) return vsw.step(us.map((u, n) => ({ u, ctx: fvals[n]!.ctxBase, vals: fvals[n]!.vals })), tiled, masked);
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

  /** The row's j in [jt, je): a fresh partial folded into the totals (block_sum), or into the totals. */
  const jRange = (): void => {
    if (!tiled) return jLoop(T);
    if (vw) vw.initStates("S");
    else if (vsw) vsw.initStates("S");
    else initState(S);
    jLoop(S);
    if (vw) vw.mergeTile();
    else if (vsw) vsw.mergeTile();
    else for (let u = 0; u < U; u++) merge(T[u]!, (k) => ({ local: S[u]![k]!, mask: false }));
  };
  /** Tiles of `size` inner indices (jt, je), each running `each`. */
  const tiles = (size: number, each: () => void): void => {
    a.i32(0).set(g.jt);
    a.openLoop();
    a.get(g.jt).get(g.nI).op(OP.i32GeS).brIf(1);
    // je = min(nI, jt + size)
    a.get(g.jt).i32(size).op(OP.i32Add).tee(g.je).get(g.nI).get(g.je).get(g.nI).op(OP.i32LtS).op(OP.selectOp).set(g.je);
    each();
    a.get(g.jt).i32(size).op(OP.i32Add).set(g.jt);
    a.closeLoop();
  };
  /** Rows i from `from` to `to` (i32 locals), each running `each`. */
  const rowLoop = (from: number, to: number, each: () => void): void => {
    a.get(from).set(g.i);
    a.openLoop();
    a.get(g.i).get(to).op(OP.i32GeS).brIf(1);
    each();
    a.get(g.i).i32(1).op(OP.i32Add).set(g.i);
    a.closeLoop();
  };
  /** Merges the row's partial states, finalizes, stores the outputs. */
  const rowFinish = (): void => {
    if (vw) return vw.finish(g.outRow[0]!, merges.includes("unrolled"), merges.includes("lanes"));
    if (vsw) return vsw.finish(merges.includes("unrolled"), merges.includes("lanes"));
    // unrolled copies, then lanes (by halves), into lane 0 of T[0]
    if (merges.includes("unrolled")) for (let u = 1; u < U; u++) merge(T[0]!, (k) => ({ local: T[u]![k]!, mask: false }));
    const oth = vecState();
    for (let half = W / 2; half >= 1 && merges.includes("lanes"); half /= 2) {
      for (let k = 0; k < nS; k++) a.get(T[0]![k]!).get(T[0]![k]!).shuffle(L.rotation(half)).set(oth[k]!);
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
        g.storeLane0(isInt, r);
      }
    });
  };

  // scratch: the candidates of a selection, or a looped vector output's tile partials (then totals)
  const vx = vw ?? vsw;
  let scratchBytes = vx ? vx.setBytes : Math.max(16, body.out.length * W * U * L.bytes);
  if (!blocked) {
    if (vx) {
      vx.fixedRow(scratchBytes);
      scratchBytes += vx.setBytes;
    }
    rowLoop(g.i0, g.i1, () => {
      rowBases();
      g.emitBlock("b", body, 0, noState, bodyVals, keep(perRow));
      if (vx) vx.initStates("T");
      else initState(T);
      if (tiled) tiles(tile, jRange);
      else {
        a.i32(0).set(g.jt);
        a.get(g.nI).set(g.je);
        jRange();
      }
      rowFinish();
    });
  } else {
    /**
     * Blocks of DOT_ROWS rows; per tile of JT columns, the dot tiles of the block, then each row
     * over the tile, its states restored from and saved to scratch memory (`saved`) around it.
     */
    const JT = blocked.JT;
    const ib = f.local(I32), ie = f.local(I32), gBase = f.local(I32), saved = f.local(I32);
    const sets = [...new Set(T)];
    // a vector state's shared components (as the other states), then its groups
    const sharedBytes = vw ? 0 : sets.length * nSh * 16;
    const rowStateBytes = sharedBytes + (vx ? vx.setBytes : 0);
    const gAt = Math.ceil(scratchBytes / 16) * 16;
    const stAt = gAt + dotTileBytes(blocked, L.bytes);
    scratchBytes = stAt + DOT_ROWS * rowStateBytes;
    const states = (store: boolean): void => {
      // saved = scratch + stAt + (i − ib)·rowStateBytes
      a.get(g.i).get(ib).op(OP.i32Sub).i32(rowStateBytes).op(OP.i32Mul).get(g.scratchP).op(OP.i32Add).set(saved);
      if (vw) return vw.rowAt(saved, stAt); // a looped vector output's totals stay there
      if (vsw) vsw.rowAt(saved, stAt + sharedBytes); // so do a vector state's groups
      sets.forEach((st, n) => st.forEach((l, k) => {
        const off = stAt + (n * nSh + k) * 16;
        if (store) a.get(saved).get(l).vmem(SIMD.store, 0, off);
        else a.get(saved).vmem(SIMD.load, 0, off).set(l);
      }));
    };
    a.get(g.scratchP).i32(gAt).op(OP.i32Add).set(gBase);
    a.get(g.i0).set(ib);
    a.openLoop();
    a.get(ib).get(g.i1).op(OP.i32GeS).brIf(1);
    // ie = min(i1, ib + DOT_ROWS)
    a.get(ib).i32(DOT_ROWS).op(OP.i32Add).tee(ie).get(g.i1).get(ie).get(g.i1).op(OP.i32LtS).op(OP.selectOp).set(ie);
    rowLoop(ib, ie, () => {
      if (vx) {
        states(true); // the row's place (vw, vsw.tRow), then its initial state saved
        vx.initStates("T");
        if (vsw) states(true);
        return;
      }
      initState(T);
      states(true);
    });
    tiles(JT, () => {
      emitDotTiles(g, blocked, { ib, ie, jt: g.jt, je: g.je, gBase });
      rowLoop(ib, ie, () => {
        rowBases();
        // the dot slots' coordinate arrays: row i − ib of their tile, shifted by jt
        let t = 0;
        blocked.extra.forEach((e, k) => {
          if (e.kind !== "dot") return;
          a.get(g.i).get(ib).op(OP.i32Sub).i32(JT).op(OP.i32Mul).get(g.jt).op(OP.i32Sub).i32(L.shift).op(OP.i32Shl)
            .get(gBase).op(OP.i32Add).i32(t++ * DOT_ROWS * JT * L.bytes).op(OP.i32Add).set(g.compBase[blocked.nOwn + k]![0]!);
        });
        g.emitBlock("b", body, 0, noState, bodyVals, keep(perRow));
        states(false);
        jRange();
        states(true);
      });
    });
    rowLoop(ib, ie, () => {
      rowBases();
      states(false);
      rowFinish();
    });
    a.get(ie).set(ib);
    a.closeLoop();
  }
  return { bytes: g.m.encode(), mode: L.mode, pad: W * U, scratchBytes, blocked };
}

/**
 * The general looped vector state the wasm renderer takes (src/compile/vout.ts, ./vstate.ts), or
 * null: none, or a selection (one replicated state: not a vector state's scheme).
 */
export function wasmVectorState(p: KernelProgram, nOwn: number): VectorState | null {
  if (replicatedState(p)) return null;
  return vectorState(p.body, p.red, nOwn, p.loopMin ?? LOOP_MIN_DIM);
}
