/**
 * The kernel schedule: how a KernelProgram's map-reduce runs, decided once for every backend.
 *
 * Every renderer emits the same skeleton — for each outer row i, fold the body's values over the
 * inner index j into partial states, merge the partials, finalize — and differs only in how it
 * spells instructions and which hardware holds the partial states (SIMD lanes, unrolled copies,
 * threads, GPU workgroups). What they share is computed here from the program:
 *
 * - the partition of the body by loop level (once per call / once per row / once per pair), and
 *   which per-pair values depend on the row (the rest depend on j alone and can be shared by rows
 *   computed together);
 * - the reduction's strategy: `accumulate` (no guard: every partial keeps its own state, merged
 *   with the reduction's `merge` block) or `select` (a guarded update: one state, candidates tested
 *   against it and folded in index order), with the guard's prefix and its state-only part;
 * - the fast path the reduction declares (its {@link ReductionTraits}), checked against its state
 *   layout: backends choose specialised code from these declarations, never from its name;
 * - for a target's shape (lanes, unrolled copies, cache sizes, workgroups), the tiling of j, the
 *   rows per block and the ordered merge points of the partial states ({@link Schedule.target}).
 *
 * A new backend is a renderer of this schedule plus a runner.
 */
import { dependencies } from "../ir/ssa.js";
import { loopRegions } from "./loops.js";
import type { ShiftExpGroup } from "../reductions/types.js";
import type { KernelProgram } from "./program.js";

export type { ShiftExpGroup } from "../reductions/types.js";

/** A fast path a backend may take instead of the reduction's generic update block. */
export type FastPath =
  /** Log-sum-exp family: per tile, one max pass then one Σ exp(f − max)·g pass (one exp per pair). */
  | { readonly kind: "shiftExp"; readonly groups: readonly ShiftExpGroup[] }
  /**
   * K-min family: per formula component c, K (value, index) slots sorted ascending, values at
   * state `values + k·D + c`, indices at `indices + k·D + c`; a new pair walks down from the end
   * while it beats the slot above (NaN first, ties to the older index).
   */
  | { readonly kind: "sortedK"; readonly K: number; readonly D: number; readonly values: number; readonly indices: number };

/** Where partial states are merged, innermost first. */
export type MergePoint =
  /** block_sum: each tile of j accumulates into a fresh partial, merged into the row's total. */
  | "tile"
  /** Unrolled copies of the j step, each with its own partial state. */
  | "unrolled"
  /** SIMD lanes, each with its own partial state, merged in lane order at the end of the row. */
  | "lanes"
  /** The inner index split across workgroups (GPUs): partial states merged by a second pass. */
  | "splitInner";

/** The shape of a target, as a renderer describes it. */
export interface TargetShape {
  /** Inner indices evaluated at once (SIMD lanes); 1 for scalar code. */
  readonly lanes: number;
  /** Copies of the j step per loop iteration, each with its own partial state (accumulate strategy). */
  readonly unroll?: number;
  /** Bytes of a compute value and of an accumulator value. */
  readonly elemBytes: number;
  readonly accBytes: number;
  /**
   * The inner tile: a fixed number of indices, or sized so that a tile of every inner slot fits
   * in `bytes` (a multiple of `lanes`, between `min` and `max`).
   */
  readonly tile: number | { readonly bytes: number; readonly min: number; readonly max: number };
  /**
   * Rows of i per block (a thread's unit of work): fixed, or sized so that the lane partial
   * states of a block fit in `stateBytes` (accumulate), `select` rows for the select strategy.
   */
  readonly rows?: number | { readonly stateBytes: number; readonly max: number; readonly select: number };
  /** The target can split the inner index across parallel units and merge in a second pass (GPUs). */
  readonly splitInner?: boolean;
}

/** The guard of a select strategy's update. */
export interface GuardSchedule {
  /** The update value that is 0 where the state is unchanged. */
  readonly value: number;
  /** Update instructions the guard depends on (evaluated before the test). */
  readonly prefix: ReadonlySet<number>;
  /**
   * Prefix instructions that read only the state (e.g. "is the K-th slot empty"): they change only
   * when the state does, so a renderer may recompute them after each update instead of per pair.
   */
  readonly stateOnly: readonly number[];
  /** State components the guard reads. */
  readonly states: readonly number[];
}

