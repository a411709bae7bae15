/** Trigonometric and hyperbolic functions, SinXDivX, Atan2. */
import { apply, type Formula } from "../node.js";
import { binarySsa, unaryOp, unarySsa } from "./common.js";
import { add, div, intCst, inv, minus, mul, sub, zero } from "./arith.js";
import { IfElseOp, timesCotangent } from "./piecewise.js";
import { rsqrt, square } from "./math.js";
import { unbroadcast } from "./inner-sum.js";

const one = (): Formula => intCst(1);

export const SinOp = unarySsa("Sin", "sin", { vjp: ([x], _t, _s, g) => [mul(cos(x!), g)] });
export const CosOp = unarySsa("Cos", "cos", { vjp: ([x], _t, _s, g) => [minus(mul(sin(x!), g))] });
export const AsinOp = unarySsa("Asin", "asin", { vjp: ([x], _t, _s, g) => [timesCotangent(g, rsqrt(sub(one(), square(x!))))] });
export const AcosOp = unarySsa("Acos", "acos", {
  vjp: ([x], _t, _s, g) => [timesCotangent(g, minus(rsqrt(sub(one(), square(x!)))))],
});
export const AtanOp = unarySsa("Atan", "atan", { vjp: ([x], _t, _s, g) => [div(g, add(one(), square(x!)))] });

/**
 * `Atan2(y,x)`: the angle of (x, y), in (−π, π]. Derivatives (x, −y)/(x² + y²) as KeOps, and 0 at
 * the origin (where KeOps gives 0/0 = NaN while atan2 is finite).
 */
export const Atan2Op = binarySsa("Atan2", "atan2", {
  vjp: ([y, x], _t, _s, g) => {
    const r2 = add(square(x!), square(y!));
    const safe = (f: Formula): Formula => apply(IfElseOp, [minus(r2), zero(f.dim), f]);
    return [unbroadcast(safe(div(mul(x!, g), r2)), y!.dim), unbroadcast(safe(minus(div(mul(y!, g), r2))), x!.dim)];
  },
});

/** `SinXDivX(x)`: sin(x)/x, and 1 at 0 (as KeOps). */
export const SinXDivXOp = unaryOp(
  "SinXDivX",
  (ctx, x) => {
    const b = ctx.b;
    return b.select(b.cmp("eq", x, b.c(0)), b.c(1), b.bin("div", b.un("sin", x), x));
  },
  { vjp: ([x], _t, _s, g) => [mul(apply(DiffSinXDivXOp, [x!]), g)] },
);

/**
 * Taylor coefficients of DiffSinXDivX(x) / x = Σ_{n≥1} (−1)^n 2n x^{2n−2} / (2n+1)!, in powers of
 * x²: eight terms are exact to double precision for |x| < 1/2, where the closed form cancels.
 */
const DIFF_SINC_SERIES = Array.from({ length: 8 }, (_, k) => {
  const n = k + 1;
  let f = 1;
  for (let m = 2; m <= 2 * n + 1; m++) f *= m;
  return ((n % 2 ? -1 : 1) * 2 * n) / f;
});

/**
 * `DiffSinXDivX(x)`: the derivative of SinXDivX, (cos x − sin x / x) / x, and 0 at 0 (helper op
 * for autodiff). For |x| < 1/2 a Taylor polynomial: the closed form loses every digit there in
 * float32 (cos x and sin x / x agree to ~x²/3).
 */
export const DiffSinXDivXOp = unaryOp(
  "DiffSinXDivX",
  (ctx, x) => {
    const b = ctx.b;
    const closed = b.bin("div", b.bin("sub", b.un("cos", x), b.bin("div", b.un("sin", x), x)), x);
    const x2 = b.bin("mul", x, x);
    let poly = b.c(DIFF_SINC_SERIES[DIFF_SINC_SERIES.length - 1]!);
    for (let k = DIFF_SINC_SERIES.length - 2; k >= 0; k--) poly = b.bin("add", b.bin("mul", poly, x2), b.c(DIFF_SINC_SERIES[k]!));
    return b.select(b.cmp("lt", b.un("abs", x), b.c(0.5)), b.bin("mul", poly, x), closed);
  },
  {
    // SinXDivX'' = −SinXDivX − 2·DiffSinXDivX(x)/x, whose ratio is −1/3 at 0 (not 0/0): the second
    // derivative is finite everywhere (the third is NaN at exactly 0)
    vjp: ([x], _t, self, g) => {
      const atZero = minus(square(x!)); // ≥ 0 only at 0
      const ratio = apply(IfElseOp, [atZero, minus(inv(intCst(3))), div(self, x!)]);
      return [mul(sub(minus(apply(SinXDivXOp, [x!])), mul(intCst(2), ratio)), g)];
    },
  },
);

// ---- beyond KeOps ------------------------------------------------------------------------------

/** `Tan(x)` (keops-ts addition). */
export const TanOp = unarySsa("Tan", "tan", { vjp: (_a, _t, self, g) => [mul(add(one(), square(self)), g)] });
/** `Sinh(x)` (keops-ts addition). */
export const SinhOp = unarySsa("Sinh", "sinh", { vjp: ([x], _t, _s, g) => [mul(apply(CoshOp, [x!]), g)] });
/** `Cosh(x)` (keops-ts addition). */
export const CoshOp = unarySsa("Cosh", "cosh", { vjp: ([x], _t, _s, g) => [mul(apply(SinhOp, [x!]), g)] });
/** `Tanh(x)` (keops-ts addition). */
export const TanhOp = unarySsa("Tanh", "tanh", { vjp: (_a, _t, self, g) => [mul(sub(one(), square(self)), g)] });

export const sin = (a: Formula): Formula => apply(SinOp, [a]);
export const cos = (a: Formula): Formula => apply(CosOp, [a]);
export const acos = (a: Formula): Formula => apply(AcosOp, [a]);
export const sinxdivx = (a: Formula): Formula => apply(SinXDivXOp, [a]);
