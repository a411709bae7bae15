/**
 * The C++ toolchain: compiler detection (`CXX`, then g++, then clang++), flags, compiler runs
 * (with a timeout; a hung compiler is killed with its whole process group), and the disk cache
 * of compiled kernels: keyed by the source, the compiler and the flags (OpenMP or not, decided
 * once per compiler before the first lookup); written by atomic rename, so concurrent processes
 * never see a partial file; bounded in size (`KEOPS_TS_CACHE_MAX`, least recently used files
 * go first); temporary files older than a day removed; usable read-only.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KeOpsError } from "../../errors.js";

/** A working compiler. */
export interface Compiler {
  /** Command and its leading arguments (from `CXX`, which may hold several words). */
  readonly cmd: string;
  readonly args: readonly string[];
  /** First line of `--version`, part of the cache key. */
  readonly version: string;
}

/**
 * Flags: optimisation for this machine, no errno (lets sqrt/floor vectorise), no trapping math.
 * Nothing that changes NaN/∞ semantics (no -ffast-math, no -ffinite-math-only).
 */
export const CXX_FLAGS = ["-march=native", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-shared", "-fPIC", "-w"];
const OPENMP = "-fopenmp";

const INSTALL_HINT = "install a C++ compiler (Debian/Ubuntu: apt-get install g++; macOS: xcode-select --install) or set CXX";

let detected: { compiler: Compiler | null; why: string | null } | undefined;

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      if (fs.statSync(f).isFile()) return f;
    } catch {
      /* not here */
    }
  }
  return null;
}

function probe(cmd: string, args: string[]): { version: string } | { error: string } {
  const r = spawnSync(cmd, [...args, "--version"], { encoding: "utf8", timeout: 20000 });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `"${[cmd, ...args, "--version"].join(" ")}" exited with status ${r.status}${r.stderr ? `: ${r.stderr.trim()}` : ""}` };
  return { version: (r.stdout || r.stderr).split("\n")[0]!.trim() };
}

/** The compiler to use, or null with the reason (detected once per process). */
export function compiler(): { compiler: Compiler | null; why: string | null } {
  if (detected) return detected;
  const env = process.env.CXX?.trim();
  if (env) {
    const [cmd, ...args] = env.split(/\s+/) as [string, ...string[]];
    const r = probe(cmd, args);
    if ("error" in r) {
      detected = { compiler: null, why: `the C++ compiler CXX=${env} does not work (${r.error}); ${INSTALL_HINT}` };
      console.warn(`keops-ts: ${detected.why}; the native backend is disabled`);
    } else detected = { compiler: { cmd, args, version: r.version }, why: null };
    return detected;
  }
  for (const name of ["g++", "clang++"]) {
    const f = onPath(name);
    if (!f) continue;
    const r = probe(f, []);
    if ("version" in r) return (detected = { compiler: { cmd: f, args: [], version: r.version }, why: null });
  }
  return (detected = { compiler: null, why: `no C++ compiler found (CXX unset, no g++ or clang++ on PATH); ${INSTALL_HINT}` });
}

/** The cache root: `KEOPS_TS_CACHE`, else the user's cache directory. */
export function cacheRoot(): string {
  const env = process.env.KEOPS_TS_CACHE;
  if (env) return env;
  if (process.platform === "win32") return path.join(process.env.LOCALAPPDATA ?? path.join(os.homedir(), "AppData", "Local"), "keops-ts");
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Caches", "keops-ts");
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "keops-ts");
}

/** The folder of compiled native kernels. */
export function nativeCacheDir(): string {
  return path.join(cacheRoot(), "native-v1");
}

let tempDir: string | undefined;

/** A private temporary folder (when the cache folder is not writable), removed at exit. */
function privateTemp(): string {
  if (!tempDir) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "keops-ts-"));
    const dir = tempDir;
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return tempDir;
}

function writableDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Optimisation level by program size (SSA instructions): -O3 for ordinary formulas; large
 * straight-line kernels (e.g. D = 200) compile superlinearly, so they get -O2, then -O1.
 */
export function optFlag(size: number): string {
  return size <= 300 ? "-O3" : size <= 800 ? "-O2" : "-O1";
}

/** Cache key of a source compiled by a compiler with the given flags (OpenMP or not included). */
export function cacheKey(source: string, c: Compiler, opt: readonly string[], openmp: boolean): string {
  // -march=native: the CPU is part of the key (a cache folder shared between machines stays safe)
  const cpu = `${os.arch()} ${os.cpus()[0]?.model ?? ""}`;
  return createHash("sha256").update([c.cmd, ...c.args, c.version, cpu, ...opt, ...CXX_FLAGS, openmp ? OPENMP : ""].join("\0")).update("\0").update(source).digest("hex").slice(0, 40);
}

