/**
 * The derivative rules at singular points, pinned: KeOps's definition where KeOps defines one
 * (Sqrt' = Rsqrt/2 with Rsqrt(0) = 0, Abs' = Sign, ReLU' = Step, Clamp' on [a, b] ends included,
 * IfElse selecting the taken branch's gradient), and a finite value where the function is finite
 * and KeOps's formula is 0·∞ (Powf, Atan2 at the origin, a piecewise op whose branch not taken has
 * an infinite derivative). Each rule: the exact value at the point, on every backend, and central
 * finite differences nearby (float64).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Vi, Vj, tensor, Tensor } from "../src/index.js";
import { Var, apply, opByName, type Formula } from "../src/formula/node.js";
import { grad } from "../src/autodiff/grad.js";
import { assertClose, testBackends, withSeed } from "./util.js";
import { evalRows, finiteDifferences } from "./grad-helpers.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";

const op = (name: string, args: Formula[], attrs: number[] = []): Formula => apply(opByName(name)!, args, attrs);
const c = (n: number): Formula => op("IntCst", [], [n]);

interface Case {
  name: string;
  /** The formula of the variables Var(0..), all i-variables. */
  F: (v: Formula[]) => Formula;
  dims: number[];
  /** The point (values of each variable). */
  at: number[][];
  /** Gradient with respect to variable `wrt` (default 0), with e = 1 on every component. */
  wrt?: number;
  /** Expected gradient at the point (KeOps's rule or the pinned finite value). */
  want: number[];
  /** A nearby point where the gradient is checked by finite differences (default: none). */
  near?: number[][];
}

