/**
 * Before/after table of two bench runs: every (workload, size, implementation) figure timed in
 * both, with the speed-up (before time ÷ after time). Figures only one run has are listed too.
 *
 * usage: node --import tsx bench/compare.ts BEFORE.json AFTER.json [--title "…"] > table.md
 */
import { readFileSync } from "node:fs";
import { fmtSci, fmtSize, fmtTime } from "./format.js";
import type { RunRecord } from "./report.js";
import type { FigureResult } from "./types.js";
import { WORKLOADS } from "./workloads.js";

const [beforeFile, afterFile] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (!beforeFile || !afterFile) {
  process.stderr.write("usage: node --import tsx bench/compare.ts BEFORE.json AFTER.json\n");
  process.exit(2);
}
const read = (f: string): RunRecord => JSON.parse(readFileSync(f, "utf8")) as RunRecord;
const before = read(beforeFile), after = read(afterFile);
const key = (r: FigureResult): string => `${r.spec.workload}|${r.spec.size}|${r.spec.impl}`;
const b = new Map(before.results.map((r) => [key(r), r]));
const shown = (r: FigureResult | undefined): string =>
  !r ? "—" : r.status !== "ok" ? r.status : `${fmtTime(r.medianS!)}${r.pairsPerS ? ` (${fmtSci(r.pairsPerS)}/s)` : ""}`;
const out: string[] = [
  `Before: commit \`${before.commit}\`, ${before.date}, load ${before.machine.load1Start} → ${before.machine.load1End}. ` +
    `After: commit \`${after.commit}\`, ${after.date}, load ${after.machine.load1Start} → ${after.machine.load1End} (1-minute load averages on ${after.machine.cores} cores).`,
  "",
  "| workload | size | implementation | before | after | speed-up |",
  "|---|---|---|---|---|---|",
];
const order = new Map(WORKLOADS.map((w, k) => [w.key, k]));
const rows = after.results.filter((r) => r.spec.impl.startsWith("keops:"))
  .sort((x, y) => (order.get(x.spec.workload)! - order.get(y.spec.workload)!) || x.spec.size - y.spec.size || x.spec.impl.localeCompare(y.spec.impl));
for (const r of rows) {
  const p = b.get(key(r));
  const both = p?.status === "ok" && r.status === "ok";
  const ratio = both ? `${(p!.medianS! / r.medianS!).toFixed(2)}×` : "";
  out.push(`| ${r.spec.workload} | ${fmtSize(r.spec.size)} | ${r.spec.impl} | ${shown(p)} | ${shown(r)} | ${ratio} |`);
}
process.stdout.write(out.join("\n") + "\n");
