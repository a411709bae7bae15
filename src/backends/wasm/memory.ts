/**
 * The one linear memory every wasm kernel imports: shared (SharedArrayBuffer) where the platform
 * allows it, so worker threads run on it too; with a first-fit allocator of byte ranges (runs,
 * async ones included, may overlap in time, each holds its own range until it finishes).
 */

import { KeOpsError } from "../../errors.js";
import { wa, type WasmMemory } from "./api.js";

const PAGE = 65536;
/** Largest memory: 4 GiB (wasm32). */
const MAX_PAGES = 65536;
/** The first bytes stay unused (address 0 is never handed out). */
const HEAP_START = 1024;

let memory: WasmMemory | undefined;
let isShared = false;
/** Busy ranges [start, end), sorted by start. */
const busy: [number, number][] = [];

/** Whether shared memory (threads) is available here. */
export function sharedMemoryAvailable(): boolean {
  return wasmMemory().shared;
}

/** The memory and whether it is shared. */
export function wasmMemory(): { memory: WasmMemory; shared: boolean } {
  if (!memory) {
    try {
      if (typeof SharedArrayBuffer === "undefined") throw new Error("no SharedArrayBuffer");
      memory = new (wa().Memory)({ initial: 16, maximum: MAX_PAGES, shared: true });
      isShared = true;
    } catch {
      memory = new (wa().Memory)({ initial: 16, maximum: MAX_PAGES });
      isShared = false;
    }
  }
  return { memory, shared: isShared };
}

/**
 * Replaces the memory by a fresh one, shared or not (tests of the single-thread path of platforms
 * without SharedArrayBuffer). Kernels compiled for the old memory must be dropped too.
 */
export function resetWasmMemory(shared: boolean): void {
  memory = new (wa().Memory)({ initial: 16, maximum: MAX_PAGES, shared });
  isShared = shared;
  busy.length = 0;
}

/** Allocates `bytes` bytes (16-aligned), growing the memory when needed; returns the address. */
export function allocate(bytes: number): number {
  const { memory: mem } = wasmMemory();
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  let at = HEAP_START;
  let k = 0;
  for (; k < busy.length; k++) {
    if (busy[k]![0] - at >= size) break;
    at = busy[k]![1];
  }
  const end = at + size;
  const fail = (): never => {
    throw new KeOpsError(`backend "wasm": this call needs ${size} bytes of WebAssembly memory (inputs, outputs), more than the 4 GiB of a wasm32 memory can give; use backend "native" or "js"`);
  };
  if (end > MAX_PAGES * PAGE) fail();
  const have = mem.buffer.byteLength;
  if (end > have) {
    try {
      mem.grow(Math.ceil((end - have) / PAGE));
    } catch {
      fail();
    }
  }
  busy.splice(k, 0, [at, end]);
  return at;
}

/** Releases a range returned by {@link allocate}. */
export function release(at: number): void {
  const k = busy.findIndex((r) => r[0] === at);
  if (k >= 0) busy.splice(k, 1);
}
