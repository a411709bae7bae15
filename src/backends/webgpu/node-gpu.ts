/**
 * WebGPU in Node: Dawn's bindings (the optional npm package `webgpu`, pinned to 0.6.2: other
 * versions need a newer libstdc++ than Debian 12's), loaded by dynamic import at first use, with
 * a Vulkan driver found here.
 *
 * Which driver (Linux), by `KEOPS_TS_WEBGPU_ADAPTER`:
 * - unset / "auto": the system's Vulkan drivers (a GPU); when there is none and a software
 *   adapter is acceptable (`backend: "webgpu"` asked explicitly), lavapipe then SwiftShader;
 * - "software": as "auto", with software adapters acceptable to `backend: "auto"` too;
 * - "lavapipe": Mesa's lavapipe set up by scripts/webgpu-adapter.sh (folder `KEOPS_TS_LAVAPIPE`,
 *   else ~/.cache/keops-ts/lavapipe);
 * - "swiftshader": the SwiftShader driver shipped by Chromium (`KEOPS_TS_SWIFTSHADER` = its
 *   vk_swiftshader_icd.json, else /usr/lib/chromium's).
 * `VK_ICD_FILENAMES` / `VK_DRIVER_FILES` set by the user are used as they are.
 *
 * A driver outside the library path is reached by loading its folder's Vulkan loader
 * (libvulkan.so.1) into the process first (through koffi, already a dependency): Dawn's later
 * dlopen of "libvulkan.so.1" then finds it, without LD_LIBRARY_PATH set before start.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Gpu, GpuAdapter, GpuProvider } from "./gpu-types.js";

/** What `create()` returned, held for the life of the process (Dawn crashes when it is collected). */
const keepAlive: unknown[] = [];

type WebGpuModule = { create(flags: string[]): Gpu; globals: Record<string, unknown> };
let moduleOrReason: Promise<WebGpuModule | string> | undefined;

function loadModule(): Promise<WebGpuModule | string> {
  moduleOrReason ??= import("webgpu" as string).then(
    (m: WebGpuModule) => {
      // Dawn's objects (GPUBufferUsage…) are expected as globals by some code paths
      for (const [k, v] of Object.entries(m.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      return m;
    },
    (e: unknown) => `the optional package "webgpu" (0.6.2) could not be loaded (${(e as Error).message.split("\n")[0]}): npm install webgpu@0.6.2`,
  );
  return moduleOrReason;
}

/** The lavapipe folder written by scripts/webgpu-adapter.sh. */
export function lavapipeDir(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return process.env.KEOPS_TS_LAVAPIPE || join(cache, "keops-ts", "lavapipe");
}

/** A software Vulkan driver: its manifest and the folder holding a Vulkan loader beside it. */
interface SoftwareIcd { readonly name: string; readonly icd: string; readonly loaderDir: string }

function softwareIcds(): SoftwareIcd[] {
  const out: SoftwareIcd[] = [];
  const lvp = lavapipeDir();
  if (existsSync(join(lvp, "lvp_icd.json"))) out.push({ name: "lavapipe", icd: join(lvp, "lvp_icd.json"), loaderDir: lvp });
  const ss = process.env.KEOPS_TS_SWIFTSHADER || "/usr/lib/chromium/vk_swiftshader_icd.json";
  if (existsSync(ss)) out.push({ name: "swiftshader", icd: ss, loaderDir: dirname(ss) });
  return out;
}

let preloaded: string | undefined;

/** Loads `dir`/libvulkan.so.1 into the process (once; a later different folder is not loaded). */
async function preloadVulkanLoader(dir: string): Promise<void> {
  const lib = join(dir, "libvulkan.so.1");
  if (preloaded !== undefined || !existsSync(lib)) return;
  try {
    const koffi = (await import("koffi")).default as { load(path: string): unknown };
    keepAlive.push(koffi.load(lib));
    preloaded = dir;
  } catch {
    // the system's loader (if any) is used
  }
}

/** The adapter of a fresh `create()`; null when there is none. */
async function requestAdapter(m: WebGpuModule): Promise<GpuAdapter | null> {
  const gpu = m.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter) keepAlive.push(gpu);
  return adapter;
}

/**
 * Whether the system has a Vulkan loader where Dawn's dlopen looks (Linux; elsewhere Dawn uses
 * Metal/D3D12 and this is true): without one, asking Dawn only prints a warning.
 */
function systemVulkan(): boolean {
  if (process.platform !== "linux") return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean), "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];
  return preloaded !== undefined || dirs.some((d) => existsSync(join(d, "libvulkan.so.1")));
}

