/** Piecewise functions: Floor, Round, Step, ReLU, Clamp, ClampInt, IfElse, Mod (KeOps's semantics). */
import { apply, defineOp, type Formula } from "../node.js";
import { componentwise, ternaryOp, unaryOp, unarySsa } from "./common.js";
import { div, intCst, minus, mul, sub } from "./arith.js";
import { ge, gt, lt } from "./compare.js";
import { unbroadcast } from "./inner-sum.js";
import { KeOpsError } from "../../errors.js";

const noGrad = () => [undefined];

/** `Floor(x)`. */
export const FloorOp = unarySsa("Floor", "floor", { vjp: noGrad });

/** `Round(x,d)`: rounds to d decimals (half away from zero). */
export const RoundOp = defineOp({
  name: "Round",
  arity: 1,
  nattrs: 1,
  dim: ([dim], [d]) => {
    if (!Number.isSafeInteger(d)) throw new KeOpsError(`Round: expected an integer number of decimals, got ${d}`);
    return dim!;
  },
  lower: (ctx, [x], [d], dim) =>
    componentwise([x!], dim, (v) => {
      const b = ctx.b;
      if (d === 0) return b.un("round", v);
      const s = b.c(10 ** d!);
      return b.bin("div", b.un("round", b.bin("mul", v, s)), s);
    }),
  vjp: noGrad,
});

/** `Step(x)`: 0 where x < 0, else 1. */
export const StepOp = unaryOp("Step", (ctx, x) => ctx.b.select(ctx.b.cmp("lt", x, ctx.b.c(0)), ctx.b.c(0), ctx.b.c(1)), {
  vjp: noGrad,
});

/** `ReLU(x)`: 0 where x < 0, else x. */
export const ReLUOp = unaryOp("ReLU", (ctx, x) => ctx.b.select(ctx.b.cmp("lt", x, ctx.b.c(0)), ctx.b.c(0), x), {
  vjp: ([x], _t, _s, g) => [mul(step(x!), g)],
});

/** `Clamp(x,a,b)`: a where x < a, else b where x > b, else x (broadcasting). */
export const ClampOp = ternaryOp(
  "Clamp",
  (ctx, x, a, b) => ctx.b.select(ctx.b.cmp("lt", x, a), a, ctx.b.select(ctx.b.cmp("gt", x, b), b, x)),
  {
    vjp: ([x, a, b], _t, _s, g) => {
      const above = step(sub(x!, a!));
      return [
        unbroadcast(mul(mul(above, step(sub(b!, x!))), g), x!.dim),
        unbroadcast(mul(lt(x!, a!), g), a!.dim),
        unbroadcast(mul(mul(above, gt(x!, b!)), g), b!.dim),
      ];
    },
  },
);

/** `ClampInt(x,a,b)`: Clamp with integer bounds a ≤ b given as attributes. */
export const ClampIntOp = defineOp({
  name: "ClampInt",
  arity: 1,
  nattrs: 2,
  dim: ([d], [a, b]) => {
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b))
      throw new KeOpsError(`ClampInt: expected integer bounds a and b, got ${a} and ${b}`);
    return d!;
  },
  lower: (ctx, [x], [a, b], dim) =>
    componentwise([x!], dim, (v) => {
      const B = ctx.b, ca = B.c(a!), cb = B.c(b!);
      return B.select(B.cmp("lt", v, ca), ca, B.select(B.cmp("gt", v, cb), cb, v));
    }),
  vjp: ([x], [a, b], _s, g) => [mul(mul(step(sub(x!, intCst(a!))), step(sub(intCst(b!), x!))), g)],
});

/** `IfElse(x,a,b)`: a where x ≥ 0, else b (broadcasting). */
export const IfElseOp = ternaryOp("IfElse", (ctx, x, a, b) => ctx.b.select(ctx.b.cmp("ge", x, ctx.b.c(0)), a, b), {
  vjp: ([x, a, b], _t, _s, g) => {
    const pos = ge(x!, intCst(0));
    return [undefined, unbroadcast(mul(pos, g), a!.dim), unbroadcast(mul(sub(intCst(1), pos), g), b!.dim)];
  },
});

/** `Mod(x,n,d)`: x − n·floor((x − d)/n), the modulo with offset d (broadcasting). */
export const ModOp = ternaryOp(
  "Mod",
  (ctx, x, n, d) => {
    const b = ctx.b;
    return b.bin("sub", x, b.bin("mul", n, b.un("floor", b.bin("div", b.bin("sub", x, d), n))));
  },
  {
    vjp: ([x, n, d], _t, _s, g) => [
      unbroadcast(g, x!.dim),
      unbroadcast(minus(mul(floor(div(sub(x!, d!), n!)), g)), n!.dim),
      undefined,
    ],
  },
);

export const floor = (a: Formula): Formula => apply(FloorOp, [a]);
export const step = (a: Formula): Formula => apply(StepOp, [a]);