const ones = (D: number): Formula => (D > 1 ? op("SumT", [c(1)], [D]) : c(1));
const sq = (v: Formula) => op("Sqrt", [v]);
const cases: Case[] = [
  // issue 18: IfElse selects the branch gradient, no NaN from Sqrt(−1)
  { name: "IfElse(x, Sqrt(x), x³) at −1", F: ([x]) => op("IfElse", [x!, sq(x!), op("Mult", [op("Mult", [x!, x!]), x!])]), dims: [1], at: [[-1]], want: [3], near: [[-0.7]] },
  { name: "IfElse(x, Sqrt(x), x³) at 0 (Sqrt branch, Rsqrt(0)/2 = 0)", F: ([x]) => op("IfElse", [x!, sq(x!), op("Mult", [op("Mult", [x!, x!]), x!])]), dims: [1], at: [[0]], want: [0], near: [[0.6]] },
  { name: "IfElse with a vector condition (per component, strong zeros)", F: ([x]) => op("IfElse", [x!, sq(x!), op("Square", [x!])]), dims: [3], at: [[-1, 4, -2]], want: [-2, 0.25, -4], near: [[-0.5, 2, 1]] },
  { name: "IfElse, vector condition, Log branch not taken at 0", F: ([x]) => op("IfElse", [op("Minus", [x!]), op("Exp", [x!]), op("Log", [x!])]), dims: [2], at: [[0, 2]], want: [1, 0.5], near: [[-0.5, 2]] },
  { name: "Log'(0) with a zero cotangent is 0 (strong zero), not 0·∞", F: ([x]) => op("Mult", [op("Log", [x!]), c(0)]), dims: [1], at: [[0]], want: [0] },
  {
    name: `IfElse with a scalar condition and vector branches`,
    F: ([s, x]) => op("IfElse", [s!, op("Log", [x!]), op("Exp", [x!])]), dims: [1, 2], wrt: 1, at: [[-1], [0, 1]], want: [1, Math.E], near: [[0.5], [0.5, 1]],
  },
  // Sqrt at 0: KeOps's Rsqrt(x)/2 with Rsqrt(0) = 0
  { name: "Sqrt at 0", F: ([x]) => sq(x!), dims: [1], at: [[0]], want: [0], near: [[0.3]] },
  { name: "Exp(−Sqrt(SqNorm2(x))) at the zero vector", F: ([x]) => op("Exp", [op("Minus", [sq(op("SqNorm2", [x!]))])]), dims: [3], at: [[0, 0, 0]], want: [0, 0, 0], near: [[0.1, -0.2, 0.3]] },
  { name: "Rsqrt at 0 (−Rsqrt³/2 = 0)", F: ([x]) => op("Rsqrt", [x!]), dims: [1], at: [[0]], want: [0], near: [[0.5]] },
  { name: "Norm2 at the zero vector", F: ([x]) => op("Norm2", [x!]), dims: [3], at: [[0, 0, 0]], want: [0, 0, 0], near: [[0.1, -0.2, 0.3]] },
  { name: "Normalize at the zero vector", F: ([x]) => op("Normalize", [x!]), dims: [2], at: [[0, 0]], want: [0, 0], near: [[0.3, -0.4]] },
  // Abs, Sign, Step, ReLU as KeOps
  { name: "Abs at 0 (Sign(0) = 0)", F: ([x]) => op("Abs", [x!]), dims: [1], at: [[0]], want: [0], near: [[-0.3]] },
  { name: "Sign: zero", F: ([x]) => op("Sign", [x!]), dims: [1], at: [[0]], want: [0], near: [[0.4]] },
  { name: "Step: zero", F: ([x]) => op("Step", [x!]), dims: [1], at: [[0]], want: [0], near: [[-0.4]] },
  { name: "ReLU at 0 (Step(0) = 1)", F: ([x]) => op("ReLU", [x!]), dims: [1], at: [[0]], want: [1], near: [[0.2]] },
  { name: "ReLU(Log(x)) at x = 0: the branch not taken has Log'(0) = ∞", F: ([x]) => op("ReLU", [op("Log", [x!])]), dims: [1], at: [[0]], want: [0], near: [[0.5]] },
  // Clamp / ClampInt: KeOps's ClampInt((x−a)/(b−a),0,1)·(b−a)+a
  { name: "Clamp at x = a (inclusive: 1)", F: ([x, a, b]) => op("Clamp", [x!, a!, b!]), dims: [1, 1, 1], at: [[-1], [-1], [2]], want: [1], near: [[0.5], [-1], [2]] },
  { name: "Clamp at x = b: d/db = 0", F: ([x, a, b]) => op("Clamp", [x!, a!, b!]), dims: [1, 1, 1], wrt: 2, at: [[2], [-1], [2]], want: [0], near: [[3], [-1], [2]] },
  { name: "Clamp below a: d/da = 1", F: ([x, a, b]) => op("Clamp", [x!, a!, b!]), dims: [1, 1, 1], wrt: 1, at: [[-3], [-1], [2]], want: [1], near: [[-3], [-1], [2]] },
  { name: "Clamp(Log(x), a, b) at x = 0: below a, finite", F: ([x, a, b]) => op("Clamp", [op("Log", [x!]), a!, b!]), dims: [1, 1, 1], at: [[0], [-1], [2]], want: [0], near: [[1], [-1], [2]] },
  { name: "ClampInt at its ends (1)", F: ([x]) => op("ClampInt", [x!], [0, 1]), dims: [2], at: [[0, 1]], want: [1, 1], near: [[0.3, 0.6]] },
  { name: "ClampInt(Sqrt(x)) at x = 4: above b, finite", F: ([x]) => op("ClampInt", [sq(x!)], [0, 1]), dims: [1], at: [[4]], want: [0], near: [[0.25]] },
  // Pow, Powf
  { name: "Pow(x,3) at 0", F: ([x]) => op("Pow", [x!], [3]), dims: [1], at: [[0]], want: [0], near: [[0.7]] },
  { name: "Powf(x,y) at x = 0: d/dy = 0 (0^y = 0), KeOps NaN", F: ([x, y]) => op("Powf", [x!, y!]), dims: [1, 1], wrt: 1, at: [[0], [2.5]], want: [0], near: [[0.5], [2.5]] },
  { name: "Powf(x,y) at y = 0: d/dx = 0 (x^0 = 1), KeOps NaN", F: ([x, y]) => op("Powf", [x!, y!]), dims: [1, 1], at: [[0], [0]], want: [0], near: [[0.5], [0.5]] },
  { name: "Powf(x,y) at x = 0, y = 2.5: d/dx = 0", F: ([x, y]) => op("Powf", [x!, y!]), dims: [1, 1], at: [[0], [2.5]], want: [0] },
  // Atan2 at the origin: 0 (KeOps 0/0)
  { name: "Atan2 at the origin: d/dy = 0", F: ([y, x]) => op("Atan2", [y!, x!]), dims: [1, 1], at: [[0], [0]], want: [0], near: [[0.3], [0.4]] },
  { name: "Atan2 at the origin: d/dx = 0", F: ([y, x]) => op("Atan2", [y!, x!]), dims: [1, 1], wrt: 1, at: [[0], [0]], want: [0], near: [[0.3], [-0.4]] },
  // KeOps's rules where the derivative is infinite: kept
  { name: "Asin at 1 (KeOps: Rsqrt(0) = 0)", F: ([x]) => op("Asin", [x!]), dims: [1], at: [[1]], want: [0], near: [[0.5]] },
  { name: "Acos at −1 (KeOps: −Rsqrt(0) = 0)", F: ([x]) => op("Acos", [x!]), dims: [1], at: [[-1]], want: [-0], near: [[-0.5]] },
  { name: "Log at 0: 1/0 = ∞ (as KeOps)", F: ([x]) => op("Log", [x!]), dims: [1], at: [[0]], want: [Infinity], near: [[0.5]] },
  { name: "XLogX at 0: Log(0) + 1 = −∞ (as KeOps)", F: ([x]) => op("XLogX", [x!]), dims: [1], at: [[0]], want: [-Infinity], near: [[0.5]] },
];

