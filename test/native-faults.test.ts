/**
 * Faults of the native backend, each in a child process (the compiler is detected once per
 * process): no compiler, a broken compiler (CXX), a compiler that fails on the kernel, a corrupted
 * cache file, an unwritable cache folder, two processes compiling one kernel at once; and
 * clearNativeCache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { clearNativeCache } from "../src/index.js";
import { nativeBackend } from "../src/backends/native/index.js";

const skip = nativeBackend.unavailable() ?? false;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keops-ts-faults-"));
process.once("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The child: one or two reductions (a fresh formula per SALT), results and backendInfo as JSON. */
const CHILD = path.join(tmp, "child.ts");
fs.writeFileSync(CHILD, `
import { Vi, Vj, Tensor, backendInfo } from ${JSON.stringify(path.join(repo, "src/index.js"))};
const salt = Number(process.env.SALT ?? 1);
const x = new Tensor(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [4, 2]);
const y = new Tensor(Float32Array.from([1, 0, -1, 2, 0.5, 0.5]), [3, 2]);
const F = (k: number) => Vi(0, 2).sub(Vj(1, 2)).sqnorm2().mul(salt + k);
const run = (backend: string, k = 0) => [...(F(k).sum({ axis: 1, backend: backend as never }) as unknown as (...a: Tensor[]) => Tensor)(x, y).data];
const out: Record<string, unknown> = { info: backendInfo(), expected: run("js") };
try {
  out.data = run(process.env.BACKEND ?? "auto");
  if (process.env.TWICE) out.data2 = run(process.env.BACKEND ?? "auto", 1);
  out.ok = true;
} catch (e) {
  out.ok = false; out.name = (e as Error).constructor.name; out.message = (e as Error).message;
}
console.log(JSON.stringify(out));
`);

interface ChildOut {
  ok: boolean;
  name?: string;
  message?: string;
  data?: number[];
  data2?: number[];
  expected: number[];
  info: { auto: string; backends: { name: string; unavailable: string | null }[]; reason: string };
  stderr: string;
}

function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, KEOPS_TEST_BACKENDS: undefined };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete e[k];
    else e[k] = v;
  }
  return e;
}

function parse(stdout: string, stderr: string): ChildOut {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return { ...(JSON.parse(line) as ChildOut), stderr };
  } catch {
    throw new Error(`child failed:\n${stdout}\n${stderr}`);
  }
}

function child(env: Record<string, string | undefined>): ChildOut {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD], { cwd: repo, env: childEnv(env), encoding: "utf8" });
  return parse(r.stdout, r.stderr);
}

