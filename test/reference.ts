/**
 * The oracle of every numeric test: a plain dense float64 evaluation of a formula on every (i, j)
 * pair, then the reduction done the obvious way (sort, max-shifted sums). Independent of the
 * SSA lowering and of every backend: each op has its own float64 evaluation in the table below.
 */
import type { Formula } from "../src/formula/node.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { specOf, argumentData } from "../src/lazy/keopsfunction.js";
import type { VarData } from "../src/lazy/execute.js";
import type { TensorLike } from "../src/tensor.js";
import { MATH_REF_OPS } from "./ops-reference.js";
import { PARITY_REF_OPS } from "./parity-reference.js";

type Vec = number[];
/** Float64 evaluation of an op: operand values (per component) and numeric attributes → output components. */
export type RefOp = (args: Vec[], attrs: readonly number[], dim: number) => Vec;

// plain loops (no per-component closures): the D = 1000 tests evaluate these on every pair
const map1 = (f: (a: number) => number): RefOp => ([x]) => {
  const out: Vec = new Array(x!.length);
  for (let c = 0; c < x!.length; c++) out[c] = f(x![c]!);
  return out;
};
/** Elementwise on two operands, a one-component operand broadcast. */
const map2 = (f: (a: number, b: number) => number): RefOp => ([x, y], _a, dim) => {
  const out: Vec = new Array(dim);
  const sx = x!.length === 1 ? 0 : 1, sy = y!.length === 1 ? 0 : 1;
  for (let c = 0; c < dim; c++) out[c] = f(x![c * sx]!, y![c * sy]!);
  return out;
};
const total = (v: Vec): number => {
  let s = 0;
  for (let c = 0; c < v.length; c++) s += v[c]!;
  return s;
};

/** Float64 semantics of every op, by KeOps name. Ops added later register here too. */
export const REF_OPS: Record<string, RefOp> = {
  Add: map2((a, b) => a + b),
  Subtract: map2((a, b) => a - b),
  Mult: map2((a, b) => a * b),
  Divide: map2((a, b) => a / b),
  Minus: map1((a) => -a),
  IntCst: (_x, [n]) => [n!],
  Exp: map1(Math.exp),
  Log: map1(Math.log),
  Sqrt: map1(Math.sqrt),
  Abs: map1(Math.abs),
  Square: map1((a) => a * a),
  Pow: ([x], [n]) => x!.map((a) => a ** n!),
  Sum: ([x]) => [total(x!)],
  SqNorm2: ([x]) => [x!.reduce((s, a) => s + a * a, 0)],
  Scalprod: ([x, y]) => [x!.reduce((s, a, c) => s + a * y![c]!, 0)],
  Elem: ([x], [m]) => [x![m!]!],
  Extract: ([x], [s, n]) => x!.slice(s!, s! + n!),
  ...MATH_REF_OPS,
  ...PARITY_REF_OPS,
};

const expansions = new WeakMap<Formula, Formula>();
/** A macro node's expansion, built once per node (not once per pair). */
function expansionOf(f: Formula): Formula {
  let e = expansions.get(f);
  if (!e) expansions.set(f, (e = f.op.expand!(f)));
  return e;
}

/** Evaluates a formula for one pair; `value(ind)` gives a variable's components. */
export function evalFormula(f: Formula, value: (ind: number) => Vec, memo = new Map<Formula, Vec>()): Vec {
  const hit = memo.get(f);
  if (hit) return hit;
  let out: Vec;
  if (f.isVar) out = value(f.ind);
  else if (f.op.expand) out = evalFormula(expansionOf(f), value, memo); // macro ops (Grad, Diff): their expansion
  else {
    const op = REF_OPS[f.op.name];
    if (!op) throw new Error(`reference: no float64 evaluation for ${f.op.name}`);
    out = op(f.args.map((a) => evalFormula(a, value, memo)), f.attrs, f.dim);
  }
  if (out.length !== f.dim) throw new Error(`reference: ${f.op.name} gave ${out.length} values, dim ${f.dim}`);
  memo.set(f, out);
  return out;
}

