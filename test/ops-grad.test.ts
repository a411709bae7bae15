/**
 * Derivatives of the list-attribute ops (TensorDot with contractions and permutations, Kron),
 * which the registry-wide gradient test only sees in their list-free form: Grad(F, v, e) against
 * central finite differences of ⟨F, e⟩ in float64.
 */
import { test } from "node:test";
import "../src/index.js";
import { Var, type Formula } from "../src/formula/node.js";
import { kron, tensordot, type TensorDotLists } from "../src/formula/ops/tensor.js";
import { grad } from "../src/autodiff/grad.js";
import { assertClose, withSeed } from "./util.js";
import { evalRows } from "./grad-helpers.js";

const M = 4;
const prod = (xs: readonly number[]) => xs.reduce((p, x) => p * x, 1);

const SPECS: TensorDotLists[] = [
  { dimsfa: [2, 3], dimsfb: [3, 4], contfa: [1], contfb: [0] },
  { dimsfa: [2, 3], dimsfb: [3, 4], contfa: [1], contfb: [0], permute: [1, 0] },
  { dimsfa: [2, 3], dimsfb: [3, 2], contfa: [0, 1], contfb: [1, 0] },
  { dimsfa: [3, 2], dimsfb: [4], contfa: [], contfb: [], permute: [2, 0, 1] },
  { dimsfa: [2, 3, 2], dimsfb: [3, 4], contfa: [1], contfb: [0], permute: [2, 0, 1] },
  { dimsfa: [2, 3, 2], dimsfb: [2, 4, 3], contfa: [2, 1], contfb: [0, 2], permute: [1, 0] },
];

function check(F: Formula, vars: Formula[], seed: () => number): void {
  const data = new Map<number, Float64Array>();
  const fill = (n: number) => Float64Array.from({ length: n }, () => seed() * 2 - 1);
  for (const v of vars) data.set(v.ind, fill(M * v.dim));
  const e = Var(vars.length, F.dim, 0);
  data.set(e.ind, fill(M * F.dim));
  const dot = (dd: Map<number, Float64Array>) => {
    const f = evalRows(F, dd, M), ev = dd.get(e.ind)!;
    return Array.from({ length: M }, (_, r) => {
      let s = 0;
      for (let c = 0; c < F.dim; c++) s += f[r * F.dim + c]! * ev[r * F.dim + c]!;
      return s;
    });
  };
  for (const v of vars) {
    const got = evalRows(grad(F, v, e), data, M);
    const want = new Float64Array(M * v.dim);
    const h = 1e-6;
    for (let c = 0; c < v.dim; c++) {
      const xp = Float64Array.from(data.get(v.ind)!), xm = Float64Array.from(data.get(v.ind)!);
      for (let r = 0; r < M; r++) (xp[r * v.dim + c]! += h, xm[r * v.dim + c]! -= h);
      const fp = dot(new Map(data).set(v.ind, xp)), fm = dot(new Map(data).set(v.ind, xm));
      for (let r = 0; r < M; r++) want[r * v.dim + c] = (fp[r]! - fm[r]!) / (2 * h);
    }
    assertClose(got, want, { rtol: 1e-6, atol: 1e-6, what: `d ${F} / d ${v}` });
  }
}

test("Grad of TensorDot with contractions and permutations, and of Kron, match finite differences", () =>
  withSeed((d) => {
    const u = () => d.rng.uniform();
    for (const s of SPECS) {
      const a = Var(0, prod(s.dimsfa), 0), b = Var(1, prod(s.dimsfb), 0);
      check(tensordot(a, b, s), [a, b], u);
    }
    const a = Var(0, 6, 0), b = Var(1, 12, 0);
    check(kron(a, b, [2, 3], [3, 4]), [a, b], u);
    check(kron(Var(0, 4, 0), Var(1, 3, 0), [2, 2, 1], [1, 1, 3]), [Var(0, 4, 0), Var(1, 3, 0)], u);
  }));
