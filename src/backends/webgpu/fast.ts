/**
 * The WGSL of the fast paths a reduction declares (its traits, checked by the schedule), in place
 * of its generic update for one pair. Each computes exactly what the generic update computes (the
 * declaration's contract), branching where the generic block selects:
 *
 * - `shiftExp` (the log-sum-exp family): per group, the running max m and sums s fold (f, g) as
 *   m' = max(m, f), s' = s·e^(m−m') + g·e^(f−m') — one exp per pair, in the branch taken (the
 *   generic block, branch-free, computes e^(−|f−m|) and selects both ways). −∞ values add nothing,
 *   a NaN f makes the sums NaN and leaves m, as the generic block does.
 * - `sortedK` (the K-min family): per formula component, the threshold test first (does the pair
 *   beat the K-th slot: empty, smaller, or NaN against a number), then a sorted insertion walking
 *   up from the end while the pair beats the slot above (ties to the older index), where the
 *   generic block computes every slot's select for every pair that passes its guard.
 */
import type { FastPath } from "../../compile/schedule.js";
import { floatLit, intLit } from "./wgsl.js";

/** How the fast path's inputs are spelled: a state component (a `var`), a formula value, j. */
export interface FastNames {
  state(k: number): string;
  fval(k: number): string;
  idx(): string;
}

/**
 * A looped vector state's sums (src/compile/vout.ts): the state components from `first` on are one
 * array, component c of which is `sum`, weighted by the body's looped output `weight`; `open`
 * writes the loop's head (its index names c) and the instructions computing `weight`.
 */
export interface LoopedSums {
  readonly first: number;
  open(out: string[], indent: string): void;
  readonly sum: string;
  readonly weight: string;
}

/**
 * The WGSL lines of the fast update of one pair, at `indent` (a marker comment first). With
 * `looped` (one shift-exp group whose sums from `looped.first` on are a looped vector state), those
 * sums are updated in a loop, per component as the unrolled fast path does.
 */
export function fastUpdate(fast: FastPath, nm: FastNames, indent: string, looped?: LoopedSums): string[] {
  return fast.kind === "shiftExp" ? shiftExp(fast.groups, nm, indent, looped) : sortedK(fast, nm, indent);
}

function shiftExp(groups: Extract<FastPath, { kind: "shiftExp" }>["groups"], nm: FastNames, ind: string, looped?: LoopedSums): string[] {
  const L = [`${ind}// fast path: shiftExp (one exp per pair)`];
  /** The sums' update lines (`rule(state, weight)`), the looped ones in one loop. */
  const sums = (grp: (typeof groups)[number], g: (n: number) => string, rule: (s: string, w: string) => string, at: string): void => {
    grp.s.forEach((k, n) => {
      if (!looped || k < looped.first) L.push(`${at}${nm.state(k)} = ${rule(nm.state(k), g(n))};`);
    });
    if (!looped) return;
    looped.open(L, at);
    L.push(`${at}  ${looped.sum} = ${rule(looped.sum, looped.weight)};`, `${at}}`);
  };
  const ninf = floatLit(-Infinity);
  groups.forEach((grp, q) => {
    const m = nm.state(grp.m);
    const f = `f${q}`;
    const g = (k: number): string => {
      const gk = grp.g[k];
      return gk === null || gk === undefined ? "1.0f" : nm.fval(gk);
    };
    L.push(`${ind}{`);
    L.push(`${ind}  let ${f}: f32 = ${grp.f === null ? "0.0f" : nm.fval(grp.f)};`);
    L.push(`${ind}  if (${f} > ${m}) {`);
    // the old sums rescaled to the new max (none yet: m = −∞ holds s = 0)
    L.push(`${ind}    let c: f32 = select(k_exp(${m} - ${f}), 0.0f, ${m} == ${ninf});`);
    sums(grp, g, (s, w) => `((${s} * c + ${w}) * P.one)`, `${ind}    `);
    L.push(`${ind}    ${m} = ${f};`);
    L.push(`${ind}  } else {`);
    L.push(`${ind}    let e: f32 = select(select(k_exp(${f} - ${m}), 1.0f, ${f} == ${m}), 0.0f, ${f} == ${ninf});`);
    sums(grp, g, (s, w) => `((${s} + ${w} * e) * P.one)`, `${ind}    `);
    L.push(`${ind}  }`);
    L.push(`${ind}}`);
  });
  return L;
}

function sortedK({ K, D, values, indices }: Extract<FastPath, { kind: "sortedK" }>, nm: FastNames, ind: string): string[] {
  const L = [`${ind}// fast path: sortedK (threshold test, then sorted insertion)`];
  const none = intLit(-1);
  L.push(`${ind}let jk: i32 = ${nm.idx()};`);
  for (let c = 0; c < D; c++) {
    const v = (k: number): string => nm.state(values + k * D + c);
    const ix = (k: number): string => nm.state(indices + k * D + c);
    // (f, jk) beats slot k: the slot is empty, f is smaller, or f is NaN and the slot's value is not
    const beats = (k: number): string => `(${ix(k)} == ${none} || fk < ${v(k)} || (fnan && !k_isnan(${v(k)})))`;
    L.push(`${ind}{`);
    L.push(`${ind}  let fk: f32 = ${nm.fval(c)};`);
    L.push(`${ind}  let fnan = k_isnan(fk);`);
    L.push(`${ind}  if ${beats(K - 1)} {`);
    // walk up from the end: each slot the pair beats moves down one; the first it does not stops it
    L.push(`${ind}    var walking = true;`);
    for (let k = K - 1; k > 0; k--) {
      L.push(`${ind}    if (walking) {`);
      L.push(`${ind}      if ${beats(k - 1)} { ${v(k)} = ${v(k - 1)}; ${ix(k)} = ${ix(k - 1)}; }`);
      L.push(`${ind}      else { ${v(k)} = fk; ${ix(k)} = jk; walking = false; }`);
      L.push(`${ind}    }`);
    }
    L.push(`${ind}    if (walking) { ${v(0)} = fk; ${ix(0)} = jk; }`);
    L.push(`${ind}  }`);
    L.push(`${ind}}`);
  }
  return L;
}
