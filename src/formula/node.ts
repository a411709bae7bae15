/**
 * The formula IR: immutable, hash-consed nodes. Building the same sub-formula twice yields the
 * same object, so equality is identity and common sub-expressions are shared for free.
 */
import { KeOpsError } from "../errors.js";
import type { SsaBuilder } from "../ir/ssa.js";

/** Variable categories, as in KeOps: 0 indexed by i, 1 indexed by j, 2 parameter. */
export type Cat = 0 | 1 | 2;

/** What an op's lowering gets: the SSA builder and the input slot of each variable. */
export interface LowerContext {
  readonly b: SsaBuilder;
  /** Input slot of variable `ind` (as numbered in the formula). */
  slotOf(ind: number): number;
}

/**
 * The full gradient of an operand for a cotangent, with respect to the variable being
 * differentiated (undefined when the operand does not depend on it): what `OpDef.gradT` gets.
 */
export type GradOf = (operand: Formula, cotangent: Formula) => Formula | undefined;

/**
 * Declaration of one operation — everything about it in one place: its KeOps name (printing and
 * parsing), its dimension rule, its lowering to scalar SSA.
 */
export interface OpDef {
  /** KeOps name (`Exp`, `SqDist`, …); for infix ops the name used by the string parser (`Add`). */
  readonly name: string;
  /** Number of formula operands. */
  readonly arity: number;
  /** Number of numeric attributes (printed after the operands: `Pow(x,3)`, `Extract(x,0,2)`). */
  readonly nattrs: number;
  /** Infix symbol: printed `(A + B)`. */
  readonly infix?: string;
  /** Output dimension from operand dimensions; throws a KeOpsError when they do not fit. */
  dim(argDims: readonly number[], attrs: readonly number[]): number;
  /** Lowers to SSA: one value per output component. */
  lower(ctx: LowerContext, args: readonly (readonly number[])[], attrs: readonly number[], dim: number): number[];
  /** Custom printing (default `Name(a,b,attrs…)` or `(a op b)`). */
  print?(args: readonly string[], attrs: readonly number[]): string;
  /**
   * Reverse-mode derivative (vector–Jacobian product) for symbolic autodiff. Given the operands,
   * the node itself and the cotangent `g` of its output (dimension `self.dim`), returns the
   * cotangent of each operand (with that operand's dimension: a broadcast dim-1 operand gets the
   * sum over components), or undefined where the op is not differentiable in that operand (zero).
   */
  vjp?(args: readonly Formula[], attrs: readonly number[], self: Formula, g: Formula): readonly (Formula | undefined)[];
  /**
   * Whole-gradient rule, used instead of `vjp` when present: this node's contribution to the
   * gradient with respect to the variable being differentiated, from its cotangent `g` and
   * `gradOf(operand, cotangent)` (that operand's full gradient, undefined where the operand does
   * not depend on the variable), or undefined for none. For ops that must *select* a branch's
   * gradient rather than multiply it by a 0/1 mask (IfElse, Clamp, ReLU): an infinite or NaN
   * derivative in the branch not taken then cannot leak into the result (0·∞ = NaN).
   */
  gradT?(args: readonly Formula[], attrs: readonly number[], self: Formula, g: Formula, gradOf: GradOf): Formula | undefined;
  /**
   * For ops whose KeOps attributes are integer lists (`TensorDot(a,b,[2,3],[3],[1],[0])`): builds
   * the node from the operands and the lists, as the string parser reads them.
   */
  fromLists?(args: readonly Formula[], lists: readonly (readonly number[])[]): Formula;
  /**
   * A macro op (`Grad`, `Diff`): the equivalent formula of ordinary ops the node stands for,
   * substituted for it before lowering (its `lower` is then never called).
   */
  expand?(self: Formula): Formula;
}

const registry = new Map<string, OpDef>();

/** Declares an op and registers it under its name (for the string parser). */
export function defineOp<T extends OpDef>(def: T): T {
  if (registry.has(def.name)) throw new Error(`op ${def.name} declared twice`);
  registry.set(def.name, def);
  return def;
}

/**
 * Declares a macro op (`Grad`, `Diff`, `GradMatrix`, `ComplexAbs`, `Factorize` …): it has no
 * lowering of its own; `expand` gives the formula of ordinary ops it stands for, substituted
 * before lowering (compile/lower.ts), so its `lower` is never called.
 */
