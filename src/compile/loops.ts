/**
 * Vector loops: the lowering unrolls vector dimensions into straight-line scalar SSA, which for
 * D ≈ 1000 is tens of thousands of instructions (a C++ compile of tens of seconds). This pass
 * re-rolls the left-fold sums over a vector dimension back into loop regions (the `acc loop …
 * next end` instructions of src/ir/ssa.ts) before a renderer writes the body.
 *
 * What is rolled: a chain `((t₀ + t₁) + t₂) + … + t_{n−1}` (the left fold that Sum, SqNorm2,
 * SqDist, WeightedSqDist with isotropic or diagonal weights, Norm2, the scalar product `|`,
 * MatVecMult … lower to) of n ≥ {@link LOOP_MIN_DIM} terms whose expressions are isomorphic:
 * the same op tree in every term, each leaf either one value shared by every term (a scalar, a
 * parameter, a value computed before the sum), or a `load` of one slot whose component is affine
 * in the term's position. The chain becomes `acc = −0; for c < n: acc = acc + t(c)` — −0 is
 * the exact identity of float addition, so the loop adds the same values in the same order as
 * the unrolled fold: results are bit-identical (given the same contraction decisions of a C++
 * compiler: float64 kernels compile with contraction off). The loop covers the longest run of
 * matching terms at the chain's end; the terms before it (t₀ itself an `add`, another sum
 * concatenated before) are summed first, as a chain of their own (rolled too when it fits), and
 * the loop starts from their sum.
 *
 * Products and min/max folds over a dimension (Min, Max, ArgMin, ArgMax of a vector) are rolled
 * next, by src/compile/folds.ts, with the same loop regions.
 *
 * Vector-valued outputs stay D values of the body here (and a reduction state of dimension D, D
 * components): the renderers loop over them where src/compile/vout.ts recognises the state, after
 * `withLoops` has put the reduction in its loop form (src/compile/loop-form.ts). Sums without a run
 * of alike terms are left unrolled (never wrong, only slower to compile).
 * The pass runs in each renderer after the native dot-tile blocking (src/compile/blocked.ts),
 * which keeps the D-term distances it recognises.
 */
import { KeOpsError } from "../errors.js";
import type { Block, Instr } from "../ir/ssa.js";
import type { KernelProgram } from "./program.js";
import { emitTerm, liveFrom, matcher, sharedOf, templateLevel, type Tpl } from "./terms.js";
import { rollFolds } from "./folds.js";
import { loopForm } from "./loop-form.js";

export { emitTerm, matcher, sharedOf, type Tpl } from "./terms.js";
export { loopRegions } from "../ir/ssa.js";

/** Smallest number of terms rolled into a loop (below, the unrolled code is emitted unchanged). */
export const LOOP_MIN_DIM = 64;

/**
 * The threshold of this process: {@link LOOP_MIN_DIM}, or the environment variable
 * KEOPS_TS_LOOP_MIN (a positive integer; a huge value turns loops off). Read by the plan, which
 * keys programs by it when it is set.
 */
export function loopMinDim(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KEOPS_TS_LOOP_MIN?.trim();
  if (!env) return LOOP_MIN_DIM;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 2) throw new KeOpsError(`KEOPS_TS_LOOP_MIN: expected an integer ≥ 2, got ${JSON.stringify(env)}`);
  return n;
}

/** A rolled chain: `root` becomes `init + Σ_c term(c)` in a loop of `count` terms. */
interface Roll {
  readonly root: number;
  /** The sum of the terms before the loop (a value of the original block), or null: −0. */
  readonly init: number | null;
  readonly count: number;
  readonly term: Tpl;
}