/** A reference result: float values and/or int indices, with the output shape. */
export interface RefResult {
  values?: Float64Array;
  indices?: Int32Array;
  shape: number[];
}

/** NaN first, then ascending (min) / descending (max), then lowest index. */
function order(dir: "min" | "max") {
  return (a: [number, number], b: [number, number]): number => {
    const an = Number.isNaN(a[0]), bn = Number.isNaN(b[0]);
    if (an !== bn) return an ? -1 : 1;
    if (!an && a[0] !== b[0]) return dir === "min" ? a[0] - b[0] : b[0] - a[0];
    return a[1] - b[1];
  };
}

function reduceRow(name: string, fs: Vec[], gs: Vec[] | undefined, fdim: number, gd: number, K: number): { v?: number[]; i?: number[] } {
  const n = fs.length;
  switch (name) {
    case "Sum":
      return { v: Array.from({ length: fdim }, (_, c) => fs.reduce((s, f) => s + f[c]!, 0)) };
    case "LogSumExp": {
      if (!gs) {
        return {
          v: Array.from({ length: fdim }, (_, c) => {
            const m = fs.reduce((a, f) => Math.max(a, f[c]!), -Infinity);
            if (m === -Infinity || m === Infinity || Number.isNaN(m)) return n === 0 ? -Infinity : m === Infinity ? Infinity : m;
            return m + Math.log(fs.reduce((s, f) => s + Math.exp(f[c]! - m), 0));
          }),
        };
      }
      const m = fs.reduce((a, f) => Math.max(a, f[0]!), -Infinity);
      return {
        v: Array.from({ length: gd }, (_, c) =>
          m === -Infinity ? -Infinity : m + Math.log(fs.reduce((s, f, j) => s + Math.exp(f[0]! - m) * gs[j]![c]!, 0))),
      };
    }
    case "SumSoftMaxWeight": {
      const m = fs.reduce((a, f) => Math.max(a, f[0]!), -Infinity);
      const den = fs.reduce((s, f) => s + Math.exp(f[0]! - m), 0);
      return { v: Array.from({ length: gd }, (_, c) => fs.reduce((s, f, j) => s + Math.exp(f[0]! - m) * gs![j]![c]!, 0) / den) };
    }
    case "Max_SumShiftExp":
    case "Max_SumShiftExpWeight": {
      // KeOps's raw (max, Σ exp(f − max)·g) pair, g = 1 without a weight
      const m = fs.reduce((a, f) => Math.max(a, f[0]!), -Infinity);
      const w = gs ?? fs.map(() => [1]);
      const D = gs ? gd : 1;
      return { v: [m, ...Array.from({ length: D }, (_, c) => (m === -Infinity ? 0 : fs.reduce((s, f, j) => s + Math.exp(f[0]! - m) * w[j]![c]!, 0)))] };
    }
    default: {
      const dir = name.startsWith("Max") || name === "ArgMax" ? "max" : "min";
      const k = name.includes("KMin") ? K : 1;
      const v: number[] = [], i: number[] = [];
      const vals: number[][] = [], inds: number[][] = [];
      for (let c = 0; c < fdim; c++) {
        const pairs: [number, number][] = fs.map((f, j) => [f[c]!, j]);
        pairs.sort(order(dir));
        vals.push(Array.from({ length: k }, (_, r) => (r < n ? pairs[r]![0] : dir === "min" ? Infinity : -Infinity)));
        inds.push(Array.from({ length: k }, (_, r) => (r < n ? pairs[r]![1] : -1)));
      }
      for (let r = 0; r < k; r++) for (let c = 0; c < fdim; c++) (v.push(vals[c]![r]!), i.push(inds[c]![r]!));
      const wantV = !name.startsWith("Arg");
      const wantI = name.includes("Arg");
      return { v: wantV ? v : undefined, i: wantI ? i : undefined };
    }
  }
}