// ---- environment settings -----------------------------------------------------------------------

/** Reads a positive number from the environment variable `name` (with an optional K/M/G suffix when `units`). */
function envNumber(name: string, fallback: number, units = false): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgKMG]?)i?[bB]?$/.exec(raw);
  const scale = m && units ? { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"] : 1;
  const n = m && (units || m[2] === "") ? Number(m[1]) * scale : NaN;
  if (!(n > 0)) throw new KeOpsError(`${name}: expected a positive number${units ? " of bytes (suffix K, M or G allowed)" : ""}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Seconds a compiler run may take (`KEOPS_TS_COMPILE_TIMEOUT`, default 300): then it is killed. */
export function compileTimeoutSeconds(): number {
  return envNumber("KEOPS_TS_COMPILE_TIMEOUT", 300);
}

/** Bytes the disk cache of kernels may hold (`KEOPS_TS_CACHE_MAX`, default 1 GiB). */
export function cacheMaxBytes(): number {
  return envNumber("KEOPS_TS_CACHE_MAX", 1024 ** 3, true);
}

// ---- compiler runs ------------------------------------------------------------------------------

/** How a compiler run ended. */
interface RunResult {
  readonly ok: boolean;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly error?: string;
}

/**
 * Runs `cmd args` in its own process group (POSIX), killing the whole group (the driver and the
 * compiler proper it started) when it outlives `ms`, when the runner is signalled, or when the
 * process that started the runner dies. Node source text, so that the blocking form
 * can run it as a child process (spawnSync cannot kill a group).
 */
const RUNNER = String.raw`
const { spawn } = require("node:child_process");
const [cmd, argv, ms] = JSON.parse(process.argv[process.argv.length - 1]);
const group = process.platform !== "win32";
const p = spawn(cmd, argv, { detached: group, stdio: ["ignore", "ignore", "pipe"] });
let err = "";
p.stderr.on("data", (b) => { if (err.length < 65536) err += b; });
const kill = () => { try { process.kill(group ? -p.pid : p.pid, "SIGKILL"); } catch {} };
let timedOut = false;
const timer = setTimeout(() => { timedOut = true; kill(); }, ms);
p.on("error", (e) => { clearTimeout(timer); done({ ok: false, stderr: err, timedOut, error: e.message }); });
p.on("close", (code, signal) => { clearTimeout(timer); if (timedOut) kill(); done({ ok: code === 0 && !timedOut, stderr: err, timedOut, error: code === 0 ? undefined : signal ? "killed by " + signal : "exit status " + code }); });
// the compiler's group outlives neither this runner (a signal) nor the process that waits for it
// (killed: nobody will read the kernel; this runner is then reparented, its ppid changes)
const stop = () => { kill(); process.exit(1); };
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, stop);
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(); }, 250).unref();
`;

function runnerArgs(cmd: string, argv: readonly string[], ms: number): string[] {
  return ["-e", `${RUNNER}\nfunction done(r) { process.stdout.write(JSON.stringify(r)); process.exit(0); }`, JSON.stringify([cmd, argv, ms])];
}

function runnerResult(stdout: string, stderr: string, status: number | null, what: string): RunResult {
  try {
    return JSON.parse(stdout) as RunResult;
  } catch {
    return { ok: false, stderr, timedOut: false, error: `${what} (status ${status})` };
  }
}

/** Runs the compiler, blocking (through a small Node child that owns the timeout and the kill). */
function runSync(cmd: string, argv: readonly string[]): RunResult {
  const ms = compileTimeoutSeconds() * 1000;
  const r = spawnSync(process.execPath, runnerArgs(cmd, argv, ms), { encoding: "utf8", timeout: ms + 30000, killSignal: "SIGKILL" });
  return runnerResult(r.stdout ?? "", r.stderr ?? "", r.status, r.error ? r.error.message : "the compiler runner failed");
}

/** Runs the compiler as a child process the calling thread does not wait for. */
function runAsync(cmd: string, argv: readonly string[]): Promise<RunResult> {
  const ms = compileTimeoutSeconds() * 1000;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, runnerArgs(cmd, argv, ms), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    p.on("error", (e) => resolve({ ok: false, stderr: err, timedOut: false, error: e.message }));
    p.on("close", (status) => resolve(runnerResult(out, err, status, "the compiler runner failed")));
  });
}

function compilerName(c: Compiler): string {
  return [c.cmd, ...c.args].join(" ");
}

function failure(c: Compiler, r: RunResult): KeOpsError {
  if (r.timedOut)
    return new KeOpsError(`backend "native": compiling the kernel with ${compilerName(c)} took longer than ${compileTimeoutSeconds()} s and was stopped (KEOPS_TS_COMPILE_TIMEOUT sets the limit in seconds)`);
  return new KeOpsError(`backend "native": compiling the kernel with ${compilerName(c)} failed: ${r.stderr.trim() || r.error || "no message"}`);
}

// ---- OpenMP: decided once per compiler, before any cache lookup ---------------------------------

const OPENMP_PROBE = `#include <omp.h>\nextern "C" int keops_ts_probe(void) { return omp_get_max_threads(); }\n`;
const openmpOf = new Map<string, boolean>();

