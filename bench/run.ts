/**
 * `npm run bench [-- options]`: runs the workloads W1–W8 of bench/REFERENCE.md on every available
 * keops-ts backend and, in the same run, the peers (dense TensorFlow.js on cpu and wasm, a plain
 * JavaScript loop, FAISS through Debian's python3-faiss and usearch when present). Each figure is measured in a fresh child process
 * (bench/one.ts). Writes <out>/<date>.json, RESULTS.md and SVG plots; see `--help`.
 */
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { backendInfo } from "../src/index.js";
import { main as browserBench } from "./browser.js";
import { parseArgs, type BenchArgs } from "./args.js";
import { fmtSci, fmtSize, fmtTime } from "./format.js";
import { describeFaiss, loadFaiss } from "./impl/faiss.js";
import { loadUsearch } from "./impl/usearch.js";
import { denseOutOfMemory } from "./impl/tfjs.js";
import { markdown, plots, headline, type RunRecord } from "./report.js";
import { since } from "./stats.js";
import type { FigureResult, FigureSpec, ImplName } from "./types.js";
import { WORKLOADS, workload, type Workload } from "./workloads.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
let relaxedFlag = false;
const ROOT = path.dirname(BENCH);
const CHECK_ROWS = 100;
const SEED = 20261123;

/**
 * Progress lines on stderr. On a terminal the running line (workload, size, implementation,
 * elapsed) is rewritten in place every second; elsewhere (CI logs) it is printed every 30 s.
 */
const progress = {
  live: "",
  lastPrint: 0,
  tty: process.stderr.isTTY === true,
  show(line: string): void {
    this.live = line;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (performance.now() - this.lastPrint > 30_000) {
      process.stderr.write(`${line}\n`);
      this.lastPrint = performance.now();
    }
  },
  log(line: string): void {
    process.stderr.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    this.live = "";
  },
};

/**
 * Runs figures in one child process (one figure, or in quick mode all the figures of one
 * implementation), reporting each result as it arrives; kills the child after `timeoutS`.
 */
function runChild(specs: readonly FigureSpec[], timeoutS: number, onTick: (s: number) => void, onResult: (r: FigureResult) => void): Promise<FigureResult[]> {
  return new Promise((resolve) => {
    const arg = JSON.stringify(specs.length === 1 ? specs[0] : specs);
    const flags = specs.some((s) => s.impl.endsWith(RELAXED)) ? ["--experimental-wasm-relaxed-simd"] : [];
    const child = spawn(process.execPath, [...flags, "--import", "tsx", path.join(BENCH, "one.ts"), arg], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", killed = false;
    const got: FigureResult[] = [];
    const t0 = performance.now();
    const tick = setInterval(() => onTick(since(t0)), 1000);
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      let nl: number;
      while ((nl = stdout.indexOf("\n")) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        if (!line.startsWith("@@RESULT ")) continue;
        const r = JSON.parse(line.slice(9)) as FigureResult;
        got.push(r);
        onResult(r);
      }
    });
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("close", (code, signal) => {
      clearInterval(tick);
      clearTimeout(timer);
      const why = killed
        ? `failed: killed after ${Math.round(timeoutS)} s (over the time budget)`
        : signal === "SIGKILL" || /heap out of memory|Allocation failed/i.test(stderr)
          ? "out of memory: the process was killed or ran out of heap"
          : `failed: child exited with ${code ?? signal}: ${stderr.split("\n").find((l) => /Error/.test(l))?.trim() ?? stderr.trim().split("\n")[0] ?? ""}`;
      for (const spec of specs.slice(got.length)) {
        const r: FigureResult = { spec, status: why.startsWith("out of memory") ? "out of memory" : "failed", note: why };
        got.push(r);
        onResult(r);
      }
      resolve(got);
    });
  });
}

const PROBE_S = 10;

/** Peak resident memory (VmHWM, MiB) of a process, from /proc (Linux); null elsewhere. */
function vmHWM(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * For a figure too slow to time: starts its first call in a child and reads the child's peak
 * resident memory after `seconds` (the memory of an O(M + N) reduction is all allocated by then),
 * then kills it.
 */
function probeMemory(spec: FigureSpec, seconds: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH, "one.ts"), JSON.stringify(spec)], { cwd: ROOT, stdio: "ignore" });
    let hwm: number | null = null;
    const timer = setTimeout(() => {
      hwm = vmHWM(child.pid!);
      child.kill("SIGKILL");
    }, seconds * 1000);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(hwm);
    });
  });
}

