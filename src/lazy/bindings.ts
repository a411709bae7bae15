/**
 * Bindings of fixed data to formula variables, and numbering of variables as pykeops numbers
 * them: symbolic variables keep their index; fixed ones follow, in order of first appearance.
 */
import { KeOpsError, argError, said } from "../errors.js";
import { Var, substitute, type Cat, type Formula } from "../formula/node.js";
import { sizeOf, type FloatDType, type Tensor } from "../tensor.js";
import type { Ranges } from "../ranges/index.js";

/** Variables indexed from here on are placeholders of fixed data, renumbered before use. */
export const PLACEHOLDER_BASE = 1 << 30;
let nextPlaceholder = PLACEHOLDER_BASE;

/** Fixed data behind a variable. */
export interface Binding {
  /** A tensor, or a list of numbers (a parameter whose dtype follows the formula's). */
  readonly source: Tensor | readonly number[];
  readonly cat: Cat;
  readonly dim: number;
  /** Rows (M or N) for i/j variables; 1 for parameters. */
  readonly rows: number;
  /** The variable's own batch dims. */
  readonly batch: readonly number[];
}

/** A fresh placeholder variable bound to data. */
export function bindVariable(b: Binding): { v: Formula; binding: Binding } {
  if (nextPlaceholder >= 2 ** 52) nextPlaceholder = PLACEHOLDER_BASE;
  return { v: Var(nextPlaceholder++, b.dim, b.cat), binding: b };
}

/** Whether a variable is symbolic (supplied at call time). */
export function isSymbolic(v: Formula): boolean {
  return v.ind < PLACEHOLDER_BASE;
}

/** Result of numbering. */
export interface Numbered {
  readonly formulas: Formula[];
  /** Fixed data per final variable index. */
  readonly fixed: Map<number, Binding>;
  /** Symbolic variables [ind, dim, cat], in order of appearance. */
  readonly symbolic: [number, number, Cat][];
}

/** Numbers the variables of `formulas` (placeholders → consecutive indices after the symbolic ones). */
export function numberVariables(formulas: readonly Formula[], binds: ReadonlyMap<number, Binding>): Numbered {
  const all: Formula[] = [];
  const seen = new Set<Formula>();
  for (const f of formulas) for (const v of f.vars()) if (!seen.has(v)) (seen.add(v), all.push(v));
  const symbolic = all.filter(isSymbolic);
  const symByInd = new Map<number, Formula>();
  for (const v of symbolic) {
    const prev = symByInd.get(v.ind);
    if (prev && prev !== v) throw new KeOpsError(`symbolic variable ${v.ind}: used as both ${prev} and ${v}`);
    symByInd.set(v.ind, v);
  }
  let next = symbolic.length ? Math.max(...symbolic.map((v) => v.ind)) + 1 : 0;
  const renum = new Map<Formula, Formula>();
  const fixed = new Map<number, Binding>();
  for (const v of all) {
    if (isSymbolic(v)) continue;
    const b = binds.get(v.ind);
    if (!b) throw new Error(`internal: unbound placeholder ${v}`);
    renum.set(v, Var(next, v.dim, v.cat));
    fixed.set(next, b);
    next++;
  }
  return {
    formulas: formulas.map((f) => substitute(f, (v) => renum.get(v))),
    fixed,
    symbolic: symbolic.map((v) => [v.ind, v.dim, v.cat]),
  };
}

/**
 * For each entry of the full batch, the entry of a variable's own batch it reads (its batch is
 * left-padded with 1s and broadcast).
 */
export function ownBatchIndex(own: readonly number[], batch: readonly number[]): Int32Array {
  const nb = batch.length;
  const pad = [...Array<number>(nb - own.length).fill(1), ...own];
  const nBatch = sizeOf(batch);
  const out = new Int32Array(nBatch);
  for (let b = 0; b < nBatch; b++) {
    let rem = b, off = 0, stride = 1;
    for (let k = nb - 1; k >= 0; k--) {
      const ix = rem % batch[k]!;
      rem = Math.floor(rem / batch[k]!);
      if (pad[k] !== 1) off += ix * stride;
      stride *= pad[k]!;
    }
    out[b] = off;
  }
  return out;
}

/** numpy-style broadcast of batch shapes (left-padded with 1s); throws naming `what`. */
export function broadcastBatch(a: readonly number[], b: readonly number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const pa = [...Array(n - a.length).fill(1), ...a];
  const pb = [...Array(n - b.length).fill(1), ...b];
  return pa.map((x, k) => {
    const y = pb[k]!;
    if (x !== y && x !== 1 && y !== 1)
      argError(what, `batch dimensions that broadcast`, said(`(${a.join(", ")}) and (${b.join(", ")})`));
    return x === 1 ? y : x;
  });
}

/** The common float dtype of tensors (undefined when none); mixing float32 and float64 is an error. */
export function commonDtype(a: FloatDType | undefined, b: FloatDType | undefined, what: string): FloatDType | undefined {
  if (a && b && a !== b)
    throw new KeOpsError(`${what}: all tensors of a formula must share one dtype, got ${a} and ${b} (keops-ts does not convert silently; use tensor.astype)`);
  return a ?? b;
}

/** What a LazyTensor holds: its formula, the data bound to its variables, its sizes and dtype. */
export interface LazyState {
  readonly f: Formula;
  readonly binds: ReadonlyMap<number, Binding>;
  readonly ni: number | undefined;
  readonly nj: number | undefined;
  readonly batch: readonly number[];
  readonly dtype: FloatDType | undefined;
  /** Block-sparsity pattern assigned with `K.ranges = …` (pykeops), carried through operations. */
  readonly ranges?: Ranges;
}

/** The parts of a LazyTensor that the layers below it (solve) read: its state, shape and printout. */
export interface LazyView {
  readonly st: LazyState;
  readonly shape: readonly number[];
  readonly formula: string;
}
