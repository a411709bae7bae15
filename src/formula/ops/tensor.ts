/**
 * Tensor algebra on the vector dimension (row-major): MatVecMult, VecMatMult, TensorProd,
 * TensorDot (KeOps's general contraction with permutation) and Kron.
 */
import { apply, defineOp, type Formula, type LowerContext, type OpDef } from "../node.js";
import { KeOpsError } from "../../errors.js";
import { total } from "./inner-sum.js";

function divisible(name: string, big: number, small: number, what: string): number {
  if (big % small !== 0)
    throw new KeOpsError(`${name}: expected ${what}, got dimensions ${big} and ${small}`);
  return big / small;
}

/** `MatVecMult(A,v)`: A (dim m·n, row-major m×n) times v (dim n), dim m. */
export const MatVecMultOp = defineOp({
  name: "MatVecMult",
  arity: 2,
  nattrs: 0,
  dim: ([a, v]) => divisible("MatVecMult", a!, v!, "a matrix A of dimension m·n and a vector of dimension n"),
  lower: (ctx, [A, v], _t, m) => {
    const n = v!.length;
    return Array.from({ length: m }, (_, i) => total(ctx.b, v!.map((x, k) => ctx.b.bin("mul", A![i * n + k]!, x))));
  },
  vjp: ([A, v], _t, _s, g) => [tensorprod(g, v!), vecmatmult(g, A!)],
});

/** `VecMatMult(v,A)`: vᵀ A with v of dim m and A of dim m·n (row-major m×n), dim n. */
export const VecMatMultOp = defineOp({
  name: "VecMatMult",
  arity: 2,
  nattrs: 0,
  dim: ([v, a]) => divisible("VecMatMult", a!, v!, "a vector of dimension m and a matrix A of dimension m·n"),
  lower: (ctx, [v, A], _t, n) =>
    Array.from({ length: n }, (_, j) => total(ctx.b, v!.map((x, i) => ctx.b.bin("mul", x, A![i * n + j]!)))),
  vjp: ([v, A], _t, _s, g) => [matvecmult(A!, g), tensorprod(v!, g)],
});

/** `TensorProd(a,b)`: the outer product, row-major (dim a·b). */
export const TensorProdOp = defineOp({
  name: "TensorProd",
  arity: 2,
  nattrs: 0,
  dim: ([a, b]) => a! * b!,
  lower: (ctx, [a, b]) => a!.flatMap((x) => b!.map((y) => ctx.b.bin("mul", x, y))),
  vjp: ([a, b], _t, _s, g) => [matvecmult(g, b!), vecmatmult(a!, g)],
});

export const matvecmult = (A: Formula, v: Formula): Formula => apply(MatVecMultOp, [A, v]);
export const vecmatmult = (v: Formula, A: Formula): Formula => apply(VecMatMultOp, [v, A]);
export const tensorprod = (a: Formula, b: Formula): Formula => apply(TensorProdOp, [a, b]);

// ---- TensorDot ---------------------------------------------------------------------------------

/** The lists of a TensorDot, as KeOps takes them. */
export interface TensorDotSpec {
  readonly dimsfa: readonly number[];
  readonly dimsfb: readonly number[];
  readonly contfa: readonly number[];
  readonly contfb: readonly number[];
  /** Output position of each kept axis (kept axes of a, then of b); identity by default. */
  readonly permute: readonly number[];
}

const prod = (xs: readonly number[]): number => xs.reduce((p, x) => p * x, 1);
const range = (n: number): number[] => Array.from({ length: n }, (_, k) => k);
const listStr = (xs: readonly number[]): string => `[${xs.join(",")}]`;

/** Packs a spec into numeric attributes: [na, nb, nc, dimsfa…, dimsfb…, contfa…, contfb…, permute…]. */
function encode(s: TensorDotSpec): number[] {
  return [s.dimsfa.length, s.dimsfb.length, s.contfa.length, ...s.dimsfa, ...s.dimsfb, ...s.contfa, ...s.contfb, ...s.permute];
}

/** The spec of a TensorDot node; without attributes, the outer product of a and b. */
function decode(attrs: readonly number[], da: number, db: number): TensorDotSpec {
  if (attrs.length === 0) return { dimsfa: [da], dimsfb: [db], contfa: [], contfb: [], permute: [0, 1] };
  const [na, nb, nc] = attrs as [number, number, number];
  let p = 3;
  const take = (n: number): number[] => attrs.slice(p, (p += n));
  const dimsfa = take(na), dimsfb = take(nb), contfa = take(nc), contfb = take(nc);
  return { dimsfa, dimsfb, contfa, contfb, permute: take(na + nb - 2 * nc) };
}

