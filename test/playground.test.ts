/**
 * The playground (`npm run playground`) in headless Chromium: the page loads from the playground
 * server, runs the Gaussian convolution, K nearest neighbours and kernel regression (solve)
 * examples on wasm, and what it plotted is read back from the canvas; its numbers are checked
 * against a float64 computation here.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "node:http";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, ROOT, launch } from "./browser/serve.js";
// @ts-expect-error: a plain ES module script without type declarations
import { startPlayground } from "../scripts/playground.mjs";
import { assertClose } from "./util.js";

const skip = process.env.KEOPS_TEST_BROWSER === "0" ? "KEOPS_TEST_BROWSER=0" : false;
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (sh scripts/test-deps.sh, KEOPS_TS_CHROMIUM, or KEOPS_TEST_BROWSER=0)`);
  assert.ok(existsSync(join(ROOT, "dist", "browser.js")), "dist/ is missing: run `npm run build` first");
  const s = (await startPlayground({ port: 0 })) as { server: Server; url: string };
  server = s.server;
  browser = await launch();
  page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(s.url);
  await page.waitForFunction(() => (globalThis as unknown as { playground?: { ready: boolean } }).playground?.ready === true, null, { timeout: 20_000 })
    .catch((e: Error) => assert.fail(`the playground did not load: ${errors.join("; ") || e.message}`));
});

after(async () => {
  await browser?.close();
  server?.close();
});

interface Mark { i: number; x: number; y: number; rgb: number[] }
interface Summary { error?: string; ms: number; N: number; trained?: number; plotted: Mark[]; values?: number[]; indices?: number[]; K?: number; queries?: number; coefficients?: number[]; targets?: number[] }

async function runExample(name: string, opts: Record<string, unknown>): Promise<{ s: Summary; pts: Float64Array; pixels: number[][]; status: string }> {
  const s = (await page!.evaluate(([n, o]) => (globalThis as unknown as { playground: { run: Function } }).playground.run(n, o), [name, opts] as const)) as Summary;
  assert.equal(s.error, undefined, s.error);
  const { pts, pixels, status } = await page!.evaluate((marks) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const g = globalThis as any;
    const ctx = g.document.getElementById("plot").getContext("2d");
    return {
      pts: g.playground.points().data,
      pixels: marks.map((m) => Array.from(ctx.getImageData(m.x, m.y, 1, 1).data.slice(0, 3)) as number[]),
      status: (g.document.getElementById("status").textContent ?? "") as string,
    };
  }, s.plotted);
  return { s, pts: Float64Array.from(pts), pixels, status };
}

/** The plot shows what the run computed: each reported mark has its colour on the canvas. */
function checkPlot(s: Summary, pixels: number[][]): void {
  assert.ok(s.plotted.length >= 4, "marks reported");
  s.plotted.forEach((m, k) => assert.ok(m.rgb.every((c, q) => Math.abs(c - pixels[k]![q]!) <= 2), `mark ${k}: canvas ${pixels[k]} ≠ ${m.rgb}`));
}

const sq = (pts: Float64Array, i: number, j: number, q = pts): number => (pts[2 * i]! - q[2 * j]!) ** 2 + (pts[2 * i + 1]! - q[2 * j + 1]!) ** 2;

test("Gaussian convolution on wasm: values against float64, colours on the canvas", { skip, timeout: 120_000 }, async () => {
  const { s, pts, pixels, status } = await runExample("gauss", { n: 3000, backend: "wasm" });
  assert.match(status, /^gauss: \d+ ms on wasm, N = 3000$/);
  const n = s.N, sigma2 = 0.005;
  const ref = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ref[i]! += Math.exp(-sq(pts, i, j) / sigma2);
  assertClose(s.values!, ref, { rtol: 1e-5, what: "densities" });
  checkPlot(s, pixels);
  // the colours follow the values: the densest reported point is the brightest (green channel)
  const marks = s.plotted.map((m, k) => ({ v: ref[m.i]!, g: pixels[k]![1]! }));
  const top = marks.reduce((a, b) => (b.v > a.v ? b : a)), low = marks.reduce((a, b) => (b.v < a.v ? b : a));
  assert.ok(top.g >= low.g, "colour ramp follows the densities");
});

test("K nearest neighbours on wasm: the links drawn are the K nearest", { skip, timeout: 120_000 }, async () => {
  const { s, pts, pixels } = await runExample("knn", { n: 2000, backend: "wasm" });
  const K = s.K!, M = s.queries!;
  assert.equal(K, 5);
  for (let i = 0; i < M; i++) {
    const d = Array.from({ length: s.N }, (_, j) => sq(pts, i, j)).sort((a, b) => a - b);
    for (let k = 0; k < K; k++) {
      const j = s.indices![i * K + k]!;
      assert.ok(Math.abs(sq(pts, i, j) - d[k]!) <= 1e-6, `query ${i}: neighbour ${k} at ${sq(pts, i, j)}, the ${k}-th nearest at ${d[k]}`);
    }
  }
  checkPlot(s, pixels);
});

test("kernel regression with solve on wasm: (0.5·Id + K) a = t, and the predicted surface on the canvas", { skip, timeout: 120_000 }, async () => {
  const { s, pts, pixels } = await runExample("regression", { n: 800, backend: "wasm" });
  const n = s.trained!, a = s.coefficients!, t = s.targets!;
  assert.equal(n, 800);
  let r2 = 0, t2 = 0;
  for (let i = 0; i < n; i++) {
    let Ka = 0.5 * a[i]!;
    for (let j = 0; j < n; j++) Ka += Math.exp(-sq(pts, i, j) / 0.005) * a[j]!;
    r2 += (Ka - t[i]!) ** 2;
    t2 += t[i]! ** 2;
  }
  assert.ok(Math.sqrt(r2 / t2) < 1e-3, `relative residual ${Math.sqrt(r2 / t2)}`);
  checkPlot(s, pixels);
});