const isSoftware = (a: GpuAdapter): boolean => a.info.isFallbackAdapter === true || a.isFallbackAdapter === true;

/** The Node provider. */
export const nodeGpu: GpuProvider = {
  host: "node",
  async adapter(software) {
    const m = await loadModule();
    if (typeof m === "string") return { reason: m };
    const want = (process.env.KEOPS_TS_WEBGPU_ADAPTER ?? "auto").toLowerCase();
    const accept = software || want !== "auto";
    const userIcd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
    const named = softwareIcds().filter((s) => s.name === want);
    if ((want === "lavapipe" || want === "swiftshader") && !userIcd) {
      if (!named.length)
        return { reason: want === "lavapipe" ? `KEOPS_TS_WEBGPU_ADAPTER=lavapipe, but ${join(lavapipeDir(), "lvp_icd.json")} does not exist: run sh scripts/webgpu-adapter.sh` : "KEOPS_TS_WEBGPU_ADAPTER=swiftshader, but no vk_swiftshader_icd.json (install chromium, or set KEOPS_TS_SWIFTSHADER)" };
      return useIcd(m, named[0]!);
    }
    if (!["auto", "software", "hardware", "lavapipe", "swiftshader"].includes(want))
      return { reason: `KEOPS_TS_WEBGPU_ADAPTER: expected auto, hardware, software, lavapipe or swiftshader, got ${JSON.stringify(want)}` };
    // the system's drivers (or the user's VK_ICD_FILENAMES) first
    const sys = systemVulkan() ? await requestAdapter(m) : null;
    if (sys && (!isSoftware(sys) || accept)) return { adapter: sys, source: userIcd ? `VK_ICD_FILENAMES=${userIcd}` : "the system's drivers" };
    if (sys) return { reason: `the only adapter is a software one (${sys.info.description}); it is used when asked: backend: "webgpu", or KEOPS_TS_WEBGPU_ADAPTER=software` };
    if (!accept || want === "hardware" || userIcd || process.platform !== "linux")
      return { reason: userIcd ? `no WebGPU adapter with VK_ICD_FILENAMES=${userIcd}` : (systemVulkan() ? "no GPU adapter (Dawn found no Vulkan, Metal or D3D12 driver)" : "no GPU adapter (no Vulkan loader, libvulkan.so.1, on this system)") + (process.platform === "linux" && want !== "hardware" ? "; a software adapter is used only when asked (backend: \"webgpu\", or KEOPS_TS_WEBGPU_ADAPTER=software)" : "") };
    for (const s of softwareIcds()) {
      const r = await useIcd(m, s);
      if ("adapter" in r) return r;
    }
    return { reason: `no GPU adapter, and no software one: run sh scripts/webgpu-adapter.sh (lavapipe into ${lavapipeDir()}) or install chromium (SwiftShader)` };
  },
};

async function useIcd(m: WebGpuModule, s: SoftwareIcd): Promise<{ adapter: GpuAdapter; source: string } | { reason: string }> {
  process.env.VK_ICD_FILENAMES = s.icd;
  await preloadVulkanLoader(s.loaderDir);
  const a = await requestAdapter(m);
  return a ? { adapter: a, source: `${s.name} (${s.icd})` } : { reason: `no adapter from ${s.name} (${s.icd})` };
}
