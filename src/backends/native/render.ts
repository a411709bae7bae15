/**
 * Renders a kernel program as one C++ translation unit exporting
 * `keops_kernel(nBatch, nOuter, nInner, nThreads, offF64, inOff, outOff, in0…, out0…)` (offsets
 * are float64 when offF64, else int32).
 *
 * Design: per batch, every inner (j) slot is transposed once into one padded array per
 * coordinate; OpenMP threads take blocks of IB outer rows; for each tile of JT inner indices
 * (sized for L1) every row of the block evaluates the formula on V consecutive j at once in SIMD
 * lanes. The schedule (src/compile/schedule.ts) gives the level partition, the strategy, the
 * tile and block sizes and the declared fast path; three schemes render it:
 * - lanes (accumulate strategy: sums, log-sum-exp) keep one partial state per lane (a fresh one
 *   per tile when `tiled`, merged into the lane totals), the lanes merged in order with the
 *   reduction's `merge` at the end of the row;
 * - shiftexp (the accumulate strategy of a reduction declaring `shiftExp`): per row and tile, one
 *   pass storing the formula values with the lane maxima, one pass summing exp(f − max)·g;
 * - scan (select strategy: min/max, K-min families) keeps one scalar state per row; the guard is
 *   evaluated on all lanes against the broadcast state (a compare-mask scan) and the few lanes
 *   that pass run the scalar update in index order — exactly the sequential semantics (written
 *   out as a sorted insertion for a reduction declaring `sortedK`).
 */
import { outputRowSizes, type KernelProgram } from "../../compile/program.js";
import { scheduleOf } from "../../compile/schedule.js";
import { blockDots } from "../../compile/blocked.js";
import { LOOP_MIN_DIM, withLoops } from "../../compile/loops.js";
import { loopedBlock, loopedBody, vectorOutput, vectorState, type SplitBlock, type VectorOutput, type VectorState } from "../../compile/vout.js";
import type { ReductionProgram } from "../../reductions/types.js";
import type { Block } from "../../ir/ssa.js";
import { DOT_RI, DOT_RJ, DOT_TILE_FN, blockedEnabled, dotBuffers, dotTileCode, extraLoad, normBuffers, normCode } from "./dot.js";
import { BlockWriter, cLit, type Inputs, type Mode } from "./block.js";
import { CXX_PRELUDE } from "./prelude.js";

/** Bytes of y kept per tile (L1-sized), and of lane states per row block. */
const TILE_BYTES = 16384;
const STATE_BYTES = 32768;

/** What the backend needs to call the kernel. */
export interface NativeSource {
  readonly source: string;
  /** koffi prototype of `keops_kernel`. */
  readonly proto: string;
  /** The scheme used (for tests and reports). */
  readonly scheme: "lanes" | "scan" | "shiftexp";
  /** The declared fast path the kernel took, or null (the reduction's generic update). */
  readonly fast: "shiftExp" | "sortedK" | null;
}

/** Name of the exported sanity-check symbol and the value it returns. */
export const SIG_SYMBOL = "keops_ts_sig";
export const SIG_VALUE = 0x6b6f7073;