/** ⟨F, 1⟩ on one row, in float64 (js). */
function dot(F: Formula, vals: number[][]): number {
  const data = new Map<number, Float64Array>(vals.map((v, k) => [k, Float64Array.from(v)]));
  return evalRows(F, data, 1).reduce((s, x) => s + x, 0);
}

test("gradient rules at singular points, on every backend (float64)", () => {
  // every case's gradient in one formula (variables renumbered apart): one kernel per backend
  const parts: Formula[] = [];
  const data = new Map<number, Float64Array>();
  let next = 0;
  for (const cs of cases) {
    const vars = cs.dims.map((d, k) => Var(next + k, d, 0));
    cs.at.forEach((v, k) => data.set(next + k, Float64Array.from(v)));
    next += vars.length;
    const F = cs.F(vars);
    parts.push(grad(F, vars[cs.wrt ?? 0]!, ones(F.dim)));
  }
  const whole = parts.slice(1).reduce((a, f) => op("Concat", [a, f]), parts[0]!);
  for (const backend of testBackends()) {
    const got = evalRows(whole, data, 1, backend);
    let at = 0;
    cases.forEach((cs, k) => {
      const g = Array.from(got.subarray(at, at + parts[k]!.dim));
      at += parts[k]!.dim;
      assertClose(g, cs.want, { rtol: 1e-12, atol: 1e-12, what: `${backend}: ${cs.name}` });
    });
  }
});

test("gradient rules: finite differences near each singular point (float64)", () => {
  for (const cs of cases) {
    if (!cs.near) continue;
    const vars = cs.dims.map((d, k) => Var(k, d, 0));
    const F = cs.F(vars);
    const w = cs.wrt ?? 0;
    const e = ones(F.dim);
    const data = new Map<number, Float64Array>(cs.near.map((v, k) => [k, Float64Array.from(v)]));
    const got = evalRows(grad(F, vars[w]!, e), data, 1);
    const want = cs.near[w]!.map((_, comp) => {
      const h = 1e-6;
      const p = cs.near!.map((v) => [...v]), m = cs.near!.map((v) => [...v]);
      p[w]![comp]! += h;
      m[w]![comp]! -= h;
      return (dot(F, p) - dot(F, m)) / (2 * h);
    });
    assertClose(got, want, { rtol: 1e-6, atol: 1e-7, what: `${cs.name}, near` });
  }
});

test("the Laplacian kernel exp(−‖x_i − x_j‖) on a point cloud has a finite gradient (issue 18), on every backend", () =>
  withSeed((d) => {
    const M = 37;
    const x = d.randn([M, 3], "float64");
    const b = d.randn([M, 1], "float64");
    const exact = (xs: Tensor): Float64Array => {
      // ∂/∂x_i Σ_j exp(−r_ij) b_j, with the Vi copy of x varying, 0 where r_ij = 0 (KeOps's rule)
      const g = new Float64Array(M * 3);
      for (let i = 0; i < M; i++)
        for (let j = 0; j < M; j++) {
          let r2 = 0;
          for (let k = 0; k < 3; k++) r2 += (xs.data[i * 3 + k]! - x.data[j * 3 + k]!) ** 2;
          const r = Math.sqrt(r2);
          if (r === 0) continue;
          for (let k = 0; k < 3; k++) g[i * 3 + k]! += -Math.exp(-r) * ((xs.data[i * 3 + k]! - x.data[j * 3 + k]!) / r) * b.data[j]!;
        }
      return g;
    };
    for (const backend of testBackends()) {
      const f = Vi(0, 3).sqdist(Vj(x)).sqrt().neg().exp().mul(Vj(b)).sum({ axis: 1, backend: backend as never, call: false }) as KeOpsFunction<Tensor>;
      const [g] = f.vjp([x], tensor(new Float64Array(M).fill(1), { shape: [M, 1] })) as Tensor[];
      assert.ok(Array.from(g!.data).every(Number.isFinite), `${backend}: the gradient has a NaN or an infinity`);
      assertClose(g!.data, exact(x), { rtol: 1e-10, what: `${backend}: gradient` });
      // finite differences away from the diagonal: x moved off the cloud
      const moved = new Tensor(Float64Array.from(x.data, (v, k) => v + 0.01 * ((k % 5) - 2)), [M, 3]);
      const fd = finiteDifferences((a) => Array.from((f(a[0]!) as Tensor).data).reduce((s, v) => s + v, 0), [moved], 0);
      const [gm] = f.vjp([moved], tensor(new Float64Array(M).fill(1), { shape: [M, 1] })) as Tensor[];
      assertClose(gm!.data, fd, { rtol: 1e-5, what: `${backend}: finite differences` });
    }
  }));
