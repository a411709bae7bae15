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
const CHILD = path.join(tmp, "child.mts");
fs.writeFileSync(CHILD, `
import { Vi, Vj, Tensor, backendInfo } from ${JSON.stringify(path.join(repo, "src/index.js"))};
import { toolchainStats } from ${JSON.stringify(path.join(repo, "src/backends/native/toolchain.js"))};
const salt = Number(process.env.SALT ?? 1);
const x = new Tensor(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [4, 2]);
const y = new Tensor(Float32Array.from([1, 0, -1, 2, 0.5, 0.5]), [3, 2]);
const F = (k: number) => Vi(0, 2).sub(Vj(1, 2)).sqnorm2().mul(salt + k);
const run = (backend: string, k = 0) => [...(F(k).sum({ axis: 1, backend: backend as never }) as unknown as (...a: Tensor[]) => Tensor)(x, y).data];
const runAsync = async (backend: string, k = 0) => [...(await (F(k).sum({ axis: 1, backend: backend as never, async: true }) as unknown as (...a: Tensor[]) => Promise<Tensor>)(x, y)).data];
const out: Record<string, unknown> = { info: backendInfo(), expected: run("js") };
const backend = process.env.BACKEND ?? "auto";
if (process.env.EACH) {
  // two formulas, each with its own outcome
  out.each = [];
  out.expectedEach = [run("js", 0), run("js", 1)];
  for (const k of [0, 1]) {
    const t0 = Date.now();
    try {
      (out.each as unknown[]).push({ ok: true, data: process.env.ASYNC ? await runAsync(backend, k) : run(backend, k), ms: Date.now() - t0 });
    } catch (e) {
      (out.each as unknown[]).push({ ok: false, name: (e as Error).constructor.name, message: (e as Error).message, ms: Date.now() - t0 });
    }
  }
  out.ok = true;
} else {
  try {
    out.data = run(backend);
    if (process.env.TWICE) out.data2 = run(backend, 1);
    out.ok = true;
  } catch (e) {
    out.ok = false; out.name = (e as Error).constructor.name; out.message = (e as Error).message;
  }
}
out.compiles = toolchainStats.compiles;
out.ompEnv = process.env.OMP_WAIT_POLICY ?? null;
console.log(JSON.stringify(out));
`);

interface ChildOut {
  ok: boolean;
  name?: string;
  message?: string;
  data?: number[];
  data2?: number[];
  each?: { ok: boolean; name?: string; message?: string; data?: number[]; ms: number }[];
  expectedEach?: number[][];
  compiles: number;
  ompEnv: string | null;
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

function child(env: Record<string, string | undefined>, uid?: number): ChildOut {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD], { cwd: repo, env: childEnv(env), encoding: "utf8", uid, gid: uid });
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
/** The kernel libraries in a cache folder (beside them: the compiler's OpenMP answer, `openmp-*.txt`). */
const files = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(path.join(dir, "native-v1")).filter((f) => /\.(so|dylib|dll)$/.test(f)) : []);

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
  // a third process finds it in the cache (same file, not rebuilt; a hit refreshes only the
  // access time, which orders the cache's evictions, keeping the modification time to within 1 µs)
  const before = fs.statSync(path.join(dir, "native-v1", left[0]!));
  const c = child(env);
  assert.ok(c.ok, c.message);
  const after = fs.statSync(path.join(dir, "native-v1", left[0]!));
  assert.equal(after.ino, before.ino);
  assert.ok(Math.abs(after.mtimeMs - before.mtimeMs) < 1e-3, `modification time ${before.mtimeMs} → ${after.mtimeMs}`);
  assert.ok(after.atimeMs >= before.atimeMs);
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A fake compiler: g++ for `--version` and the OpenMP probe, `body` (sh) for kernels. */
function fakeCxx(name: string, body: string): string {
  return script(name, `case "$*" in *--version*|*probe.cpp*) exec g++ "$@";; esac\n${body}`);
}
const gxx = spawnSync("g++", ["--version"]).status === 0;

