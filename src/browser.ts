/**
 * keops-ts for browsers (`keops-ts/browser`, or `keops-ts` under a bundler's "browser"
 * condition): the same API as the Node entry point, with the wasm backend first and js as the
 * fallback. Nothing here imports a `node:` module.
 *
 * Threads: large calls run on Web Workers sharing one WebAssembly memory where the page is
 * cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`). A window's main thread may not block, so there
 * only `{ async: true }` calls use workers; inside a Web Worker every call may. Without isolation
 * every call runs on the calling thread. `backendInfo().threads` says which applies.
 *
 * WebGPU: `backend: "webgpu"` (and `auto` for async float32 calls when the adapter is a GPU)
 * runs `async: true` calls on `navigator.gpu`, in pages and in Web Workers.
 * @packageDocumentation
 */
import { KeOpsError } from "./errors.js";
import { registerBackend } from "./backends/registry.js";
import { webgpuBackend } from "./backends/webgpu/index.js";
import { webGpu } from "./backends/webgpu/web-gpu.js";

// WebGPU through navigator.gpu, for `async: true` calls (`auto` uses it for float32 ones when the adapter is a GPU)
registerBackend(webgpuBackend(webGpu));

export * from "./api.js";

/** The native backend's disk cache does not exist in a browser: nothing to clear, returns 0. */
export function clearNativeCache(): number {
  return 0;
}

/** The native backend's cache folder: there is none in a browser, so this throws a {@link KeOpsError}. */
export function nativeCacheDir(): string {
  throw new KeOpsError("nativeCacheDir: the native backend (and its disk cache) is not part of keops-ts/browser");
}
