/**
 * Lowering: formulas → one straight-line SSA block (vector dims unrolled, CSE, constants folded).
 * The renderers roll the long sums over a vector dimension back into loops (src/compile/loops.ts).
 */
import { SsaBuilder, type Block } from "../ir/ssa.js";
import type { Formula } from "../formula/node.js";

/**
 * Lowers formulas (sharing sub-expressions) into one block whose outputs are the components of
 * every formula, concatenated. `slotOf` maps a variable index to its input slot; `slotLevel`
 * gives each slot's loop level (0 parameter, 1 outer, 2 inner).
 */
export function lowerFormulas(
  formulas: readonly Formula[],
  slotOf: (ind: number) => number,
  slotLevel: (slot: number) => number,
): Block {
  const b = new SsaBuilder(slotLevel);
  const memo = new Map<Formula, number[]>();
  const ctx = { b, slotOf };
  const rec = (f: Formula): number[] => {
    let v = memo.get(f);
    if (!v && f.op.expand) {
      v = rec(f.op.expand(f));
      memo.set(f, v);
    }
    if (!v) {
      const args = f.args.map(rec);
      v = f.op.lower(ctx, args, f.attrs, f.dim);
      if (v.length !== f.dim) throw new Error(`internal: ${f.op.name} lowered to ${v.length} values, dim ${f.dim}`);
      memo.set(f, v);
    }
    return v;
  };
  const out = formulas.flatMap((f) => rec(f));
  return b.block(out);
}
