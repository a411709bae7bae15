/**
 * Symbolic differentiation, KeOps style: `Grad(F,v,e)` (reverse mode, the vector–Jacobian
 * product e ↦ (∂F/∂v)ᵀ·e) and `Diff(F,v,u)` (forward mode, u ↦ (∂F/∂v)·u) are formula nodes
 * that print as KeOps prints them and expand, just before lowering, into ordinary ops built by
 * reverse accumulation over the formula DAG with each op's `vjp`.
 */
import { KeOpsError } from "../errors.js";
import { Var, apply, defineMacro, opByName, type Formula } from "../formula/node.js";
import { add, intCst } from "../formula/ops/arith.js";
import { sumT } from "../formula/ops/inner-sum.js";

function requireVar(op: string, v: Formula): void {
  if (!v.isVar) throw new KeOpsError(`${op}: expected a variable (Var) as the operand to differentiate with respect to, got ${v}`);
}

/** `Grad(F,v,e)`: the gradient of ⟨F, e⟩ with respect to the variable v (dimension of v). */
export const GradOp = defineMacro({
  name: "Grad",
  arity: 3,
  nattrs: 0,
  dim: ([dF, dv, de]) => {
    if (de !== dF) throw new KeOpsError(`Grad: expected the gradient input e to have the dimension of the formula (${dF}), got dimension ${de}`);
    return dv!;
  },
  expand: (self) => {
    const [F, v, e] = self.args as [Formula, Formula, Formula];
    return gradFormula(F, v, e);
  },
});

/** `Diff(F,v,u)`: the differential of F with respect to the variable v, applied to u (dimension of F). */
export const DiffOp = defineMacro({
  name: "Diff",
  arity: 3,
  nattrs: 0,
  dim: ([dF, dv, du]) => {
    if (du !== dv) throw new KeOpsError(`Diff: expected the direction u to have the dimension of the variable (${dv}), got dimension ${du}`);
    return dF!;
  },
  expand: (self) => {
    const [F, v, u] = self.args as [Formula, Formula, Formula];
    return diffFormula(F, v, u);
  },
});

/** The node `Grad(F,v,e)` (checked: v a variable, e of F's dimension). */
export function grad(F: Formula, v: Formula, e: Formula): Formula {
  requireVar("Grad", v);
  return apply(GradOp, [F, v, e]);
}

/** The node `Diff(F,v,u)` (checked: v a variable, u of v's dimension). */
export function diff(F: Formula, v: Formula, u: Formula): Formula {
  requireVar("Diff", v);
  return apply(DiffOp, [F, v, u]);
}

/** A zero vector of dimension `dim` (`Zero(dim)` when the op exists, else `SumT(IntCst(0),dim)`). */
export function zeroFormula(dim: number): Formula {
  const z = opByName("Zero");
  if (z && z.arity === 0 && z.nattrs === 1) return apply(z, [], [dim]);
  return sumT(intCst(0), dim);
}

/** Replaces every macro node (Grad, Diff, …) by its expansion, innermost first. */
export function expandMacros(f: Formula): Formula {
  const memo = new Map<Formula, Formula>();
  const rec = (g: Formula): Formula => {
    let r = memo.get(g);
    if (r) return r;
    const args = g.args.map(rec);
    r = args.every((a, k) => a === g.args[k]) ? g : apply(g.op, args, g.attrs);
    if (r.op.expand) r = rec(r.op.expand(r));
    memo.set(g, r);
    return r;
  };
  return rec(f);
}

/** Nodes of `f` in post-order (operands before the node). */
function postOrder(f: Formula): Formula[] {
  const out: Formula[] = [];
  const seen = new Set<Formula>();
  const stack: [Formula, number][] = [[f, 0]];
  seen.add(f);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, k] = top;
    if (k < node.args.length) {
      top[1]++;
      const a = node.args[k]!;
      if (!seen.has(a)) (seen.add(a), stack.push([a, 0]));
    } else {
      stack.pop();
      out.push(node);
    }
  }
  return out;
}

/**
 * The expanded gradient of ⟨F, e⟩ with respect to the variable v: reverse accumulation over F's
 * DAG (each node visited once, cotangents of shared nodes summed), using each op's `vjp`.
 * Nodes that do not depend on v are never differentiated; a node on a path to v whose op has no
 * `vjp` raises a KeOpsError naming the op. An op with a `gradT` (a branch-selecting op) adds its
 * whole contribution to v's gradient directly, from the full gradients of its operands.
 */
export function gradFormula(F: Formula, v: Formula, e: Formula): Formula {
  requireVar("Grad", v);
  if (e.dim !== F.dim)
    throw new KeOpsError(`Grad: expected the gradient input e to have the dimension of the formula (${F.dim}), got dimension ${e.dim}`);
  const f = expandMacros(F);
  const order = postOrder(f);
  const depends = new Set<Formula>();
  for (const n of order) if (n === v || n.args.some((a) => depends.has(a))) depends.add(n);
  if (!depends.has(f)) return zeroFormula(v.dim);
  const ct = new Map<Formula, Formula>([[f, e]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    const g = ct.get(n);
    if (!g || n.isVar || !depends.has(n)) continue;
    if (n.op.gradT) {
      const gradOf = (a: Formula, c: Formula): Formula | undefined => (depends.has(a) ? gradFormula(a, v, c) : undefined);
      const c = n.op.gradT(n.args, n.attrs, n, g, gradOf);
      if (c) {
        if (c.dim !== v.dim)
          throw new Error(`internal: the gradT of ${n.op.name} gave a gradient of dimension ${c.dim} for a variable of dimension ${v.dim}`);
        const prev = ct.get(v);
        ct.set(v, prev ? add(prev, c) : c);
      }
      continue;
    }
    const vjp = n.op.vjp;
    if (!vjp)
      throw new KeOpsError(`Grad: the operation ${n.op.name} has no derivative (vjp); cannot differentiate ${n} with respect to ${v}`);
    const cts = vjp.call(n.op, n.args, n.attrs, n, g);
    n.args.forEach((a, i) => {
      const c = cts[i];
      if (!c || !depends.has(a)) return;
      if (c.dim !== a.dim)
        throw new Error(`internal: the vjp of ${n.op.name} gave a cotangent of dimension ${c.dim} for an operand of dimension ${a.dim}`);
      const prev = ct.get(a);
      ct.set(a, prev ? add(prev, c) : c);
    });
  }
  return ct.get(v) ?? zeroFormula(v.dim);
}

/** One more than the largest variable index of the formulas. */
export function freshIndex(...fs: readonly Formula[]): number {
  let m = -1;
  for (const f of fs) for (const x of f.vars()) m = Math.max(m, x.ind);
  return m + 1;
}

/**
 * The expanded differential of F with respect to v applied to u, by the transpose trick:
 * Diff(F,v,u) = Grad(Grad(F,v,w), w, u) with w a fresh variable of F's dimension (the inner
 * gradient is linear in w, so w disappears).
 */
export function diffFormula(F: Formula, v: Formula, u: Formula): Formula {
  requireVar("Diff", v);
  if (u.dim !== v.dim)
    throw new KeOpsError(`Diff: expected the direction u to have the dimension of the variable (${v.dim}), got dimension ${u.dim}`);
  const w = Var(freshIndex(F, v, u), F.dim, 0);
  const r = gradFormula(gradFormula(F, v, w), w, u);
  if (r.vars().includes(w)) throw new Error(`internal: Diff(${F},${v},${u}): the transposed gradient still depends on its placeholder`);
  return r;
}
