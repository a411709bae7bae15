/** Writes the results: JSON, the markdown table (RESULTS.md) and the SVG plots. */
import type { FigureResult } from "./types.js";
import { fmtSci, fmtSize, fmtTime } from "./format.js";
import { WORKLOADS, type Workload } from "./workloads.js";
import { targetRows } from "./targets.js";
import { barchart, lineplot, type Bar, type Series } from "./svg.js";

/** Everything a run produced. */
export interface RunRecord {
  readonly date: string;
  readonly mode: "full" | "quick" | "partial";
  readonly command: string;
  readonly commit: string;
  readonly machine: Record<string, string | number>;
  /** keops-ts backends known to the registry, with the reason when unavailable. */
  readonly backends: readonly { readonly name: string; readonly unavailable: string | null }[];
  readonly budgetS: number;
  readonly runs: number;
  readonly checkRows: number;
  readonly notes: readonly string[];
  readonly results: readonly FigureResult[];
  readonly totalS: number;
}

/** Median time shown for a figure: per run, or µs per call for W7. */
function shown(w: Workload, r: FigureResult, s: number): string {
  return w.unit === "us/call" ? `${((s / r.spec.size) * 1e6).toPrecision(3)} µs/call` : fmtTime(s);
}

function row(w: Workload, r: FigureResult): string {
  const size = fmtSize(r.spec.size);
  if (r.status !== "ok") return `| ${size} | ${r.spec.impl} | | ${r.note ?? r.status} | | | |`;
  const extra = r.extra?.cgIterations !== undefined ? ` (${r.extra.cgIterations} CG iterations)` : "";
  return `| ${size} | ${r.spec.impl} | ${fmtTime(r.firstS!)} | ${shown(w, r, r.medianS!)} (${shown(w, r, r.minS!)} – ${shown(w, r, r.maxS!)})${extra} | ${r.pairsPerS ? fmtSci(r.pairsPerS) : "—"} | ${r.peakRssMiB!.toFixed(0)} MiB | ${r.relErr === null || r.relErr === undefined ? "—" : fmtSci(r.relErr)} |`;
}

/** 0.52, 3.4, 17, 130 */
function ratio(x: number): string {
  return x >= 100 ? String(Math.round(x)) : x.toPrecision(2);
}

/** The fastest keops-ts figure against each peer, per workload and size: "k× faster". */
export function headline(rec: RunRecord): string[] {
  const lines: string[] = [];
  for (const w of WORKLOADS) {
    const rs = rec.results.filter((r) => r.spec.workload === w.key);
    for (const size of [...new Set(rs.map((r) => r.spec.size))]) {
      const ok = rs.filter((r) => r.spec.size === size && r.status === "ok");
      const ko = ok.filter((r) => r.spec.impl.startsWith("keops:")).sort((a, b) => a.medianS! - b.medianS!)[0];
      if (!ko) continue;
      const others = rs.filter((r) => r.spec.size === size && !r.spec.impl.startsWith("keops:"));
      const parts = others.map((p) =>
        p.status === "ok" ? `${p.spec.impl} ${ratio(p.medianS! / ko.medianS!)}×` : `${p.spec.impl} ${p.status}`,
      );
      const rate = ko.pairsPerS ? `, ${fmtSci(ko.pairsPerS)} pairs/s` : "";
      lines.push(`- **${w.key} ${fmtSize(size)}**: ${ko.spec.impl} ${shown(w, ko, ko.medianS!)}${rate}${parts.length ? ` — peer time ÷ keops-ts time: ${parts.join(", ")}` : ""}`);
    }
  }
  return lines;
}

/** The implementations in plotting order. */
function implNames(rec: RunRecord): string[] {
  return [...new Set(rec.results.map((r) => r.spec.impl))];
}

