/** `BSpline(t,x,k)`: the B-spline basis functions of order k on the knots t, at the scalar x (KeOps's). */
import { KeOpsError } from "../../errors.js";
import { apply, defineOp, type Formula } from "../node.js";
import { div, intCst, minus, mul, sub, zero } from "./arith.js";
import { sum } from "./inner-sum.js";
import { IfElseOp } from "./piecewise.js";
import { extract } from "./vector.js";

/**
 * `BSpline(t,x,k)`: the K − k − 1 B-splines of order k (degree k) on the knots t (dimension K,
 * non-decreasing), evaluated at the scalar x, by De Boor's recursion as KeOps computes it: order
 * 0 is the indicator of t_j ≤ x < t_{j+1}, and each ratio (x − t_i)/(t_{i+k} − t_i) is 0 where
 * t_i ≥ t_{i+k}. Differentiable with respect to x (B'_{i,k} = k·B_{i,k−1}/(t_{i+k} − t_i) −
 * k·B_{i+1,k−1}/(t_{i+k+1} − t_{i+1}), exact between knots for non-decreasing knots); not with
 * respect to the knots (a KeOpsError, as KeOps).
 */
export const BSplineOp = defineOp({
  name: "BSpline",
  arity: 2,
  nattrs: 1,
  dim: ([K, xd], [order]) => {
    if (!Number.isSafeInteger(order) || order! < 0) throw new KeOpsError(`BSpline: expected an order k ≥ 0 (an integer), got ${order}`);
    if (xd !== 1) throw new KeOpsError(`BSpline: expected a scalar x (dimension 1), got dimension ${xd}`);
    if (K! < order! + 2) throw new KeOpsError(`BSpline: order ${order} needs at least ${order! + 2} knots, got a vector of dimension ${K}`);
    return K! - order! - 1;
  },
  lower: (ctx, [t, xs], [order]) => {
    const b = ctx.b;
    const x = xs![0]!;
    const n = t!.length - 1;
    const ratio = (i: number, k: number): number =>
      b.select(b.cmp("lt", t![i]!, t![i + k]!), b.bin("div", b.bin("sub", x, t![i]!), b.bin("sub", t![i + k]!, t![i]!)), b.c(0));
    const out = Array.from({ length: n }, (_, j) => b.and(b.cmp("le", t![j]!, x), b.cmp("lt", x, t![j + 1]!)));
    for (let k = 1; k <= order!; k++) {
      let r1 = ratio(0, k);
      for (let i = 0; i < n - k; i++) {
        const r2 = ratio(i + 1, k);
        out[i] = b.bin("add", b.bin("mul", r1, out[i]!), b.bin("mul", b.bin("sub", b.c(1), r2), out[i + 1]!));
        r1 = r2;
      }
    }
    return out.slice(0, t!.length - order! - 1);
  },
  gradT: ([t, x], [order], self, g, gradOf) => {
    if (gradOf(t!, zero(t!.dim)) !== undefined)
      throw new KeOpsError(`BSpline: not differentiable with respect to the knots (as in KeOps), in ${self}`);
    if (order === 0) return undefined;
    const k = order!;
    const m = t!.dim - k; // B-splines of order k − 1
    const lower = apply(BSplineOp, [t!, x!], [k - 1]);
    const gap = sub(extract(t!, k, m), extract(t!, 0, m));
    const c = apply(IfElseOp, [minus(gap), zero(m), div(intCst(k), gap)]);
    const cB = mul(c, lower);
    const n = m - 1;
    return gradOf(x!, sub(sum(mul(g, extract(cB, 0, n))), sum(mul(g, extract(cB, 1, n)))));
  },
});

/** The node `BSpline(t,x,k)`. */
export const bspline = (t: Formula, x: Formula, order: number): Formula => apply(BSplineOp, [t, x], [order]);
