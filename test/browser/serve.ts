/**
 * What the browser tests and the browser benchmark share: a static server of the repository
 * (paths under /isolated/ are served cross-origin isolated, under /plain/ not) and headless
 * Chromium (Debian's, or `KEOPS_TS_CHROMIUM`) launched through playwright-core.
 */
import { createServer, type Server } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "..", "..");
/** The Chromium binary used. */
export const CHROMIUM = process.env.KEOPS_TS_CHROMIUM ?? "/usr/bin/chromium";

/** A running server and its base URL. */
export interface Served {
  readonly server: Server;
  readonly base: string;
}

/** Serves the repository on a free loopback port. */
export function serve(): Promise<Served> {
  const types: Record<string, string> = { ".js": "text/javascript", ".html": "text/html", ".map": "application/json" };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const m = /^\/(isolated|plain)(\/.*)$/.exec(url.pathname);
    const file = m ? normalize(join(ROOT, m[2]!)) : "";
    if (!m || !file.startsWith(ROOT + "/") || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = { "Content-Type": types[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" };
    if (m[1] === "isolated") Object.assign(headers, { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/**
 * Headless Chromium with the flags this closed network needs. `webgpu`: with WebGPU exposed
 * (`--enable-unsafe-webgpu`: on Linux, headless Chromium offers navigator.gpu only with it; the
 * adapter is SwiftShader) instead of `--disable-gpu`.
 */
export function launch(webgpu = false): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [webgpu ? "--enable-unsafe-webgpu" : "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Opens `url` and waits until the page's module script has set `window.harnessReady`. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as { harnessReady?: boolean }).harnessReady === true, null, { timeout: 20_000 }).catch((e: Error) => {
    throw new Error(`${url} did not load: ${errors.join("; ") || e.message}`);
  });
  return page;
}