/** Implementations of a workload: the keops-ts backends, then its peers. */
/**
 * Suffix of the wasm backend run in a child started with `--experimental-wasm-relaxed-simd`: added
 * where this Node validates relaxed SIMD only with that flag (Node 20), so that both paths are measured.
 */
const RELAXED = "+relaxed-simd";
/** Whether this Node lacks relaxed SIMD that the flag would give, and the library renders FMA (older builds do not). */
const relaxedBehindFlag = async (): Promise<boolean> => {
  const asm = (await import("../src/backends/wasm/asm.js")) as { RELAXED_PROBE?: Uint8Array; engineHasRelaxedSimd?: () => boolean };
  if (!asm.RELAXED_PROBE || !asm.engineHasRelaxedSimd || asm.engineHasRelaxedSimd()) return false;
  const RELAXED_PROBE_BYTES = Array.from(asm.RELAXED_PROBE).join(",");
  try {
    return execFileSync(process.execPath, ["--experimental-wasm-relaxed-simd", "-e", `process.stdout.write(String(WebAssembly.validate(new Uint8Array([${RELAXED_PROBE_BYTES}]))))`]).toString() === "true";
  } catch {
    return false;
  }
};

function implsOf(w: Workload, keops: readonly string[], args: BenchArgs): ImplName[] {
  const peers = args.peers === "none" ? [] : w.peers.filter((p) => !args.peers.length || (args.peers as readonly string[]).includes(p));
  const relaxed = keops.includes("wasm") && relaxedFlag ? [`keops:wasm${RELAXED}` as ImplName] : [];
  return [...keops.map((b) => `keops:${b}` as ImplName), ...relaxed, ...peers];
}

/** Predicted seconds per run at `size`, from the last timed figure of the same line. */
function predict(w: Workload, prev: FigureResult, size: number): number {
  const a = w.pairs(prev.spec.size), b = w.pairs(size);
  const ratio = a !== null && b !== null ? b / a : (size / prev.spec.size) ** 2;
  return prev.medianS! * ratio;
}

