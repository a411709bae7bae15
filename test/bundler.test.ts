/**
 * A bundler builds an app against the package as an application installs it: esbuild (browser
 * platform, so the "browser" export conditions apply) bundles a small app importing `keops-ts`
 * and `keops-ts/tfjs` from a node_modules/keops-ts that points at this repository (dist/ built),
 * and the bundle runs in headless Chromium: a reduction on the default backend (wasm) and a
 * TensorFlow.js-adapter reduction, checked here against float64.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { CHROMIUM, ROOT, launch } from "./browser/serve.js";
import { assertClose } from "./util.js";

const skip = process.env.KEOPS_TEST_BROWSER === "0" ? "KEOPS_TEST_BROWSER=0" : false;

const APP = `
import { Vi, Vj, tensor, backendInfo } from "keops-ts";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { LazyTensor } from "keops-ts/tfjs";

const x = tensor([[0, 0], [1, 0], [0.5, 2]]), y = tensor([[0, 0], [0, 1], [3, 4], [1, 1]]);
const a = await Vi(x).sub(Vj(y)).sqnorm2().neg().exp().sum({ axis: 1, async: true });
await tf.setBackend("cpu");
const xt = tf.tensor([[0, 0], [1, 0], [0.5, 2]]), yt = tf.tensor([[0, 0], [0, 1], [3, 4], [1, 1]]);
const d = new LazyTensor(tf.expandDims(xt, 1)).sub(new LazyTensor(tf.expandDims(yt, 0))).square().sum(-1);
const m = d.min({ axis: 1 });
globalThis.result = { a: Array.from(a.data), auto: backendInfo().auto, m: Array.from(m.dataSync()), mShape: m.shape, isTf: m instanceof tf.Tensor };
`;

test("esbuild bundles an app importing keops-ts and keops-ts/tfjs; it runs in headless Chromium", { skip, timeout: 120_000 }, async () => {
  assert.ok(existsSync(join(ROOT, "dist", "browser.js")), "dist/ is missing: run `npm run build` first");
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
  const dir = mkdtempSync(join(tmpdir(), "keops-ts-bundle-"));
  const server = createServer();
  const browser = await launch();
  try {
    // the app's node_modules: keops-ts as installed (a link to this repository)
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules", "keops-ts"), "dir");
    writeFileSync(join(dir, "app.js"), APP);
    const r = await build({
      entryPoints: [join(dir, "app.js")], bundle: true, platform: "browser", format: "esm", target: "es2022",
      absWorkingDir: ROOT, outfile: join(dir, "out", "app.js"), nodePaths: [join(ROOT, "node_modules")], logLevel: "silent", metafile: true,
    });
    const inputs = Object.keys(r.metafile!.inputs);
    assert.ok(inputs.some((f) => f.endsWith("dist/browser.js")), "keops-ts resolved to its browser build");
    assert.ok(inputs.some((f) => f.endsWith("dist/adapters/tfjs.browser.js")), "keops-ts/tfjs resolved to its browser build");
    const own = inputs.filter((f) => f.startsWith("dist/"));
    assert.deepEqual(own.filter((f) => /^dist\/(index\.js|adapters\/tfjs\.js|platform\/node\.js|backends\/native\/)/.test(f)), [], "no Node-only module of keops-ts in the bundle");
    const bundle = readFileSync(join(dir, "out", "app.js"));
    server.on("request", (req, res) => {
      if (req.url === "/app.js") res.writeHead(200, { "Content-Type": "text/javascript" }).end(bundle);
      else res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><script type="module" src="/app.js"></script>`);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 })
      .catch((e: Error) => assert.fail(`the bundled app did not run: ${errors.join("; ") || e.message}`));
    const res = (await page.evaluate(() => (globalThis as unknown as { result: unknown }).result)) as { a: number[]; auto: string; m: number[]; mShape: number[]; isTf: boolean };
    const X = [[0, 0], [1, 0], [0.5, 2]], Y = [[0, 0], [0, 1], [3, 4], [1, 1]];
    const d2 = X.map((p) => Y.map((q) => (p[0]! - q[0]!) ** 2 + (p[1]! - q[1]!) ** 2));
    assertClose(res.a, d2.map((r) => r.reduce((s, v) => s + Math.exp(-v), 0)), { rtol: 1e-6, what: "Gaussian sum" });
    assert.equal(res.auto, "wasm");
    assert.deepEqual(res.mShape, [3, 1]);
    assert.ok(res.isTf, "the adapter returns a tf.Tensor");
    assertClose(res.m, d2.map((r) => Math.min(...r)), { rtol: 1e-6, what: "tfjs adapter min" });
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
