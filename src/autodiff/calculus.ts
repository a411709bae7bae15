/**
 * KeOps's symbolic-calculus operators built on `Grad`: `GradMatrix(f,v)` (the Jacobian, one
 * gradient per component of f), `Divergence(f,v)` (its trace) and `Laplacian(f,v)` (the
 * divergence of the gradient of a scalar f). Macro nodes, as `Grad`: they print and parse with
 * KeOps's names and expand, before lowering, into ordinary ops.
 */
import { KeOpsError } from "../errors.js";
import { apply, defineMacro, opByName, type Formula } from "../formula/node.js";
import { add, intCst } from "../formula/ops/arith.js";
import { elem, elemT } from "../formula/ops/vector.js";
import { gradFormula } from "./grad.js";

/** The k-th vector of the standard basis of dimension D (IntCst(1) when D = 1). */
function basis(D: number, k: number): Formula {
  return D === 1 ? intCst(1) : elemT(intCst(1), D, k);
}

/**
 * `GradMatrix(f,v)`: the Jacobian of f with respect to the variable v, as KeOps packs it: the
 * gradients Grad(f, v, e_k) for the standard basis e_0 … e_{F−1} of f's dimension, concatenated
 * (component k·V + l is ∂f_k/∂v_l; dimension F·V).
 */
export const GradMatrixOp = defineMacro({
  name: "GradMatrix",
  arity: 2,
  nattrs: 0,
  dim: ([F, V]) => F! * V!,
  expand: (self) => {
    const [f, v] = self.args as [Formula, Formula];
    const concat = opByName("Concat")!;
    const rows = Array.from({ length: f.dim }, (_, k) => gradFormula(f, v, basis(f.dim, k)));
    return rows.slice(1).reduce((acc, r) => apply(concat, [acc, r]), rows[0]!);
  },
});

/** Σ_k ∂f_k/∂v_k (f and v of the same dimension). */
function divergenceFormula(f: Formula, v: Formula): Formula {
  if (f.dim !== v.dim)
    throw new KeOpsError(`Divergence: expected a formula of the variable's dimension (${v.dim}), got dimension ${f.dim}`);
  const terms = Array.from({ length: f.dim }, (_, k) => {
    const gk = gradFormula(f, v, basis(f.dim, k));
    return f.dim === 1 ? gk : elem(gk, k);
  });
  return terms.slice(1).reduce((acc, t) => add(acc, t), terms[0]!);
}

/** `Divergence(f,v)`: Σ_k ∂f_k/∂v_k, f of v's dimension (scalar). */
export const DivergenceOp = defineMacro({
  name: "Divergence",
  arity: 2,
  nattrs: 0,
  dim: ([F, V]) => {
    if (F !== V) throw new KeOpsError(`Divergence: expected a formula of the variable's dimension (${V}), got dimension ${F}`);
    return 1;
  },
  expand: (self) => divergenceFormula(self.args[0]!, self.args[1]!),
});

/** `Laplacian(f,v)`: Σ_k ∂²f/∂v_k², f scalar: the divergence of Grad(f, v, 1). */
export const LaplacianOp = defineMacro({
  name: "Laplacian",
  arity: 2,
  nattrs: 0,
  dim: ([F]) => {
    if (F !== 1) throw new KeOpsError(`Laplacian: expected a scalar formula (dimension 1), got dimension ${F}`);
    return 1;
  },
  expand: (self) => {
    const [f, v] = self.args as [Formula, Formula];
    return divergenceFormula(gradFormula(f, v, intCst(1)), v);
  },
});

export const gradMatrix = (f: Formula, v: Formula): Formula => apply(GradMatrixOp, [f, v]);
export const divergence = (f: Formula, v: Formula): Formula => apply(DivergenceOp, [f, v]);
export const laplacian = (f: Formula, v: Formula): Formula => apply(LaplacianOp, [f, v]);