/**
 * Whether kernels are compiled with OpenMP by this compiler: a tiny program compiled with and
 * without `-fopenmp`, once per compiler and machine (the answer is kept in the cache folder, so
 * later processes look their kernels up under the right key at once). A compiler that fails both
 * ways is not judged (OpenMP assumed; its kernels then report their own errors).
 */
function openmpFor(c: Compiler): boolean {
  const id = createHash("sha256").update([c.cmd, ...c.args, c.version, os.arch()].join("\0")).digest("hex").slice(0, 16);
  const known = openmpOf.get(id);
  if (known !== undefined) return known;
  const marker = path.join(nativeCacheDir(), `openmp-${id}.txt`);
  let answer: boolean | undefined;
  try {
    const t = fs.readFileSync(marker, "utf8").trim();
    if (t === "1" || t === "0") answer = t === "1";
  } catch {
    /* not probed yet */
  }
  if (answer === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keops-ts-probe-"));
    try {
      const src = path.join(dir, "probe.cpp");
      fs.writeFileSync(src, OPENMP_PROBE);
      const argv = (extra: string[]): string[] => [...c.args, "-O0", ...CXX_FLAGS, ...extra, src, "-o", path.join(dir, "probe.so")];
      if (runSync(c.cmd, argv([OPENMP])).ok) answer = true;
      else if (runSync(c.cmd, argv([])).ok) answer = false;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (answer !== undefined && writableDir(nativeCacheDir())) {
      try {
        const tmp = `${marker}.${process.pid}.${randomBytes(4).toString("hex")}`;
        fs.writeFileSync(tmp, answer ? "1" : "0");
        fs.renameSync(tmp, marker);
      } catch {
        /* a read-only cache: probed again next time */
      }
    }
  }
  openmpOf.set(id, answer ?? true);
  return answer ?? true;
}

// ---- the disk cache -----------------------------------------------------------------------------

const DAY_MS = 24 * 3600 * 1000;
/** Bytes of kernels in the cache folder, as this process last counted them (undefined: not yet). */
let cacheBytes: number | undefined;

const LIB = /\.(so|dylib|dll)$/;
/** A temporary file of a compile in progress: `<key>.<pid>.<random>.(cpp|so|…)` (or a marker's `.<pid>.<random>`). */
const TEMP = /\.\d+\.[0-9a-f]{8}(\.[a-z]+)?$/;

/**
 * Once per process (and again when the running count passes the bound): removes temporary files
 * older than a day (left by killed processes), counts the kernels' bytes and, beyond
 * {@link cacheMaxBytes}, removes the least recently used (by access time, which lookups
 * refresh) down to 90 % of the bound. `keep` is never removed.
 */
function tidy(dir: string, keep?: string): void {
  const now = Date.now();
  const libs: { file: string; size: number; used: number }[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      continue;
    }
    if (TEMP.test(name)) {
      if (now - st.mtimeMs > DAY_MS) fs.rmSync(file, { force: true });
    } else if (LIB.test(name)) libs.push({ file, size: st.size, used: Math.max(st.atimeMs, st.mtimeMs) });
  }
  let total = libs.reduce((a, l) => a + l.size, 0);
  const max = cacheMaxBytes();
  if (total > max) {
    libs.sort((a, b) => a.used - b.used);
    for (const l of libs) {
      if (total <= 0.9 * max) break;
      if (l.file === keep) continue;
      try {
        fs.rmSync(l.file, { force: true });
        total -= l.size;
      } catch {
        /* read-only: nothing to do */
      }
    }
  }
  cacheBytes = total;
}

/** Marks a cached library as just used (its access time; the modification time stays). */
function touch(file: string): void {
  try {
    const st = fs.statSync(file);
    fs.utimesSync(file, Date.now() / 1000, st.mtimeMs / 1000);
  } catch {
    /* a read-only cache */
  }
}

