/**
 * keops-ts/browser in headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * wasm and js backends, blocking and async calls, in three settings — a cross-origin isolated
 * page (shared memory: async calls run on Web Workers, blocking ones on the main thread alone),
 * a module Web Worker inside it (blocking calls use nested workers too), and a page without
 * isolation (no SharedArrayBuffer: everything on the calling thread). Results are compared with
 * the dense float64 reference in Node, at sizes 0, 1, ragged and above the parallel threshold.
 *
 * Needs Chromium: `KEOPS_TS_CHROMIUM` or /usr/bin/chromium (`apt-get install chromium`, which
 * scripts/test-deps.sh runs). Without it this test fails, unless KEOPS_TEST_BROWSER=0.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { genred, type Tensor } from "../src/index.js";
import { pairTerms, reference, type RefResult } from "./reference.js";
import { Data, assertClose, assertExact, rtolFor, testSeed, withSeed } from "./util.js";
import { CHROMIUM, ROOT, launch, openPage, serve, type Served } from "./browser/serve.js";

const skip = process.env.KEOPS_TEST_BROWSER === "0" ? "KEOPS_TEST_BROWSER=0" : false;

let served: Served | undefined;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium, or sh scripts/test-deps.sh), set KEOPS_TS_CHROMIUM to its path, or set KEOPS_TEST_BROWSER=0 to leave the browser tests out`);
  assert.ok(existsSync(join(ROOT, "dist", "browser.js")), "dist/ is missing: run `npm run build` first");
  served = await serve();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  served?.server.close();
});

/** An argument as sent to the page. */
interface ArgSpec { data: number[]; shape: number[]; dtype: string }
/** A case as sent to the page. */
interface CaseSpec { formula: string; aliases: string[]; opts: Record<string, unknown>; args: ArgSpec[]; backend: string; async: boolean }
/** A result as sent back. */
interface Outcome { data?: number[]; shape?: number[]; dtype?: string; workerRows?: number; error?: string }
interface Report { results: Outcome[]; lazy: number[]; errors: string[]; info: { auto: string; threads: { count: number; sync: string | null; async: string | null }; backends: { name: string }[] }; isolated: boolean; shared: boolean; error?: string }

/** M × N sizes: empty, single, ragged, and above both backends' parallel thresholds (2²¹ pairs). */
const SIZES: [number, number][] = [[0, 5], [1, 1], [37, 101], [1500, 1500]];
const BIG = 3;

interface Problem { formula: string; aliases: string[]; opts: Record<string, unknown>; args: Tensor[]; ref: RefResult; what: string; M: number; N: number; atol?: Float64Array }

/** A sum's per-element absolute tolerance: rtol × Σ_j |term_ij| (its rounding error scales with the terms, which may cancel). */
function sumTolerance(f: ReturnType<typeof genred>, args: Tensor[], rtol: number): Float64Array {
  const t = pairTerms(f as never, ...args);
  const atol = new Float64Array(t.nOut * t.dim);
  for (let o = 0; o < t.nOut; o++)
    for (let n = 0; n < t.nIn; n++)
      for (let c = 0; c < t.dim; c++) atol[o * t.dim + c]! += rtol * Math.abs(t.values[(o * t.nIn + n) * t.dim + c]!);
  return atol;
}

/** The problems of one seed: a Gaussian convolution, arg-K-min with ties (integer coordinates), a float64 log-sum-exp over i. */
function problems(d: Data): Problem[] {
  const out: Problem[] = [];
  for (const [M, N] of SIZES) {
    const add = (formula: string, aliases: string[], opts: Record<string, unknown>, args: Tensor[], what: string): void => {
      const f = genred(formula, aliases, opts as never);
      const atol = opts.reductionOp === "Sum" ? sumTolerance(f, args, rtolFor(args[0]!.dtype as "float32" | "float64")) : undefined;
      out.push({ formula, aliases, opts, args, ref: reference(f, ...args), what: `${what} M=${M} N=${N}`, M, N, atol });
    };
    add("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { reductionOp: "Sum", axis: 1 },
      [d.randn([M, 3], "float32", 0.7), d.randn([N, 3], "float32", 0.7), d.randn([N, 1])], "Gaussian convolution");
    add("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], { reductionOp: "ArgKMin", axis: 1, optArg: Math.min(10, N) },
      [d.randint([M, 3], 0, 4), d.randint([N, 3], 0, 4)], "ArgKMin");
    add("-SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)"], { reductionOp: "LogSumExp", axis: 0 },
      [d.randn([M, 2], "float64"), d.randn([N, 2], "float64")], "float64 LogSumExp over i");
  }
  return out;
}

/** The three settings share one seed's problems (the dense references of the big ones take seconds). */
const SEED = testSeed();
let shared: Problem[] | undefined;
const sharedProblems = (): Problem[] => (shared ??= problems(new Data(SEED)));

function specs(ps: Problem[], backend: string, async: boolean): CaseSpec[] {
  return ps.map((p) => ({
    formula: p.formula, aliases: p.aliases, opts: p.opts, backend, async,
    args: p.args.map((t) => ({ data: Array.from(t.data), shape: [...t.shape], dtype: t.dtype })),
  }));
}

