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
import type { Backend, Kernel, KernelJob, KernelProgram } from "../../compile/program.js";
import { adapterReport, context, setGpuProvider, type GpuContext } from "./device.js";
import type { GpuProvider } from "./gpu-types.js";
import { DevicePrograms, configFor, runJobOnGpu } from "./runner.js";

/** The KeOpsError message of a blocking call with `backend: "webgpu"`. */
export const WEBGPU_ASYNC_ONLY =
  'backend: "webgpu" runs only with async: true (a GPU answers through promises): pass { async: true } (or use callAsync) and await the result, or choose a CPU backend for blocking calls';

/** Declines float64: the reason. */
function dtypeDeclines(p: KernelProgram): string | null {
  if (p.dtype !== "float32") return `webgpu computes in float32 only (WGSL has no float64), and this reduction is ${p.dtype}: use float32 data, or another backend (no silent downcast)`;
  if (p.accDtype !== "float32") return `webgpu accumulates in float32 only, and dtypeAcc is ${p.accDtype}`;
  return null;
}

class WebGpuKernel implements Kernel {
  private onDevice: DevicePrograms | undefined;

  constructor(private readonly p: KernelProgram) {}

  run(): void {
    throw new KeOpsError(WEBGPU_ASYNC_ONLY);
  }

  /** The programs on the current device (a new device after a loss gets them again). */
  async programs(): Promise<DevicePrograms> {
    const ctx = await context(true);
    if (typeof ctx === "string") throw new KeOpsError(`backend: "webgpu" cannot run here: ${ctx}`);
    if (this.onDevice?.ctx !== ctx) {
      this.onDevice = new DevicePrograms(ctx, this.p, configFor(this.p, ctx));
    }
    return this.onDevice;
  }

  async runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return;
    await runJobOnGpu(await this.programs(), job);
  }
}

let probed: GpuContext | string | undefined;
let probing: Promise<void> | undefined;
let probedExplicit = false;

/** The webgpu backend on the given provider (set by the entry point). */
export function webgpuBackend(provider: GpuProvider): Backend {
  setGpuProvider(provider);
  return {
    name: "webgpu",
    asyncOnly: WEBGPU_ASYNC_ONLY,
    unavailable(): string | null {
      if (probed === undefined) return "not probed yet: the first async float32 call looks for a WebGPU adapter";
      return typeof probed === "string" ? probed : null;
    },
    autoUnavailable(): string | null {
      if (probed === undefined || typeof probed === "string") return this.unavailable();
      const env = typeof process !== "undefined" ? process.env?.KEOPS_TS_WEBGPU_ADAPTER : undefined;
      const soft = env !== undefined && env !== "" && env !== "auto" && env !== "hardware";
      if (probed.report.software && !soft) return `the adapter is a software one (${probed.report.adapter}): used only when asked (backend: "webgpu", or KEOPS_TS_WEBGPU_ADAPTER=software)`;
      return null;
    },
    detail(): string | null {
      const r = adapterReport();
      if (!r) return null;
      return r.adapter ? `adapter: ${r.adapter}, from ${r.source}` : `no adapter: ${r.reason}`;
    },
    probe(explicit: boolean): Promise<void> {
      // probe once; again when software adapters become acceptable, or after a lost device
      const stale = probed !== undefined && typeof probed !== "string" && probed.lostReason !== null;
      if (probing && !stale && (probedExplicit || !explicit)) return probing;
      probedExplicit ||= explicit;
      probing = context(probedExplicit).then((c) => void (probed = c));
      return probing;
    },
    declines: dtypeDeclines,
    compile(): Kernel {
      throw new KeOpsError(WEBGPU_ASYNC_ONLY);
    },
    async compileAsync(p: KernelProgram): Promise<Kernel> {
      const why = dtypeDeclines(p);
      if (why) throw new KeOpsError(why);
      const k = new WebGpuKernel(p);
      const dp = await k.programs();
      await dp.pipeline("direct");
      return k;
    },
  };
}