/**
 * The dense float64 result of a KeOpsFunction called with `args` (batch dims included).
 * The function's fixed tensors are used as they are.
 */
export function reference(fn: KeOpsFunction<unknown>, ...args: TensorLike[]): RefResult {
  return referenceMasked(fn, undefined, ...args);
}

/** The data of every variable of a function's call: its fixed data and the arguments, in index order. */
function boundVars(spec: ReturnType<typeof specOf>, args: readonly TensorLike[]): Map<number, VarData> {
  const vars = new Map<number, VarData>();
  for (const [ind, b] of spec.fixed)
    vars.set(ind, { data: Array.isArray(b.source) ? b.source : (b.source as { data: ArrayLike<number> }).data as never, cat: b.cat, dim: b.dim, rows: b.rows, batch: b.batch, name: "" });
  [...spec.symbolic].sort((a, b) => a[0] - b[0]).forEach(([ind, dim, cat], k) => vars.set(ind, argumentData(args[k]!, ind, dim, cat, k)));
  return vars;
}

/**
 * {@link reference} of a block-sparse reduction: only the pairs (i, j) with `keep(i, j)` true are
 * reduced (indices stay those of the full range).
 */
export function referenceMasked(fn: KeOpsFunction<unknown>, keep: ((i: number, j: number) => boolean) | undefined, ...args: TensorLike[]): RefResult {
  const spec = specOf(fn);
  const { call } = spec;
  const vars = boundVars(spec, args);
  let M = 1, N = 1;
  let nb = 0;
  for (const v of vars.values()) {
    if (v.cat === 0) M = v.rows;
    if (v.cat === 1) N = v.rows;
    nb = Math.max(nb, v.batch.length);
  }
  const batch: number[] = Array(nb).fill(1);
  for (const v of vars.values()) {
    const own = [...Array(nb - v.batch.length).fill(1), ...v.batch];
    own.forEach((s, k) => { if (s !== 1) batch[k] = s; });
  }
  const nBatch = batch.reduce((a, b) => a * b, 1);
  const axis = call.axis;
  const nOut = axis === 1 ? M : N, nIn = axis === 1 ? N : M;
  const fdim = call.formula.dim;
  const valuesOut: number[] = [], indicesOut: number[] = [];
  let rowShape: number[];
  for (let b = 0; b < nBatch; b++) {
    const bidx: number[] = [];
    let rem = b;
    for (let k = nb - 1; k >= 0; k--) (bidx[k] = rem % batch[k]!, rem = Math.floor(rem / batch[k]!));
    // a variable's row is read once per batch entry (the same array for every pair that uses it)
    const rowsOf = new Map<VarData, Vec[]>();
    const slice = (v: VarData, row: number): Vec => {
      let rows = rowsOf.get(v);
      if (!rows) rowsOf.set(v, (rows = []));
      const hit = rows[row];
      if (hit) return hit;
      const own = [...Array(nb - v.batch.length).fill(1), ...v.batch];
      let off = 0;
      for (let k = 0; k < nb; k++) off = off * own[k]! + (own[k] === 1 ? 0 : bidx[k]!);
      const base = (off * v.rows + row) * v.dim;
      const data = v.data as ArrayLike<number>;
      const out: Vec = new Array(v.dim);
      for (let c = 0; c < v.dim; c++) out[c] = Number(data[base + c]);
      return (rows[row] = out);
    };
    for (let o = 0; o < nOut; o++) {
      const fs: Vec[] = [], gs: Vec[] = [], kept: number[] = [];
      for (let n = 0; n < nIn; n++) {
        const i = axis === 1 ? o : n, j = axis === 1 ? n : o;
        if (keep && !keep(i, j)) continue;
        kept.push(n);
        const memo = new Map<Formula, Vec>();
        const value = (ind: number): Vec => {
          const v = vars.get(ind)!;
          return slice(v, v.cat === 0 ? i : v.cat === 1 ? j : 0);
        };
        fs.push(evalFormula(call.formula, value, memo));
        if (call.formula2) gs.push(evalFormula(call.formula2, value, memo));
      }
      const r = reduceRow(call.reduction.name, fs, call.formula2 ? gs : undefined, fdim, call.formula2?.dim ?? 0, call.K);
      if (r.v) valuesOut.push(...r.v);
      if (r.i) indicesOut.push(...r.i.map((k) => (k < 0 ? k : kept[k]!)));
    }
  }
  rowShape = [...call.reduction.valueShape({ fdim, gdim: call.formula2?.dim, K: call.K })];
  const name = call.reduction.name;
  const hasV = !name.startsWith("Arg");
  const hasI = name.includes("Arg");
  return {
    values: hasV ? Float64Array.from(valuesOut) : undefined,
    indices: hasI ? Int32Array.from(indicesOut) : undefined,
    shape: [...batch, nOut, ...rowShape],
  };
}