test("a failed compile is that kernel's error: auto falls back for it with a warning naming the compiler's message; the next kernel compiles natively", { skip: skip || (!gxx && "no g++") }, () => {
  for (const backend of ["auto", "native"]) {
    const state = path.join(tmp, `first-fails-${backend}.state`);
    const cxx = fakeCxx(`first-fails-${backend}`, `if [ ! -e ${state} ]; then : > ${state}; echo "fake-cxx: cannot compile this one" >&2; exit 1; fi\nexec g++ "$@"`);
    const r = child({ CXX: cxx, KEOPS_TS_CACHE: freshCache(), EACH: "1", SALT: "3", BACKEND: backend, OMP_WAIT_POLICY: undefined });
    const [a, b] = r.each!;
    if (backend === "auto") {
      assert.ok(a!.ok, a!.message);
      assert.deepEqual(a!.data, r.expected, "the first kernel ran on the fallback");
      assert.match(r.stderr, /keops-ts: the native backend failed, using wasm instead: .*fake-cxx: cannot compile this one/);
    } else {
      assert.equal(a!.name, "KeOpsError");
      assert.match(a!.message!, /fake-cxx: cannot compile this one/);
    }
    assert.ok(b!.ok, b!.message);
    assert.equal(b!.data!.length, r.expected.length);
    assert.equal(r.compiles, 1, "the second kernel compiled natively");
    assert.equal(r.info.backends.find((x) => x.name === "native")!.unavailable, null, "the backend stays available");
    assert.equal(r.ompEnv, null, "the process environment is left alone (no OMP_WAIT_POLICY written)");
  }
});

test("a hung compiler is killed after KEOPS_TS_COMPILE_TIMEOUT seconds (with the processes it started), blocking and async", { skip: skip || (!gxx && "no g++") }, () => {
  const pids = path.join(tmp, "hung-pids");
  const cxx = fakeCxx("hung-cxx", `sleep 120 & echo $! >> ${pids}\nwait`);
  for (const [backend, async] of [["native", ""], ["auto", "1"]] as const) {
    const r = child({ CXX: cxx, KEOPS_TS_CACHE: freshCache(), KEOPS_TS_COMPILE_TIMEOUT: "1", EACH: "1", SALT: "3", BACKEND: backend, ASYNC: async });
    r.each!.forEach((e, k) => {
      assert.ok(e.ms < 30000, `took ${e.ms} ms`);
      if (backend === "native") {
        assert.equal(e.name, "KeOpsError");
        assert.match(e.message!, /took longer than 1 s and was stopped \(KEOPS_TS_COMPILE_TIMEOUT/);
      } else {
        assert.ok(e.ok, e.message);
        assert.deepEqual(e.data, r.expectedEach![k]);
      }
    });
    if (backend === "auto") assert.match(r.stderr, /longer than 1 s/);
  }
  const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number);
  assert.equal(started.length, 4);
  for (const pid of started) {
    // gone, or a zombie waiting for a container's init to reap it
    let state = "gone";
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[0]!;
    } catch {
      /* gone */
    }
    assert.ok(state === "gone" || state === "Z" || (process.platform !== "linux" && !isAlive(pid)), `the compiler's child ${pid} was killed (state ${state})`);
  }
});