function childAsync(env: Record<string, string | undefined>): Promise<ChildOut> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", CHILD], { cwd: repo, env: childEnv(env) });
    let out = "", err = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    p.on("error", reject);
    p.on("close", () => {
      try {
        resolve(parse(out, err));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

function script(name: string, body: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return f;
}

const native = (o: ChildOut): string | null => o.info.backends.find((b) => b.name === "native")!.unavailable;
let cacheN = 0;
const freshCache = (): string => path.join(tmp, `cache${cacheN++}`);
const files = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(path.join(dir, "native-v1")) : []);

test("no compiler: auto uses another backend and says why; backend native raises a KeOpsError naming what to install", { skip }, () => {
  const env = { CXX: undefined, PATH: path.join(tmp, "empty-path"), KEOPS_TS_CACHE: freshCache() };
  const a = child(env);
  assert.ok(a.ok, a.message);
  assert.deepEqual(a.data, a.expected);
  assert.notEqual(a.info.auto, "native");
  assert.match(native(a)!, /no C\+\+ compiler found.*apt-get install g\+\+/);
  assert.match(a.info.reason, /native: no C\+\+ compiler/);
  const n = child({ ...env, BACKEND: "native" });
  assert.equal(n.ok, false);
  assert.equal(n.name, "KeOpsError");
  assert.match(n.message!, /install g\+\+/);
});

test("a broken CXX (fails --version; also CXX=/bin/false): auto falls back with one warning; native raises with the compiler's stderr", { skip }, () => {
  const cxx = script("broken-cxx", 'echo "fake-cxx: internal compiler error" >&2\nexit 1');
  const env = { CXX: cxx, KEOPS_TS_CACHE: freshCache(), TWICE: "1" };
  const a = child(env);
  assert.ok(a.ok, a.message);
  assert.deepEqual(a.data, a.expected);
  assert.notEqual(a.info.auto, "native");
  assert.match(native(a)!, /fake-cxx: internal compiler error/);
  assert.equal(a.stderr.split("keops-ts:").length - 1, 1, `one warning, got:\n${a.stderr}`);
  const n = child({ ...env, BACKEND: "native" });
  assert.equal(n.name, "KeOpsError");
  assert.match(n.message!, /fake-cxx: internal compiler error/);
  const f = child({ CXX: "/bin/false", KEOPS_TS_CACHE: freshCache() });
  assert.ok(f.ok, f.message);
  assert.deepEqual(f.data, f.expected);
  assert.match(native(f)!, /CXX=\/bin\/false/);
});

test("a compiler that fails on the kernel: auto falls back (one warning for two formulas); native raises with its stderr", { skip }, () => {
  const cxx = script("failing-cxx", 'if [ "$1" = "--version" ]; then echo "fake 1.0"; exit 0; fi\necho "fake-cxx: cannot compile this" >&2\nexit 1');
  const env = { CXX: cxx, KEOPS_TS_CACHE: freshCache(), TWICE: "1" };
  const a = child(env);
  assert.ok(a.ok, a.message);
  assert.equal(a.info.auto, "native", "the compiler looks fine until used");
  assert.deepEqual(a.data, a.expected);
  assert.deepEqual(a.data2!.length, a.expected.length);
  assert.equal(a.stderr.split("keops-ts:").length - 1, 1, `one warning, got:\n${a.stderr}`);
  assert.match(a.stderr, /fake-cxx: cannot compile this/);
  const n = child({ ...env, BACKEND: "native", TWICE: undefined });
  assert.equal(n.ok, false);
  assert.equal(n.name, "KeOpsError");
  assert.match(n.message!, /fake-cxx: cannot compile this/);
});

test("a truncated or garbage cache file is recompiled", { skip }, () => {
  const dir = freshCache();
  const env = { KEOPS_TS_CACHE: dir, BACKEND: "native", SALT: "1.25" };
  const first = child(env);
  assert.ok(first.ok, first.message);
  const [so] = files(dir);
  assert.ok(so?.endsWith(".so") || so?.endsWith(".dylib") || so?.endsWith(".dll"), `cache files: ${files(dir)}`);
  const file = path.join(dir, "native-v1", so!);
  const size = fs.statSync(file).size;
  for (const damage of [() => fs.truncateSync(file, 200), () => fs.writeFileSync(file, Buffer.alloc(size, 0x5a))]) {
    damage();
    const again = child(env);
    assert.ok(again.ok, again.message);
    assert.deepEqual(again.data, first.data);
    assert.equal(fs.statSync(file).size, size, "rebuilt in place");
    assert.deepEqual(files(dir), [so]);
  }
});

test("an unwritable cache folder: kernels compile to a private temporary folder", { skip }, () => {
  const blocker = path.join(tmp, "not-a-dir");
  fs.writeFileSync(blocker, "x");
  const r = child({ KEOPS_TS_CACHE: path.join(blocker, "cache"), BACKEND: "native", SALT: "1.5" });
  assert.ok(r.ok, r.message);
  assert.deepEqual(r.data, r.expected);
  if (process.getuid?.() !== 0) {
    const ro = path.join(tmp, "readonly");
    fs.mkdirSync(path.join(ro, "native-v1"), { recursive: true });
    fs.chmodSync(path.join(ro, "native-v1"), 0o500);
    const r2 = child({ KEOPS_TS_CACHE: ro, BACKEND: "native", SALT: "1.5" });
    assert.ok(r2.ok, r2.message);
    assert.deepEqual(fs.readdirSync(path.join(ro, "native-v1")), []);
  }
});

test("two processes compiling the same new kernel at once: both succeed, one cache file, no leftovers", { skip }, async () => {
  const dir = freshCache();
  const env = { KEOPS_TS_CACHE: dir, BACKEND: "native", SALT: "1.75" };
  const [a, b] = await Promise.all([childAsync(env), childAsync(env)]);
  assert.ok(a.ok, a.message);
  assert.ok(b.ok, b.message);
  assert.deepEqual(a.data, b.data);
  assert.deepEqual(a.data, a.expected);
  const left = files(dir);
  assert.equal(left.length, 1, `cache files: ${left}`);
  // a third process finds it in the cache (same file, not rebuilt)
  const mtime = fs.statSync(path.join(dir, "native-v1", left[0]!)).mtimeMs;
  const c = child(env);
  assert.ok(c.ok, c.message);
  assert.equal(fs.statSync(path.join(dir, "native-v1", left[0]!)).mtimeMs, mtime);
});

test("clearNativeCache empties the cache folder of KEOPS_TS_CACHE", { skip }, () => {
  const dir = freshCache();
  const r = child({ KEOPS_TS_CACHE: dir, BACKEND: "native", SALT: "2.25" });
  assert.ok(r.ok, r.message);
  assert.equal(files(dir).length, 1);
  const old = process.env.KEOPS_TS_CACHE;
  process.env.KEOPS_TS_CACHE = dir;
  try {
    assert.equal(clearNativeCache(), 1);
    assert.deepEqual(files(dir), []);
    assert.equal(clearNativeCache(), 0);
  } finally {
    if (old === undefined) delete process.env.KEOPS_TS_CACHE;
    else process.env.KEOPS_TS_CACHE = old;
  }
});
