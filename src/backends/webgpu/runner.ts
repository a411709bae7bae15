/**
 * Running a job on the GPU: inputs uploaded (or found resident from an earlier call), the work cut
 * into dispatches, read back.
 *
 * The cut: rows in chunks whose bindings fit `maxStorageBufferBindingSize`; the inner range split
 * into `S` pieces (workgroups along y) when rows are few against N (so the GPU has enough
 * workgroups) or when one piece would be too long; a dispatch holds as many pieces as fit a work
 * budget of ~{@link TARGET_SECONDS} of GPU time (measured on the device as it runs: the first
 * run's dispatches are sized from a conservative guess, 5e7 work units on a software adapter and
 * 2e9 on a GPU, a work unit being one SSA instruction of one pair), so that no dispatch is long enough for a
 * watchdog (browsers and OSes reset the GPU after a few seconds). With S > 1 each piece writes its
 * partial state and a merge pass folds them in order.
 */
import { KeOpsError } from "../../errors.js";
import type { KernelJob, KernelProgram } from "../../compile/program.js";
import { outputRowSizes } from "../../compile/program.js";
import type { TensorData } from "../../tensor.js";
import {
  INPUT_USAGE, OUTPUT_USAGE, READ_USAGE, RESIDENT_BYTES, UNIFORM_USAGE, assertLive, unlessLost, type GpuContext,
} from "./device.js";
import { MAP_READ, type GpuBindGroup, type GpuBuffer, type GpuComputePipeline } from "./gpu-types.js";
import { innerSplit, scheduleOf } from "../../compile/schedule.js";
import { MERGE_WG, UNIFORM_FIELDS, bindingsOf, gpuShape, renderWgsl, uniformWords, type PassKind, type WgslConfig } from "./render.js";

/** GPU time one dispatch aims at. */
export const TARGET_SECONDS = 0.1;
/** Workgroups a reduction aims to have in flight (the inner range is split to reach it). */
const TARGET_WORKGROUPS = 256;

/**
 * @internal Overrides for tests: a dispatch work budget (work units) and a smaller binding size
 * limit (bytes), to exercise chunked dispatches and split bindings at small sizes.
 */
export const tuning: { budget?: number; maxBindingBytes?: number; staged?: boolean } = {};

/** Counters (tests): input uploads, and runs. */
export const stats = { uploads: 0, runs: 0, dispatches: 0 };

/** The kernel shape for a program on a device. */
export function configFor(p: KernelProgram, ctx: GpuContext): WgslConfig {
  const L = ctx.limits;
  const wg = Math.max(1, Math.min(p.red.state.length > 32 ? 64 : 128, L.maxComputeInvocationsPerWorkgroup, L.maxComputeWorkgroupSizeX));
  // a binding per slot, and the outputs (or the partials): pack the inputs when they do not fit
  const packed = p.slots.length + Math.max(1, p.red.outputs.length) > L.maxStorageBuffersPerShaderStage;
  const sc = scheduleOf(p);
  if (sc.innerComps === 0) return { wg, tile: wg, staged: false, packed };
  // tiles of j in workgroup memory (the schedule sizes them); too few per tile: read j-values from the buffers
  const tile = sc.target(gpuShape(wg, L.maxComputeWorkgroupStorageSize)).tile;
  if (tile < 16 || tuning.staged === false) return { wg, tile: wg, staged: false, packed };
  return { wg, tile, staged: true, packed };
}

/** A compiled program on one device: its pipelines (by pass). */
export class DevicePrograms {
  constructor(
    readonly ctx: GpuContext,
    readonly p: KernelProgram,
    readonly cfg: WgslConfig,
  ) {}