/** What a target's renderer uses. */
export interface TargetSchedule {
  /** Inner indices per tile (block_sum merges, cache blocking). */
  readonly tile: number;
  /** Outer rows per block. */
  readonly rows: number;
  /** Copies of the j step (each its own partial under `accumulate`; one state under `select`). */
  readonly unroll: number;
  /** Where partial states merge, innermost first. */
  readonly merges: readonly MergePoint[];
}

/** The target-independent schedule of a program. */
export interface Schedule {
  readonly program: KernelProgram;
  /** Body instructions by level, each in program order. */
  readonly body: {
    /** Level 0: constants and parameters, once per call (in program order, as every set here). */
    readonly perCall: ReadonlySet<number>;
    /** Level 1: once per outer row. */
    readonly perRow: ReadonlySet<number>;
    /** Level ≥ 2: once per pair. */
    readonly perPair: ReadonlySet<number>;
    /** Per-pair instructions that depend on the row too (the others depend on j alone). */
    readonly rowDependent: ReadonlySet<number>;
    /** Whether the body reads the inner index. */
    readonly usesIdx: boolean;
  };
  /** `accumulate`: a partial state per lane / copy / tile, merged; `select`: one guarded state. */
  readonly strategy: "accumulate" | "select";
  /** The guard of the select strategy (undefined for accumulate). */
  readonly guard: GuardSchedule | undefined;
  /** Whether the update reads the inner index. */
  readonly updateUsesIdx: boolean;
  /** Each tile of j accumulates into a fresh partial state (block_sum). */
  readonly tiled: boolean;
  /** The fast path the reduction declares, checked against its state layout; null: the generic update. */
  readonly fast: FastPath | null;
  /** Components of all inner slots together (what one tile stores per index). */
  readonly innerComps: number;
  /** The schedule for a target's shape. */
  target(shape: TargetShape): TargetSchedule;
}

const cache = new WeakMap<KernelProgram, Schedule>();

/** The schedule of a program (computed once per program). */
export function scheduleOf(p: KernelProgram): Schedule {
  let s = cache.get(p);
  if (!s) cache.set(p, (s = build(p)));
  return s;
}

function build(p: KernelProgram): Schedule {
  const { body, red } = p;
  const perCall = new Set<number>(), perRow = new Set<number>(), perPair = new Set<number>();
  const rowDependent = new Set<number>();
  // a loop region (src/compile/loops.ts) is emitted whole: row-dependent when any of its instructions is
  const regionEnd = new Map(loopRegions(body));
  const rowDep = (n: number): boolean => {
    const ins = body.code[n]!;
    const outerLoad = ins.op === "loadc" && p.slots[ins.k[0]!]?.role === "outer";
    return ins.level === 1 || (ins.level >= 2 && (outerLoad || ins.a.some((v) => rowDependent.has(v))));
  };
  for (let n = 0; n < body.code.length; n++) {
    const ins = body.code[n]!;
    (ins.level === 0 ? perCall : ins.level === 1 ? perRow : perPair).add(n);
    const last = regionEnd.get(n);
    if (last === undefined) {
      if (rowDep(n)) rowDependent.add(n);
      continue;
    }
    const members: number[] = [];
    for (let m = n; m <= last; m++) {
      members.push(m);
      if (rowDep(m)) rowDependent.add(m);
    }
    if (members.some((m) => rowDependent.has(m))) for (const m of members) rowDependent.add(m);
    for (let m = n + 1; m <= last; m++) (ins.level === 0 ? perCall : ins.level === 1 ? perRow : perPair).add(m);
    n = last;
  }
  const up = red.update;
  const g = up.guard;
  let guard: GuardSchedule | undefined;
  if (g !== undefined && up.code[g]!.op !== "const") {
    const prefix = dependencies(up, [g]);
    const stateOnlyAt: boolean[] = [];
    up.code.forEach((ins, n) => {
      stateOnlyAt[n] = ins.op === "state" || ins.op === "const" ||
        (ins.op !== "fval" && ins.op !== "idx" && ins.a.length > 0 && ins.a.every((v) => stateOnlyAt[v]!));
    });
    const stateOnly = [...prefix].filter((n) => stateOnlyAt[n] && up.code[n]!.op !== "state" && up.code[n]!.op !== "const");
    const states = [...new Set(up.code.filter((ins, n) => prefix.has(n) && ins.op === "state").map((ins) => ins.k[0]!))];
    guard = { value: g, prefix, stateOnly, states };
  }
  const strategy = guard ? "select" : "accumulate";
  const innerComps = p.slots.reduce((n, s) => n + (s.role === "inner" ? s.dim : 0), 0);
  const sched: Schedule = {
    program: p,
    body: { perCall, perRow, perPair, rowDependent, usesIdx: body.code.some((ins) => ins.op === "idx") },
    strategy,
    guard,
    updateUsesIdx: up.code.some((ins) => ins.op === "idx"),
    tiled: red.tiled,
    fast: fastPath(p, strategy),
    innerComps,
    target(shape) {
      const V = shape.lanes;
      let tile: number;
      if (typeof shape.tile === "number") tile = shape.tile;
      else {
        const { bytes, min, max } = shape.tile;
        tile = Math.max(min, Math.min(max, Math.floor(bytes / Math.max(1, innerComps * shape.elemBytes) / V) * V));
      }
      let rows = 1;
      const r = shape.rows;
      if (typeof r === "number") rows = r;
      else if (r) rows = strategy === "select" ? r.select : Math.max(1, Math.min(r.max, Math.floor(r.stateBytes / (red.state.length * V * shape.accBytes))));
      const unroll = shape.unroll ?? 1;
      const merges: MergePoint[] = [];
      if (red.tiled) merges.push("tile");
      if (strategy === "accumulate" && unroll > 1) merges.push("unrolled");
      if (strategy === "accumulate" && V > 1) merges.push("lanes");
      if (shape.splitInner) merges.push("splitInner");
      return { tile, rows, unroll, merges };
    },
  };
  return sched;
}