/** Renders the program. */
export function renderNative(p0: KernelProgram): NativeSource {
  // blocked distances: D-term sums read precomputed norms and dot tiles (src/compile/blocked.ts)
  const blk = blockedEnabled() ? blockDots(p0) : null;
  const extra = blk?.extra ?? [];
  // then the remaining D-term sums as loops over the vector dimension (src/compile/loops.ts)
  const p: KernelProgram = withLoops(blk ? { ...p0, body: blk.body } : p0);
  const { body, red } = p;
  const T = p.dtype === "float32" ? "float" : "double";
  const A = p.accDtype === "float32" ? "float" : "double";
  const V = T === "float" ? 16 : 8;
  const TI = T === "float" ? "int32_t" : "int64_t";
  const AI = A === "float" ? "int32_t" : "int64_t";
  const sz = (t: string): number => (t === "float" || t === "int32_t" ? 4 : 8);
  const nS = red.state.length;
  const rows = outputRowSizes(p);
  const sch = scheduleOf(p);
  const scan = sch.strategy === "select";
  const sx = sch.fast?.kind === "shiftExp" ? sch.fast.groups : null;
  // a vector output looped over its components (src/compile/vout.ts): the body's code that feeds
  // only the looped outputs is not emitted; the loop's term is written by `vl.w`
  const vo = !scan && !sx ? vectorOutput(body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM) : null;
  // other reductions of a vector state (SumSoftMaxWeight, weighted LogSumExp, Kahan, the
  // per-component scans): the general form, each reduction block split into its shared part and a
  // loop over the components
  const vs = !scan && !vo ? vectorState(body, red, p.slots.length, p.loopMin ?? LOOP_MIN_DIM) : null;
  const vb = vo ?? vs;
  // the state's arrays: on the thread's stack up to NATIVE_STATE_MAX components, else on the heap
  const heap = vb !== null && vb.count > NATIVE_STATE_MAX;
  /** Declares array `name` of `type` (dimensions outermost first); on the heap, freed at the end of its scope. */
  const arr = (type: string, name: string, dims: readonly (string | number)[], attrs = ""): string => {
    if (!heap) return `${type} ${name}${dims.map((d) => `[${d}]`).join("")}${attrs};`;
    const inner = dims.slice(1).map((d) => `[${d}]`).join("");
    return `k_heap<${type}> ${name}_h((size_t)${dims.join(" * ")}); ${type} (*${name})${inner} = (${type} (*)${inner})${name}_h.p;`;
  };
  const { tile: JT, rows: IB } = sch.target({
    lanes: V, elemBytes: sz(T), accBytes: sz(A),
    tile: { bytes: TILE_BYTES, min: 8 * V, max: 4096 },
    rows: { stateBytes: STATE_BYTES, max: 64, select: 64 },
  });
  const L: string[] = [CXX_PRELUDE];
  if (heap) L.push(K_HEAP);
  L.push(`typedef ${T} VT __attribute__((vector_size(${V * sz(T)})));`);
  L.push(`typedef ${TI} VTI __attribute__((vector_size(${V * sz(TI)})));`);
  if (A === T) L.push("typedef VT VA;", "typedef VTI VAI;");
  else {
    L.push(`typedef ${A} VA __attribute__((vector_size(${V * sz(A)})));`);
    L.push(`typedef ${AI} VAI __attribute__((vector_size(${V * sz(AI)})));`);
  }
  L.push(`enum { V = ${V}, IB = ${IB}, JT = ${JT} };`);
  if (extra.some((e) => e.kind === "dot")) L.push(`typedef ${T} KDT;`, `enum { DOT_RI = ${DOT_RI}, DOT_RJ = ${DOT_RJ} };`, DOT_TILE_FN);
  L.push(`extern "C" int ${SIG_SYMBOL}(void) { return ${SIG_VALUE}; }`);
  const params = [
    "int nBatch", "int nOuter", "int nInner", "int nThreads", "int offF64", "const void* inOff", "const void* outOff",
    ...p.slots.map((_, s) => `const ${T}* a${s}`),
    ...red.outputs.map((o, k) => `${o.t === "i" ? "int32_t" : T}* r${k}`),
  ];
  L.push(`extern "C" void keops_kernel(${params.join(", ")}) {`);
  L.push("  auto OFF = [&](const void* o, int64_t k) -> int64_t { return offF64 ? (int64_t)((const double*)o)[k] : (int64_t)((const int32_t*)o)[k]; };");
  L.push("  const int64_t NP = ((int64_t)nInner + V - 1) / V * V;");
  L.push(`  ${T}* ybuf = (${T}*)__builtin_malloc(sizeof(${T}) * (size_t)(NP * ${sch.innerComps} + V));`);
  const norms = normBuffers(extra, T);
  L.push(...norms.alloc);
  L.push("  for (int bt = 0; bt < nBatch; bt++) {");
  p.slots.forEach((_, s) => L.push(`    const ${T}* P${s} = a${s} + OFF(inOff, (int64_t)bt * ${p.slots.length} + ${s});`));
  red.outputs.forEach((o, k) => L.push(`    ${o.t === "i" ? "int32_t" : T}* Q${k} = r${k} + OFF(outOff, (int64_t)bt * ${red.outputs.length} + ${k});`));
  // transposed inner slots
  let yk = 0;
  const yName = new Map<string, string>();
  const yBase = new Map<number, number>();
  p.slots.forEach((s, si) => {
    if (s.role !== "inner") return;
    const names: string[] = [];
    for (let c = 0; c < s.dim; c++, yk++) {
      const nm = `Y${si}_${c}`;
      yName.set(`${si},${c}`, nm);
      names.push(nm);
      L.push(`    ${T}* ${nm} = ybuf + (int64_t)${yk} * NP;`);
    }
    yBase.set(si, yk - s.dim);
    // one loop per coordinate (unrolled stores into many arrays would make GCC emit pairwise alias checks)
    L.push(`    for (int c = 0; c < ${s.dim}; c++) {`);
    L.push(`      ${T}* __restrict dst = ybuf + (int64_t)(${yk - s.dim} + c) * NP; const ${T}* __restrict src = P${si} + c;`);
    L.push(`      for (int64_t j = 0; j < nInner; j++) dst[j] = src[j * ${s.dim}];`);
    L.push("      for (int64_t j = nInner; j < NP; j++) dst[j] = 0;");
    L.push("    }");
  });
  L.push(...normCode(extra, T, (s) => `P${s}`, (s) => yBase.get(s)!, "    "));
  L.push("    const int nBlk = (nOuter + IB - 1) / IB;");
  // one block of rows (a lambda: the single-thread path skips OpenMP's per-call team set-up)
  L.push("    auto runBlock = [&](int blk) {");
  L.push("      const int i0 = blk * IB, i1 = i0 + IB < nOuter ? i0 + IB : nOuter;");
  const dots = dotBuffers(extra, T);
  L.push(...dots.alloc);

  // ---- the body (vector code over T) ----
  const bodyMode: Mode = { vec: true, F: "VT", E: T, I: "VTI", IE: TI };
  const bodyInputs: Inputs = {
    load: (slot, comp) => {
      if (slot >= p.slots.length) return extraLoad(extra[slot - p.slots.length]!, slot - p.slots.length, T);
      const s = p.slots[slot]!;
      if (s.role === "param") return `((${T})P${slot}[${comp}] - VT{})`;
      if (s.role === "outer") return `((${T})P${slot}[(int64_t)i * ${s.dim} + ${comp}] - VT{})`;
      if (typeof comp === "string") return `k_load<VT>(ybuf + (int64_t)(${yBase.get(slot)!} + ${comp}) * NP + j)`;
      return `k_load<VT>(${yName.get(`${slot},${comp}`)} + j)`;
    },
    idx: "jvT",
  };
  const bw = new BlockWriter(body, "b", bodyMode, bodyInputs);
  const vl = vb ? vectorLoop(body, vb, bodyMode, bodyInputs) : null;
  const keep = (set: ReadonlySet<number>): ((n: number) => boolean) => (vb ? (n) => set.has(n) && vb.live[n] === 1 : (n) => set.has(n));
  const { perCall, perRow, perPair } = sch.body;
  bw.emit(keep(perCall), L, "      ");
  const usesIdx = sch.updateUsesIdx;
  const bodyIdx = sch.body.usesIdx;
  const iota = Array.from({ length: V }, (_, l) => l).join(", ");
  const initF = (k: number): string => {
    const st = red.state[k]!;
    return st.t === "i" ? `((${AI})(${st.init | 0}) - VAI{})` : `((${A})${cLit(st.init)} - VA{})`;
  };
  const initS = (k: number): string => {
    const st = red.state[k]!;
    return st.t === "i" ? `(int32_t)(${st.init | 0})` : `(${A})${cLit(st.init)}`;
  };
  const vty = (k: number): string => (red.state[k]!.t === "i" ? "VAI" : "VA");
  const sty = (k: number): string => (red.state[k]!.t === "i" ? "int32_t" : A);
  const toVA = (x: string): string => (A === T ? x : `__builtin_convertvector(${x}, VA)`);
  const fvConv = (k: number): string => toVA(bw.asF(body.out[k]!));
  /**
   * The loop over a tile's j in vectors of V lanes, then the masked tail (`step(tail, indent)`
   * emits one vector's work; the tail also needs the lane indices when the update does not).
   */
  const jVectors = (L: string[], step: (tail: boolean, ind: string) => void, afterTail: string[] = []): void => {
    L.push("          int j = jt;");
    L.push("          for (; j + V <= je; j += V) {");
    step(false, "            ");
    L.push("          }");
    L.push("          if (j < je) {");
    if (!usesIdx) L.push(`            const VAI jv = (${AI})j + (VAI){${iota}};`);
    step(true, "            ");
    L.push(...afterTail);
    L.push("          }");
  };
  // the j loop's head: index vectors, the body's level-2 code, the formula values as VA
  const jHead = (ind: string): string[] => {
    const out: string[] = [];
    if (usesIdx) out.push(`${ind}const VAI jv = (${AI})j + (VAI){${iota}};`);
    if (bodyIdx) out.push(`${ind}const VTI jvT = (${TI})j + (VTI){${iota}};`);
    bw.emit(keep(perPair), out, ind);
    if (!vo) body.out.forEach((_, k) => (!vs || k < vs.fbase) && out.push(`${ind}const VA fv${k} = ${fvConv(k)};`));
    return out;
  };
  const vecMode: Mode = { vec: true, F: "VA", E: A, I: "VAI", IE: AI };
  const sclMode: Mode = { vec: false, F: A, E: A, I: "int32_t", IE: "int32_t" };
  const finalRows = (stateName: (k: number) => string, ind: string): void => {
    const fw = new BlockWriter(red.finalize, "z", sclMode, { state: stateName });
    fw.emit(() => true, L, ind);
    let pos = 0;
    rows.forEach((size, o) => {
      const ot = red.outputs[o]!.t === "i" ? "int32_t" : T;
      for (let r = 0; r < size; r++, pos++) L.push(`${ind}Q${o}[(int64_t)i * ${size} + ${r}] = (${ot})${fw.asState(red.finalize.out[pos]!)};`);
    });
  };
  /** Scalar merge of `other` into `state` (both named by the callers), assigned in place. */
  const scalarMerge = (state: (k: number) => string, other: (k: number) => string, ind: string): void => {
    const mw = new BlockWriter(red.merge, "m", sclMode, { state, other });
    L.push(`${ind}{`);
    mw.emit(() => true, L, ind + "  ");
    red.merge.out.forEach((v, k) => L.push(`${ind}  ${state(k)} = ${mw.asState(v)};`));
    L.push(`${ind}}`);
  };

  /** Merges each row's lanes in order, finalizes and writes the outputs. */
  const laneMergeFinalize = (): void => {
    L.push("      for (int i = i0; i < i1; i++) {");
    if (vo) {
      // the looped vector output: per component, the lanes summed in order, the sum written
      L.push(`        for (int c = 0; c < ${vo.count}; c++) {`);
      L.push(`          ${A} s = (${A})totL[i - i0][c][0];`);
      L.push(`          _Pragma("GCC unroll 1") for (int l = 1; l < V; l++) s = s + (${A})totL[i - i0][c][l];`);
      L.push(`          Q0[(int64_t)i * ${vo.count} + c] = (${T})s;`);
      L.push("        }");
      L.push("      }");
      return;
    }
    for (let k = 0; k < nS; k++) L.push(`        ${sty(k)} s${k} = (${sty(k)})tot${k}[i - i0][0];`);
    L.push("        _Pragma(\"GCC unroll 1\") for (int l = 1; l < V; l++) {");
    for (let k = 0; k < nS; k++) L.push(`          const ${sty(k)} o${k} = (${sty(k)})tot${k}[i - i0][l];`);
    scalarMerge((k) => `s${k}`, (k) => `o${k}`, "          ");
    L.push("        }");
    finalRows((k) => `s${k}`, "        ");
    L.push("      }");
  };

  /** A tile of j (jt … je) of the row block, with its dot tiles filled first. */
  const tileHead = (): void => {
    L.push("      for (int jt = 0; jt < nInner; jt += JT) {");
    L.push("        const int je = jt + JT < nInner ? jt + JT : nInner;");
    L.push(...dotTileCode(extra, (s) => `P${s}`, (s) => yBase.get(s)!, "        "));
  };
  /** A formula value of the shift-exp passes stored into its tile buffer (the tail's invalid lanes as `empty`). */
  const stash = (name: string, v: string, empty: string, dst: string, tail: boolean, ind: string): void => {
    L.push(`${ind}const VA ${name} = ${tail ? `valid ? ${v} : ${empty}` : v};`);
    L.push(`${ind}__builtin_memcpy(${dst} + (j - jt), &${name}, sizeof(VA));`);
  };

  /**
   * Before the shift-exp sums: in lanes whose maximum is +∞ (rare, hence tested once per row and
   * tile) the +∞ values become 0 and the others −∞ (NaN kept), so that with the shift 0 the +∞
   * terms weigh 1 each and the rest 0 — the limit the generic update takes (a softmax over the
   * +∞ terms), not ∞·g summed and divided by ∞.
   */
  const infiniteMax = (mx: string, f: number, ind: string): string[] => [
    `${ind}if (k_any(${mx} == (${A})INFINITY)) {`,
    `${ind}  for (int jj = 0; jj < j - jt; jj += V) {`,
    `${ind}    const VA b = k_load<VA>(buf${f} + jj);`,
    `${ind}    const VA r = ${mx} == (${A})INFINITY ? (b == (${A})INFINITY ? VA{} : b == b ? ((${A})(-INFINITY) - VA{}) : b) : b;`,
    `${ind}    __builtin_memcpy(buf${f} + jj, &r, sizeof(VA));`,
    `${ind}  }`,
    `${ind}}`,
  ];

  // ---- a vector state looped over its components (src/compile/vout.ts, the general form) ----
  // shared state components are named as in the other schemes; group g is an array (per row: totL<g>)
  type Acc = (k: number, c?: string) => string;
  /** State accessor: shared component k, or component k (+ c) of a group. */
  const acc = (shared: (k: number) => string, group: (g: number, c: string) => string): Acc => (k, c) => {
    const v = vs!;
    if (c === undefined && k < v.first) return shared(k);
    const g = Math.floor((k - v.first) / v.count), off = (k - v.first) % v.count;
    return group(g, c === undefined ? String(off) : off ? `${off} + ${c}` : c);
  };
  const groupBase = (g: number): number => vs!.first + g * vs!.count;
  /** A split block's writer: its shared instructions, its loop (opened, or inside the loop `c`), each run's term. */
  const splitWriter = (blk: Block, sp: SplitBlock, prefix: string, mode: Mode, inputs: Inputs) => {
    const lb = loopedBlock(blk, sp, vs!.count);
    const w = new BlockWriter({ code: [...lb.code], out: [] }, prefix, mode, inputs);
    const n0 = blk.code.length;
    return {
      outside: (ind: string): void => w.emit((n) => n < n0 && sp.outside[n] === 1, L, ind),
      loop: (ind: string, c?: string): void => {
        if (c !== undefined) L.push(`${ind}  const int ${prefix}${lb.loop} = ${c};`);
        w.emit((n) => (c === undefined ? n >= lb.loop : n > lb.loop), L, c === undefined ? ind : ind + "  ");
      },
      c: `${prefix}${lb.loop}`,
      term: (r: number): string => w.asState(lb.terms[r]!),
      out: (k: number): string => w.asState(blk.out[k]!),
    };
  };
  /** The split merge of `other` into `state`, assigned in place. */
  const mergeSplit = (mode: Mode, state: Acc, other: Acc, ind: string): void => {
    const v = vs!;
    const m = splitWriter(red.merge, v.merge, "m", mode, { state, other });
    L.push(`${ind}{`);
    m.outside(ind + "  ");
    m.loop(ind + "  ");
    for (let g = 0; g < v.groups; g++) L.push(`${ind}    ${state(groupBase(g), m.c)} = ${m.term(g)};`);
    L.push(`${ind}  }`);
    for (let k = 0; k < v.first; k++) L.push(`${ind}  ${state(k)} = ${m.out(k)};`);
    L.push(`${ind}}`);
  };
  /** Declares and initialises the row block's totals: tot<k>[IB] shared, totL<g>[IB][D] per group. */
  const totalsSplit = (): void => {
    const v = vs!, D = v.count;
    for (let k = 0; k < v.first; k++) L.push(`      ${vty(k)} tot${k}[IB];`);
    for (let g = 0; g < v.groups; g++) L.push(`      ${arr(vty(groupBase(g)), `totL${g}`, ["IB", D])}`);
    const shared = Array.from({ length: v.first }, (_, k) => `tot${k}[ii] = ${initF(k)};`);
    const groups = Array.from({ length: v.groups }, (_, g) => `totL${g}[ii][c] = ${initF(groupBase(g))};`);
    L.push(`      for (int ii = 0; ii < IB; ii++) { ${[...shared, `for (int c = 0; c < ${D}; c++) { ${groups.join(" ")} }`].join(" ")} }`);
  };
  const totAcc = acc((k) => `tot${k}[i - i0]`, (g, c) => `totL${g}[i - i0][${c}]`);
  const rowAcc = acc((k) => `v${k}`, (g, c) => `vL${g}[${c}]`);
  /** Merges each row's lanes in order (shared part once, then the loop), finalizes and writes the outputs. */
  const laneMergeFinalizeSplit = (): void => {
    const v = vs!, D = v.count;
    L.push("      for (int i = i0; i < i1; i++) {");
    for (let k = 0; k < v.first; k++) L.push(`        ${sty(k)} s${k} = (${sty(k)})tot${k}[i - i0][0];`);
    for (let g = 0; g < v.groups; g++) {
      const t = sty(groupBase(g));
      L.push(`        ${arr(t, `sL${g}`, [D])}`, `        for (int c = 0; c < ${D}; c++) sL${g}[c] = (${t})totL${g}[i - i0][c][0];`);
    }
    const sAcc = acc((k) => `s${k}`, (g, c) => `sL${g}[${c}]`);
    L.push("        _Pragma(\"GCC unroll 1\") for (int l = 1; l < V; l++) {");
    mergeSplit(sclMode, sAcc, acc((k) => `((${sty(k)})tot${k}[i - i0][l])`, (g, c) => `((${sty(groupBase(g))})totL${g}[i - i0][${c}][l])`), "          ");
    L.push("        }");
    const z = splitWriter(red.finalize, v.finalize, "z", sclMode, { state: sAcc });
    z.outside("        ");
    z.loop("        ");
    v.outRuns.forEach(({ output: o, offset }, r) =>
      L.push(`          Q${o}[(int64_t)i * ${rows[o]!} + ${offset ? `${offset} + ` : ""}${z.c}] = (${red.outputs[o]!.t === "i" ? "int32_t" : T})${z.term(r)};`));
    L.push("        }");
    L.push("      }");
  };
  if (sx && vs && vl) {
    // the shift-exp passes with the looped weights: the first stores them per component
    // (bufL[c]), the second sums exp(f − max) once per pair into wbuf, then per component
    // Σ w·g over the tile (per component the same additions in the same order as unrolled)
    const D = vs.count, grp = sx[0]!;
    totalsSplit();
    for (let k = 0; k < vs.fbase; k++) L.push(`      ${A} buf${k}[JT] __attribute__((aligned(64)));`);
    L.push(`      ${arr(A, "bufL", [D, "JT"], " __attribute__((aligned(64)))")}`, `      ${A} wbuf[JT] __attribute__((aligned(64)));`);
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit(keep(perRow), L, "          ");
    L.push(`          VA mx0 = ((${A})(-INFINITY) - VA{});`);
    const pass1 = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      if (tail) L.push(`${ind}const auto valid = jv < (${AI})je;`);
      for (let k = 0; k < vs.fbase; k++) stash(`fm${k}`, `fv${k}`, k === grp.f ? `((${A})(-INFINITY) - VA{})` : "VA{}", `buf${k}`, tail, ind);
      vl.w.emit((n) => n >= vl.first, L, ind);
      stash("fmL", toVA(vl.w.asF(vl.term)), "VA{}", `bufL[b${vl.loop}]`, tail, ind + "  ");
      L.push(`${ind}}`);
      L.push(`${ind}mx0 = fm${grp.f} > mx0 ? fm${grp.f} : mx0;`);
    };
    jVectors(L, pass1, ["            j += V;"]);
    L.push(...infiniteMax("mx0", grp.f, "          "));
    L.push("          const VA ms0 = (mx0 == (" + A + ")(-INFINITY)) | (mx0 == (" + A + ")INFINITY) ? VA{} : mx0;");
    const sharedS = grp.s.map((k, q) => [k, grp.g[q]] as const).filter(([k]) => k < vs.first);
    for (const [k] of sharedS) L.push(`          VA v${k} = VA{};`);
    L.push(`          const VA v${grp.m} = mx0;`);
    L.push(`          ${arr("VA", "vL0", [D])}`, `          for (int c = 0; c < ${D}; c++) vL0[c] = VA{};`);
    L.push("          for (int jj = 0; jj < j - jt; jj += V) {");
    L.push(`            const VA w0 = k_exp(k_load<VA>(buf${grp.f} + jj) - ms0);`);
    L.push("            __builtin_memcpy(wbuf + jj, &w0, sizeof(VA));");
    for (const [k, gk] of sharedS) L.push(gk === null || gk === undefined ? `            v${k} += w0;` : `            v${k} += w0 * k_load<VA>(buf${gk} + jj);`);
    L.push("          }");
    L.push(`          for (int c = 0; c < ${D}; c++) {`);
    L.push("            VA a = vL0[c];");
    L.push("            for (int jj = 0; jj < j - jt; jj += V) a += k_load<VA>(wbuf + jj) * k_load<VA>(bufL[c] + jj);");
    L.push("            vL0[c] = a;");
    L.push("          }");
    mergeSplit(vecMode, totAcc, rowAcc, "          ");
    L.push("        }");
    L.push("      }");
    laneMergeFinalizeSplit();
  } else if (sx) {
    // two passes per (row, tile): the formula values into buffers with the lane maxima, then
    // Σ exp(f − max)·g per lane; the (max, sums) partial merged into the lane totals.
    const nF = body.out.length;
    const fs = new Set(sx.map((grp) => grp.f));
    for (let k = 0; k < nS; k++) L.push(`      VA tot${k}[IB];`);
    L.push(`      for (int ii = 0; ii < IB; ii++) { ${Array.from({ length: nS }, (_, k) => `tot${k}[ii] = ${initF(k)};`).join(" ")} }`);
    for (let k = 0; k < nF; k++) L.push(`      ${A} buf${k}[JT] __attribute__((aligned(64)));`);
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit((n) => perRow.has(n), L, "          ");
    sx.forEach((_, g) => L.push(`          VA mx${g} = ((${A})(-INFINITY) - VA{});`));
    const pass1 = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      if (tail) L.push(`${ind}const auto valid = jv < (${AI})je;`);
      for (let k = 0; k < nF; k++) {
        stash(`fm${k}`, `fv${k}`, fs.has(k) ? `((${A})(-INFINITY) - VA{})` : "VA{}", `buf${k}`, tail, ind);
      }
      sx.forEach((grp, g) => L.push(`${ind}mx${g} = fm${grp.f} > mx${g} ? fm${grp.f} : mx${g};`));
    };
    jVectors(L, pass1, ["            j += V;"]);
    // once per buffer (groups may share their exponent f, and so their maximum)
    [...fs].forEach((f) => L.push(...infiniteMax(`mx${sx.findIndex((grp) => grp.f === f)}`, f, "          ")));
    sx.forEach((grp, g) => {
      L.push(`          const VA ms${g} = (mx${g} == (${A})(-INFINITY)) | (mx${g} == (${A})INFINITY) ? VA{} : mx${g};`);
      grp.s.forEach((k) => L.push(`          VA v${k} = VA{};`));
      L.push(`          const VA v${grp.m} = mx${g};`);
    });
    L.push("          for (int jj = 0; jj < j - jt; jj += V) {");
    sx.forEach((grp, g) => {
      L.push(`            const VA w${g} = k_exp(k_load<VA>(buf${grp.f} + jj) - ms${g});`);
      grp.s.forEach((k, q) => {
        const gk = grp.g[q];
        L.push(gk === null || gk === undefined ? `            v${k} += w${g};` : `            v${k} += w${g} * k_load<VA>(buf${gk} + jj);`);
      });
    });
    L.push("          }");
    const mw = new BlockWriter(red.merge, "m", vecMode, { state: (k) => `tot${k}[i - i0]`, other: (k) => `v${k}` });
    L.push("          {");
    mw.emit(() => true, L, "            ");
    red.merge.out.forEach((v, k) => L.push(`            tot${k}[i - i0] = ${mw.asState(v)};`));
    L.push("          }");
    L.push("        }");
    L.push("      }");
    laneMergeFinalize();
  } else if (vo && vl) {
    // the lanes scheme with the state as an array over the looped components
    const D = vo.count;
    L.push(`      ${arr("VA", "totL", ["IB", D])}`);
    L.push(`      for (int ii = 0; ii < IB; ii++) for (int c = 0; c < ${D}; c++) totL[ii][c] = ${initF(0)};`);
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit(keep(perRow), L, "          ");
    if (red.tiled) L.push(`          ${arr("VA", "vL", [D])}`, `          for (int c = 0; c < ${D}; c++) vL[c] = ${initF(0)};`);
    else L.push("          VA* vL = totL[i - i0];");
    const step = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      if (tail) L.push(`${ind}const auto valid = jv < (${AI})je;`);
      vl.w.emit((n) => n >= vl.first, L, ind);
      const c = `b${vl.loop}`, fv = toVA(vl.w.asF(vl.term));
      L.push(`${ind}  vL[${c}] = ${tail ? `valid ? (vL[${c}] + ${fv}) : vL[${c}]` : `(vL[${c}] + ${fv})`};`);
      L.push(`${ind}}`);
    };
    jVectors(L, step);
    if (red.tiled) L.push(`          for (int c = 0; c < ${D}; c++) totL[i - i0][c] = (totL[i - i0][c] + vL[c]);`);
    L.push("        }");
    L.push("      }");
    laneMergeFinalize();
  } else if (vs && vl) {
    // the lanes scheme with a split vector state: the update's shared part, then one loop over
    // the components computing the body's term and the update of each group's component c
    const D = vs.count;
    totalsSplit();
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit(keep(perRow), L, "          ");
    for (let k = 0; k < vs.first; k++) L.push(`          ${vty(k)} v${k} = ${red.tiled ? initF(k) : `tot${k}[i - i0]`};`);
    for (let g = 0; g < vs.groups; g++) {
      const k0 = groupBase(g);
      if (red.tiled) L.push(`          ${arr(vty(k0), `vL${g}`, [D])}`, `          for (int c = 0; c < ${D}; c++) vL${g}[c] = ${initF(k0)};`);
      else L.push(`          ${vty(k0)}* vL${g} = totL${g}[i - i0];`);
    }
    const fvL = toVA(vl.w.asF(vl.term));
    const step = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      if (tail) L.push(`${ind}const auto valid = jv < (${AI})je;`);
      const u = splitWriter(red.update, vs.update, "u", vecMode, { state: rowAcc, fval: (k, c) => (c === undefined ? `fv${k}` : fvL), idx: "jv" });
      u.outside(ind);
      vl.w.emit((n) => n >= vl.first, L, ind);
      const c = `b${vl.loop}`;
      u.loop(ind, c);
      for (let g = 0; g < vs.groups; g++) {
        const st = rowAcc(groupBase(g), c);
        L.push(`${ind}  ${st} = ${tail ? `valid ? ${u.term(g)} : ${st}` : u.term(g)};`);
      }
      L.push(`${ind}}`);
      for (let k = 0; k < vs.first; k++) L.push(`${ind}v${k} = ${tail ? `valid ? ${u.out(k)} : v${k}` : u.out(k)};`);
    };
    jVectors(L, step);
    if (red.tiled) mergeSplit(vecMode, totAcc, rowAcc, "          ");
    else for (let k = 0; k < vs.first; k++) L.push(`          tot${k}[i - i0] = v${k};`);
    L.push("        }");
    L.push("      }");
    laneMergeFinalizeSplit();
  } else if (!scan) {
    for (let k = 0; k < nS; k++) L.push(`      ${vty(k)} tot${k}[IB];`);
    L.push(`      for (int ii = 0; ii < IB; ii++) { ${Array.from({ length: nS }, (_, k) => `tot${k}[ii] = ${initF(k)};`).join(" ")} }`);
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit((n) => perRow.has(n), L, "          ");
    for (let k = 0; k < nS; k++) L.push(`          ${vty(k)} v${k} = ${red.tiled ? initF(k) : `tot${k}[i - i0]`};`);
    const uw = new BlockWriter(red.update, "u", vecMode, { state: (k) => `v${k}`, fval: (k) => `fv${k}`, idx: "jv" });
    const step = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      uw.emit(() => true, L, ind);
      if (tail) L.push(`${ind}const auto valid = jv < (${AI})je;`);
      red.update.out.forEach((v, k) => L.push(`${ind}v${k} = ${tail ? `valid ? ${uw.asState(v)} : v${k}` : uw.asState(v)};`));
    };
    jVectors(L, step);
    if (red.tiled) {
      const mw = new BlockWriter(red.merge, "m", vecMode, { state: (k) => `tot${k}[i - i0]`, other: (k) => `v${k}` });
      L.push("          {");
      mw.emit(() => true, L, "            ");
      red.merge.out.forEach((v, k) => L.push(`            tot${k}[i - i0] = ${mw.asState(v)};`));
      L.push("          }");
    } else for (let k = 0; k < nS; k++) L.push(`          tot${k}[i - i0] = v${k};`);
    L.push("        }");
    L.push("      }");
    laneMergeFinalize();
  } else {
    const { prefix: pre, states: usedState, value: guard } = sch.guard!;
    const gw = new BlockWriter(red.update, "g", vecMode, { state: (k) => `ss${k}`, fval: (k) => `fv${k}`, idx: "jv" });
    const splat = (k: number): string => `${vty(k)} ss${k} = (${red.state[k]!.t === "i" ? AI : A})s${k} - ${vty(k)}{};`;
    for (let k = 0; k < nS; k++) L.push(`      ${sty(k)} rs${k}[IB];`);
    L.push(`      for (int ii = 0; ii < IB; ii++) { ${Array.from({ length: nS }, (_, k) => `rs${k}[ii] = ${initS(k)};`).join(" ")} }`);
    tileHead();
    L.push("        for (int i = i0; i < i1; i++) {");
    bw.emit((n) => perRow.has(n), L, "          ");
    for (let k = 0; k < nS; k++) L.push(`          ${sty(k)} s${k} = ${red.tiled ? initS(k) : `rs${k}[i - i0]`};`);
    for (const k of usedState) L.push(`          ${splat(k)}`);
    const sw = new BlockWriter(red.update, "u", sclMode, {
      state: (k) => `s${k}`,
      fval: (k) => `(${A})fv${k}[l]`,
      idx: "(int32_t)(j + l)",
    });
    const km = sch.fast?.kind === "sortedK" ? sch.fast : null;
    /**
     * The sorted-K update (declared by the reduction), written out: the new pair (f, j) of
     * component c walks down the sorted list from its end while it beats the slot above (NaN
     * first, ties to the older index).
     */
    const kminInsert = ({ K, values, indices }: { K: number; values: number; indices: number }, ind: string): void => {
      const beats = (v: string, i: string): string => `(${i} == -1 || f < ${v} || (f != f && ${v} == ${v}))`;
      body.out.forEach((_, c) => {
        L.push(`${ind}{`);
        L.push(`${ind}  const ${A} f = (${A})fv${c}[l]; const int32_t jj = (int32_t)(j + l);`);
        const D = body.out.length;
        const v = (k: number): string => `s${values + k * D + c}`, ix = (k: number): string => `s${indices + k * D + c}`;
        let close = "";
        let d = ind + "  ";
        L.push(`${d}if ${beats(v(K - 1), ix(K - 1))} {`);
        for (let k = K - 1; k > 0; k--) {
          d += "  ";
          L.push(`${d}if ${beats(v(k - 1), ix(k - 1))} { ${v(k)} = ${v(k - 1)}; ${ix(k)} = ${ix(k - 1)};`);
          close = `${d}} else { ${v(k)} = f; ${ix(k)} = jj; }\n` + close;
        }
        L.push(`${d}  ${v(0)} = f; ${ix(0)} = jj;`);
        L.push(...close.trimEnd().split("\n"));
        L.push(`${ind}  }`);
        L.push(`${ind}}`);
      });
    };
    const step = (tail: boolean, ind: string): void => {
      L.push(...jHead(ind));
      gw.emit((n) => pre.has(n), L, ind);
      L.push(`${ind}auto gm = ${gw.asM(guard)};`);
      if (tail) L.push(`${ind}gm = gm & (jv < (${AI})je);`);
      L.push(`${ind}if (k_any(gm)) {`);
      L.push(`${ind}  for (uint64_t bits = k_bits(gm); bits; bits &= bits - 1) {`);
      L.push(`${ind}    const int l = __builtin_ctzll(bits);`);
      if (km) kminInsert(km, ind + "    ");
      else {
        sw.emit((n) => pre.has(n), L, ind + "    ");
        L.push(`${ind}    if (${sw.asM(guard)}) {`);
        sw.emit((n) => !pre.has(n), L, ind + "      ");
        red.update.out.forEach((v, k) => L.push(`${ind}      s${k} = ${sw.asState(v)};`));
        L.push(`${ind}    }`);
      }
      L.push(`${ind}  }`);
      for (const k of usedState) L.push(`${ind}  ss${k} = (${red.state[k]!.t === "i" ? AI : A})s${k} - ${vty(k)}{};`);
      L.push(`${ind}}`);
    };
    jVectors(L, step);
    if (red.tiled) scalarMerge((k) => `rs${k}[i - i0]`, (k) => `s${k}`, "          ");
    else for (let k = 0; k < nS; k++) L.push(`          rs${k}[i - i0] = s${k};`);
    L.push("        }");
    L.push("      }");
    L.push("      for (int i = i0; i < i1; i++) {");
    finalRows((k) => `rs${k}[i - i0]`, "        ");
    L.push("      }");
  }
  L.push(...dots.free);
  L.push("    };");
  L.push("    if (nThreads > 1) {");
  L.push("      #pragma omp parallel for schedule(dynamic, 1) num_threads(nThreads)");
  L.push("      for (int blk = 0; blk < nBlk; blk++) runBlock(blk);");
  L.push("    } else for (int blk = 0; blk < nBlk; blk++) runBlock(blk);");
  L.push("  }");
  L.push("  __builtin_free(ybuf);");
  L.push(...norms.free);
  L.push("}");
  const proto = `void keops_kernel(int, int, int, int, int, void*, void*, ${[...p.slots, ...red.outputs].map(() => "void*").join(", ")})`;
  return { source: L.join("\n") + "\n", proto, scheme: scan ? "scan" : sx ? "shiftexp" : "lanes", fast: sch.fast?.kind ?? null };
}

