/**
 * The shared suites on webgpu on the second software adapter, SwiftShader (Chromium's Vulkan
 * driver), in a child process: one process holds one Vulkan driver, and this file's siblings run
 * on lavapipe (scripts/webgpu-adapter.sh). Needs /usr/lib/chromium/vk_swiftshader_icd.json
 * (Debian's chromium) or KEOPS_TS_SWIFTSHADER; KEOPS_TEST_WEBGPU=0 leaves it out.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const skip = process.env.KEOPS_TEST_WEBGPU === "0" ? "KEOPS_TEST_WEBGPU=0" : false;
const ICD = process.env.KEOPS_TS_SWIFTSHADER || "/usr/lib/chromium/vk_swiftshader_icd.json";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SUITES = ["webgpu", "reductions", "semantics", "batch", "ops"].map((s) => `test/${s}.test.ts`);

test(`the shared suites on webgpu on SwiftShader (${SUITES.join(", ")})`, { skip, timeout: 1_800_000 }, () => {
  assert.ok(existsSync(ICD), `SwiftShader not found at ${ICD}: install chromium (sh scripts/test-deps.sh), set KEOPS_TS_SWIFTSHADER, or KEOPS_TEST_WEBGPU=0`);
  const env: Record<string, string | undefined> = { ...process.env, KEOPS_TS_WEBGPU_ADAPTER: "swiftshader", KEOPS_TEST_BACKENDS: "webgpu", KEOPS_TS_SWIFTSHADER: ICD };
  delete env.VK_ICD_FILENAMES;
  delete env.NODE_TEST_CONTEXT; // a nested test runner of its own, reporting TAP here
  delete env.VK_DRIVER_FILES;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", ...SUITES], { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const out = `${r.stdout}\n${r.stderr}`;
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)`, "m").exec(r.stdout)?.[1] ?? NaN);
  const failures = out.split("\n").filter((l) => /^\s*not ok /.test(l) || /^\s+error: /.test(l)).slice(0, 20).join("\n");
  assert.equal(r.status, 0, `SwiftShader run failed:\n${failures || out.slice(-4000)}`);
  assert.equal(count("fail"), 0, failures);
  assert.ok(count("pass") >= 30, `only ${count("pass")} tests ran on SwiftShader`);
  assert.match(out, /\[webgpu async\] Sum on both axes/, "the reductions suite ran on webgpu");
});
