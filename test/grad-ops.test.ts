/**
 * Every op of the registry that declares a `vjp`: Grad(F, x_p, e) against central finite
 * differences of ⟨F, e⟩ in float64, for every operand p, on random inputs, with every accepted
 * operand-dimension pattern (broadcast scalars included). Also: every op with operands declares a
 * vjp (returning undefined where its derivative is zero).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import "../src/index.js";
import { KeOpsError } from "../src/errors.js";
import { Var, allOps, apply, opByName, substitute, type Formula, type OpDef } from "../src/formula/node.js";
import { grad } from "../src/autodiff/grad.js";
import { assertClose, testBackends, withSeed, type Data } from "./util.js";
import { evalRows } from "./grad-helpers.js";

/** Ops whose operands must be positive. */
const POSITIVE = new Set(["Log", "Sqrt", "Rsqrt", "Powf", "XLogX"]);
/** Candidate numeric attributes by count (the first the op accepts is used), and per op. */
const ATTRS: Record<number, number[][]> = { 0: [[]], 1: [[2], [3], [1], [0]], 2: [[1, 2], [3, 1], [0, 1], [1, 3]], 3: [[0, 1, 2], [1, 1, 1]] };
const EXTRA_ATTRS: Record<string, number[][]> = { Pow: [[3], [-2], [1], [0]], BSpline: [[2], [1], [0]] };
/**
 * Operands an op is not differentiable in, as in KeOps (BSpline's knots, SoftDTW_SqDist's gamma,
 * the gradient op of SoftDTW_SqDist): the gradient raises a KeOpsError naming the op.
 */
const NO_GRAD: Record<string, readonly number[]> = { BSpline: [0], SoftDTW_SqDist: [2], GradSoftDTW_SqDist: [0, 1, 2] };
/** Operands sampled sorted per row (BSpline's knots: its derivative holds for non-decreasing knots). */
const SORTED: Record<string, number> = { BSpline: 0 };

const M = 6;

/** Operand-dimension patterns: each operand one of `choices`. */
function dimPatterns(arity: number, choices: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (let k = 0; k < arity; k++) out = out.flatMap((p) => choices.map((c) => [...p, c]));
  return out;
}

/**
 * Every (dims, attrs) instance the op accepts with operands of dimension 3, 1, 6 or 2, as formulas over
 * Var(0..arity−1, ·, 0); failing that, the first one with dimensions among 1, 2, 3, 4, 6, 9.
 */
function instances(op: OpDef): { F: Formula; vars: Formula[] }[] {
  const found = instancesWith(op, [3, 1, 6, 2], false);
  return found.length ? found : instancesWith(op, [1, 2, 3, 4, 6, 9], true);
}

function instancesWith(op: OpDef, choices: readonly number[], firstOnly: boolean): { F: Formula; vars: Formula[] }[] {
  const out: { F: Formula; vars: Formula[] }[] = [];
  for (const dims of dimPatterns(op.arity, choices)) {
    if (firstOnly && out.length) break;
    const vars = dims.map((d, k) => Var(k, d, 0));
    for (const attrs of EXTRA_ATTRS[op.name] ?? ATTRS[op.nattrs] ?? []) {
      let F: Formula;
      try {
        F = apply(op, vars, attrs);
      } catch {
        continue;
      }
      out.push({ F, vars });
      if (!EXTRA_ATTRS[op.name]) break;
    }
  }
  return out;
}

function sample(d: Data, n: number, positive: boolean): Float64Array {
  const x = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const mag = 0.2 + 0.6 * d.rng.uniform();
    x[k] = positive || d.rng.uniform() < 0.5 ? mag : -mag;
  }
  return x;
}