/** Kept axes of a and b, and the output shape. */
function layout(s: TensorDotSpec) {
  const keepA = range(s.dimsfa.length).filter((k) => !s.contfa.includes(k));
  const keepB = range(s.dimsfb.length).filter((k) => !s.contfb.includes(k));
  const keepdims = [...keepA.map((k) => s.dimsfa[k]!), ...keepB.map((k) => s.dimsfb[k]!)];
  const outShape: number[] = new Array(keepdims.length);
  keepdims.forEach((d, k) => (outShape[s.permute[k]!] = d));
  return { keepA, keepB, keepdims, outShape };
}

function isPermutation(p: readonly number[], n: number): boolean {
  return p.length === n && [...p].sort((x, y) => x - y).every((v, k) => v === k);
}

/** Validates a spec against the operand dimensions; returns the output dimension. */
function checkSpec(name: string, s: TensorDotSpec, da: number, db: number): number {
  const bad = (m: string): never => {
    throw new KeOpsError(`${name}: ${m}`);
  };
  const posInts = (xs: readonly number[]) => xs.every((x) => Number.isSafeInteger(x) && x >= 1);
  if (!posInts(s.dimsfa) || prod(s.dimsfa) !== da)
    bad(`expected dimsfa to be positive integers whose product is the dimension of a (${da}), got ${listStr(s.dimsfa)}`);
  if (!posInts(s.dimsfb) || prod(s.dimsfb) !== db)
    bad(`expected dimsfb to be positive integers whose product is the dimension of b (${db}), got ${listStr(s.dimsfb)}`);
  if (s.contfa.length !== s.contfb.length)
    bad(`expected contfa and contfb of the same length, got ${listStr(s.contfa)} and ${listStr(s.contfb)}`);
  const axes = (xs: readonly number[], n: number) => xs.every((x) => Number.isInteger(x) && x >= 0 && x < n) && new Set(xs).size === xs.length;
  if (!axes(s.contfa, s.dimsfa.length)) bad(`expected contfa to be distinct axes of a in [0, ${s.dimsfa.length}), got ${listStr(s.contfa)}`);
  if (!axes(s.contfb, s.dimsfb.length)) bad(`expected contfb to be distinct axes of b in [0, ${s.dimsfb.length}), got ${listStr(s.contfb)}`);
  s.contfa.forEach((ax, m) => {
    if (s.dimsfa[ax] !== s.dimsfb[s.contfb[m]!])
      bad(`contracted axes must have the same size, got ${s.dimsfa[ax]} (axis ${ax} of a) and ${s.dimsfb[s.contfb[m]!]} (axis ${s.contfb[m]} of b)`);
  });
  const K = s.dimsfa.length + s.dimsfb.length - 2 * s.contfa.length;
  if (!isPermutation(s.permute, K)) bad(`expected permute to be a permutation of 0…${K - 1}, got ${listStr(s.permute)}`);
  return prod(layout(s).keepdims);
}

/** Row-major flat index of a multi-index. */
function flat(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let k = 0; k < shape.length; k++) f = f * shape[k]! + idx[k]!;
  return f;
}
/** Multi-index of a row-major flat index. */
function unflat(f: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) (idx[k] = f % shape[k]!, (f = Math.floor(f / shape[k]!)));
  return idx;
}

/** For each output component, the (a index, b index) pairs whose products it sums. */
export function tensorDotTerms(s: TensorDotSpec): [number, number][][] {
  const { keepA, keepB, outShape } = layout(s);
  const contdims = s.contfa.map((ax) => s.dimsfa[ax]!);
  const nc = prod(contdims);
  return range(prod(outShape)).map((o) => {
    const oi = unflat(o, outShape);
    const t = s.permute.map((pos) => oi[pos]!); // index of each kept axis
    const terms: [number, number][] = [];
    for (let c = 0; c < nc; c++) {
      const ci = unflat(c, contdims);
      const ia = new Array<number>(s.dimsfa.length), ib = new Array<number>(s.dimsfb.length);
      keepA.forEach((ax, k) => (ia[ax] = t[k]!));
      keepB.forEach((ax, k) => (ib[ax] = t[keepA.length + k]!));
      s.contfa.forEach((ax, m) => (ia[ax] = ci[m]!));
      s.contfb.forEach((ax, m) => (ib[ax] = ci[m]!));
      terms.push([flat(ia, s.dimsfa), flat(ib, s.dimsfb)]);
    }
    return terms;
  });
}