test("a process killed while its kernel compiles leaves no compiler running (blocking and async)", { skip: skip || (!gxx && "no g++") }, async () => {
  for (const async of ["", "1"]) {
    const pids = path.join(tmp, `orphan-pids${async}`);
    const cxx = fakeCxx(`orphan-cxx${async}`, `sleep 120 & echo $! >> ${pids}\nwait`);
    const p = spawn(process.execPath, ["--import", "tsx", CHILD], {
      cwd: repo, stdio: "ignore",
      env: childEnv({ CXX: cxx, KEOPS_TS_CACHE: freshCache(), KEOPS_TS_COMPILE_TIMEOUT: "600", EACH: "1", SALT: "4", BACKEND: "native", ASYNC: async }),
    });
    const until = async (what: string, ok: () => boolean, ms: number): Promise<void> => {
      const t0 = Date.now();
      while (!ok()) {
        if (Date.now() - t0 > ms) assert.fail(`${what} within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // the shell creates the file before it writes the pid: wait for a whole line
    const firstPid = (): number => {
      const text = fs.existsSync(pids) ? fs.readFileSync(pids, "utf8") : "";
      return text.includes("\n") ? Number(text.split("\n")[0]) : 0;
    };
    await until("the compiler started", () => firstPid() > 0, 60000);
    const pid = firstPid();
    p.kill("SIGKILL");
    const gone = (): boolean => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[0] === "Z";
      } catch {
        return !isAlive(pid);
      }
    };
    await until(`the compiler's child ${pid} (${async ? "async" : "blocking"} compile) was killed with the process`, gone, 5000);
  }
});

test("the disk cache stays within KEOPS_TS_CACHE_MAX (least recently used first) and drops temporary files older than a day", { skip }, () => {
  const dir = freshCache();
  const lib = path.join(dir, "native-v1");
  fs.mkdirSync(lib, { recursive: true });
  const now = Date.now() / 1000;
  // ten old kernels of 40 KB, used one hour apart (the first the longest ago)
  const old = Array.from({ length: 10 }, (_, k) => path.join(lib, `${k.toString(16).padStart(40, "0")}.so`));
  old.forEach((f, k) => {
    fs.writeFileSync(f, Buffer.alloc(40000, 1));
    fs.utimesSync(f, now - (10 - k) * 3600, now - 20 * 86400);
  });
  const stale = path.join(lib, `${"a".repeat(40)}.123.0123abcd.cpp`);
  const fresh = path.join(lib, `${"b".repeat(40)}.456.89abcdef.cpp`);
  fs.writeFileSync(stale, "x");
  fs.utimesSync(stale, now - 2 * 86400, now - 2 * 86400);
  fs.writeFileSync(fresh, "x");
  const r = child({ KEOPS_TS_CACHE: dir, KEOPS_TS_CACHE_MAX: "200K", BACKEND: "native", SALT: "6", TWICE: "1" });
  assert.ok(r.ok, r.message);
  assert.equal(r.compiles, 2);
  assert.ok(!fs.existsSync(stale), "a temporary file older than a day is removed");
  assert.ok(fs.existsSync(fresh), "a recent temporary file (a compile in progress elsewhere) stays");
  const left = files(dir);
  const bytes = left.reduce((a, f) => a + fs.statSync(path.join(lib, f)).size, 0);
  assert.ok(bytes <= 200 * 1024, `${bytes} bytes left`);
  assert.ok(!fs.existsSync(old[0]!) && !fs.existsSync(old[5]!), "the least recently used went first");
  assert.ok(fs.existsSync(old[9]!), "the most recently used old kernel stays");
  assert.equal(left.filter((f) => !old.includes(path.join(lib, f))).length, 2, "both new kernels are there");
  const bad = child({ KEOPS_TS_CACHE: freshCache(), KEOPS_TS_CACHE_MAX: "lots", BACKEND: "native", SALT: "6" });
  assert.equal(bad.name, "KeOpsError");
  assert.match(bad.message!, /KEOPS_TS_CACHE_MAX: expected a positive number of bytes/);
});

test("a read-only cache folder still serves its kernels (no compile); new ones go to a private folder", { skip }, () => {
  const dir = freshCache();
  const first = child({ KEOPS_TS_CACHE: dir, BACKEND: "native", SALT: "9" });
  assert.ok(first.ok, first.message);
  const lib = path.join(dir, "native-v1");
  const before = files(dir);
  // read-only for the child: as root, the child runs as nobody; otherwise the folder loses its write bit
  const root = process.getuid?.() === 0;
  if (root) for (const d of [tmp, dir]) fs.chmodSync(d, 0o755);
  // nobody must reach the repository (tsx, src/): a clone in a private folder (mktemp -d: 0700)
  // gets its ancestors opened for others during the test, and restored after
  const opened: [string, number][] = [];
  if (root)
    for (let d = repo; d !== path.dirname(d); d = path.dirname(d)) {
      const mode = fs.statSync(d).mode & 0o777;
      if ((mode & 0o005) !== 0o005) {
        opened.push([d, mode]);
        fs.chmodSync(d, mode | 0o005);
      }
    }
  fs.chmodSync(lib, root ? 0o755 : 0o555);
  try {
    const env = { KEOPS_TS_CACHE: dir, BACKEND: "native", SALT: "9", EACH: "1" };
    const r = child(env, root ? 65534 : undefined);
    assert.ok(r.each![0]!.ok, r.each![0]!.message);
    assert.deepEqual(r.each![0]!.data, first.data);
    assert.ok(r.each![1]!.ok, r.each![1]!.message);
    assert.equal(r.compiles, 1, "the cached kernel is used, the new one compiled privately");
    assert.deepEqual(files(dir), before);
  } finally {
    fs.chmodSync(lib, 0o755);
    for (const [d, mode] of opened) fs.chmodSync(d, mode);
  }
});

test("auto warns once per distinct compile failure: the same failure twice is one warning, a different one is reported too", { skip: skip || (!gxx && "no g++") }, () => {
  // every kernel fails; the message is fixed (same) or carries a counter (different)
  for (const [kind, expected] of [["same", 1], ["different", 2]] as const) {
    const counter = path.join(tmp, `always-fails-${kind}.count`);
    const msg = kind === "same" ? `echo "fake-cxx: broken" >&2` : `echo x >> ${counter}; echo "fake-cxx: broken #$(wc -l < ${counter})" >&2`;
    const cxx = fakeCxx(`always-fails-${kind}`, `${msg}\nexit 1`);
    const r = child({ CXX: cxx, KEOPS_TS_CACHE: freshCache(), EACH: "1", SALT: kind === "same" ? "5" : "7", BACKEND: "auto", OMP_WAIT_POLICY: undefined });
    for (const e of r.each!) assert.ok(e.ok, e.message);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("keops-ts: the native backend failed"));
    assert.equal(warnings.length, expected, `${kind} failures: ${r.stderr}`);
  }
});
