/**
 * The second tutorial runs line by line (small sizes) and prints what it prints; its
 * equivalences hold numerically (loop of kernels = broadcast sum, helpers = reference,
 * call: false = direct, symbolic = fixed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LazyTensor, Vi, Vj, tensor, type Tensor } from "../src/index.js";
import { main, timing } from "../examples/tutorial2.js";
import { reference } from "./reference.js";
import { assertClose, assertExact, withSeed } from "./util.js";
import { TUTORIAL2_GAMMAFUN } from "./expected.js";

test("the tutorial runs and prints the two timings and the final LazyTensor", () => {
  const lines: string[] = [];
  const t = main({ M: 40, N: 70, Niter: 5, log: (...p) => lines.push(p.join(" ")) });
  const timings = lines.filter((l) => l.startsWith("Timing for"));
  assert.equal(timings.length, 2);
  for (const l of timings) assert.match(l, /^Timing for 5 iterations: \d+\.\d{5}s = 5 x \d+\.\d{5}s$/);
  assert.ok(t.rebuild > 0 && t.reuse > 0);
  const out = lines.join("\n");
  assert.ok(
    out.endsWith(
      TUTORIAL2_GAMMAFUN,
    ),
    out,
  );
  assert.equal(timing(1000, 0.25008), "Timing for 1000 iterations: 0.25008s = 1000 x 0.00025s");
});

test("the tutorial's lines compute what they say", async () => {
  await withSeed((d) => {
    const [M, N, D] = [23, 41, 3];
    const x = d.randn([M, D]), y = d.randn([N, D]), b = d.uniform([N, D], 0, 1);
    const x_i = Vi(x), y_j = Vj(y), b_j = Vj(b);
    const D2xy = x_i.sub(y_j).pow(2).sum();
    const gamma = D2xy.sumReduction({ dim: 1 });
    assertClose(gamma.data, reference(D2xy.sumReduction({ dim: 1, call: false })).values!, { rtol: 1e-5 });
    // sum() without an axis is the inner sum, as sum(-1)
    assert.equal(D2xy.formula, x_i.sub(y_j).pow(2).sum(-1).formula);
    assert.equal(D2xy.formula, LazyTensor.sum(x_i.sub(y_j).pow(2)).formula);
    // argmin over i, exact on integer data
    const xi = Vi(d.randint([M, D], -2, 2)), yj = Vj(d.randint([N, D], -2, 2));
    const indmin = xi.sub(yj).pow(2).sum().argmin({ axis: 0 });
    assertExact(indmin.data, reference(xi.sub(yj).pow(2).sum().argmin({ axis: 0, call: false })).indices!);
    // slicing line
    const sl = x_i.slice(0, 2).mul(y_j.slice(2)).sub(x_i.slice(2).mul(y_j.slice(0, 2))).sqnorm2();
    assertClose(sl.sum({ axis: 1 }).data, reference(sl.sum({ axis: 1, call: false })).values!, { rtol: 1e-5 });
    // the loop over sigmas = the broadcast sum over a vector of sigmas
    const sigmas = tensor([0.5, 1.0, 2.0, 4.0]);
    let Kxy: LazyTensor | 0 = 0;
    for (const s of sigmas.data) {
      const term = LazyTensor.exp(D2xy.neg().div(s ** 2));
      Kxy = Kxy === 0 ? term : Kxy.add(term);
    }
    const loop = (Kxy as LazyTensor).mul(b_j).sumReduction({ axis: 1 });
    const vec = LazyTensor.exp(D2xy.neg().div(tensor([0.25, 1, 4, 16]))).sum().mul(b_j).sumReduction({ axis: 1 });
    assertClose((loop as Tensor).data, (vec as Tensor).data, { rtol: 1e-5 });
  });
});
