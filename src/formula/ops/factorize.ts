/**
 * `Factorize(f,g)` and `AutoFactorize(f)`: KeOps's explicit common-subexpression factorisation.
 * keops-ts's formula nodes are hash-consed and its lowering shares every repeated sub-formula, so
 * both are accepted (printed and parsed with KeOps's names) and stand for f itself: a macro whose
 * expansion is f, computed once per distinct sub-formula either way.
 */
import { apply, defineMacro, type Formula } from "../node.js";

/** `Factorize(f,g)`: f with its occurrences of g computed once (always so in keops-ts): f. */
export const FactorizeOp = defineMacro({
  name: "Factorize",
  arity: 2,
  nattrs: 0,
  dim: ([f]) => f!,
  expand: (self) => self.args[0]!,
});

/** `AutoFactorize(f)`: f with every repeated sub-formula computed once (always so in keops-ts): f. */
export const AutoFactorizeOp = defineMacro({
  name: "AutoFactorize",
  arity: 1,
  nattrs: 0,
  dim: ([f]) => f!,
  expand: (self) => self.args[0]!,
});

export const factorize = (f: Formula, g: Formula): Formula => apply(FactorizeOp, [f, g]);
export const autoFactorize = (f: Formula): Formula => apply(AutoFactorizeOp, [f]);
