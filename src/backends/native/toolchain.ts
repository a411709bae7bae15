/**
 * The C++ toolchain: compiler detection (`CXX`, then g++, then clang++), flags, and the disk cache
 * of compiled kernels (keyed by the source, the compiler and the flags; written by atomic rename,
 * so concurrent processes never see a partial file).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KeOpsError } from "../../errors.js";

const execFileAsync = promisify(execFile);

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
let openmp = true;

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

/** Cache key of a source compiled by a compiler with the current flags. */
export function cacheKey(source: string, c: Compiler, opt: readonly string[]): string {
  // -march=native: the CPU is part of the key (a cache folder shared between machines stays safe)
  const cpu = `${os.arch()} ${os.cpus()[0]?.model ?? ""}`;
  return createHash("sha256").update([c.cmd, ...c.args, c.version, cpu, ...opt, ...CXX_FLAGS, openmp ? OPENMP : ""].join("\0")).update("\0").update(source).digest("hex").slice(0, 40);
}

/** A compilation to run: the compiler, its argument lists to try in turn (with OpenMP first), the files. */
interface Build {
  readonly c: Compiler;
  readonly attempts: readonly string[][];
  readonly source: string;
  readonly opt: readonly string[];
  readonly dir: string;
  readonly ext: string;
  readonly src: string;
  readonly tmp: string;
}

/** The cached library when there is a valid one, else the compilation to run (its source written). */
function begin(source: string, opt: readonly string[], valid: (file: string) => boolean): { file: string } | Build {
  const { compiler: c, why } = compiler();
  if (!c) throw new KeOpsError(`backend "native": ${why}`);
  const ext = process.platform === "win32" ? ".dll" : process.platform === "darwin" ? ".dylib" : ".so";
  const key = cacheKey(source, c, opt);
  const cacheDir = nativeCacheDir();
  const dir = writableDir(cacheDir) ? cacheDir : privateTemp();
  const file = path.join(dir, key + ext);
  if (fs.existsSync(file)) {
    if (valid(file)) return { file };
    try {
      fs.unlinkSync(file);
    } catch {
      /* another process may have replaced it */
    }
  }
  const tag = `${key}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const src = path.join(dir, tag + ".cpp");
  const tmp = path.join(dir, tag + ext);
  fs.writeFileSync(src, source);
  const argv = (flags: readonly string[]): string[] => [...c.args, ...flags, src, "-o", tmp, "-lm"];
  // a compiler without OpenMP (e.g. Apple clang) gets a second try: single-threaded kernels
  const attempts = openmp ? [argv([...opt, ...CXX_FLAGS, OPENMP]), argv([...opt, ...CXX_FLAGS])] : [argv([...opt, ...CXX_FLAGS])];
  return { c, attempts, source, opt, dir, ext, src, tmp };
}

/** After attempt `k` succeeded: the library moved into the cache (atomically); its path. */
function finish(b: Build, k: number): string {
  if (k > 0) openmp = false;
  const file = path.join(b.dir, cacheKey(b.source, b.c, b.opt) + b.ext);
  fs.renameSync(b.tmp, file);
  return file;
}

function failure(b: Build, e: unknown): KeOpsError {
  const err = e as { stderr?: string; message: string };
  return new KeOpsError(`backend "native": compiling the kernel with ${[b.c.cmd, ...b.c.args].join(" ")} failed: ${(err.stderr ?? "").trim() || err.message}`);
}

function cleanup(b: Build): void {
  fs.rmSync(b.src, { force: true });
  fs.rmSync(b.tmp, { force: true });
}

/**
 * Returns the path of the shared library for `source`, compiling it unless the cache has it;
 * `opt` are the program's own flags (optimisation level, contraction).
 * `valid(path)` checks a cached file (a failed check → recompiled). Throws a KeOpsError with the
 * compiler's messages when compilation fails.
 */
export function buildLibrary(source: string, opt: readonly string[], valid: (file: string) => boolean): { file: string; compiled: boolean } {
  const b = begin(source, opt, valid);
  if (!("attempts" in b)) return { file: b.file, compiled: false };
  try {
    for (let k = 0; ; k++) {
      try {
        execFileSync(b.c.cmd, b.attempts[k]!, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
        return { file: finish(b, k), compiled: true };
      } catch (e) {
        if (k + 1 >= b.attempts.length) throw failure(b, e);
      }
    }
  } finally {
    cleanup(b);
  }
}

/** {@link buildLibrary} with the compiler run as a child process the calling thread does not wait for. */
export async function buildLibraryAsync(source: string, opt: readonly string[], valid: (file: string) => boolean): Promise<{ file: string; compiled: boolean }> {
  const b = begin(source, opt, valid);
  if (!("attempts" in b)) return { file: b.file, compiled: false };
  try {
    for (let k = 0; ; k++) {
      try {
        await execFileAsync(b.c.cmd, b.attempts[k]!, { encoding: "utf8" });
        return { file: finish(b, k), compiled: true };
      } catch (e) {
        if (k + 1 >= b.attempts.length) throw failure(b, e);
      }
    }
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
      n++;
    }
  } catch {
    /* no cache */
  }
  return n;
}
