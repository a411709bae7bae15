/** The symbolic calculus methods of LazyTensor: `grad(v, e)` and `diff(v, u)`. */
import { argError, said } from "../errors.js";
import { DiffOp, GradOp } from "../autodiff/grad.js";
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