/** SVG files: name → content. */
export function plots(rec: RunRecord): Map<string, string> {
  const files = new Map<string, string>();
  const names = implNames(rec);
  for (const w of WORKLOADS) {
    const rs = rec.results.filter((r) => r.spec.workload === w.key);
    if (new Set(rs.map((r) => r.spec.size)).size < 2) continue;
    const series: Series[] = [];
    for (const impl of names) {
      const mine = rs.filter((r) => r.spec.impl === impl).sort((a, b) => a.spec.size - b.spec.size);
      const points = mine.filter((r) => r.status === "ok").map((r) => [r.spec.size, r.medianS!] as const);
      const firstBad = mine.find((r) => r.status !== "ok");
      if (!points.length && !firstBad) continue;
      const why = firstBad?.status === "skipped" ? "skipped (time budget)" : firstBad?.status;
      const note = firstBad ? (points.length ? `${why} from ${fmtSize(firstBad.spec.size)}` : why) : undefined;
      series.push({ name: impl, points, note });
    }
    files.set(`${w.key}.svg`, lineplot(`${w.key}: ${w.title}`, w.sizeLabel, series, names, [...new Set(rs.map((r) => r.spec.size))]));
  }
  const bars: Bar[] = [];
  for (const w of WORKLOADS.filter((x) => ["W5", "W6", "W7", "W8"].includes(x.id))) {
    const rs = rec.results.filter((r) => r.spec.workload === w.key);
    const okSizes = rs.filter((r) => r.status === "ok").map((r) => r.spec.size);
    const size = Math.max(...(okSizes.length ? okSizes : rs.map((r) => r.spec.size)));
    for (const r of rs.filter((x) => x.spec.size === size)) {
      const perCall = w.unit === "us/call" ? r.spec.size : 1;
      bars.push({
        group: `${w.key} ${w.unit === "us/call" ? "" : fmtSize(size)}`.trim(),
        name: r.spec.impl,
        value: r.status === "ok" ? r.medianS! / perCall : null,
        label: r.status === "ok" ? (w.unit === "us/call" ? `${((r.medianS! / perCall) * 1e6).toPrecision(3)} µs per call` : fmtTime(r.medianS!)) : r.status,
      });
    }
  }
  if (bars.length) files.set("single-size.svg", barchart("W5–W8: median time (per call for W7), log scale", bars, names));
  return files;
}

