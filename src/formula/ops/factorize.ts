/**
 * `Factorize(f,g)` and `AutoFactorize(f)`: KeOps's explicit common-subexpression factorisation.
 * keops-ts's formula nodes are hash-consed and its lowering shares every repeated sub-formula, so
 * both are accepted (printed and parsed with KeOps's names) and stand for f itself: a macro whose
 * expansion is f, computed once per distinct sub-formula either way.
 */
import { apply, defineOp, type Formula } from "../node.js";

const macroOnly = (): never => {
  throw new Error("internal: Factorize / AutoFactorize are expanded before lowering");
};

/** `Factorize(f,g)`: f with its occurrences of g computed once (always so in keops-ts): f. */
export const FactorizeOp = defineOp({
  name: "Factorize",
  arity: 2,
  nattrs: 0,
  dim: ([f]) => f!,
  expand: (self) => self.args[0]!,
  lower: macroOnly,
});

/** `AutoFactorize(f)`: f with every repeated sub-formula computed once (always so in keops-ts): f. */
export const AutoFactorizeOp = defineOp({
  name: "AutoFactorize",
  arity: 1,
  nattrs: 0,
  dim: ([f]) => f!,
  expand: (self) => self.args[0]!,
  lower: macroOnly,
});

export const factorize = (f: Formula, g: Formula): Formula => apply(FactorizeOp, [f, g]);
export const autoFactorize = (f: Formula): Formula => apply(AutoFactorizeOp, [f]);
