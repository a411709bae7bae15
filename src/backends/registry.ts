/** Backend registry and selection (`backend: "auto" | name`). */
import { KeOpsError } from "../errors.js";
import type { Backend, Kernel, KernelProgram } from "../compile/program.js";
import { jsBackend } from "./js/index.js";
import { wasmBackend } from "./wasm/index.js";
import { singleThreadReason, threadCount } from "./workers.js";

/** Backend names. */
export type BackendName = "auto" | "js" | "native" | "wasm" | "webgpu";

/** Registered backends, fastest first; `auto` takes the first that is available and accepts the program. */
const backends: Backend[] = [jsBackend];
/** Preference rank of each registered backend (js, the fallback, comes last). */
const ranks: number[] = [Infinity];

/**
 * Registers a backend at a preference rank (lower = preferred by `auto`; native 0, wasm 1): the
 * order follows the ranks whatever the order of registration.
 */
export function registerBackend(b: Backend, rank: number): void {
  if (backends.some((x) => x.name === b.name)) return;
  let at = ranks.findIndex((r) => r > rank);
  if (at < 0) at = backends.length;
  backends.splice(at, 0, b);
  ranks.splice(at, 0, rank);
}

registerBackend(wasmBackend, 1);

/** What `backendInfo()` reports. */
export interface BackendInfo {
  /** The backend `auto` uses for ordinary programs. */
  readonly auto: string;
  /**
   * Every known backend and why it is unavailable (null when available); `asyncOnly` on those that
   * run only `async: true` calls (webgpu), `detail` where a backend says more (webgpu: its adapter).
   */
  readonly backends: readonly { readonly name: string; readonly unavailable: string | null; readonly asyncOnly?: true; readonly detail?: string }[];
  /** The backend `auto` uses for `async: true` float32 calls (webgpu where a GPU adapter was found). */
  readonly autoAsync: string;
  /** Why `auto` picks that backend, in words. */
  readonly reason: string;
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

/** Which backend `auto` picks and why the others are not used. */
export function backendInfo(): BackendInfo {
  const list = backends.map((b) => {
    const detail = b.detail?.() ?? null;
    return { name: b.name, unavailable: b.unavailable(), ...(b.asyncOnly ? { asyncOnly: true as const } : {}), ...(detail ? { detail } : {}) };
  });
  const auto = backends.find((b) => b.unavailable() === null && !b.asyncOnly)!.name;
  const asyncPick = backends.find((b) => b.unavailable() === null && (b.autoUnavailable?.() ?? null) === null)!;
  const skipped = list.filter((b) => b.unavailable !== null).map((b) => `${b.name}: ${b.unavailable}`);
  const notAuto = backends.filter((b) => b.unavailable() === null && b.autoUnavailable?.()).map((b) => `${b.name}: ${b.autoUnavailable!()}`);
  const reason = `"${auto}" is the first available backend in the order ${list.map((b) => b.name).join(" > ")}` +
    (asyncPick.name !== auto ? `; async float32 calls use "${asyncPick.name}"` : "") +
    (skipped.length ? `; unavailable: ${skipped.join("; ")}` : "") +
    (notAuto.length ? `; not chosen by auto: ${notAuto.join("; ")}` : "");
  return { auto, autoAsync: asyncPick.name, backends: list, reason, threads: { count: threadCount(), sync: singleThreadReason(false), async: singleThreadReason(true) } };
}

/**
 * Lets backends that need asynchronous work to know whether they can run (webgpu: its adapter)
 * find out, before an async call resolves its backend. Undefined when there is nothing to wait for.
 */
export function probeBackends(name: string | undefined, dtype: string): Promise<void> | undefined {
  if (dtype !== "float32") return undefined;
  const want = name ?? "auto";
  const waits: Promise<void>[] = [];
  for (const b of backends) if (b.probe && (want === "auto" || want === b.name)) waits.push(b.probe(want === b.name));
  return waits.length ? Promise.all(waits).then(() => undefined) : undefined;
}

/** `b.compileAsync(p)` where the backend has one, else its `compile` (as a promise). */
export async function compileAsync(b: Backend, p: KernelProgram): Promise<Kernel> {
  return b.compileAsync ? b.compileAsync(p) : b.compile(p);
}

const warned = new Set<string>();

/**
 * Under `auto`: the first backend of `list`, handing over to the next when its compile fails
 * (e.g. a broken C++ compiler), with a one-time warning.
 */
function autoChain(list: readonly Backend[]): Backend {
  const [first, ...rest] = list as [Backend, ...Backend[]];
  if (rest.length === 0) return first;
  const next = (e: unknown): Backend => {
    if (!warned.has(first.name)) {
      warned.add(first.name);
      console.warn(`keops-ts: the ${first.name} backend failed, using ${rest[0]!.name} instead: ${(e as Error).message}`);
    }
    return autoChain(rest);
  };
  return {
    name: first.name,
    unavailable: () => first.unavailable(),
    asyncOnly: first.asyncOnly,
    declines: (q) => first.declines(q),
    compile(q) {
      try {
        return first.compile(q);
      } catch (e) {
        return next(e).compile(q);
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
 * The backend that runs `p` for the option `name`, in a blocking call or an `async: true` one
 * (`auto` then also considers async-only backends: webgpu).
 */
export function resolveBackend(name: string | undefined, p: KernelProgram, mode: "sync" | "async" = "sync"): Backend {
  const want = name ?? "auto";
  if (!known.includes(want)) throw new KeOpsError(`backend: expected one of ${known.map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(want)}`);
  if (want === "auto") {
    const usable = backends.filter((b) =>
      b.unavailable() === null && b.declines(p) === null && (mode === "async" ? (b.autoUnavailable?.() ?? null) === null : !b.asyncOnly));
    return usable.length ? autoChain(usable) : jsBackend;
  }
  const b = backends.find((x) => x.name === want);
  if (!b) throw new KeOpsError(`backend: "${want}" is not available in this build of keops-ts`);
  if (mode === "sync" && b.asyncOnly) throw new KeOpsError(b.asyncOnly);
  const why = b.unavailable() ?? b.declines(p);
  if (why !== null) throw new KeOpsError(`backend: "${want}" cannot run this reduction: ${why}`);
  return b;
}