/** The markdown report. `plotDir` is the plots' folder relative to the markdown file. */
export function markdown(rec: RunRecord, plotDir: string, plotFiles: readonly string[]): string {
  const m = rec.machine;
  const out: string[] = [];
  out.push(`# keops-ts benchmark results${rec.mode === "full" ? "" : ` (${rec.mode} run)`}`, "");
  out.push(`Generated by \`${rec.command}\` (bench/run.ts) on ${rec.date}, commit \`${rec.commit}\`, in ${Math.round(rec.totalS)} s.`, "");
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}.`);
  if (m.load1Start !== undefined)
    out.push(`Load average (1 min) at the start / end of the run: ${m.load1Start} / ${m.load1End} on ${m.cores} cores${Number(m.load1Start) > Number(m.cores) || Number(m.load1End) > Number(m.cores) ? " — other processes competed for the CPU, so times are inflated and noisy" : ""}.`);
  out.push(`The machine is shared and noisy: compare ratios measured in one run, not absolute times from different days.`, "");
  out.push(`The reference figures of pykeops's CPU backend, dense PyTorch and NumPy on this machine, and the targets: [REFERENCE.md](REFERENCE.md).`, "");
  out.push(`keops-ts backends: ${rec.backends.map((b) => (b.unavailable === null ? `\`${b.name}\`` : `\`${b.name}\` (unavailable: ${b.unavailable})`)).join(", ")}.`, "");
  out.push("## What is measured", "");
  out.push(
    rec.mode === "quick"
      ? `- Quick (CI) run: one child process per implementation runs all its figures (\`node --import tsx bench/one.ts <specs>\`), so a figure's peak RSS is that process's so far. The first call is timed apart, then ${rec.runs} warm runs; the table gives their median with min – max.`
      : `- Every figure is measured in a fresh child process (\`node --import tsx bench/one.ts <spec>\`): the first call is timed apart (kernel generation/compilation, tfjs warm-up), then ${rec.runs} warm runs; the table gives their median with min – max.`,
    `- A run is one complete call through the public API as a user writes it (the expression is built in the call; results are fresh tensors). W7 is a loop of ${rec.mode === "quick" ? "a few hundred" : "1000"} calls per run, reported per call.`,
    `- pairs/s = M·N / median time (W5: M·N for forward + backward; W7: 50·30 per call).`,
    `- Peak RSS: \`process.resourceUsage().maxRSS\` of the child after the figure's runs — the whole process (Node, tsx, the library or peer, data, worker threads); a bare child after its imports takes ~80–120 MiB (\`baseRssMiB\` in the JSON).`,
    `- Relative error: ‖result − reference‖₂ / ‖reference‖₂ over ${rec.checkRows} random output rows recomputed exactly in float64 from the same float32 inputs. KNN: the distances of the returned neighbours against the true K smallest; W6: the residual ‖(αI + K)a − b‖ / ‖b‖ on those rows.`,
    `- Time budget: ${rec.budgetS} s per figure. A size whose predicted time (previous size's median × pairs ratio, × (runs + 1)) exceeds it is not run and is reported "skipped (predicted …)"; a child also stops when its own first call predicts more.`,
    `- Peers: dense TensorFlow.js 4.22 (tfjs-backend-cpu; tfjs-backend-wasm with its .wasm files from node_modules) materialising the M×N matrix — "out of memory" when the matrices would exceed 4 GiB; a hand-written single-threaded JS loop (Math.exp, float64 accumulators); for K-NN, FAISS's exact IndexFlatL2 (Debian's python3-faiss in a child Python process, timed there: index build + search) and usearch's exact search (npm), both on every core (versions and BLAS in the notes). keops-ts uses every core (the JS backend: worker threads).`,
    `- W5 (keops-ts): the reduction as a \`KeOpsFunction\` of x, y, b, then \`f.vjp([x, y, b], 2a)\`: forward + backward. The tfjs peers compute the same gradient densely with a hand-written backward pass: tfjs-core's node bundle ships without gradient registrations (they come with the \`@tensorflow/tfjs\` union package, not installed), so \`tf.grad\` cannot run.`,
    `- W6: keops-ts \`K.solve(b, { alpha: 0.1, eps: 1e-6 })\` (plain conjugate gradient, KeOps's stopping rule ‖r‖² < M·eps²); W6-nystrom adds \`precond: "nystrom"\`. TensorFlow.js has no linear solver: its peer is the same conjugate gradient on the materialised matrix, same stopping rule. The iteration counts are in the JSON (\`extra.cgIterations\`).`,
    `- W7: the second tutorial's loop (M = 50, N = 30, D = 3, 4 bandwidths, b of dim 4). "rebuild" builds the expression and reduces in every call; "reuse" calls one function made with \`call: false\`. W8: each run reduces a formula never seen before (a fresh integer constant in it), on M = N = 100: this is the generation + compilation cost.`,
    "",
  );
  if (rec.notes.length) out.push("## Notes", "", ...rec.notes.map((n) => `- ${n}`), "");
  out.push("## Headline", "", "The fastest keops-ts backend per workload and size; a ratio above 1 means keops-ts is that many times faster than the peer.", "", ...headline(rec), "");
  const targets = targetRows(rec.results, rec.backends.map((b) => b.name));
  if (targets.length) {
    out.push("## Targets (bench/REFERENCE.md)", "", "| target | backend | measured | met |", "|---|---|---|---|", ...targets, "");
    out.push("Rates at the largest size measured within the time budget unless the target names a size; a target is judged only where its figure exists.", "");
  }
  if (plotFiles.length) {
    out.push("## Plots", "");
    for (const f of plotFiles) out.push(`![${f}](${plotDir}/${f})`, "");
  }
  out.push("## All figures", "");
  for (const w of WORKLOADS) {
    const rs = rec.results.filter((r) => r.spec.workload === w.key);
    if (!rs.length) continue;
    out.push(`### ${w.key}: ${w.title}`, "");
    out.push(`| ${w.sizeLabel} | implementation | first call | median (min – max) | pairs/s | peak RSS | rel. error |`);
    out.push("|---|---|---|---|---|---|---|");
    for (const r of [...rs].sort((a, b) => a.spec.size - b.spec.size)) out.push(row(w, r));
    out.push("");
  }
  return out.join("\n");
}
