/**
 * The webgpu backend: WGSL generated per kernel (src/backends/webgpu/render.ts), run on the GPU
 * found by the entry point's provider (Node: the optional `webgpu` package; browsers:
 * `navigator.gpu`). Float32 only (WGSL has no float64; nothing is downcast silently), and only
 * `async: true` calls (a GPU answers through promises).
 *
 * `auto` picks it for async float32 calls when the adapter is a GPU; a software adapter (lavapipe,
 * SwiftShader: CPU emulation) is used only when asked: `backend: "webgpu"`, or
 * `KEOPS_TS_WEBGPU_ADAPTER=software` (Node).
 */
import { KeOpsError } from "../../errors.js";
import type { Backend, BackendCaps, Kernel, KernelJob, KernelProgram } from "../../compile/program.js";
import { context, setGpuProvider, type GpuContext } from "./device.js";
import type { GpuProvider } from "./gpu-types.js";
import { DevicePrograms, configFor, runJobOnGpu } from "./runner.js";

/** Declines what its caps allow but WGSL cannot do: a float64 accumulator. */
function accDeclines(p: KernelProgram): string | null {
  if (p.accDtype !== "float32") return `webgpu accumulates in float32 only (WGSL has no float64), and dtypeAcc is ${p.accDtype}`;
  return null;
}

class WebGpuKernel implements Kernel {
  private onDevice: DevicePrograms | undefined;

  constructor(private readonly p: KernelProgram) {}

  /** The programs on the current device (a new device after a loss gets them again). */
  async programs(): Promise<DevicePrograms> {
    // an explicit backend: "webgpu" accepts a software adapter
    const ctx = await context(true);
    if (typeof ctx === "string") {
      noAdapter = ctx;
      throw new KeOpsError(`backend: "webgpu" cannot run here: ${ctx}`);
    }
    probed = ctx;
    noAdapter = null;
    if (this.onDevice?.ctx !== ctx) this.onDevice = new DevicePrograms(ctx, this.p, configFor(this.p, ctx));
    return this.onDevice;
  }

  async runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return;
    await runJobOnGpu(await this.programs(), job);
  }
}

/** What the probe found: the device, why there is none, or undefined before it ran. */
let probed: GpuContext | string | undefined;
let probing: Promise<void> | undefined;
/** Why an explicit `backend: "webgpu"` found no adapter at all (software ones included), or null. */
let noAdapter: string | null = null;

/** Whether software adapters compete with the CPU backends under `auto` (Node: KEOPS_TS_WEBGPU_ADAPTER). */
function softwareWanted(): boolean {
  const env = typeof process !== "undefined" ? process.env?.KEOPS_TS_WEBGPU_ADAPTER : undefined;
  return env !== undefined && env !== "" && env !== "auto" && env !== "hardware";
}

/** Cost per pair for `auto`: a GPU before the CPU backends (native 1), a software adapter after js (100) unless asked for. */
function cost(): number {
  if (probed === undefined || typeof probed === "string") return 1000;
  return probed.report.software && !softwareWanted() ? 1000 : 0.1;
}

function costNote(): string {
  if (probed === undefined) return "WebGPU: the adapter is looked for at the first async call";
  if (typeof probed === "string") return `WebGPU: ${probed}`;
  const r = probed.report;
  const soft = r.software ? (softwareWanted() ? "; used by auto as asked (KEOPS_TS_WEBGPU_ADAPTER)" : "; auto prefers the CPU backends (backend: \"webgpu\" or KEOPS_TS_WEBGPU_ADAPTER=software to use it)") : "";
  return `WebGPU on ${r.adapter}, from ${r.source}${soft}`;
}

/** The webgpu backend on the given provider (set by the entry point). */
export function webgpuBackend(provider: GpuProvider): Backend {
  setGpuProvider(provider);
  return {
    name: "webgpu",
    get caps(): BackendCaps {
      return { blocking: false, async: true, dtypes: ["float32"], cost: cost(), costNote: costNote() };
    },
    unavailable(): string | null {
      // null before the probe, and after one that found no GPU: an explicit backend: "webgpu" then
      // looks for a software adapter at its compile, and says why when there is none either
      return noAdapter;
    },
    init(): Promise<void> {
      // for auto: a GPU adapter only, so that async calls of a machine without a GPU do not set up
      // a software one (an explicit backend: "webgpu" does, at its compile); again after a lost device
      const stale = probed !== undefined && typeof probed !== "string" && probed.lostReason !== null;
      if (!probing || stale) probing = context(false).then((c) => void (probed ??= c, typeof c !== "string" && (probed = c)));
      return probing;
    },
    declines: accDeclines,
    async compileAsync(p: KernelProgram): Promise<Kernel> {
      const why = accDeclines(p);
      if (why) throw new KeOpsError(why);
      const k = new WebGpuKernel(p);
      const dp = await k.programs();
      await dp.pipeline("direct");
      return k;
    },
  };
}