/** Adjoints of TensorDot(a, b; s) for the cotangent g (KeOps's rule, derived independently). */
function tensorDotVjp(a: Formula, b: Formula, s: TensorDotSpec, g: Formula): [Formula, Formula] {
  const { keepA, keepB, outShape } = layout(s);
  const nKa = keepA.length, nKb = keepB.length;
  const sorted = (xs: readonly number[]) => [...xs].sort((x, y) => x - y);
  // cotangent of a: contract g with b over b's kept axes, then put the axes back in a's order
  const posA = sorted(s.permute.slice(0, nKa));
  const restB = sorted(s.contfb);
  const permA = [
    ...posA.map((p) => keepA[s.permute.indexOf(p)]!),
    ...restB.map((q) => s.contfa[s.contfb.indexOf(q)]!),
  ];
  const ga = tensordot(g, b, { dimsfa: outShape, dimsfb: s.dimsfb, contfa: s.permute.slice(nKa), contfb: keepB, permute: permA });
  const posB = sorted(s.permute.slice(nKa));
  const restA = sorted(s.contfa);
  const permB = [
    ...posB.map((p) => keepB[s.permute.indexOf(p) - nKa]!),
    ...restA.map((q) => s.contfb[s.contfa.indexOf(q)]!),
  ];
  const gb = tensordot(g, a, { dimsfa: outShape, dimsfb: s.dimsfa, contfa: s.permute.slice(0, nKa), contfb: keepA, permute: permB });
  return [ga, gb];
}

/**
 * One op declaration per attribute count (the lists have variable lengths). The member without
 * attributes is the one registered under the name (for the string parser).
 */
function listFamily<T extends OpDef>(make: (nattrs: number) => T): { registered: T; of: (nattrs: number) => OpDef } {
  const registered = defineOp(make(0));
  const defs = new Map<number, OpDef>([[0, registered]]);
  return { registered, of: (n) => {
    let d = defs.get(n);
    if (!d) defs.set(n, (d = make(n)));
    return d;
  } };
}

const tensorDotFamily = listFamily((nattrs) => ({
  name: "TensorDot",
  arity: 2,
  nattrs,
  dim: ([da, db]: readonly number[], attrs: readonly number[]) => checkSpec("TensorDot", decode(attrs, da!, db!), da!, db!),
  lower: (ctx: LowerContext, [a, b]: readonly (readonly number[])[], attrs: readonly number[]) =>
    tensorDotTerms(decode(attrs, a!.length, b!.length)).map((terms) =>
      total(ctx.b, terms.map(([ia, ib]) => ctx.b.bin("mul", a![ia]!, b![ib]!)))),
  print: ([a, b]: readonly string[], attrs: readonly number[]) => {
    if (attrs.length === 0) return `TensorDot(${a},${b})`;
    const s = decode(attrs, 0, 0);
    const lists = [s.dimsfa, s.dimsfb, s.contfa, s.contfb];
    if (s.permute.some((p, k) => p !== k)) lists.push(s.permute);
    return `TensorDot(${a},${b},${lists.map(listStr).join(",")})`;
  },
  vjp: ([a, b]: readonly Formula[], attrs: readonly number[], _s: Formula, g: Formula) =>
    tensorDotVjp(a!, b!, decode(attrs, a!.dim, b!.dim), g),
  /** Builds the node from KeOps's lists (for a parser that reads `[…]` lists). */
  fromLists(args: readonly Formula[], lists: readonly (readonly number[])[]): Formula {
    if (args.length !== 2 || (lists.length !== 4 && lists.length !== 5))
      throw new KeOpsError(`TensorDot: expected 2 operands then 4 or 5 lists, got ${args.length} operand(s) and ${lists.length} list(s)`);
    const [dimsfa, dimsfb, contfa, contfb, permute] = lists as (readonly number[])[];
    return tensordot(args[0]!, args[1]!, { dimsfa: dimsfa!, dimsfb: dimsfb!, contfa: contfa!, contfb: contfb!, permute });
  },
}));

/**
 * `TensorDot(a,b,dimsfa,dimsfb,contfa,contfb[,permute])`: a and b seen as row-major tensors of
 * shapes dimsfa and dimsfb, contracted over the axes contfa of a with contfb of b (paired in
 * order), the kept axes (those of a, then those of b) placed at the output positions `permute`.
 */
export function tensordot(a: Formula, b: Formula, spec: TensorDotLists): Formula {
  const { op, attrs } = tensorDotParts(spec);
  return apply(op, [a, b], attrs);
}

/** TensorDot's lists, `permute` optional (identity). */
export type TensorDotLists = Omit<TensorDotSpec, "permute"> & { permute?: readonly number[] };

