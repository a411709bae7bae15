/**
 * The few parts of the WebAssembly JS API the backend uses, typed here (the project's `lib` has no
 * DOM typings) and reached through `globalThis`, so a platform without WebAssembly still loads.
 */

/** `WebAssembly.Memory`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
/** `WebAssembly.Module` (opaque). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
/** `WebAssembly.Instance`. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

/** The global `WebAssembly`, or undefined. */
export const WA: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The global `WebAssembly`; throws where there is none. */
export function wa(): WasmApi {
  if (!WA) throw new Error("WebAssembly is not available");
  return WA;
}