/**
 * The reduction's declared fast path, when its declaration matches its state layout (a
 * declaration that does not is ignored: the generic update is always correct).
 */
function fastPath(p: KernelProgram, strategy: "accumulate" | "select"): FastPath | null {
  const { red } = p;
  const st = red.state;
  const shift = red.traits?.shiftExp;
  if (shift && strategy === "accumulate") {
    const inRange = (k: number): boolean => Number.isInteger(k) && k >= 0 && k < st.length;
    const fv = (k: number | null): boolean => k === null || (Number.isInteger(k) && k >= 0 && k < p.body.out.length);
    const ok = shift.every((grp) =>
      inRange(grp.m) && st[grp.m]!.t === "f" && st[grp.m]!.init === -Infinity && fv(grp.f) &&
      grp.s.length === grp.g.length && grp.g.every(fv) &&
      grp.s.every((k) => inRange(k) && st[k]!.t === "f" && st[k]!.init === 0));
    if (ok) return { kind: "shiftExp", groups: shift };
  }
  const sk = red.traits?.sortedK;
  if (sk && strategy === "select") {
    const { K, values, indices } = sk;
    const D = p.body.out.length;
    const n = K * D;
    const ok = Number.isInteger(K) && K >= 1 && values + n <= st.length && indices + n <= st.length &&
      st.every((s, k) => k < values || k >= values + n || (s.t === "f" && s.init === Infinity)) &&
      st.every((s, k) => k < indices || k >= indices + n || (s.t === "i" && s.init === -1));
    if (ok) return { kind: "sortedK", K, D, values, indices };
  }
  return null;
}

/**
 * Parts to split the inner index into (each reduced by its own parallel unit, the partial states
 * merged by a second pass) so that about `units` units have work when the rows alone do not fill
 * them — few rows against many columns, on a GPU. Each part keeps at least `minPart` indices; 1
 * means no split.
 */
export function innerSplit(nOuter: number, nInner: number, o: { readonly units: number; readonly rowsPerUnit: number; readonly minPart: number }): number {
  const rowUnits = Math.max(1, Math.ceil(nOuter / o.rowsPerUnit));
  if (rowUnits >= o.units) return 1;
  return Math.max(1, Math.min(Math.ceil(o.units / rowUnits), Math.floor(nInner / o.minPart)));
}