/** The op declaration and numeric attributes of a TensorDot with these lists (for `LazyTensor.op`). */
export function tensorDotParts(spec: TensorDotLists): { op: OpDef; attrs: number[] } {
  if (spec.contfa.length !== spec.contfb.length)
    throw new KeOpsError(`TensorDot: expected contfa and contfb of the same length, got ${listStr(spec.contfa)} and ${listStr(spec.contfb)}`);
  const K = spec.dimsfa.length + spec.dimsfb.length - 2 * spec.contfa.length;
  const attrs = encode({ ...spec, permute: spec.permute ?? range(Math.max(K, 0)) });
  return { op: tensorDotFamily.of(attrs.length), attrs };
}

/**
 * The registered `TensorDot` entry. Without lists, `TensorDot(a,b)` is the outer product. KeOps's
 * attributes are lists, which flat numeric attributes cannot carry: a parser that reads `[…]`
 * lists builds the node with `TensorDotOp.fromLists(args, lists)`; {@link tensordot} builds it in code.
 */
export const TensorDotOp = tensorDotFamily.registered;

// ---- Kron --------------------------------------------------------------------------------------

const kronSpec = (attrs: readonly number[], da: number, db: number): TensorDotSpec => {
  if (attrs.length === 0) return decode([], da, db);
  const n = attrs[0]!;
  return {
    dimsfa: attrs.slice(1, 1 + n),
    dimsfb: attrs.slice(1 + n, 1 + 2 * n),
    contfa: [],
    contfb: [],
    permute: [...range(n).map((k) => 2 * k), ...range(n).map((k) => 2 * k + 1)],
  };
};

const kronFamily = listFamily((nattrs) => ({
  name: "Kron",
  arity: 2,
  nattrs,
  dim: ([da, db]: readonly number[], attrs: readonly number[]) => {
    if (attrs.length !== 0 && attrs.length !== 1 + 2 * attrs[0]!)
      throw new KeOpsError("Kron: expected dimsfa and dimsfb of the same length");
    return checkSpec("Kron", kronSpec(attrs, da!, db!), da!, db!);
  },
  lower: (ctx: LowerContext, [a, b]: readonly (readonly number[])[], attrs: readonly number[]) =>
    tensorDotTerms(kronSpec(attrs, a!.length, b!.length)).map(([[ia, ib]]) => ctx.b.bin("mul", a![ia!]!, b![ib!]!)),
  print: ([a, b]: readonly string[], attrs: readonly number[]) => {
    if (attrs.length === 0) return `Kron(${a},${b})`;
    const s = kronSpec(attrs, 0, 0);
    return `Kron(${a},${b},${listStr(s.dimsfa)},${listStr(s.dimsfb)})`;
  },
  vjp: ([a, b]: readonly Formula[], attrs: readonly number[], _s: Formula, g: Formula) =>
    tensorDotVjp(a!, b!, kronSpec(attrs, a!.dim, b!.dim), g),
  /** Builds the node from KeOps's lists (for a parser that reads `[…]` lists). */
  fromLists(args: readonly Formula[], lists: readonly (readonly number[])[]): Formula {
    if (args.length !== 2 || lists.length !== 2)
      throw new KeOpsError(`Kron: expected 2 operands then 2 lists, got ${args.length} operand(s) and ${lists.length} list(s)`);
    return kron(args[0]!, args[1]!, lists[0]!, lists[1]!);
  },
}));

/** `Kron(a,b,dimsfa,dimsfb)`: the Kronecker product of a (shape dimsfa) and b (shape dimsfb), flattened (as np.kron). */
export function kron(a: Formula, b: Formula, dimsfa: readonly number[], dimsfb: readonly number[]): Formula {
  const { op, attrs } = kronParts(dimsfa, dimsfb);
  return apply(op, [a, b], attrs);
}

/** The op declaration and numeric attributes of a Kron with these shapes (for `LazyTensor.op`). */
export function kronParts(dimsfa: readonly number[], dimsfb: readonly number[]): { op: OpDef; attrs: number[] } {
  if (dimsfa.length !== dimsfb.length || dimsfa.length === 0)
    throw new KeOpsError(`Kron: expected dimsfa and dimsfb non-empty, of the same length, got ${listStr(dimsfa)} and ${listStr(dimsfb)}`);
  const attrs = [dimsfa.length, ...dimsfa, ...dimsfb];
  return { op: kronFamily.of(attrs.length), attrs };
}

/** The registered `Kron` entry: without lists, `Kron(a,b)` is the outer product (see {@link TensorDotOp}). */
export const KronOp = kronFamily.registered;
