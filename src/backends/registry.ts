/** Backend registry and selection (`backend: "auto" | name`). */
import { KeOpsError } from "../errors.js";
import type { Backend, KernelProgram } from "../compile/program.js";
import { jsBackend } from "./js/index.js";

/** Backend names. */
export type BackendName = "auto" | "js" | "native" | "wasm" | "webgpu";

/** Registered backends, fastest first; `auto` takes the first that is available and accepts the program. */
const backends: Backend[] = [jsBackend];

/** Registers a backend at a preference rank (lower = preferred by `auto`). */
export function registerBackend(b: Backend, rank: number): void {
  const at = Math.max(0, Math.min(rank, backends.length));
  if (!backends.some((x) => x.name === b.name)) backends.splice(at, 0, b);
}

/** What `backendInfo()` reports. */
export interface BackendInfo {
  /** The backend `auto` uses for ordinary programs. */
  readonly auto: string;
  /** Every known backend and why it is unavailable (null when available). */
  readonly backends: readonly { readonly name: string; readonly unavailable: string | null }[];
}

/** Which backend `auto` picks and why the others are not used. */
export function backendInfo(): BackendInfo {
  const list = backends.map((b) => ({ name: b.name, unavailable: b.unavailable() }));
  return { auto: list.find((b) => b.unavailable === null)!.name, backends: list };
}

const known: readonly string[] = ["auto", "js", "native", "wasm", "webgpu"];

/** The backend that runs `p` for the option `name`. */
export function resolveBackend(name: string | undefined, p: KernelProgram): Backend {
  const want = name ?? "auto";
  if (!known.includes(want)) throw new KeOpsError(`backend: expected one of ${known.map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(want)}`);
  if (want === "auto") {
    for (const b of backends) if (b.unavailable() === null && b.declines(p) === null) return b;
    return jsBackend;
  }
  const b = backends.find((x) => x.name === want);
  if (!b) throw new KeOpsError(`backend: "${want}" is not available in this build of keops-ts`);
  const why = b.unavailable() ?? b.declines(p);
  if (why !== null) throw new KeOpsError(`backend: "${want}" cannot run this reduction: ${why}`);
  return b;
}