/**
 * Largest vector state whose per-component arrays (the shift-exp passes' D tile buffers, D × lanes
 * totals per group) the native kernel keeps on the thread's stack: about 1 MiB at this size, as
 * much as the unrolled kernel's at the same D. Larger ones are allocated on the heap (`k_heap`),
 * so any D loops and no thread's stack can overflow.
 */
export const NATIVE_STATE_MAX = 2048;

/** An array on the heap, 64-byte aligned (SIMD vectors), freed when it goes out of scope. */
const K_HEAP = String.raw`template<class T> struct k_heap {
  void* raw; T* p;
  explicit k_heap(size_t n) : raw(__builtin_malloc(n * sizeof(T) + 64)) { if (!raw) __builtin_trap(); p = (T*)(((size_t)raw + 63) & ~(size_t)63); }
  ~k_heap() { __builtin_free(raw); }
  k_heap(const k_heap&) = delete; k_heap& operator=(const k_heap&) = delete;
};`;

/** The writer of a looped vector output's body (src/compile/vout.ts): its code, the loop, the term. */
function vectorLoop(body: Block, vo: VectorOutput, mode: Mode, inputs: Inputs): { w: BlockWriter; first: number; loop: number; term: number } {
  const { code, loop, term } = loopedBody(body, vo);
  return { w: new BlockWriter({ code: [...code], out: [] }, "b", mode, inputs), first: body.code.length, loop, term };
}