function checkInstance(d: Data, op: OpDef, F: Formula, vars: Formula[]): void {
  const data = new Map<number, Float64Array>();
  for (const v of vars) data.set(v.ind, sample(d, M * v.dim, POSITIVE.has(op.name)));
  if (SORTED[op.name] !== undefined) {
    const v = vars[SORTED[op.name]!]!, t = data.get(v.ind)!;
    for (let r = 0; r < M; r++) t.subarray(r * v.dim, (r + 1) * v.dim).sort();
  }
  const e = Var(vars.length, F.dim, 0);
  data.set(e.ind, sample(d, M * F.dim, false));
  const dot = (dd: Map<number, Float64Array>): Float64Array => {
    const f = evalRows(F, dd, M);
    const ev = dd.get(e.ind)!;
    return Float64Array.from({ length: M }, (_, r) => {
      let s = 0;
      for (let c = 0; c < F.dim; c++) s += f[r * F.dim + c]! * ev[r * F.dim + c]!;
      return s;
    });
  };
  vars.forEach((v, p) => {
    if (NO_GRAD[op.name]?.includes(p)) {
      assert.throws(() => evalRows(grad(F, v, e), data, M), (err: Error) => err instanceof KeOpsError && err.message.includes(op.name), `${op.name}: operand ${p}`);
      return;
    }
    const G = grad(F, v, e);
    const got = evalRows(G, data, M);
    const fd = (h: number): Float64Array => {
      const want = new Float64Array(M * v.dim);
      for (let c = 0; c < v.dim; c++) {
        const plus = new Map(data), minus = new Map(data);
        const xp = Float64Array.from(data.get(v.ind)!), xm = Float64Array.from(data.get(v.ind)!);
        for (let r = 0; r < M; r++) (xp[r * v.dim + c]! += h, xm[r * v.dim + c]! -= h);
        plus.set(v.ind, xp);
        minus.set(v.ind, xm);
        const fp = dot(plus), fm = dot(minus);
        for (let r = 0; r < M; r++) want[r * v.dim + c] = (fp[r]! - fm[r]!) / (2 * h);
      }
      return want;
    };
    const want = fd(1e-6), half = fd(5e-7);
    // a sample within h of a jump (Round, Floor, Step, Mod…) gives a huge difference quotient that
    // changes with h: such entries are left out (both sides), at most a few
    const jump = Array.from(want, (w, k) => Math.abs(w - half[k]!) > 1e-3 * Math.max(1, Math.abs(w)));
    const kept = (a: Float64Array): Float64Array => a.filter((_, k) => !jump[k]);
    assert.ok(jump.filter(Boolean).length <= Math.max(1, want.length / 10), `${G}: ${jump.filter(Boolean).length} of ${want.length} samples at a discontinuity`);
    assertClose(kept(got as Float64Array), kept(want), { rtol: 1e-6, atol: 1e-6 * Math.max(1, ...Array.from(kept(want), Math.abs)), what: `${G} (expanded: ${G.op.expand!(G)})` });
  });
}

const differentiable = allOps().filter((op) => op.arity > 0 && !op.expand && !op.name.startsWith("Test"));

test("every op with operands declares a vjp (or a branch-selecting gradT)", () => {
  const missing = differentiable.filter((op) => !op.vjp && !op.gradT).map((op) => op.name);
  assert.deepEqual(missing, [], `ops without a vjp: ${missing.join(", ")}`);
});

for (const op of differentiable.filter((o) => o.vjp || o.gradT)) {
  const inst = instances(op);
  const skip = inst.length === 0 && `no instance of ${op.name} found: add its numeric attributes to EXTRA_ATTRS`;
  test(`Grad of ${op.name} matches finite differences (float64)`, { skip }, () =>
    withSeed((d) => {
      for (const { F, vars } of inst) checkInstance(d, op, F, vars);
    }));
}

/**
 * The gradient formulas of every op lowered by every other backend: the instances' Grad formulas
 * (variables renumbered apart) concatenated into a few formulas of at most 40 variables, evaluated
 * in float64 on each backend and compared with js. The native backend compiles each with the
 * system compiler, so it is checked only when asked for (KEOPS_TEST_BACKENDS=native,…).
 */
test("every op's Grad formulas on every backend equal js (float64)", () =>
  withSeed((d) => {
    const concat = opByName("Concat")!;
    const chunks: { parts: Formula[]; data: Map<number, Float64Array> }[] = [];
    let cur = { parts: [] as Formula[], data: new Map<number, Float64Array>() };
    let next = 0;
    for (const op of differentiable.filter((o) => o.vjp || o.gradT))
      for (const { F, vars } of instances(op)) {
        if (cur.data.size + vars.length + 1 > 40) (chunks.push(cur), (cur = { parts: [], data: new Map() }));
        const base = next;
        next += vars.length + 1;
        const ren = (x: Formula): Formula => Var(x.ind + base, x.dim, 0);
        const Fr = substitute(F, ren);
        const e = Var(base + vars.length, F.dim, 0);
        for (const v of vars) cur.data.set(v.ind + base, sample(d, M * v.dim, POSITIVE.has(op.name)));
        cur.data.set(e.ind, sample(d, M * F.dim, false));
        vars.forEach((v, p) => {
          if (!NO_GRAD[op.name]?.includes(p)) cur.parts.push(grad(Fr, ren(v), e));
        });
      }
    if (cur.parts.length) chunks.push(cur);
    const backends = testBackends().filter((b) => b !== "js" && (b !== "native" || process.env.KEOPS_TEST_BACKENDS));
    for (const { parts, data } of chunks.filter((ch) => ch.parts.length > 0)) {
      const whole = parts.slice(1).reduce((a, f) => apply(concat, [a, f]), parts[0]!);
      const want = evalRows(whole, data, M, "js");
      for (const backend of backends) {
        const got = evalRows(whole, data, M, backend);
        let at = 0;
        for (const p of parts) {
          const pick = (x: Float64Array): Float64Array => Float64Array.from({ length: M * p.dim }, (_, k) => x[Math.floor(k / p.dim) * whole.dim + at + (k % p.dim)]!);
          assertClose(pick(got), pick(want), { rtol: 1e-9, what: `${backend}: ${p}` });
          at += p.dim;
        }
      }
    }
  }));
