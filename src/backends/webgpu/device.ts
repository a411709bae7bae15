/**
 * The GPU device of the webgpu backend: found once through the entry point's provider, created
 * with the adapter's own limits (not WebGPU's small defaults), recreated by the next call after
 * `device.lost`. Each device owns its caches (pipelines, pooled buffers, resident inputs), so a
 * lost device drops them all.
 */
import { KeOpsError } from "../../errors.js";
import { USAGE, type GpuAdapter, type GpuBuffer, type GpuComputePipeline, type GpuDevice, type GpuLimits, type GpuProvider } from "./gpu-types.js";

/** What the probe found, in words (for `backendInfo()`). */
export interface AdapterReport {
  /** The adapter, e.g. "llvmpipe: Mesa 25.0.7 (software adapter)", or null. */
  readonly adapter: string | null;
  readonly software: boolean;
  /** Where it came from (Node: which Vulkan driver; browsers: navigator.gpu). */
  readonly source: string | null;
  /** Why there is none, or null. */
  readonly reason: string | null;
}

/** A live device and its caches. */
export class GpuContext {
  readonly pipelines = new Map<string, Promise<GpuComputePipeline>>();
  private readonly pool = new Map<string, GpuBuffer[]>();
  private pooledBytes = 0;
  /** Inputs kept on the device: typed array → (buffer, content hash). */
  readonly resident = new WeakMap<object, { buffer: GpuBuffer; hash: number; bytes: number }>();
  /** Resident entries in use order (the oldest are released beyond {@link RESIDENT_BYTES}). */
  readonly residentOrder: { key: WeakRef<object>; buffer: GpuBuffer; bytes: number }[] = [];
  residentBytes = 0;
  lostReason: string | null = null;
  /** Work units (pairs × instructions) per second measured on this device, 0 before the first run. */
  rate = 0;

  constructor(
    readonly device: GpuDevice,
    readonly limits: GpuLimits,
    readonly report: AdapterReport,
  ) {}

  /** A buffer of at least `size` bytes with `usage`, from the pool when one is free. */
  take(size: number, usage: number): GpuBuffer {
    const cls = sizeClass(size);
    const list = this.pool.get(`${usage}:${cls}`);
    const b = list?.pop();
    if (b) {
      this.pooledBytes -= cls;
      return b;
    }
    return this.device.createBuffer({ size: cls, usage });
  }

  /** Returns a buffer to the pool (destroyed when the pool is full). */
  give(b: GpuBuffer, usage: number): void {
    if (this.lostReason !== null) return;
    if (this.pooledBytes + b.size > POOL_BYTES) {
      b.destroy();
      return;
    }
    const key = `${usage}:${b.size}`;
    let list = this.pool.get(key);
    if (!list) this.pool.set(key, (list = []));
    list.push(b);
    this.pooledBytes += b.size;
  }
}

/** Bytes of idle buffers kept for reuse. */
const POOL_BYTES = 256 * 2 ** 20;
/** Bytes of input arrays kept on the device between calls. */
export const RESIDENT_BYTES = 1024 * 2 ** 20;

/** Buffer sizes are rounded up to powers of 2 (≥ 256 bytes), then to multiples of 1/8 of that. */
function sizeClass(size: number): number {
  const s = Math.max(256, size);
  const p = 2 ** Math.floor(Math.log2(s));
  const step = Math.max(256, p / 8);
  return Math.ceil(s / step) * step;
}

/** The limits the backend raises from WebGPU's defaults to what the adapter offers. */
const WANTED: readonly string[] = [
  "maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX", "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupsPerDimension",
];

let provider: GpuProvider | undefined;
let current: Promise<GpuContext | string> | undefined;
let currentSoftware = false;

/** Sets where devices come from (called by the entry point). */
export function setGpuProvider(p: GpuProvider): void {
  provider = p;
}

function describeAdapter(a: GpuAdapter, software: boolean): string {
  const i = a.info;
  const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(" ") || "unnamed adapter";
  return software ? `${name} (software adapter: CPU emulation, not a GPU)` : name;
}

/** Whether software adapters are acceptable to `backend: "auto"`. */
function softwareForAuto(): boolean {
  const env = typeof process !== "undefined" ? process.env?.KEOPS_TS_WEBGPU_ADAPTER : undefined;
  return env !== undefined && env !== "" && env !== "auto" && env !== "hardware";
}

/**
 * The device (created at the first call; again after a loss), or why there is none. `software`:
 * whether a software adapter is acceptable (an explicit `backend: "webgpu"`).
 */
export function context(software: boolean): Promise<GpuContext | string> {
  const accept = software || softwareForAuto();
  if (current && accept && !currentSoftware) {
    // an earlier probe refused software adapters: probe again allowing them
    current = current.then((c) => (typeof c === "string" ? create(true) : c));
    currentSoftware = true;
  }
  if (!current) {
    currentSoftware = accept;
    current = create(accept);
  }
  return current.then((c) => {
    if (typeof c !== "string" && c.report.software && !accept)
      return `the adapter is a software one (${c.report.adapter}); it is used when asked: backend: "webgpu", or KEOPS_TS_WEBGPU_ADAPTER=software`;
    return c;
  });
}

async function create(software: boolean): Promise<GpuContext | string> {
  if (!provider) return "no WebGPU provider in this build";
  let found: Awaited<ReturnType<GpuProvider["adapter"]>>;
  try {
    found = await provider.adapter(software);
  } catch (e) {
    found = { reason: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
  if ("reason" in found) return found.reason;
  const { adapter, source } = found;
  const isSoft = adapter.info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED) if (typeof adapter.limits[k] === "number") requiredLimits[k] = adapter.limits[k]!;
  let device: GpuDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, label: "keops-ts" });
  } catch (e) {
    return `the adapter ${describeAdapter(adapter, isSoft)} gave no device: ${(e as Error).message}`;
  }
  const report: AdapterReport = { adapter: describeAdapter(adapter, isSoft), software: isSoft, source, reason: null };
  const ctx = new GpuContext(device, device.limits, report);
  void device.lost.then((info) => {
    ctx.lostReason = `the GPU device was lost (${info.reason || "unknown"}: ${info.message || "no message"})`;
    // the next call creates a new device
    if (current) void current.then((c) => c === ctx && (current = undefined));
  });
  return ctx;
}

/** Raises a KeOpsError when the context is unusable. */
export function assertLive(ctx: GpuContext): void {
  if (ctx.lostReason !== null) throw new KeOpsError(`webgpu: ${ctx.lostReason}; the next call recreates the device`);
}

/** Runs `f` and rejects with a KeOpsError when the device is lost first (never hangs on a dead device). */
export async function unlessLost<T>(ctx: GpuContext, f: Promise<T>): Promise<T> {
  const lost = ctx.device.lost.then((info) => {
    throw new KeOpsError(`webgpu: the GPU device was lost during the call (${info.reason || "unknown"}: ${info.message || "no message"}); the next call recreates the device`);
  });
  return Promise.race([f, lost]);
}

/** Usage of input buffers, of output/partial buffers and of read-back buffers. */
export const INPUT_USAGE = USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC;
export const OUTPUT_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
export const READ_USAGE = USAGE.MAP_READ | USAGE.COPY_DST;
export const UNIFORM_USAGE = USAGE.UNIFORM | USAGE.COPY_DST;
