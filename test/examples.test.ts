/**
 * The examples run alone as the README says (`npm run example -- NAME`, through
 * scripts/example.mjs), importing the package by its name, and print JavaScript (shapes as
 * arrays, no torch); the large example's densities are right and it reports the memory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { main as large } from "../examples/large.js";

const root = resolve(import.meta.dirname, "..");
const runExample = (...args: string[]) => spawnSync(process.execPath, [join(root, "scripts", "example.mjs"), ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });

test("every example imports keops-ts by its name, never the sources", () => {
  for (const f of readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(root, "examples", f), "utf8");
    assert.doesNotMatch(text, /from "\.\.\/src\//, `${f} imports the sources`);
    assert.doesNotMatch(text, /import\("\.\.\/src\//, `${f} imports the sources`);
  }
});

test("npm run example -- tutorial1 runs alone and speaks JavaScript", { timeout: 120_000 }, () => {
  const r = runExample("tutorial1");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Sum reduction of S_ij wrt\. the 'N' dimension: \[1000, 1\] float32 — first values -?\d+\.\d{4}, /);
  assert.match(r.stdout, /ArgKMin reduction of S_ij wrt\. the 'N' dimension: \[1000, 5\] int32 — first values \d+, \d+, \d+, \d+, \d+, …/);
  assert.match(r.stdout, /Tensor\(shape \[1000, 3\], float32\)\n\[\[/);
  assert.doesNotMatch(r.stdout, /torch/);
});

test("an unknown example name lists the examples", () => {
  const r = runExample("nope");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no example "nope"/);
  for (const n of ["large", "solve", "tutorial1", "tutorial2"]) assert.match(r.stderr, new RegExp(`\\n  ${n} `));
});

test("the large example at 3000 points: densities against float64, memory and progress reported", { timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const { n, a } = await large({ points: 3000, log: (l) => lines.push(l) });
  assert.equal(n, 3000);
  assert.deepEqual(a.shape, [3000, 1]);
  const out = lines.join("\n");
  assert.match(out, /3,000 × 3,000 kernel matrix: 9\.0e\+6 entries,\n34 MiB if it were stored in float32/);
  assert.match(out, /100 % .* done/);
  const err = Number(/largest relative error (\S+)\./.exec(out)?.[1]);
  assert.ok(err < 1e-5, `relative error ${err}`);
  assert.match(out, /Memory: resident set \d+ MiB before the reduction, peak \d+ MiB \(the whole process\) — against 34 MiB for the dense matrix\./);
});
