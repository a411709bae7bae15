// `npm run playground`: serves the repository's static files (the playground page and dist/)
// on http://localhost:8080/playground/ (PORT=… to change), cross-origin isolated so that the
// wasm backend runs on Web Workers. node:http only, no framework.
import { createServer } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".html": "text/html", ".css": "text/css", ".map": "application/json", ".json": "application/json", ".svg": "image/svg+xml" };

/** Starts the server on `port` (0: a free one); resolves to { server, url }. */
export function startPlayground({ port = 8080, host = "127.0.0.1" } = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    if (path === "/" || path === "/playground") {
      res.writeHead(302, { Location: "/playground/" }).end();
      return;
    }
    let file = normalize(join(ROOT, path));
    if (file.endsWith("/") || (existsSync(file) && statSync(file).isDirectory())) file = join(file, "index.html");
    const allowed = ["playground", "dist"].some((d) => file.startsWith(join(ROOT, d) + "/"));
    if (!allowed || !existsSync(file)) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(path.startsWith("/dist/") ? "dist/ is missing: run npm run build (npm run playground does)" : "not found");
      return;
    }
    res.writeHead(200, {
      "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      "Cache-Control": "no-store",
      // cross-origin isolation: SharedArrayBuffer, so wasm kernels run on Web Workers
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
    }).end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok({ server, url: `http://${host === "127.0.0.1" ? "localhost" : host}:${server.address().port}/playground/` }));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (!existsSync(join(ROOT, "dist", "browser.js"))) {
    console.error("dist/browser.js is missing: run `npm run build` first (npm run playground does)");
    process.exit(1);
  }
  const { url } = await startPlayground({ port: Number(process.env.PORT ?? 8080) });
  console.log(`keops-ts playground: ${url}  (Ctrl-C to stop)`);
}
