/** The targets of bench/REFERENCE.md, checked against a run's figures. */
import type { FigureResult } from "./types.js";
import { fmtSci, fmtSize, fmtTime } from "./format.js";

interface Target {
  readonly backend: string;
  readonly workload: string;
  /** Size the target is stated at; undefined: the largest size measured. */
  readonly size?: number;
  readonly what: string;
  /** A memory target: judged from the peak RSS, which a memory probe gives even to a skipped figure. */
  readonly memory?: boolean;
  /** The measured quantity of a figure, and whether it meets the target (`all`: every figure of the run, for ratios). */
  measure(r: FigureResult, all: readonly FigureResult[]): { value: string; met: boolean | null };
}

const rate = (min: number) => (r: FigureResult) => ({ value: `${fmtSci(r.pairsPerS!)} pairs/s`, met: r.pairsPerS! >= min });
const time = (max: number, perCall = false) => (r: FigureResult) => {
  const t = perCall ? r.medianS! / r.spec.size : r.medianS!;
  return { value: perCall ? `${(t * 1e6).toPrecision(3)} µs per call` : fmtTime(t), met: t <= max };
};

/** The figure of `impl` for the same workload at `size` (default: r's size). */
const other = (all: readonly FigureResult[], r: FigureResult, impl: string, size = r.spec.size): FigureResult | undefined =>
  all.find((x) => x.spec.impl === impl && x.spec.workload === r.spec.workload && x.spec.size === size && x.status === "ok");
/** Rate ≥ k × the peer's rate in the same run. */
const vsPeer = (peer: string, k: number) => (r: FigureResult, all: readonly FigureResult[]) => {
  const p = other(all, r, peer);
  if (!p) return { value: `${fmtSci(r.pairsPerS!)} pairs/s; ${peer} not measured in this run`, met: null };
  const ratio = p.medianS! / r.medianS!;
  return { value: `${fmtSci(r.pairsPerS!)} pairs/s = ${ratio.toFixed(2)}× ${peer} (${fmtSci(p.pairsPerS!)})`, met: ratio >= k };
};
/** Rate per pair within 1/k of the same backend's rate at `ref`. */
const nearRate = (ref: number, k: number) => (r: FigureResult, all: readonly FigureResult[]) => {
  const p = other(all, r, r.spec.impl, ref);
  if (!p) return { value: `${fmtSci(r.pairsPerS!)} pairs/s; ${fmtSize(ref)} not measured in this run`, met: null };
  const ratio = p.pairsPerS! / r.pairsPerS!;
  return { value: `${fmtSci(r.pairsPerS!)} pairs/s, ${ratio.toFixed(2)}× slower per pair than at ${fmtSize(ref)} (${fmtSci(p.pairsPerS!)})`, met: ratio <= k };
};

const TARGETS: readonly Target[] = [
  { backend: "native", workload: "W1", size: 1e5, what: "W1 1e5 ≥ 5e9 pairs/s", measure: rate(5e9) },
  { backend: "native", workload: "W3-D3", what: "W3 ≥ 5e9 pairs/s", measure: rate(5e9) },
  { backend: "native", workload: "W4", what: "W4 ≥ 4e9 pairs/s", measure: rate(4e9) },
  { backend: "native", workload: "W8", what: "W8 ≤ 1.5 s", measure: time(1.5) },
  { backend: "native", workload: "W7-reuse", what: "W7 ≤ 20 µs per call", measure: time(20e-6, true) },
  { backend: "wasm", workload: "W1", what: "W1 ≥ 1.2e9 pairs/s", measure: rate(1.2e9) },
  { backend: "wasm", workload: "W3-D3", what: "W3 ≥ 3e9 pairs/s", measure: rate(3e9) },
  { backend: "wasm", workload: "W8", what: "compile ≤ 50 ms", measure: time(0.05) },
  { backend: "js", workload: "W1", what: "W1 ≥ 1.5e8 pairs/s", measure: rate(1.5e8) },
  // issue 21 (performance, round two)
  { backend: "native", workload: "W3-D64", size: 1e4, what: "W3 D = 64 at 1e4 ≥ 2× FAISS IndexFlatL2 (issue 21)", measure: vsPeer("faiss", 2) },
  { backend: "native", workload: "W3-D64", size: 1e4, what: "W3 D = 64 at 1e4 ≥ 1.4e9 pairs/s (issue 21)", measure: rate(1.4e9) },
  { backend: "native", workload: "W3-D3", size: 1e4, what: "W3 D = 3 at 1e4 ≥ 8e9 pairs/s (issue 21)", measure: rate(8e9) },
  ...[1e3, 1e4].flatMap((size) => ["W1", "W4"].map((workload) => ({ backend: "native", workload, size, what: `${workload} at ${fmtSize(size)} within 1.3× of its 1e5 rate (issue 21)`, measure: nearRate(1e5, 1.3) }))),
  { backend: "wasm+relaxed-simd", workload: "W1", what: "W1 ≥ 1.8e9 pairs/s with relaxed SIMD (issue 21)", measure: rate(1.8e9) },
  { backend: "wasm", workload: "W1", what: "W1 ≥ 1.8e9 pairs/s where relaxed SIMD is on by default (issue 21)", measure: rate(1.8e9) },
  ...["native", "wasm", "js"].map((backend) => ({ backend, workload: "W6", size: 1e4, what: "W6 ≤ 5 s at M = 1e4", measure: time(5) })),
  ...["native", "wasm", "js"].map((backend) => ({ backend, workload: "W6-nystrom", size: 1e4, what: "W6 ≤ 5 s at M = 1e4 (Nyström-preconditioned)", measure: time(5) })),
  ...["native", "wasm", "js"].map((backend) => ({
    backend, workload: "W1", size: 1e6, what: "W1 at 1e6 in < 1 GB resident", memory: true,
    measure: (r: FigureResult) => ({ value: `${r.peakRssMiB!.toFixed(0)} MiB peak RSS`, met: r.peakRssMiB! * 2 ** 20 < 1e9 }),
  })),
];

/** Markdown rows: target, backend, measured, met — for the backends present in the run. */
export function targetRows(results: readonly FigureResult[], backends: readonly string[]): string[] {
  const rows: string[] = [];
  for (const t of TARGETS) {
    if (!backends.includes(t.backend) && !results.some((r) => r.spec.impl === `keops:${t.backend}`)) continue;
    const mine = results.filter((r) => r.spec.impl === `keops:${t.backend}` && r.spec.workload === t.workload);
    const at = t.size ?? Math.max(...mine.filter((r) => r.status === "ok").map((r) => r.spec.size), -1);
    const r = mine.find((x) => x.spec.size === at);
    if (!r) {
      rows.push(`| ${t.what} | ${t.backend} | not measured | — |`);
      continue;
    }
    if (r.status !== "ok" && !(t.memory && r.peakRssMiB !== undefined)) {
      rows.push(`| ${t.what} | ${t.backend} | ${fmtSize(at)}: ${r.note ?? r.status} | — |`);
      continue;
    }
    const m = t.measure(r, results);
    rows.push(`| ${t.what} | ${t.backend} | ${m.value}${t.size === undefined ? ` (at ${fmtSize(at)})` : ""} | ${m.met === null ? "—" : m.met ? "yes" : "no"} |`);
  }
  return rows;
}
