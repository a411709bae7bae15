/** Backend registry and selection (`backend: "auto" | name`). */
import { KeOpsError } from "../errors.js";
import type { Backend, BackendCaps, BlockingKernel, CallMode, Kernel, KernelProgram } from "../compile/program.js";
import type { FloatDType } from "../tensor.js";
import { jsBackend } from "./js/index.js";
import { wasmBackend } from "./wasm/index.js";
import { singleThreadReason, threadCount } from "./workers.js";

/** Backend names. */
export type BackendName = "auto" | "js" | "native" | "wasm" | "webgpu";

/** Registered backends, cheapest first (by `caps.cost`); js, the universal fallback, is always there. */
const backends: Backend[] = [jsBackend];

/** Registers a backend; `auto` orders backends by their declared cost, whatever the order of registration. */
export function registerBackend(b: Backend): void {
  if (backends.some((x) => x.name === b.name)) return;
  backends.push(b);
  byCost();
}

/**
 * Sorts the backends by their cost now: a declared cost may change once a backend has looked at
 * the machine (webgpu: a GPU adapter is cheap, a software one costs more than the CPU backends).
 */
function byCost(): Backend[] {
  return backends.sort((x, y) => x.caps.cost - y.caps.cost);
}

registerBackend(wasmBackend);

/** Why backend `b`'s declared caps exclude a call of `mode` on `dtype` data, or null. */
function capsExclude(b: Backend, dtype: FloatDType, mode: CallMode | undefined): string | null {
  if (mode === "blocking" && !b.caps.blocking) return `the ${b.name} backend runs only with async: true`;
  if (mode === "async" && !b.caps.async) return `the ${b.name} backend runs only blocking calls`;
  if (!b.caps.dtypes.includes(dtype)) return `the ${b.name} backend computes in ${b.caps.dtypes.join(" and ")} only, not ${dtype}`;
  return null;
}

/** The backend `auto` picks for a call of `mode` on `dtype` data, and why, in words. */
function autoPick(dtype: FloatDType, mode: CallMode): { backend: string; reason: string } {
  const why: string[] = [];
  for (const b of byCost()) {
    const no = b.unavailable() ?? capsExclude(b, dtype, mode);
    if (no === null)
      return { backend: b.name, reason: `"${b.name}": the cheapest backend that runs ${mode} ${dtype} calls here (${b.caps.costNote})${why.length ? `; not ${why.join("; not ")}` : ""}` };
    why.push(`${b.name}: ${no}`);
  }
  return { backend: "js", reason: "js: the universal fallback" };
}

/** What `backendInfo()` reports. */
export interface BackendInfo {
  /** The backend `auto` uses for ordinary (blocking float32) programs. */
  readonly auto: string;
  /** Every known backend, why it is unavailable (null when available) and what it can do. */
  readonly backends: readonly { readonly name: string; readonly unavailable: string | null; readonly caps: BackendCaps }[];
  /** Why `auto` picks that backend, in words. */
  readonly reason: string;
  /** Which backend `auto` gives each kind of call (blocking or async, float32 or float64), and why. */
  readonly calls: readonly { readonly mode: CallMode; readonly dtype: FloatDType; readonly backend: string; readonly reason: string }[];
  /** Threads of the CPU backends here. */
  readonly threads: {
    /** Threads a large call uses: `setThreads`, else `KEOPS_TS_THREADS` (Node), else every core. */
    readonly count: number;
    /**
     * Why blocking calls of the js and wasm backends run on the calling thread alone (a page
     * without cross-origin isolation; a browser's main thread), or null when they use `count`.
     */
    readonly sync: string | null;
    /** Why `async: true` calls of the js and wasm backends run on the calling thread, or null. */
    readonly async: string | null;
  };
}

/** Which backend `auto` picks for each kind of call, and why the others are not used. */
export function backendInfo(): BackendInfo {
  const list = byCost().map((b) => ({ name: b.name, unavailable: b.unavailable(), caps: b.caps }));
  const calls = (["blocking", "async"] as const).flatMap((mode) => (["float32", "float64"] as const).map((dtype) => ({ mode, dtype, ...autoPick(dtype, mode) })));
  const main = calls[0]!;
  return {
    auto: main.backend, backends: list, reason: main.reason, calls,
    threads: { count: threadCount(), sync: singleThreadReason(false), async: singleThreadReason(true) },
  };
}

/** `b.compileAsync(p)` where the backend has one, else its `compile` (as a promise). */
export async function compileAsync(b: Backend, p: KernelProgram): Promise<Kernel> {
  if (b.compileAsync) return b.compileAsync(p);
  if (b.compile) return b.compile(p);
  throw new KeOpsError(`backend "${b.name}": it has no compiler`);
}

