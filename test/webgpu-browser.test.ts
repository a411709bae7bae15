/**
 * keops-ts/browser's webgpu backend in headless Chromium (`--enable-unsafe-webgpu`: SwiftShader),
 * in a page and in a module Web Worker: every reduction family, both axes, sizes 0, 1, ragged and
 * across the kernel's tiles and split of j, against the float64 reference in Node; float64 and
 * blocking calls refused with KeOpsErrors that say why.
 *
 * Needs Chromium (as test/browser.test.ts); KEOPS_TEST_BROWSER=0 or KEOPS_TEST_WEBGPU=0 leave it out.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { genred, type Tensor } from "../src/index.js";
import { reference, type RefResult } from "./reference.js";
import { Data, assertClose, assertExact, testSeed, withSeed } from "./util.js";
import { CHROMIUM, ROOT, launch, openPage, serve, type Served } from "./browser/serve.js";

const skip = process.env.KEOPS_TEST_BROWSER === "0" ? "KEOPS_TEST_BROWSER=0" : process.env.KEOPS_TEST_WEBGPU === "0" ? "KEOPS_TEST_WEBGPU=0" : false;

let served: Served | undefined;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install it (sh scripts/test-deps.sh), set KEOPS_TS_CHROMIUM, or set KEOPS_TEST_BROWSER=0`);
  assert.ok(existsSync(join(ROOT, "dist", "browser.js")), "dist/ is missing: run `npm run build` first");
  served = await serve();
  browser = await launch(true);
});

after(async () => {
  await browser?.close();
  served?.server.close();
});

interface Problem { formula: string; aliases: string[]; opts: Record<string, unknown>; args: Tensor[]; ref?: RefResult; expectError?: RegExp; async: boolean; what: string }
interface Outcome { data?: number[]; shape?: number[]; error?: string }

/** Inner sizes crossing SwiftShader's kernel tile (128 invocations) and the split of j (few rows). */
const SIZES: [number, number][] = [[0, 5], [1, 1], [37, 101], [130, 300], [3, 700]];

function problems(d: Data): Problem[] {
  const out: Problem[] = [];
  const add = (formula: string, aliases: string[], opts: Record<string, unknown>, args: Tensor[], what: string): void => {
    const f = genred(formula, aliases, opts as never);
    out.push({ formula, aliases, opts, args, ref: reference(f, ...args), async: true, what });
  };
  for (const [M, N] of SIZES) {
    const xy = (dim: number, ints = false): Tensor[] => ints ? [d.randint([M, dim], 0, 4), d.randint([N, dim], 0, 4)] : [d.randn([M, dim], "float32", 0.7), d.randn([N, dim], "float32", 0.7)];
    add("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], { reductionOp: "Sum", axis: 1 }, [...xy(3), d.randn([N, 1])], `Gaussian sum M=${M} N=${N}`);
    add("-SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)"], { reductionOp: "LogSumExp", axis: 0 }, xy(2), `LogSumExp axis 0 M=${M} N=${N}`);
    add("-SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)", "b = Vj(2)"], { reductionOp: "SumSoftMaxWeight", axis: 1, formula2: "b" }, [...xy(2), d.randn([N, 2])], `SumSoftMaxWeight M=${M} N=${N}`);
    add("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], { reductionOp: "ArgMin", axis: 1 }, xy(3, true), `ArgMin (ties) M=${M} N=${N}`);
    if (N > 0 && M > 0) add("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], { reductionOp: "ArgKMin", axis: 1, optArg: Math.min(5, N) }, xy(3, true), `ArgKMin (ties) M=${M} N=${N}`);
  }
  const x = d.randn([4, 3], "float64"), y = d.randn([5, 3], "float64");
  out.push({ formula: "SqDist(x,y)", aliases: ["x = Vi(3)", "y = Vj(3)"], opts: { reductionOp: "Sum", axis: 1 }, args: [x, y], async: true, expectError: /float32 only/, what: "float64 refused" });
  const xf = d.randn([4, 3]), yf = d.randn([5, 3]);
  out.push({ formula: "SqDist(x,y)", aliases: ["x = Vi(3)", "y = Vj(3)"], opts: { reductionOp: "Sum", axis: 1 }, args: [xf, yf], async: false, expectError: /runs only with async: true/, what: "blocking call refused" });
  return out;
}

const SEED = testSeed();

async function run(page: Page, ps: Problem[], inWorker: boolean): Promise<Outcome[]> {
  const cases = ps.map((p) => ({
    formula: p.formula, aliases: p.aliases, opts: p.opts, backend: "webgpu", async: p.async,
    args: p.args.map((t) => ({ data: Array.from(t.data), shape: [...t.shape], dtype: t.dtype })),
  }));
  const r = (await page.evaluate(
    ([cases, inWorker]) => {
      const h = (globalThis as unknown as { harness: { runCases: Function; runInWorker: Function } }).harness;
      return inWorker ? h.runInWorker(cases, 1, false) : h.runCases(cases, 1, false);
    },
    [cases, inWorker] as const,
  )) as { results: Outcome[]; error?: string };
  assert.equal(r.error, undefined, r.error);
  return r.results;
}

for (const inWorker of [false, true])
  test(`webgpu in headless Chromium (SwiftShader), ${inWorker ? "in a module Web Worker" : "in a page"}: reductions against the float64 reference`, { skip, timeout: 300_000 }, () =>
    withSeed(async (d) => {
      const ps = problems(d);
      const page = await openPage(browser!, `${served!.base}/isolated/test/browser/page.html`);
      try {
        const results = await run(page, ps, inWorker);
        ps.forEach((p, k) => {
          const o = results[k]!;
          const what = `${inWorker ? "worker" : "page"}: ${p.what}`;
          if (p.expectError) {
            assert.match(o.error ?? "no error", p.expectError, what);
            return;
          }
          assert.equal(o.error, undefined, `${what}: ${o.error}`);
          assert.deepEqual(o.shape, p.ref!.shape, `${what}: shape`);
          if (p.ref!.indices) assertExact(o.data!, p.ref!.indices, `${what}: indices`);
          else assertClose(o.data!, p.ref!.values!, { rtol: 2e-5, what });
        });
      } finally {
        await page.close();
      }
    }, SEED));
