/**
 * The part of the WebGPU API the backend uses, declared here so that keops-ts compiles without
 * the DOM library or `@webgpu/types` (the objects come from `navigator.gpu` in browsers and from
 * the optional `webgpu` package in Node).
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly minUniformBufferOffsetAlignment: number;
  readonly [name: string]: number;
}

export interface GpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter?: boolean;
}

export interface Gpu {
  requestAdapter(o?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<GpuAdapter | null>;
}

export interface GpuAdapter {
  readonly limits: GpuLimits;
  readonly info: GpuAdapterInfo;
  readonly isFallbackAdapter?: boolean;
  requestDevice(d?: { requiredLimits?: Record<string, number>; label?: string }): Promise<GpuDevice>;
}

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuBindGroupLayout { readonly __brand?: "layout" }
export interface GpuBindGroup { readonly __brand?: "bindgroup" }
export interface GpuComputePipeline {
  getBindGroupLayout(i: number): GpuBindGroupLayout;
}
export interface GpuShaderModule {
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number }[] }>;
}
export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(i: number, g: GpuBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}
export interface GpuQueue {
  submit(cbs: unknown[]): void;
  writeBuffer(b: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}
export interface GpuError { readonly message: string }
export interface GpuDevice {
  readonly limits: GpuLimits;
  readonly queue: GpuQueue;
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GpuBuffer;
  createShaderModule(d: { code: string; label?: string }): GpuShaderModule;
  createComputePipelineAsync(d: { layout: "auto"; compute: { module: GpuShaderModule; entryPoint: string }; label?: string }): Promise<GpuComputePipeline>;
  createBindGroup(d: { layout: GpuBindGroupLayout; entries: { binding: number; resource: { buffer: GpuBuffer; offset?: number; size?: number } }[] }): GpuBindGroup;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<GpuError | null>;
  destroy(): void;
}

/** GPUBufferUsage flags. */
export const USAGE = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** GPUMapMode.READ. */
export const MAP_READ = 0x0001;

/**
 * Where the backend gets its GPU: the entry point supplies one (Node: the `webgpu` package with a
 * Vulkan driver found by src/backends/webgpu/node-gpu.ts; browsers: `navigator.gpu`).
 */
export interface GpuProvider {
  /** "node" or "browser". */
  readonly host: string;
  /**
   * A GPU and an adapter. `software`: whether a CPU (fallback/software) adapter is acceptable.
   * Resolves to the reason when there is none.
   */
  adapter(software: boolean): Promise<{ adapter: GpuAdapter; source: string } | { reason: string }>;
}