export function defineMacro<T extends Omit<OpDef, "lower"> & { expand(self: Formula): Formula }>(def: T): T & OpDef {
  return defineOp({
    ...def,
    lower: (): never => {
      throw new Error(`internal: ${def.name} is a macro op, expanded before lowering`);
    },
  });
}

/** Looks an op up by its KeOps name. */
export function opByName(name: string): OpDef | undefined {
  return registry.get(name);
}

/** All registered ops. */
export function allOps(): OpDef[] {
  return [...registry.values()];
}

let nextUid = 1;
/**
 * The hash-consing table: node key → node, least recently used first, bounded (strong
 * references: a WeakRef table cannot shrink inside one synchronous task — the language keeps
 * every WeakRef target created or read during a task alive until it ends — so a loop of calls
 * each building a new formula grew without bound). Variables stay (few, and their identity is
 * what every formula refers to). A node evicted while still in use is rebuilt as an equal, new
 * object: caches keyed by structure ({@link dagKey}) still hit.
 */
const interned = new Map<string, Formula>();
const variables = new Map<string, Formula>();
/** Nodes the table keeps (an object so that tests can lower it). */
export const internLimits = { nodes: 8192 };

/** A formula node. Construct through {@link apply}; never mutate. */
export class Formula {
  /** Unique id (hash-consing key component). */
  readonly uid = nextUid++;
  private printed?: string;
  private varsCache?: readonly Formula[];

  /** @internal use {@link apply}. */
  constructor(
    readonly op: OpDef,
    readonly args: readonly Formula[],
    readonly attrs: readonly number[],
    readonly dim: number,
    readonly key: string,
  ) {}

  /**
   * KeOps syntax, e.g. `Sum(Square((Var(0,3,0) - Var(1,3,1))))`: the DAG printed as a tree. A
   * formula whose tree form would exceed {@link MAX_TREE_CHARS} characters (deep sharing: the
   * tree grows exponentially with it) prints in the let-bound form of {@link letForm} instead.
   * Never used for cache keys: those are {@link dagKey}, linear in the DAG's size.
   */
  toString(): string {
    if (this.printed !== undefined) return this.printed;
    if (treeLength(this) > MAX_TREE_CHARS) return letForm(this);
    // iterative (operands first), so that a deep formula cannot overflow the stack
    for (const f of postOrder([this]))
      f.printed ??= printNode(f.op, f.args.map((a) => a.printed!), f.attrs);
    return this.printed!;
  }

  /** The distinct variables (Var nodes) in order of first appearance, left to right. */
  vars(): readonly Formula[] {
    // leaves come out of a left-to-right post-order in the order of their first appearance
    this.varsCache ??= postOrder([this]).filter((f) => f.op === VarOp);
    return this.varsCache;
  }

  /** True for a variable node. */
  get isVar(): boolean {
    return this.op === VarOp;
  }
  /** Variable index (Var nodes only). */
  get ind(): number {
    return this.attrs[0]!;
  }
  /** Variable category (Var nodes only). */
  get cat(): Cat {
    return this.attrs[2] as Cat;
  }
}

/** Formats a numeric attribute the way KeOps prints it. */
export function fmtNum(x: number): string {
  return String(x);
}

/** Longest tree form {@link Formula.toString} prints (1 Mi characters); beyond, the let-bound form. */
export const MAX_TREE_CHARS = 1 << 20;

function printNode(op: OpDef, a: readonly string[], attrs: readonly number[]): string {
  if (op.print) return op.print(a, attrs);
  if (op.infix) return `(${a[0]} ${op.infix} ${a[1]})`;
  return `${op.name}(${[...a, ...attrs.map(fmtNum)].join(",")})`;
}

/** Post-order of the distinct nodes of a DAG (operands before their users; each node once). */
export function postOrder(roots: readonly Formula[]): Formula[] {
  const seen = new Set<Formula>();
  const out: Formula[] = [];
  // iterative: a formula may be thousands of levels deep
  const stack: [Formula, number][] = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [f, k] = top;
      if (k < f.args.length) {
        top[1]++;
        const a = f.args[k]!;
        if (!seen.has(a)) {
          seen.add(a);
          stack.push([a, 0]);
        }
      } else {
        stack.pop();
        out.push(f);
      }
    }
  }
  return out;
}

/** Characters of a formula's tree form, estimated from below by the node structure (capped: no overflow). */
function treeLength(root: Formula): number {
  const len = new Map<Formula, number>();
  for (const f of postOrder([root])) {
    let n = f.op.name.length + 2 + f.attrs.length * 2;
    for (const a of f.args) n += len.get(a)! + 1;
    len.set(f, Math.min(n, Number.MAX_SAFE_INTEGER / 4));
  }
  return len.get(root)!;
}