/** `b.compile(p)`, for blocking calls (the caps of the backend were checked when it was chosen). */
export function compileBlocking(b: Backend, p: KernelProgram): BlockingKernel {
  const k = b.compile?.(p);
  if (!k?.run) throw new KeOpsError(`backend "${b.name}" runs only with async: true`);
  return k as BlockingKernel;
}

const warned = new Set<string>();
/** Distinct fallback warnings printed at most (a broken compiler fails every kernel the same way). */
const MAX_WARNINGS = 20;

/** Warns that `from` failed and `to` runs instead: once per distinct failure, at most {@link MAX_WARNINGS}. */
function warnFallback(from: string, to: string, e: unknown): void {
  const why = e instanceof Error ? e.message : String(e);
  const key = `${from}\u0000${why}`;
  if (warned.has(key) || warned.size > MAX_WARNINGS) return;
  warned.add(key);
  console.warn(
    warned.size > MAX_WARNINGS
      ? `keops-ts: the ${from} backend failed again, using ${to} instead; further fallbacks are not reported`
      : `keops-ts: the ${from} backend failed, using ${to} instead: ${why}`,
  );
}

/**
 * Under `auto`: the first backend of `list`, handing over to the next when its compile fails
 * (e.g. a broken C++ compiler), with a warning per distinct failure (a second kernel that fails
 * for another reason is reported too; the same failure again is not).
 */
function autoChain(list: readonly Backend[]): Backend {
  const [first, ...rest] = list as [Backend, ...Backend[]];
  if (rest.length === 0) return first;
  const next = (e: unknown): Backend => {
    warnFallback(first.name, rest[0]!.name, e);
    return autoChain(rest);
  };
  return {
    name: first.name,
    caps: first.caps,
    unavailable: () => first.unavailable(),
    declines: (q) => first.declines(q),
    compile(q) {
      try {
        return compileBlocking(first, q);
      } catch (e) {
        return compileBlocking(next(e), q);
      }
    },
    async compileAsync(q) {
      try {
        return await compileAsync(first, q);
      } catch (e) {
        return compileAsync(next(e), q);
      }
    },
  };
}

const known: readonly string[] = ["auto", "js", "native", "wasm", "webgpu"];

/**
 * The backend that runs `p` for the option `name` and a call of `mode` (undefined: only checks
 * that the named backend can run the program at all). `auto` takes, in order of declared cost,
 * the backends that are available, run the mode and dtype, and accept the program.
 */
export function resolveBackend(name: string | undefined, p: KernelProgram, mode?: CallMode): Backend {
  const want = name ?? "auto";
  if (!known.includes(want)) throw new KeOpsError(`backend: expected one of ${known.map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(want)}`);
  if (want === "auto") {
    const usable = byCost().filter((b) => b.unavailable() === null && capsExclude(b, p.dtype, mode ?? "blocking") === null && b.declines(p) === null);
    return usable.length ? autoChain(usable) : jsBackend;
  }
  const b = backends.find((x) => x.name === want);
  if (!b) throw new KeOpsError(`backend: "${want}" is not available in this build of keops-ts (it was not registered)`);
  const why = b.unavailable() ?? capsExclude(b, p.dtype, mode) ?? b.declines(p);
  if (why !== null) throw new KeOpsError(`backend: "${want}" cannot run this reduction: ${why}`);
  return b;
}

/**
 * Refuses, with the error a run would raise, a backend named by the option `name` that cannot run
 * calls of `mode` at all (webgpu and blocking calls): for work that may end up running no
 * reduction (an empty call, a gradient that is zero by definition), so that it fails the same way.
 */
export function checkMode(name: string | undefined, mode: CallMode): void {
  const b = backends.find((x) => x.name === name);
  const why = b && (mode === "blocking" ? !b.caps.blocking : !b.caps.async) ? capsExclude(b, b.caps.dtypes[0]!, mode) : null;
  if (why !== null) throw new KeOpsError(`backend: "${name}" cannot run this reduction: ${why}`);
}

/**
 * Awaits the asynchronous set-up of the backends an async call may choose (before it chooses):
 * the named one, or for `auto` every backend that computes in `dtype`. A call that names another
 * backend does not wait for (or start) a GPU probe.
 */
export async function initBackends(name?: string, dtype?: FloatDType): Promise<void> {
  const want = name ?? "auto";
  await Promise.all(backends.filter((b) => (want === "auto" || b.name === want) && (!dtype || b.caps.dtypes.includes(dtype))).map((b) => b.init?.()));
}