/** The chains of a block that roll into loops (none inside another). */
function findRolls(block: Block, minDim: number): Roll[] {
  const code = block.code;
  const uses = new Int32Array(code.length);
  for (const ins of code) for (const a of ins.a) uses[a]!++;
  for (const o of block.out) uses[o]!++;
  const match = matcher(code);
  const inside = new Set<number>();
  const rolls: Roll[] = [];
  for (let n = code.length - 1; n >= 0; n--) {
    const ins = code[n]!;
    if (ins.op !== "add" || ins.t !== "f" || inside.has(n)) continue;
    // terms[k] is added by sums[k]; the bottom's left operand is the first term
    const terms: number[] = [], sums: number[] = [];
    let cur = n;
    for (;;) {
      const [l, r] = code[cur]!.a as [number, number];
      terms.push(r);
      sums.push(cur);
      const li = code[l]!;
      if (li.op === "add" && li.t === "f" && uses[l] === 1) cur = l;
      else {
        terms.push(l);
        sums.push(-1);
        break;
      }
    }
    terms.reverse();
    sums.reverse();
    if (terms.length < minDim) continue;
    // the loop covers the longest run of matching terms at the end, terms[s…] (a subset of
    // matching terms matches: the smallest s is found by bisection); the sum of terms[0…s−1]
    // (sums[s−1], or the first term) is its start, itself a chain tried later
    const m = terms.length;
    if (!match(terms.slice(m - 2))) continue;
    let lo = 0, hi = m - 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (match(terms.slice(mid))) hi = mid;
      else lo = mid + 1;
    }
    let s = lo;
    let run = terms.slice(s);
    // t₀ an `add` itself (Sum(x + y)): the walk split it into terms[0] + terms[1] = sums[1]
    if (s === 2) {
      const whole = match([sums[1]!, ...run]);
      if (whole) [s, run] = [0, [sums[1]!, ...run]];
    }
    if (run.length < minDim) continue;
    const init = s === 0 ? null : s === 1 ? terms[0]! : sums[s - 1]!;
    rolls.push({ root: n, init, count: run.length, term: match(run)! });
    // the chain's adds from the loop's first are gone (sums[1] may be the first term itself)
    for (let k = Math.max(2, s); k < sums.length; k++) inside.add(sums[k]!);
  }
  return rolls;
}

/**
 * The block with its D-term sums, then its other D-step folds (src/compile/folds.ts) rolled into
 * loops (see the file's comment), or the block itself when none is found.
 */
export function rollLoops(block: Block, minDim = LOOP_MIN_DIM): Block {
  return rollFolds(rollSums(block, minDim), minDim);
}

/** The block with its D-term sums rolled into loops, or the block itself when none is found. */
function rollSums(block: Block, minDim: number): Block {
  const rolls = findRolls(block, minDim);
  if (!rolls.length) return block;
  const code = block.code;
  const byRoot = new Map(rolls.map((r) => [r.root, r]));
  const reads = new Map(rolls.map((r) => {
    const s = new Set<number>();
    sharedOf(r.term, s);
    if (r.init !== null) s.add(r.init);
    return [r.root, [...s]];
  }));
  // live instructions, a rolled root reading only its loop's outside values
  const live = liveFrom(code, block.out, (v) => reads.get(v) ?? code[v]!.a);
  const out: Instr[] = [];
  const map = new Int32Array(code.length).fill(-1);
  const push = (ins: Instr): number => out.push(ins) - 1;
  code.forEach((ins, n) => {
    if (!live[n]) return;
    const r = byRoot.get(n);
    map[n] = r ? emitLoop(r, map, push, out) : push({ ...ins, a: ins.a.map((a) => map[a]!) });
  });
  return { code: out, out: block.out.map((o) => map[o]!) };
}

/** Emits the loop region of a chain; returns its accumulator (the chain's value after the loop). */
function emitLoop(r: Roll, map: Int32Array, push: (ins: Instr) => number, out: readonly Instr[]): number {
  let level = templateLevel(r.term, (v) => out[map[v]!]!.level);
  const init = r.init !== null ? map[r.init]! : push({ op: "const", a: [], k: [-0], t: "f", level: 0 });
  level = Math.max(level, out[init]!.level);
  const L = level;
  const acc = push({ op: "acc", a: [init], k: [], t: "f", level: L });
  const loop = push({ op: "loop", a: [], k: [r.count], t: "i", level: L });
  const term = emitTerm(r.term, loop, L, (v) => map[v]!, push);
  const sum = push({ op: "add", a: [acc, term], k: [], t: "f", level: L });
  push({ op: "next", a: [acc, sum], k: [], t: "f", level: L });
  push({ op: "end", a: [], k: [loop], t: "i", level: L });
  return acc;
}

const cache = new WeakMap<KernelProgram, KernelProgram>();

/**
 * The program with its body's D-term sums rolled into loops ({@link rollLoops}) and its reduction
 * in the form a loop over a vector formula's components takes (src/compile/loop-form.ts); itself
 * when neither changes.
 */
export function withLoops(p: KernelProgram): KernelProgram {
  let q = cache.get(p);
  if (!q) {
    const min = p.loopMin ?? LOOP_MIN_DIM;
    const body = rollLoops(p.body, min);
    const red = loopForm(p.red, p.body.out.length, min);
    q = body === p.body && red === p.red ? p : { ...p, body, red };
    cache.set(p, q);
  }
  return q;
}