/**
 * The float64 value of the formula of a (batch-free) KeOpsFunction on every pair: `values[(o·nIn
 * + n)·dim + c]` for output row o, reduced index n, component c. For tests that reduce prefixes
 * of one data set themselves (several sizes from one evaluation) and bound each sum's rounding
 * error by the sum of its terms' magnitudes.
 */
export function pairTerms(fn: KeOpsFunction<unknown>, ...args: TensorLike[]): { nOut: number; nIn: number; dim: number; values: Float64Array } {
  const spec = specOf(fn);
  const { call } = spec;
  const vars = boundVars(spec, args);
  let M = 1, N = 1;
  for (const v of vars.values()) {
    if (v.batch.length) throw new Error("pairTerms: no batch dimensions");
    if (v.cat === 0) M = v.rows;
    if (v.cat === 1) N = v.rows;
  }
  const nOut = call.axis === 1 ? M : N, nIn = call.axis === 1 ? N : M, dim = call.formula.dim;
  const values = new Float64Array(nOut * nIn * dim);
  // a node that reads only i-variables (or only j-variables) is evaluated once per i (per j)
  const deps = new Map<Formula, number>();
  const dep = (f: Formula): number => {
    let d = deps.get(f);
    if (d === undefined) {
      d = f.isVar ? (f.cat === 0 ? 1 : f.cat === 1 ? 2 : 0) : f.args.reduce((a, g) => a | dep(g), 0);
      if (f.op.expand) d = 3;
      deps.set(f, d);
    }
    return d;
  };
  const fixedMemo = new Map<Formula, Vec>();
  const byI = Array.from({ length: M }, () => new Map<Formula, Vec>());
  const byJ = Array.from({ length: N }, () => new Map<Formula, Vec>());
  for (let o = 0; o < nOut; o++)
    for (let n = 0; n < nIn; n++) {
      const i = call.axis === 1 ? o : n, j = call.axis === 1 ? n : o;
      const value = (ind: number): Vec => {
        const v = vars.get(ind)!;
        const row = v.cat === 0 ? i : v.cat === 1 ? j : 0;
        return Array.from({ length: v.dim }, (_, c) => Number((v.data as ArrayLike<number>)[row * v.dim + c]));
      };
      const pair = new Map<Formula, Vec>();
      const memoOf = (f: Formula): Map<Formula, Vec> => [fixedMemo, byI[i]!, byJ[j]!, pair][dep(f)]!;
      const ev = (f: Formula): Vec => {
        const memo = memoOf(f);
        const hit = memo.get(f);
        if (hit) return hit;
        const out = f.isVar || f.op.expand ? evalFormula(f, value) : REF_OPS[f.op.name]!(f.args.map(ev), f.attrs, f.dim);
        memo.set(f, out);
        return out;
      };
      values.set(ev(call.formula), (o * nIn + n) * dim);
    }
  return { nOut, nIn, dim, values };
}
