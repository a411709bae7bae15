/**
 * Packaging can't silently break: `npm pack`, install the tarball into a fresh folder, import the
 * public entry point by its package name and run one reduction. Needs `npm run build` first
 * (the `npm test` script does it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

test("npm pack → install in a fresh folder → import keops-ts (and keops-ts/browser) → one reduction", { timeout: 240_000 }, () => {
  assert.ok(existsSync(join(root, "dist", "index.js")), "dist/ is missing: run `npm run build` first");
  const dir = mkdtempSync(join(tmpdir(), "keops-ts-pack-"));
  try {
    const out = execFileSync("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", dir], { cwd: root, encoding: "utf8" });
    const tgz = join(dir, out.trim().split("\n").pop()!);
    const app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tgz], { cwd: app, stdio: "pipe" });
    writeFileSync(
      join(app, "main.js"),
      `import { LazyTensor, Vi, Vj, Pm, Tensor, tensor, randn } from "keops-ts";
const x = tensor([[0, 0], [1, 0]]), y = tensor([[0, 0], [0, 1], [3, 4]]);
const s = Vi(x).sub(Vj(y)).sqnorm2().sum({ axis: 1 });
const ok = s instanceof Tensor && typeof LazyTensor === "function" && typeof Pm === "function" && typeof randn === "function";
console.log(JSON.stringify({ shape: s.shape, data: Array.from(s.data), ok }));
`,
    );
    const res = JSON.parse(execFileSync("node", ["main.js"], { cwd: app, encoding: "utf8" }));
    assert.deepEqual(res, { shape: [2, 1], data: [26, 23], ok: true });
    // the browser build runs anywhere: in Node (no Web Workers) on the calling thread, wasm first
    writeFileSync(
      join(app, "browser.js"),
      `import { Vi, Vj, tensor, backendInfo } from "keops-ts/browser";
const s = Vi(tensor([[0, 0], [1, 0]])).sub(Vj(tensor([[0, 0], [0, 1], [3, 4]]))).sqnorm2().sum({ axis: 1 });
const i = backendInfo();
console.log(JSON.stringify({ data: Array.from(s.data), auto: i.auto, backends: i.backends.map((b) => b.name), sync: i.threads.sync }));
`,
    );
    const br = JSON.parse(execFileSync("node", ["browser.js"], { cwd: app, encoding: "utf8" }));
    assert.deepEqual(br, { data: [26, 23], auto: "wasm", backends: ["wasm", "js", "webgpu"], sync: "this JavaScript host has no Web Workers" });
    // keops-ts/distributed imports without its optional peers (bullmq, ioredis): they are needed,
    // and named, only when a worker or a run starts; the keops-ts command is installed
    writeFileSync(
      join(app, "dist.js"),
      `import { connect, startWorker } from "keops-ts/distributed";
const c = connect({ connection: "redis://127.0.0.1:9" });
const why = await startWorker({ connection: "redis://127.0.0.1:9" }).ready.then(() => "started", (e) => e.message);
console.log(JSON.stringify({ run: typeof c.run, why }));
`,
    );
    const dist = JSON.parse(execFileSync("node", ["dist.js"], { cwd: app, encoding: "utf8" }));
    assert.equal(dist.run, "function");
    assert.match(dist.why, /keops-ts\/distributed needs the package bullmq \(npm install bullmq ioredis\)/);
    assert.match(execFileSync(join(app, "node_modules", ".bin", "keops-ts"), ["--help"], { encoding: "utf8" }), /keops-ts worker --redis URL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Every module the given dist entry reaches, with the specifiers of its imports. */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const src = readFileSync(file, "utf8");
    const specs = [...src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
    graph.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(resolve(dirname(file), s));
  }
  return graph;
}

test("the browser entry points reach no node: module and no package but tfjs-core", () => {
  for (const [entry, allowed] of [["browser.js", []], ["adapters/tfjs.browser.js", ["@tensorflow/tfjs-core"]]] as const) {
    const graph = importGraph(join(root, "dist", entry));
    assert.ok(graph.size > 20, `${entry}: only ${graph.size} modules found; the import scan is broken`);
    for (const [file, specs] of graph)
      for (const s of specs) assert.ok(s.startsWith(".") || (allowed as readonly string[]).includes(s), `${entry} reaches ${s} (imported by ${file})`);
  }
  // and the Node entry does reach the native backend (so the scan sees what it should)
  const node = [...importGraph(join(root, "dist", "index.js")).values()].flat();
  assert.ok(node.includes("node:worker_threads") && node.includes("node:child_process"), "the scan missed the Node entry's node: imports");
});
