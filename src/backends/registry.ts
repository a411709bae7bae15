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
  /** Every known backend and why it is unavailable (null when available). */
  readonly backends: readonly { readonly name: string; readonly unavailable: string | null }[];
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
  const list = backends.map((b) => ({ name: b.name, unavailable: b.unavailable() }));
  const auto = list.find((b) => b.unavailable === null)!.name;
  const skipped = list.filter((b) => b.unavailable !== null).map((b) => `${b.name}: ${b.unavailable}`);
  const reason = `"${auto}" is the first available backend in the order ${list.map((b) => b.name).join(" > ")}` +
    (skipped.length ? `; unavailable: ${skipped.join("; ")}` : "");
  return { auto, backends: list, reason, threads: { count: threadCount(), sync: singleThreadReason(false), async: singleThreadReason(true) } };
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

/** The backend that runs `p` for the option `name`. */
export function resolveBackend(name: string | undefined, p: KernelProgram): Backend {
  const want = name ?? "auto";
  if (!known.includes(want)) throw new KeOpsError(`backend: expected one of ${known.map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(want)}`);
  if (want === "auto") {
    const usable = backends.filter((b) => b.unavailable() === null && b.declines(p) === null);
    return usable.length ? autoChain(usable) : jsBackend;
  }
  const b = backends.find((x) => x.name === want);
  if (!b) throw new KeOpsError(`backend: "${want}" is not available in this build of keops-ts`);
  const why = b.unavailable() ?? b.declines(p);
  if (why !== null) throw new KeOpsError(`backend: "${want}" cannot run this reduction: ${why}`);
  return b;
}