/**
 * The let-bound form of a formula: every node with operands that is used more than once gets a
 * name, printed once: `#1 = (Var(0,3,0) * Var(0,3,0)); #2 = (#1 + Var(0,3,0)); (#2 * #2)`.
 * Linear in the DAG's size, for formulas too deeply shared to print as a tree. (Not parsed back.)
 */
export function letForm(root: Formula): string {
  const order = postOrder([root]);
  const uses = new Map<Formula, number>();
  for (const f of order) for (const a of f.args) uses.set(a, (uses.get(a) ?? 0) + 1);
  const text = new Map<Formula, string>();
  const lines: string[] = [];
  for (const f of order) {
    const t = printNode(f.op, f.args.map((a) => text.get(a)!), f.attrs);
    if (f !== root && f.args.length > 0 && (uses.get(f) ?? 0) > 1) {
      const name = `#${lines.length + 1}`;
      lines.push(`${name} = ${t}`);
      text.set(f, name);
    } else text.set(f, t);
  }
  lines.push(text.get(root)!);
  return lines.join("; ");
}

/**
 * A key that identifies formulas by structure, linear in the size of their DAG: each distinct
 * node once, in post-order, as `Op(operand numbers;attributes)`. Equal for equal formulas in any
 * process (no object ids), so it can key in-memory and on-disk caches.
 */
export function dagKey(roots: readonly Formula[]): string {
  const num = new Map<Formula, number>();
  const parts: string[] = [];
  for (const f of postOrder(roots)) {
    num.set(f, num.size);
    parts.push(`${f.op.name}(${f.args.map((a) => num.get(a)).join(",")};${f.attrs.map((x) => (Object.is(x, -0) ? "-0" : String(x))).join(",")})`);
  }
  return `${parts.join(" ")} -> ${roots.map((r) => num.get(r)).join(",")}`;
}

/** Builds (or finds) the node `op(args; attrs)`, checking dimensions. */
export function apply(op: OpDef, args: readonly Formula[], attrs: readonly number[] = []): Formula {
  if (args.length !== op.arity)
    throw new KeOpsError(`${op.name}: expected ${op.arity} operand(s), got ${args.length}`);
  if (attrs.length !== op.nattrs)
    throw new KeOpsError(`${op.name}: expected ${op.nattrs} numeric argument(s), got ${attrs.length}`);
  const key = `${op.name}(${args.map((a) => a.uid).join(",")};${attrs.join(",")})`;
  const table = args.length === 0 && op.name === "Var" ? variables : interned;
  const hit = table.get(key);
  if (hit) {
    if (table === interned) {
      interned.delete(key);
      interned.set(key, hit);
    }
    return hit;
  }
  const dim = op.dim(args.map((a) => a.dim), attrs);
  const f = new Formula(op, args, attrs, dim, key);
  table.set(key, f);
  while (interned.size > Math.max(1, internLimits.nodes)) interned.delete(interned.keys().next().value as string);
  return f;
}

/** `Var(ind,dim,cat)`: a variable. */
export const VarOp: OpDef = defineOp({
  name: "Var",
  arity: 0,
  nattrs: 3,
  dim: (_d, [, dim]) => dim!,
  lower: (ctx, _a, [ind], dim) => {
    const slot = ctx.slotOf(ind!);
    return Array.from({ length: dim }, (_, c) => ctx.b.load(slot, c));
  },
});

/** The variable `Var(ind,dim,cat)`. */
export function Var(ind: number, dim: number, cat: Cat): Formula {
  if (!Number.isInteger(dim) || dim < 1) throw new KeOpsError(`Var: expected a dimension ≥ 1, got ${dim}`);
  return apply(VarOp, [], [ind, dim, cat]);
}

/**
 * Rebuilds a formula with its variables replaced (memoised over the DAG).
 * `map` returns the replacement of a Var node, or undefined to keep it.
 */
export function substitute(f: Formula, map: (v: Formula) => Formula | undefined): Formula {
  const memo = new Map<Formula, Formula>();
  const rec = (g: Formula): Formula => {
    const hit = memo.get(g);
    if (hit) return hit;
    let r: Formula;
    if (g.isVar) r = map(g) ?? g;
    else {
      const args = g.args.map(rec);
      r = args.every((a, k) => a === g.args[k]) ? g : apply(g.op, args, g.attrs);
    }
    memo.set(g, r);
    return r;
  };
  return rec(f);
}