function check(p: Problem, o: Outcome, where: string): void {
  const what = `${where}: ${p.what}`;
  assert.equal(o.error, undefined, `${what}: ${o.error}`);
  assert.deepEqual(o.shape, p.ref.shape, `${what}: shape`);
  if (p.ref.indices) assertExact(o.data!, p.ref.indices, `${what}: indices`);
  else assertClose(o.data!, p.ref.values!, { rtol: rtolFor(o.dtype as "float32" | "float64"), atol: p.atol, what });
}

const BACKENDS = ["wasm", "js"];
const MODES = [false, true];

/** Runs every (backend, mode) over the problems in one setting; returns the reports by "backend sync|async". */
async function runAll(page: Page, ps: Problem[], inWorker: boolean, threads?: number): Promise<Map<string, Report>> {
  const reports = new Map<string, Report>();
  for (const backend of BACKENDS) {
    for (const async of MODES) {
      const cases = specs(ps, backend, async);
      const r = (await page.evaluate(
        ([cases, inWorker, threads]) => {
          const h = (globalThis as unknown as { harness: { runCases: Function; runInWorker: Function } }).harness;
          return inWorker ? h.runInWorker(cases, threads, true) : h.runCases(cases, threads, false);
        },
        [cases, inWorker, threads] as const,
      )) as Report;
      assert.equal(r.error, undefined, r.error);
      const where = `${inWorker ? "worker" : "page"} ${backend} ${async ? "async" : "sync"}`;
      ps.forEach((p, k) => check(p, r.results[k]!, where));
      assert.deepEqual(r.lazy, [26, 23], `${where}: LazyTensor`);
      const [parse, k, dir, cleared] = r.errors;
      assert.match(parse!, /^KeOpsError: formula:/, `${where}: a parse error`);
      assert.match(k!, /^KeOpsError: K: expected/, `${where}: K > N`);
      assert.match(dir!, /^KeOpsError: nativeCacheDir: the native backend .* is not part of keops-ts\/browser/, where);
      assert.equal(cleared, "0", where);
      assert.equal(r.info.auto, "wasm");
      assert.deepEqual(r.info.backends.map((b) => b.name), ["wasm", "js", "webgpu"]);
      reports.set(`${backend} ${async ? "async" : "sync"}`, r);
    }
  }
  return reports;
}

const open = (path: string): Promise<Page> => openPage(browser!, `${served!.base}${path}`);

/** Rows that worker threads computed in the big cases of a report. */
function workerRows(r: Report, ps: Problem[]): number[] {
  return ps.map((p, k) => (p.M * p.N >= SIZES[BIG]![0] * SIZES[BIG]![1] ? r.results[k]!.workerRows! : -1)).filter((x) => x >= 0);
}

/** Rows of a big case (all on workers when a run is entirely theirs). */
const BIG_ROWS = SIZES[BIG]![0];

/**
 * One setting: every (backend, mode) over the shared problems in the page at `path` (inside a
 * Web Worker there when `inWorker`), then `check` on each report.
 */
function setting(name: string, path: string, inWorker: boolean, threads: number | undefined, check: (mode: string, r: Report, rows: number[]) => void): void {
  test(name, { skip, timeout: 180_000 }, () =>
    withSeed(async () => {
      const ps = sharedProblems();
      const page = await open(path);
      try {
        for (const [mode, r] of await runAll(page, ps, inWorker, threads)) check(mode, r, workerRows(r, ps));
      } finally {
        await page.close();
      }
    }, SEED));
}

setting("cross-origin isolated page: async calls on Web Workers, blocking calls on the main thread", "/isolated/test/browser/page.html", false, undefined, (mode, r, rows) => {
  assert.ok(r.isolated && r.shared, `${mode}: the page should be cross-origin isolated`);
  assert.equal(r.info.threads.async, null);
  assert.match(r.info.threads.sync ?? "", /main thread may not block/);
  if (mode.endsWith("async")) assert.ok(rows.every((n) => n === BIG_ROWS), `${mode}: every row on workers (${rows})`);
  else assert.ok(rows.every((n) => n === 0), `${mode}: no worker rows on the main thread (${rows})`);
});

setting("a Web Worker in an isolated page: blocking calls run on nested workers too, once started (3 threads)", "/isolated/test/browser/page.html", true, 3, (mode, r, rows) => {
  assert.equal(r.info.threads.count, 3);
  assert.equal(r.info.threads.sync, null);
  assert.equal(r.info.threads.async, null);
  assert.ok(rows.every((n) => n > 0 && n <= BIG_ROWS), `${mode}: worker rows ${rows}`);
});

setting("a page without cross-origin isolation: no SharedArrayBuffer, every call on the calling thread", "/plain/test/browser/page.html", false, undefined, (mode, r, rows) => {
  assert.ok(!r.isolated && !r.shared, `${mode}: the page should not be isolated`);
  assert.match(r.info.threads.sync ?? "", /not cross-origin isolated/);
  assert.match(r.info.threads.async ?? "", /not cross-origin isolated/);
  assert.ok(rows.every((n) => n === 0), `${mode}: worker rows ${rows}`);
});
