/**
 * Staging a job into the kernel's linear memory: inputs converted to the compute precision,
 * inner (j-indexed) slots transposed to one array per coordinate padded to whole vectors, one
 * table of slot/output addresses per batch; and reading the outputs back.
 */
import { type KernelJob, type KernelProgram } from "../../compile/program.js";
import type { Mode } from "./lanes.js";
import { allocate, release, wasmMemory } from "./memory.js";

/** A job laid out in memory. */
export interface Staged {
  /** Address of batch 0's table; batch b's is at `table + b * tableStride`. */
  readonly table: number;
  readonly tableStride: number;
  /** Bytes between two coordinate arrays of an inner slot. */
  readonly stride: number;
  /** Address of the threads' scratch bytes. */
  readonly scratch: number;
  /** Copies the outputs into the job's arrays and frees the memory. */
  finish(): void;
  /** Frees the memory without reading the outputs. */
  release(): void;
}

/**
 * Lays the job out; `pad`: inner arrays are padded to a multiple of it. An inner slot with no
 * data (a tile the kernel fills itself, or no inner index at all) is not staged: its address is 0.
 */
export function stage(p: KernelProgram, job: KernelJob, mode: Mode, pad: number, scratchBytes: number): Staged {
  const mb = mode === "f32" ? 4 : 8;
  const nSlots = p.slots.length;
  const nOut = job.outputs.length;
  const nI = job.nInner;
  const nIP = Math.max(pad, Math.ceil(nI / pad) * pad);
  // sizes
  const innerOffsets = p.slots.map((s, k) => {
    if (s.role !== "inner") return [];
    const set = new Set<number>();
    for (let b = 0; b < job.nBatch; b++) set.add(job.inOffsets[b * nSlots + k]!);
    return [...set];
  });
  const slotBytes = p.slots.map((s, k) =>
    s.role === "inner" ? (job.inputs[k]!.length ? innerOffsets[k]!.length * s.dim * nIP * mb : 0) : job.inputs[k]!.length * mb,
  );
  const outBytes = job.outputs.map((o, k) => o.length * (p.red.outputs[k]!.t === "i" ? 4 : mb));
  const tableStride = 4 * (nSlots + nOut);
  const round = (x: number): number => Math.ceil(x / 16) * 16;
  const total = [...slotBytes, ...outBytes].reduce((s, x) => s + round(x), 0) + round(tableStride * job.nBatch) + round(scratchBytes);
  const region = allocate(total);
  const buf = wasmMemory().memory.buffer;
  const F = mode === "f32" ? new Float32Array(buf) : new Float64Array(buf);
  const I = new Int32Array(buf);
  let at = region;
  const slotAddr: Map<number, number>[] = [];
  p.slots.forEach((s, k) => {
    const src = job.inputs[k]!;
    const addrs = new Map<number, number>();
    if (s.role === "inner" && !src.length) for (const off of innerOffsets[k]!) addrs.set(off, 0);
    else if (s.role === "inner") {
      const D = s.dim;
      for (const off of innerOffsets[k]!) {
        addrs.set(off, at);
        const d0 = at / mb;
        for (let c = 0; c < D; c++) {
          const dc = d0 + c * nIP;
          for (let j = 0, q = off + c; j < nI; j++, q += D) F[dc + j] = src[q]!;
          F.fill(0, dc + nI, dc + nIP);
        }
        at += round(D * nIP * mb);
      }
    } else {
      F.set(src, at / mb);
      addrs.set(-1, at);
      at += round(src.length * mb);
    }
    slotAddr.push(addrs);
  });
  const outAddr = outBytes.map((b) => {
    const x = at;
    at += round(b);
    return x;
  });
  const table = at;
  for (let b = 0; b < job.nBatch; b++) {
    const t = (table + b * tableStride) / 4;
    for (let s = 0; s < nSlots; s++) {
      const off = job.inOffsets[b * nSlots + s]!;
      I[t + s] = p.slots[s]!.role === "inner" ? slotAddr[s]!.get(off)! : slotAddr[s]!.get(-1)! + off * mb;
    }
    for (let o = 0; o < nOut; o++) {
      const eb = p.red.outputs[o]!.t === "i" ? 4 : mb;
      I[t + nSlots + o] = outAddr[o]! + job.outOffsets[b * nOut + o]! * eb;
    }
  }
  let freed = false;
  const free = (): void => {
    if (!freed) release(region);
    freed = true;
  };
  return {
    table,
    tableStride,
    stride: nIP * mb,
    scratch: table + round(tableStride * job.nBatch),
    finish() {
      const mem = wasmMemory().memory.buffer;
      job.outputs.forEach((o, k) => {
        const a = outAddr[k]!;
        if (p.red.outputs[k]!.t === "i") o.set(new Int32Array(mem, a, o.length));
        else o.set(mode === "f32" ? new Float32Array(mem, a, o.length) : new Float64Array(mem, a, o.length));
      });
      free();
    },
    release: free,
  };
}
