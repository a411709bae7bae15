/**
 * A publish from a clean checkout ships a complete package: on a copy of the tracked files only
 * (no dist/), `npm pack --dry-run` runs the `prepack` script, which builds, and lists dist/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

test("npm pack --dry-run on a clean copy builds first (prepack) and lists dist/, LICENSE, README, CHANGELOG", { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "keops-ts-clean-"));
  try {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(root, f))) continue; // deleted in the working tree
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(root, f), join(dir, f));
    }
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    assert.ok(!existsSync(join(dir, "dist")), "the copy starts without dist/");
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts=false"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const listed = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/browser.js", "dist/adapters/tfjs.js", "dist/adapters/tfjs.browser.js", "LICENSE", "README.md", "CHANGELOG.md", "package.json"])
      assert.ok(listed.includes(f), `${f} is in the package (listed: ${listed.length} files)`);
    assert.ok(!listed.some((f) => f.startsWith("src/") || f.startsWith("test/")), "sources and tests stay out");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
