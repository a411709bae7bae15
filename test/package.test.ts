/**
 * Packaging can't silently break: `npm pack`, install the tarball into a fresh folder, import the
 * public entry point by its package name and run one reduction. Needs `npm run build` first
 * (the `npm test` script does it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

test("npm pack → install in a fresh folder → import keops-ts → one reduction", { timeout: 240_000 }, () => {
  assert.ok(existsSync(join(root, "dist", "index.js")), "dist/ is missing: run `npm run build` first");
  const dir = mkdtempSync(join(tmpdir(), "keops-ts-pack-"));
  try {
    const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: root, encoding: "utf8" });
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
console.log(JSON.stringify({ shape: s.shape, data: Array.from(s.data), ok: s instanceof Tensor && typeof LazyTensor === "function" && typeof Pm === "function" && typeof randn === "function" }));
`,
    );
    const res = JSON.parse(execFileSync("node", ["main.js"], { cwd: app, encoding: "utf8" }));
    assert.deepEqual(res, { shape: [2, 1], data: [26, 23], ok: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