function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT }).toString().trim();
    return dirty ? `${head} (src/ has uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

function summary(w: Workload, r: FigureResult): string {
  if (r.status !== "ok") return r.note ?? r.status;
  const t = w.unit === "us/call" ? `${((r.medianS! / r.spec.size) * 1e6).toPrecision(3)} µs/call` : fmtTime(r.medianS!);
  return `${t} median, first ${fmtTime(r.firstS!)}${r.pairsPerS ? `, ${fmtSci(r.pairsPerS)} pairs/s` : ""}, ${r.peakRssMiB!.toFixed(0)} MiB, rel.err ${r.relErr === null ? "—" : fmtSci(r.relErr!)}`;
}

/**
 * Writes RESULTS.md and the SVG plots of `rec` next to its JSON in `outDir` (a full run's
 * RESULTS.md goes to bench/RESULTS.md unless an output folder was chosen). Returns what it wrote.
 */
function render(rec: RunRecord, outDir: string, defaultPlace: boolean): string {
  const svgs = plots(rec);
  for (const [name, svg] of svgs) writeFileSync(path.join(outDir, name), svg);
  const mdPath = rec.mode === "full" && defaultPlace ? path.join(BENCH, "RESULTS.md") : path.join(outDir, "RESULTS.md");
  const plotDir = path.relative(path.dirname(mdPath), outDir) || ".";
  writeFileSync(mdPath, markdown(rec, plotDir, [...svgs.keys()]) + keptPart(mdPath));
  return `${path.relative(ROOT, mdPath)} and ${svgs.size} SVG plots`;
}

/** The line of RESULTS.md after which the file is written by hand (or by other scripts). */
const KEPT_MARKER =
  "<!-- Everything below this line is written by hand or by other scripts; bench/run.ts keeps it when it regenerates the file. -->";

/** What a regenerated RESULTS.md keeps of the existing file: the marker and all after it ("\n" when there is none). */
function keptPart(mdPath: string): string {
  let old: string;
  try {
    old = readFileSync(mdPath, "utf8");
  } catch {
    return "\n";
  }
  const at = old.indexOf(KEPT_MARKER);
  return at < 0 ? "\n" : `\n\n${old.slice(at)}`;
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  if (args.render !== undefined) {
    // re-renders the report of an earlier run from its JSON, measuring nothing
    const file = path.resolve(args.render);
    const rec = JSON.parse(readFileSync(file, "utf8")) as RunRecord;
    const dir = path.dirname(file);
    progress.log(`wrote ${render(rec, dir, dir === path.join(BENCH, "results"))}`);
    process.exit(0);
  }
  const t0 = performance.now();
  const loadStart = os.loadavg()[0]!;
  relaxedFlag = await relaxedBehindFlag();
  const info = backendInfo();
  const available = info.backends.filter((b) => b.unavailable === null).map((b) => b.name);
  for (const b of args.backends)
    if (!info.backends.some((x) => x.name === b)) throw new Error(`--backends: unknown backend ${b}; known: ${info.backends.map((x) => x.name).join(", ")}`);
  // webgpu (async calls on a GPU adapter; often a software one) runs when named: npm run bench -- --backend webgpu
  const keops = available.filter((b) => (args.backends.length ? args.backends.includes(b) : b !== "webgpu"));
  const workloads = WORKLOADS.filter((w) => !args.only.length || args.only.includes(w.key) || args.only.includes(w.id));
  if (!workloads.length) throw new Error(`--only: no workload matches ${args.only.join(",")}`);
  const filtered = args.only.length > 0 || args.backends.length > 0 || args.peers === "none" || args.peers.length > 0;
  const mode: RunRecord["mode"] = args.quick ? "quick" : filtered ? "partial" : "full";
  const outDir = path.resolve(args.out ?? path.join(BENCH, "results", mode === "full" ? "" : mode));
  const notes: string[] = [];
  for (const b of info.backends) if (b.unavailable !== null) notes.push(`keops-ts backend \`${b.name}\` is unavailable here: ${b.unavailable}.`);
  const knnPeers = workloads.some((w) => w.peers.includes("faiss")) && args.peers !== "none";
  const faiss = await loadFaiss();
  faiss.proc?.close();
  const usearch = await loadUsearch();
  if (knnPeers) {
    notes.push(faiss.info
      ? `K-NN peer: ${describeFaiss(faiss.info)}; each run builds the index on y and searches x, timed inside the Python process.`
      : `FAISS is not available (${faiss.why}), so the FAISS K-NN figures are missing. It is not a dependency of keops-ts: \`apt-get install python3-faiss libopenblas0-pthread\` (Debian) provides it; \`KEOPS_TS_PYTHON\` names another interpreter.`);
    notes.push(usearch.mod
      ? `K-NN peer: usearch ${usearch.version} (npm), \`exactSearch(y, x, D, 10, "l2sq", ${os.availableParallelism()})\`: its brute-force exact search on every core.`
      : `usearch is not available (${usearch.why}): it is an optional development dependency (\`npm install\` installs it with its prebuilt binary).`);
  }

  // the schedule: per workload and implementation, sizes ascending
  const plan: { w: Workload; impl: ImplName; sizes: number[] }[] = [];
  for (const w of workloads) for (const impl of implsOf(w, keops, args)) plan.push({ w, impl, sizes: [...(args.quick ? w.quick : w.full)] });
  const total = plan.reduce((n, p) => n + p.sizes.length, 0);
  progress.log(`keops-ts bench (${mode}): ${total} figures; backends ${keops.join(", ") || "none"}; budget ${args.budgetS} s per figure; ${args.runs} warm runs`);
  const results: FigureResult[] = [];
  let done = 0;
  const report = (w: Workload, r: FigureResult): void => {
    done++;
    progress.log(`[${done}/${total}] ${w.key} ${w.sizeLabel} = ${fmtSize(r.spec.size)} ${r.spec.impl} (elapsed ${Math.round(since(t0))} s): ${summary(w, r)}`);
    results.push(r);
  };
  const specOf = (w: Workload, impl: ImplName, size: number): FigureSpec =>
    ({ workload: w.key, impl, size, runs: args.runs, checkRows: CHECK_ROWS, budgetS: args.budgetS, seed: SEED });
  /** A result known without running: a K-NN peer missing, dense matrices too large. */
  const decided = (w: Workload, impl: ImplName, size: number): FigureResult | null => {
    const spec = specOf(w, impl, size);
    if (impl === "faiss" && !faiss.info) return { spec, status: "not available", note: "not available: FAISS cannot be imported (see notes)" };
    if (impl === "usearch" && !usearch.mod) return { spec, status: "not available", note: "not available: usearch is not installed (see notes)" };
    const oom = (impl === "tfjs-cpu" || impl === "tfjs-wasm") && w.id !== "W7" ? denseOutOfMemory(w, size, impl === "tfjs-cpu" ? "cpu" : "wasm") : null;
    return oom ? { spec, status: "out of memory", note: oom } : null;
  };

  if (args.quick) {
    // quick (CI) mode: one process per implementation runs all its small figures
    const batches = new Map<ImplName, FigureSpec[]>();
    for (const { w, impl, sizes } of plan)
      for (const size of sizes) {
        const r = decided(w, impl, size);
        if (r) report(w, r);
        else batches.set(impl, [...(batches.get(impl) ?? []), specOf(w, impl, size)]);
      }
    for (const [impl, specs] of batches) {
      const timeout = specs.length * (args.budgetS * 1.5) + 60;
      await runChild(specs, timeout, (s) => progress.show(`${impl}: ${specs.length} figures … ${Math.round(s)} s (elapsed ${Math.round(since(t0))} s)`), (r) => report(workload(r.spec.workload), r));
    }
  } else
    for (const { w, impl, sizes } of plan) {
      let prev: FigureResult | undefined, lastOk: FigureResult | undefined;
      for (const size of sizes) {
        const spec = specOf(w, impl, size);
        const head = `[${done + 1}/${total}] ${w.key} ${w.sizeLabel} = ${fmtSize(size)} ${impl}`;
        const per = lastOk ? predict(w, lastOk, size) : 0;
        let r = decided(w, impl, size);
        if (r) {
          /* known without running */
        } else if (prev && (prev.status === "not available" || prev.status === "out of memory")) r = { spec, status: prev.status, note: `${prev.status} (as at ${fmtSize(prev.spec.size)})` };
        else if (per * (args.runs + 1) > args.budgetS || prev?.status === "skipped") {
          const note = per > 0
            ? `skipped (predicted ${fmtTime(per)} per run, ${Math.round(per * (args.runs + 1))} s for the figure > budget ${args.budgetS} s)`
            : `skipped (as at ${fmtSize(prev!.spec.size)})`;
          r = { spec, status: "skipped", note };
          if (impl.startsWith("keops:") && size === Math.max(...sizes)) {
            progress.show(`${head} … memory probe (${PROBE_S} s)`);
            const hwm = await probeMemory({ ...spec, runs: 0 }, PROBE_S);
            if (hwm !== null) r = { ...r, peakRssMiB: hwm, note: `${note}; peak RSS over the first ${PROBE_S} s of one call: ${hwm.toFixed(0)} MiB` };
          }
        } else {
          progress.show(`${head} … elapsed ${Math.round(since(t0))} s`);
          r = (await runChild([spec], args.budgetS * 1.5 + 60, (s) => progress.show(`${head} … ${Math.round(s)} s (elapsed ${Math.round(since(t0))} s)`), () => {}))[0]!;
        }
        report(w, r);
        prev = r;
        if (r.status === "ok") lastOk = r;
      }
    }

  // the wasm backend in headless Chromium, against Node (bench/browser.ts), on whole runs only
  if (mode !== "partial") {
    progress.log("browser bench (bench/browser.ts):");
    const at = args.out === undefined && mode === "full" ? "results/" : ""; // relative to RESULTS.md
    if (await browserBench(args.quick ? ["--quick", "--out", outDir] : ["--out", outDir]))
      notes.push(`keops-ts's wasm backend in headless Chromium (Web Workers, main thread, no isolation) against Node, same run: [${at}browser.md](${at}browser.md), plot ${at}browser.svg.`);
    else notes.push(`The browser figures were not measured: Chromium is missing (\`sh scripts/test-deps.sh\` installs it).`);
  }


  const date = new Date().toISOString().slice(0, 10);
  const rec: RunRecord = {
    date: new Date().toISOString(),
    mode,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    commit: gitCommit(),
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      load1Start: Number(loadStart.toFixed(2)),
      load1End: Number(os.loadavg()[0]!.toFixed(2)),
    },
    backends: info.backends,
    budgetS: args.budgetS,
    runs: args.runs,
    checkRows: CHECK_ROWS,
    notes,
    results,
    totalS: since(t0),
  };
  mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, `${date}.json`);
  writeFileSync(json, JSON.stringify(rec, null, 1) + "\n");
  const written = render(rec, outDir, args.out === undefined);
  progress.log(`\nHeadline:\n${headline(rec).join("\n")}`);
  progress.log(`\nwrote ${path.relative(ROOT, json)}, ${written} in ${Math.round(since(t0))} s`);
  const failed = results.filter((r) => r.status === "failed").length;
  if (failed) progress.log(`${failed} figure(s) failed (see above): exit status 1`);
  process.exit(failed ? 1 : 0);
}

main().catch((e: unknown) => {
  process.stderr.write(`\nbench failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