/** For tests: kernels this process compiled (not found in the cache). */
export const toolchainStats = { compiles: 0 };

/** A compilation to run: the compiler, its arguments, the files. */
interface Build {
  readonly c: Compiler;
  readonly argv: readonly string[];
  readonly dir: string;
  readonly file: string;
  readonly src: string;
  readonly tmp: string;
}

/** The cached library when there is a valid one, else the compilation to run (its source written). */
function begin(source: string, opt: readonly string[], valid: (file: string) => boolean): { file: string } | Build {
  const { compiler: c, why } = compiler();
  if (!c) throw new KeOpsError(`backend "native": ${why}`);
  const ext = process.platform === "win32" ? ".dll" : process.platform === "darwin" ? ".dylib" : ".so";
  const omp = openmpFor(c);
  const key = cacheKey(source, c, opt, omp);
  const cacheDir = nativeCacheDir();
  const writable = writableDir(cacheDir);
  if (writable && cacheBytes === undefined) tidy(cacheDir);
  // the shared cache first (even read-only), then this process's private folder
  for (const d of writable ? [cacheDir] : [cacheDir, ...(tempDir ? [tempDir] : [])]) {
    const file = path.join(d, key + ext);
    if (!fs.existsSync(file)) continue;
    if (valid(file)) {
      touch(file);
      return { file };
    }
    try {
      fs.unlinkSync(file);
    } catch {
      /* another process may have replaced it; read-only */
    }
  }
  const dir = writable ? cacheDir : privateTemp();
  const tag = `${key}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const src = path.join(dir, tag + ".cpp");
  const tmp = path.join(dir, tag + ext);
  fs.writeFileSync(src, source);
  const argv = [...c.args, ...opt, ...CXX_FLAGS, ...(omp ? [OPENMP] : []), src, "-o", tmp, "-lm"];
  return { c, argv, dir, file: path.join(dir, key + ext), src, tmp };
}

/** After a successful compile: the library moved into the cache (atomically), the cache kept in bounds; its path. */
function finish(b: Build): string {
  fs.renameSync(b.tmp, b.file);
  toolchainStats.compiles++;
  if (b.dir === nativeCacheDir()) {
    let size = 0;
    try {
      size = fs.statSync(b.file).size;
    } catch {
      /* removed meanwhile */
    }
    cacheBytes = (cacheBytes ?? 0) + size;
    if (cacheBytes > cacheMaxBytes()) tidy(b.dir, b.file);
  }
  return b.file;
}

function cleanup(b: Build): void {
  fs.rmSync(b.src, { force: true });
  fs.rmSync(b.tmp, { force: true });
}

/**
 * Returns the path of the shared library for `source`, compiling it unless the cache has it;
 * `opt` are the program's own flags (optimisation level, contraction).
 * `valid(path)` checks a cached file (a failed check → recompiled). Throws a KeOpsError with the
 * compiler's messages when compilation fails or takes longer than `KEOPS_TS_COMPILE_TIMEOUT`.
 */
export function buildLibrary(source: string, opt: readonly string[], valid: (file: string) => boolean): { file: string; compiled: boolean } {
  const b = begin(source, opt, valid);
  if (!("argv" in b)) return { file: b.file, compiled: false };
  try {
    const r = runSync(b.c.cmd, b.argv);
    if (!r.ok) throw failure(b.c, r);
    return { file: finish(b), compiled: true };
  } finally {
    cleanup(b);
  }
}

/** {@link buildLibrary} with the compiler run as a child process the calling thread does not wait for. */
export async function buildLibraryAsync(source: string, opt: readonly string[], valid: (file: string) => boolean): Promise<{ file: string; compiled: boolean }> {
  const b = begin(source, opt, valid);
  if (!("argv" in b)) return { file: b.file, compiled: false };
  try {
    const r = await runAsync(b.c.cmd, b.argv);
    if (!r.ok) throw failure(b.c, r);
    return { file: finish(b), compiled: true };
  } finally {
    cleanup(b);
  }
}

/** Removes every cached native kernel; returns how many files were removed. */
export function clearNativeCache(): number {
  const dir = nativeCacheDir();
  let n = 0;
  try {
    for (const f of fs.readdirSync(dir)) {
      fs.rmSync(path.join(dir, f), { force: true, recursive: true });
      if (!f.startsWith("openmp-")) n++;
    }
  } catch {
    /* no cache */
  }
  cacheBytes = undefined;
  openmpOf.clear();
  return n;
}
