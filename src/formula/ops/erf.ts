/** The error function (keops-ts addition): its derivative needs π, from the trigonometric ops. */
import { apply, type Formula } from "../node.js";
import { unarySsa } from "./common.js";
import { intCst, minus, mul } from "./arith.js";
import { exp, rsqrt, square } from "./math.js";
import { acos } from "./trig.js";

/** `Erf(x)`: the error function (keops-ts addition). */
export const ErfOp = unarySsa("Erf", "erf", {
  // 2/√π · exp(−x²), with π = acos(−1) folded at compile time
  vjp: ([x], _t, _s, g) => [mul(mul(intCst(2), rsqrt(acos(intCst(-1)))), mul(exp(minus(square(x!))), g))],
});

export const erf = (a: Formula): Formula => apply(ErfOp, [a]);
