/**
 * keops-ts: KeOps for TypeScript. Symbolic M×N matrices written as formulas, reduced by
 * generated kernels in O(M + N) memory.
 *
 * This is the Node entry point: worker threads, and the native backend (C++ compiled at first
 * use) ahead of wasm and js. Browsers (and bundlers, through the "browser" export condition) get
 * `keops-ts/browser`, which has the same API without the native backend.
 * @packageDocumentation
 */
import { setPlatform } from "./platform/index.js";
import { nodePlatform } from "./platform/node.js";
import { registerBackend } from "./backends/registry.js";
import { nativeBackend } from "./backends/native/index.js";
import { nativeGram } from "./backends/native/gram.js";
import { registerGramProducts } from "./backends/host.js";
import { webgpuBackend } from "./backends/webgpu/index.js";
import { nodeGpu } from "./backends/webgpu/node-gpu.js";

setPlatform(nodePlatform);
registerBackend(nativeBackend);
// the Nyström preconditioner's Gram product and its two products per iteration, in C++
registerGramProducts(nativeGram);
// async-only, float32: `auto` weighs it by its adapter (a GPU before the CPU backends, a software adapter after them)
registerBackend(webgpuBackend(nodeGpu));

export * from "./api.js";
export { clearNativeCache, nativeCacheDir } from "./backends/native/index.js";
