/**
 * The symbolic calculus methods of LazyTensor: `grad(v, e)`, `diff(v, u)`, `gradMatrix(v)`,
 * `divergence(v)`, `laplacian(v)`, and KeOps's explicit factorisations `factorize(g)` /
 * `autoFactorize()`.
 */
import { argError, said } from "../errors.js";
import { DiffOp, GradOp } from "../autodiff/grad.js";
import { DivergenceOp, GradMatrixOp, LaplacianOp } from "../autodiff/calculus.js";
import { AutoFactorizeOp, FactorizeOp } from "../formula/ops/factorize.js";
import { LazyTensor, toLazy, type Operand } from "./lazytensor.js";

type Either<A extends boolean, B extends boolean> = A extends true ? true : B extends true ? true : false;

declare module "./lazytensor.js" {
  interface LazyTensor<S extends boolean = false> {
    /**
     * `Grad(F,v,e)`: the gradient of ⟨this, e⟩ with respect to the variable `v` (a LazyTensor that
     * is a single variable), as pykeops's `x.grad(v, e)`. `e` has this formula's dimension; the
     * result has v's dimension.
     */
    grad<T extends boolean = false>(v: LazyTensor<boolean>, e: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Either<S, T>>;
    /**
     * `Diff(F,v,u)`: the differential of this formula with respect to the variable `v`, applied to
     * `u` (of v's dimension); the result has this formula's dimension.
     */
    diff<T extends boolean = false>(v: LazyTensor<boolean>, u: LazyTensor<T> | Exclude<Operand, LazyTensor<boolean>>): LazyTensor<Either<S, T>>;
    /**
     * `GradMatrix(F,v)`: the Jacobian of this formula with respect to the variable `v`, KeOps's
     * packing: component k·V + l is ∂F_k/∂v_l (pykeops `grad_matrix`).
     */
    gradMatrix(v: LazyTensor<boolean>): LazyTensor<S>;
    /** `Divergence(F,v)`: Σ_k ∂F_k/∂v_k, F of v's dimension (pykeops `divergence`). */
    divergence(v: LazyTensor<boolean>): LazyTensor<S>;
    /** `Laplacian(F,v)`: Σ_k ∂²F/∂v_k², F scalar (pykeops `laplacian`). */
    laplacian(v: LazyTensor<boolean>): LazyTensor<S>;
    /**
     * `Factorize(F,g)` (pykeops `factorize`): F with its occurrences of g computed once. keops-ts
     * always shares repeated sub-formulas, so the value is F's; kept for the formula's KeOps form.
     */
    factorize<T extends boolean = false>(g: LazyTensor<T>): LazyTensor<Either<S, T>>;
    /** `AutoFactorize(F)` (pykeops `auto_factorize`): F (every repeated sub-formula is shared anyway). */
    autoFactorize(): LazyTensor<S>;
  }
}

function checkVariable(v: unknown, method: string): LazyTensor<boolean> {
  if (!(v instanceof LazyTensor)) argError(`${method}: v`, "a LazyTensor that is a single variable (Vi, Vj, Pm, a tensor or [ind, dim, cat])", v);
  if (!v.node.isVar) argError(`${method}: v`, "a LazyTensor that is a single variable (Vi, Vj, Pm, a tensor or [ind, dim, cat])", said(`the formula ${v.formula}`));
  return v;
}

LazyTensor.prototype.grad = function grad(this: LazyTensor<boolean>, v: LazyTensor<boolean>, e: Operand) {
  const el = toLazy(e, "grad: e");
  if (el.ndim !== this.ndim) argError("grad: e", `dimension ${this.ndim} (the dimension of the formula)`, said(`dimension ${el.ndim}`));
  return this.op(GradOp, [checkVariable(v, "grad"), el]);
} as LazyTensor<boolean>["grad"];

LazyTensor.prototype.diff = function diff(this: LazyTensor<boolean>, v: LazyTensor<boolean>, u: Operand) {
  const vv = checkVariable(v, "diff");
  const ul = toLazy(u, "diff: u");
  if (ul.ndim !== vv.ndim) argError("diff: u", `dimension ${vv.ndim} (the dimension of v)`, said(`dimension ${ul.ndim}`));
  return this.op(DiffOp, [vv, ul]);
} as LazyTensor<boolean>["diff"];

LazyTensor.prototype.gradMatrix = function gradMatrix(this: LazyTensor<boolean>, v: LazyTensor<boolean>) {
  return this.op(GradMatrixOp, [checkVariable(v, "gradMatrix")]);
} as LazyTensor<boolean>["gradMatrix"];

LazyTensor.prototype.divergence = function divergence(this: LazyTensor<boolean>, v: LazyTensor<boolean>) {
  const vv = checkVariable(v, "divergence");
  if (this.ndim !== vv.ndim) argError("divergence: v", `a variable of the formula's dimension ${this.ndim}`, said(`dimension ${vv.ndim}`));
  return this.op(DivergenceOp, [vv]);
} as LazyTensor<boolean>["divergence"];

LazyTensor.prototype.laplacian = function laplacian(this: LazyTensor<boolean>, v: LazyTensor<boolean>) {
  if (this.ndim !== 1) argError("laplacian", "a scalar formula (dimension 1)", said(`dimension ${this.ndim}`));
  return this.op(LaplacianOp, [checkVariable(v, "laplacian")]);
} as LazyTensor<boolean>["laplacian"];

LazyTensor.prototype.factorize = function factorize(this: LazyTensor<boolean>, g: LazyTensor<boolean>) {
  if (!(g instanceof LazyTensor)) argError("factorize: g", "a LazyTensor (a sub-formula of this one)", g);
  return this.op(FactorizeOp, [g]);
} as LazyTensor<boolean>["factorize"];

LazyTensor.prototype.autoFactorize = function autoFactorize(this: LazyTensor<boolean>) {
  return this.op(AutoFactorizeOp);
} as LazyTensor<boolean>["autoFactorize"];