  pipeline(kind: PassKind): Promise<GpuComputePipeline> {
    const key = `${kind}|${this.cfg.wg}|${this.cfg.tile}|${this.cfg.staged}|${this.cfg.packed}|${this.p.key}`;
    let pl = this.ctx.pipelines.get(key);
    if (!pl) {
      const code = renderWgsl(this.p, this.cfg, kind);
      const module = this.ctx.device.createShaderModule({ code, label: `keops ${kind}` });
      pl = this.ctx.device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: `keops ${kind}` })
        .catch(async (e: unknown) => {
          this.ctx.pipelines.delete(key);
          const info = await module.getCompilationInfo?.().catch(() => undefined);
          const msgs = info?.messages.filter((m) => m.type === "error").map((m) => `line ${m.lineNum}: ${m.message}`).join("; ");
          throw new KeOpsError(`webgpu: the generated ${kind} shader did not compile (${msgs || (e as Error).message}); please report this formula`);
        });
      this.ctx.pipelines.set(key, pl);
    }
    return pl;
  }
}

/** A 32-bit hash of an array's bytes (FNV-1a on 32-bit words with a final mix). */
function hashOf(a: TensorData): number {
  const w = new Int32Array(a.buffer, a.byteOffset, (a.byteLength >> 2));
  let h = 0x811c9dc5 ^ w.length;
  for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w[k]!, 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

/**
 * The device buffer holding `a`: the one uploaded by an earlier call when `a` is the same array
 * with the same contents (a solve's iterations, repeated calls of one KeOpsFunction), else a new
 * upload kept for the next call (within {@link RESIDENT_BYTES}, oldest released first).
 */
function residentBuffer(ctx: GpuContext, a: TensorData, inUse: Set<GpuBuffer>): GpuBuffer {
  const hash = hashOf(a);
  const hit = ctx.resident.get(a);
  if (hit && hit.hash === hash) {
    inUse.add(hit.buffer);
    return hit.buffer;
  }
  const bytes = Math.max(4, a.byteLength);
  const buffer = ctx.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: INPUT_USAGE });
  if (a.byteLength) ctx.device.queue.writeBuffer(buffer, 0, a, 0, a.length);
  stats.uploads++;
  if (hit) release(ctx, hit.buffer);
  ctx.resident.set(a, { buffer, hash, bytes });
  ctx.residentOrder.push({ key: new WeakRef(a), buffer, bytes });
  ctx.residentBytes += bytes;
  inUse.add(buffer);
  while (ctx.residentBytes > RESIDENT_BYTES && ctx.residentOrder.length > 1) {
    const old = ctx.residentOrder.findIndex((e) => !inUse.has(e.buffer) && !busy.has(e.buffer));
    if (old < 0) break;
    const [e] = ctx.residentOrder.splice(old, 1);
    const k = e!.key.deref();
    if (k && ctx.resident.get(k)?.buffer === e!.buffer) ctx.resident.delete(k);
    ctx.residentBytes -= e!.bytes;
    e!.buffer.destroy();
  }
  return buffer;
}

/** Buffers in use by runs in flight (never released under them). */
const busy = new Map<GpuBuffer, number>();

function release(ctx: GpuContext, b: GpuBuffer): void {
  const at = ctx.residentOrder.findIndex((e) => e.buffer === b);
  if (at >= 0) {
    ctx.residentBytes -= ctx.residentOrder[at]!.bytes;
    ctx.residentOrder.splice(at, 1);
  }
  if (!busy.has(b)) b.destroy();
}

/** A window of a buffer: elements [start, start + count) bound from an aligned offset. */
interface Window { offset: number; size: number; shift: number }

function windowOf(start: number, count: number, align: number, bufferSize: number): Window {
  const byteStart = start * 4;
  const offset = Math.floor(byteStart / align) * align;
  const end = Math.max(byteStart + count * 4, offset + 4);
  let off = offset;
  if (bufferSize - off < 4) off = Math.max(0, off - align); // an empty window at the very end
  const size = Math.min(Math.ceil((end - off) / 4) * 4, bufferSize - off);
  return { offset: off, size, shift: (byteStart - off) / 4 };
}

interface Dispatch {
  kind: PassKind;
  groups: [number, number];
  /** Uniform values (u32 fields, shifts), f32 tail written separately. */
  fields: number[];
  /** Binding windows of slots and outputs. */
  slotWin: Window[];
  outWin: Window[];
  /** Work units, for the rate estimate. */
  work: number;
}

