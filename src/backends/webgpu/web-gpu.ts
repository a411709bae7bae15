/** WebGPU in browsers (pages and Web Workers): `navigator.gpu`. Nothing here imports a `node:` module. */
import type { Gpu, GpuProvider } from "./gpu-types.js";

/** The browser provider. */
export const webGpu: GpuProvider = {
  host: "browser",
  async adapter() {
    const gpu = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
    if (!gpu) return { reason: "navigator.gpu does not exist here (no WebGPU in this browser or context, or it is turned off; Chromium on Linux needs --enable-unsafe-webgpu)" };
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return { reason: "navigator.gpu.requestAdapter() found no adapter" };
    return { adapter, source: "navigator.gpu" };
  },
};