/** Runs a job; resolves when the outputs are in `job.outputs`. */
export async function runJobOnGpu(dp: DevicePrograms, job: KernelJob): Promise<void> {
  const { ctx, p, cfg } = dp;
  assertLive(ctx);
  for (const a of job.inputs)
    if (!(a instanceof Float32Array)) throw new KeOpsError(`webgpu: expected float32 inputs, got ${a.constructor.name} (float32 only: WGSL has no float64)`);
  const L = ctx.limits;
  const align = L.minStorageBufferOffsetAlignment;
  const slack = align / 4;
  const maxElems = Math.floor(Math.min(L.maxStorageBufferBindingSize, tuning.maxBindingBytes ?? Infinity) / 4) - slack;
  const rowSizes = outputRowSizes(p);
  const nS = p.red.state.length;
  const nSlots = p.slots.length, nOut = rowSizes.length;
  const N = job.nInner;
  const cost = Math.max(1, p.body.code.length + p.red.update.code.length);
  const budget = tuning.budget ?? (ctx.rate > 0 ? ctx.rate * TARGET_SECONDS : ctx.report.software ? 5e7 : 2e9);

  // rows per chunk: bindings of outer slots and outputs fit; at most 65535 workgroups
  let R = Math.min(job.nOuter, L.maxComputeWorkgroupsPerDimension * Math.min(cfg.wg, MERGE_WG));
  for (const s of p.slots) if (s.role === "outer") R = Math.min(R, Math.floor(maxElems / s.dim));
  for (const size of rowSizes) R = Math.min(R, Math.floor(maxElems / Math.max(1, size)));
  let jCap = Number.MAX_SAFE_INTEGER;
  for (const s of p.slots) if (s.role === "inner") jCap = Math.min(jCap, Math.floor(maxElems / s.dim));
  jCap = Math.max(cfg.tile, Math.floor(jCap / cfg.tile) * cfg.tile);
  if (R < 1 || (p.slots.some((s) => s.role === "param" && s.dim > maxElems)))
    throw new KeOpsError(`webgpu: a row is larger than this adapter's maxStorageBufferBindingSize (${L.maxStorageBufferBindingSize} bytes)`);
  let S = 1, jPer = Math.max(N, 1);
  for (let pass = 0; pass < 3; pass++) {
    const sPar = innerSplit(R, N, { units: TARGET_WORKGROUPS, rowsPerUnit: cfg.wg, minPart: 2 * cfg.tile });
    const sBudget = Math.ceil((R * N * cost) / budget);
    S = Math.max(1, sPar, sBudget);
    jPer = Math.min(jCap, Math.ceil(Math.ceil(Math.max(N, 1) / S) / cfg.tile) * cfg.tile);
    S = Math.max(1, Math.ceil(N / jPer));
    if (S === 1 || S * R * nS <= maxElems) break;
    R = Math.max(cfg.wg, Math.floor(maxElems / (S * nS) / cfg.wg) * cfg.wg);
    if (S * R * nS > maxElems) R = Math.max(1, Math.floor(maxElems / (S * nS)));
  }
  if (S > 1 && S * R * nS > maxElems) throw new KeOpsError(`webgpu: the partial states of this reduction do not fit this adapter's maxStorageBufferBindingSize`);
  const perDispatch = Math.max(1, Math.min(S, Math.floor(budget / Math.max(1, R * jPer * cost)), Math.floor(jCap / jPer), L.maxComputeWorkgroupsPerDimension));

  const pipes = new Map<PassKind, GpuComputePipeline>();
  for (const kind of (S > 1 ? ["partial", "merge"] : ["direct"]) as PassKind[]) pipes.set(kind, await unlessLost(ctx, dp.pipeline(kind)));
  assertLive(ctx);

  // buffers
  const inUse = new Set<GpuBuffer>();
  const inBufs = job.inputs.map((a) => residentBuffer(ctx, a, inUse));
  for (const b of inUse) busy.set(b, (busy.get(b) ?? 0) + 1);
  // packed inputs: every input copied (on the GPU) into one buffer, slot s from element packOff[s]
  const packOff: number[] = [];
  let packElems = 0;
  if (cfg.packed) for (const a of job.inputs) packOff.push(packElems), (packElems += a.length);
  const packBytes = Math.max(4, packElems * 4);
  if (packBytes > L.maxStorageBufferBindingSize) {
    for (const b of inUse) busy.set(b, busy.get(b)! - 1 || 0);
    throw new KeOpsError(`webgpu: this formula reads more variables than the adapter has bindings, and their data together (${packBytes} bytes) exceed maxStorageBufferBindingSize (${L.maxStorageBufferBindingSize})`);
  }
  const packBuf = cfg.packed ? ctx.take(packBytes, OUTPUT_USAGE) : undefined;
  const outBytes = job.outputs.map((o) => Math.max(4, o.byteLength));
  const outBufs = outBytes.map((n) => ctx.take(n, OUTPUT_USAGE));
  const partBuf = S > 1 ? ctx.take(S * R * nS * 4, OUTPUT_USAGE) : undefined;
  const readBufs = outBytes.map((n) => ctx.take(n, READ_USAGE));
  const uniformBytes = uniformWords(p) * 4;
  const stride = Math.max(L.minUniformBufferOffsetAlignment, Math.ceil(uniformBytes / 16) * 16);

  // the dispatches
  const ds: Dispatch[] = [];
  for (let b = 0; b < job.nBatch; b++) {
    const inOff = (s: number): number => job.inOffsets[b * nSlots + s]!;
    const outOff = (o: number): number => job.outOffsets[b * nOut + o]!;
    for (let r0 = 0; r0 < job.nOuter; r0 += R) {
      const rows = Math.min(R, job.nOuter - r0);
      const outWin = rowSizes.map((size, o) => windowOf(outOff(o) + r0 * size, rows * size, align, outBufs[o]!.size));
      for (let g = 0; g < S; g += perDispatch) {
        const k = Math.min(perDispatch, S - g);
        const jBase = g * jPer;
        const jCount = Math.max(0, Math.min(N - jBase, k * jPer));
        const slotWin = p.slots.map((s, i) => {
          const start = inOff(i) + (s.role === "outer" ? r0 * s.dim : s.role === "inner" ? jBase * s.dim : 0);
          const count = s.role === "outer" ? rows * s.dim : s.role === "inner" ? jCount * s.dim : s.dim;
          return cfg.packed ? { offset: 0, size: packBytes, shift: packOff[i]! + start } : windowOf(start, count, align, inBufs[i]!.size);
        });
        ds.push({
          kind: S > 1 ? "partial" : "direct",
          groups: [Math.ceil(rows / cfg.wg), k],
          fields: [rows, jBase, jCount, jPer, rows, g, S],
          slotWin, outWin, work: rows * jCount * cost,
        });
      }
      if (S > 1) ds.push({ kind: "merge", groups: [Math.ceil(rows / MERGE_WG), 1], fields: [rows, 0, 0, jPer, rows, 0, S], slotWin: [], outWin, work: rows * S * nS });
    }
  }

  const uniforms = ctx.take(Math.max(16, ds.length * stride), UNIFORM_USAGE);
  let done = false;
  try {
    const ubytes = new ArrayBuffer(ds.length * stride);
    const u32 = new Uint32Array(ubytes), f32 = new Float32Array(ubytes);
    const tail = UNIFORM_FIELDS.length + nSlots + nOut;
    ds.forEach((d, n) => {
      const w = (n * stride) / 4;
      d.fields.forEach((v, k) => (u32[w + k] = v));
      d.slotWin.forEach((win, s) => (u32[w + UNIFORM_FIELDS.length + s] = win.shift));
      d.outWin.forEach((win, o) => (u32[w + UNIFORM_FIELDS.length + nSlots + o] = win.shift));
      f32[w + tail] = Infinity;
      f32[w + tail + 1] = NaN;
      f32[w + tail + 2] = 1;
    });
    ctx.device.pushErrorScope("out-of-memory");
    ctx.device.pushErrorScope("validation");
    ctx.device.queue.writeBuffer(uniforms, 0, ubytes);
    const commands: unknown[] = [];
    let enc = ctx.device.createCommandEncoder();
    let encWork = 0;
    if (packBuf) job.inputs.forEach((a, s) => a.length && enc.copyBufferToBuffer(inBufs[s]!, 0, packBuf, packOff[s]! * 4, a.length * 4));
    ds.forEach((d, n) => {
      const pipe = pipes.get(d.kind)!;
      const bnd = bindingsOf(p, d.kind, cfg.packed);
      const entries: { binding: number; resource: { buffer: GpuBuffer; offset?: number; size?: number } }[] = [
        { binding: 0, resource: { buffer: uniforms, offset: n * stride, size: uniformBytes } },
      ];
      bnd.slots.forEach((bn, s) => entries.push({ binding: bn, resource: packBuf ? { buffer: packBuf, offset: 0, size: packBytes } : { buffer: inBufs[s]!, offset: d.slotWin[s]!.offset, size: d.slotWin[s]!.size } }));
      bnd.outputs.forEach((bn, o) => entries.push({ binding: bn, resource: { buffer: outBufs[o]!, offset: d.outWin[o]!.offset, size: d.outWin[o]!.size } }));
      if (bnd.partials >= 0) entries.push({ binding: bnd.partials, resource: { buffer: partBuf!, offset: 0, size: S * R * nS * 4 } });
      const group: GpuBindGroup = ctx.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipe);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1]);
      pass.end();
      // one command buffer per ~dispatch budget: the queue can start before everything is encoded
      encWork += d.work;
      if (encWork >= budget) {
        commands.push(enc.finish());
        enc = ctx.device.createCommandEncoder();
        encWork = 0;
      }
    });
    job.outputs.forEach((_, o) => enc.copyBufferToBuffer(outBufs[o]!, 0, readBufs[o]!, 0, Math.ceil(outBytes[o]! / 4) * 4));
    commands.push(enc.finish());
    const t0 = performance.now();
    ctx.device.queue.submit(commands);
    stats.runs++;
    stats.dispatches += ds.length;
    const errV = ctx.device.popErrorScope();
    const errM = ctx.device.popErrorScope();
    const [ev, em] = await unlessLost(ctx, Promise.all([errV, errM]));
    if (ev) throw new KeOpsError(`webgpu: internal error (validation): ${ev.message}`);
    if (em) throw new KeOpsError(`webgpu: out of GPU memory: ${em.message}`);
    await unlessLost(ctx, Promise.all(readBufs.map((rb) => rb.mapAsync(MAP_READ))));
    const seconds = (performance.now() - t0) / 1000;
    const work = ds.reduce((a, d) => a + d.work, 0);
    if (seconds > 0.02 && work > 0) ctx.rate = ctx.rate > 0 ? Math.sqrt(ctx.rate * (work / seconds)) : work / seconds;
    job.outputs.forEach((o, k) => {
      const mapped = readBufs[k]!.getMappedRange();
      const src = o instanceof Int32Array ? new Int32Array(mapped, 0, o.length) : new Float32Array(mapped, 0, o.length);
      o.set(src);
      readBufs[k]!.unmap();
    });
    done = true;
  } finally {
    for (const b of inUse) {
      const n = busy.get(b)! - 1;
      if (n) busy.set(b, n);
      else busy.delete(b);
    }
    outBufs.forEach((b) => ctx.give(b, OUTPUT_USAGE));
    // a read-back buffer of a failed run may still be mapping: not reused
    readBufs.forEach((b) => (done ? ctx.give(b, READ_USAGE) : b.destroy()));
    if (partBuf) ctx.give(partBuf, OUTPUT_USAGE);
    if (packBuf) ctx.give(packBuf, OUTPUT_USAGE);
    ctx.give(uniforms, UNIFORM_USAGE);
  }
}
