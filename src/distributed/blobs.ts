/**
 * Blob stores: where a run's inputs and the shards' partial states live. Arrays are stored by
 * reference (a {@link BlobRef}: key, dtype, rows, row length) and read back by row range, so a
 * shard reads only its own rows. Two implementations: Redis (the queue's own; for tests and
 * jobs of moderate size) and a folder on a shared file system (large inputs; Kubernetes
 * Indexed Jobs without Redis).
 *
 * Writes replace: a retried or duplicated shard overwrites its output under the same key.
 * Data is stored in the machine's byte order (little-endian on every platform Node supports).
 */
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { KeOpsError, argError } from "../errors.js";
import { allocate, type TensorData } from "../tensor.js";
import type { BlobRef, StoreRef } from "./spec.js";

/** A place to put arrays and read row ranges back. */
export interface BlobStore {
  /** What a job spec records to find this store again. */
  readonly ref: StoreRef;
  /** Stores `data` (rows of `dim` elements) under `key`, replacing what was there. */
  put(key: string, data: TensorData, dim: number): Promise<BlobRef>;
  /** Rows [r0, r1) of a stored array. */
  getRange(ref: BlobRef, r0: number, r1: number): Promise<TensorData>;
  /** Whether `key` holds a blob. */
  has(key: string): Promise<boolean>;
  /** Removes every blob whose key starts with `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
}

function dtypeOfData(data: TensorData): BlobRef["dtype"] {
  return data instanceof Float64Array ? "float64" : data instanceof Int32Array ? "int32" : "float32";
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function checkRange(ref: BlobRef, r0: number, r1: number): void {
  if (!(Number.isSafeInteger(r0) && Number.isSafeInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= ref.rows))
    throw new KeOpsError(`blob ${ref.key}: rows ${r0}–${r1} are outside its ${ref.rows} rows`);
}

function checkKey(key: string): void {
  if (typeof key !== "string" || !/^[A-Za-z0-9._/-]+$/.test(key) || key.split("/").some((p) => p === "" || p === "." || p === ".."))
    argError("blob key", "a path of [A-Za-z0-9._-] segments", key);
}

/** Bytes of one Redis value: inputs larger than this are split over several keys. */
const CHUNK_BYTES = 1 << 26;

/**
 * Blobs in Redis under `prefix`: an array is split into values of at most 64 MiB (whole rows);
 * a row range is read with GETRANGE on the values it spans. Every value expires after `ttlSeconds`
 * (a run that dies leaves nothing behind for long); the client deletes a run's blobs when it ends.
 */
export class RedisBlobStore implements BlobStore {
  readonly ref: StoreRef;
  constructor(
    private readonly client: Redis,
    prefix = "keops-ts:blob:",
    private readonly ttlSeconds = 7 * 24 * 3600,
    /** Bytes per Redis value (whole rows; at least one row). */
    private readonly chunkBytes = CHUNK_BYTES,
  ) {
    this.ref = { kind: "redis", prefix };
  }

  private get prefix(): string {
    return (this.ref as { prefix: string }).prefix;
  }

  private rowsPerChunk(ref: Pick<BlobRef, "dim" | "dtype">): number {
    const rowBytes = Math.max(1, ref.dim * (ref.dtype === "float64" ? 8 : 4));
    return Math.max(1, Math.floor(this.chunkBytes / rowBytes));
  }

  async put(key: string, data: TensorData, dim: number): Promise<BlobRef> {
    checkKey(key);
    const ref: BlobRef = { key, dtype: dtypeOfData(data), rows: dim === 0 ? 0 : data.length / dim, dim };
    const per = this.rowsPerChunk(ref);
    const bytes = bytesOf(data);
    const rowBytes = data.BYTES_PER_ELEMENT * dim;
    const m = this.client.multi();
    const chunks = Math.max(1, Math.ceil(ref.rows / per));
    for (let c = 0; c < chunks; c++) {
      const part = bytes.subarray(c * per * rowBytes, Math.min(ref.rows, (c + 1) * per) * rowBytes);
      m.set(`${this.prefix}${key}#${c}`, Buffer.from(part.buffer, part.byteOffset, part.byteLength), "EX", this.ttlSeconds);
    }
    await m.exec();
    return ref;
  }

  async getRange(ref: BlobRef, r0: number, r1: number): Promise<TensorData> {
    checkRange(ref, r0, r1);
    const out = allocate(ref.dtype, (r1 - r0) * ref.dim);
    if (r1 === r0 || ref.dim === 0) return out;
    const per = this.rowsPerChunk(ref);
    const rowBytes = out.BYTES_PER_ELEMENT * ref.dim;
    const dst = bytesOf(out);
    const p = this.client.pipeline();
    const parts: [number, number][] = [];
    for (let c = Math.floor(r0 / per); c * per < r1; c++) {
      const a = Math.max(r0, c * per), b = Math.min(r1, (c + 1) * per);
      p.getrangeBuffer(`${this.prefix}${ref.key}#${c}`, (a - c * per) * rowBytes, (b - c * per) * rowBytes - 1);
      parts.push([a, b]);
    }
    const res = (await p.exec()) ?? [];
    res.forEach(([err, buf], k) => {
      const [a, b] = parts[k]!;
      const want = (b - a) * rowBytes;
      if (err) throw new KeOpsError(`blob ${ref.key}: reading rows ${a}–${b} failed: ${err.message}`);
      const got = buf as Buffer;
      if (got.length !== want)
        throw new KeOpsError(`blob ${ref.key}: rows ${a}–${b} are missing from Redis (got ${got.length} of ${want} bytes; expired or deleted?)`);
      dst.set(got, (a - r0) * rowBytes);
    });
    return out;
  }

  async has(key: string): Promise<boolean> {
    return (await this.client.exists(`${this.prefix}${key}#0`)) === 1;
  }

  async deletePrefix(prefix: string): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.client.scan(cursor, "MATCH", `${this.prefix}${prefix}*`, "COUNT", 1000);
      if (keys.length) await this.client.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
}

/**
 * Blobs as files under a folder (a shared file system: NFS, a Kubernetes volume): one file per
 * key, written to a temporary name and renamed, so a reader never sees half a file; a row
 * range is read at its offset.
 */
export class FolderBlobStore implements BlobStore {
  readonly ref: StoreRef;
  readonly path: string;
  constructor(path: string) {
    if (typeof path !== "string" || !path) argError("blobs folder", "a folder path", path);
    this.path = resolve(path);
    this.ref = { kind: "folder", path: this.path };
  }

  private file(key: string): string {
    checkKey(key);
    return join(this.path, `${key}.bin`);
  }

  async put(key: string, data: TensorData, dim: number): Promise<BlobRef> {
    const f = this.file(key);
    await mkdir(dirname(f), { recursive: true });
    const tmp = `${f}.${randomUUID()}.tmp`;
    const h = await open(tmp, "w");
    try {
      await h.write(bytesOf(data));
    } finally {
      await h.close();
    }
    await rename(tmp, f);
    return { key, dtype: dtypeOfData(data), rows: dim === 0 ? 0 : data.length / dim, dim };
  }

  async getRange(ref: BlobRef, r0: number, r1: number): Promise<TensorData> {
    checkRange(ref, r0, r1);
    const out = allocate(ref.dtype, (r1 - r0) * ref.dim);
    if (out.length === 0) return out;
    const rowBytes = out.BYTES_PER_ELEMENT * ref.dim;
    let h;
    try {
      h = await open(this.file(ref.key), "r");
    } catch (e) {
      throw new KeOpsError(`blob ${ref.key}: cannot open ${this.file(ref.key)}: ${(e as Error).message}`);
    }
    try {
      const { bytesRead } = await h.read(bytesOf(out), 0, out.byteLength, r0 * rowBytes);
      if (bytesRead !== out.byteLength)
        throw new KeOpsError(`blob ${ref.key}: rows ${r0}–${r1} are missing from ${this.file(ref.key)} (read ${bytesRead} of ${out.byteLength} bytes)`);
    } finally {
      await h.close();
    }
    return out;
  }

  async has(key: string): Promise<boolean> {
    try {
      await (await open(this.file(key), "r")).close();
      return true;
    } catch {
      return false;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    // keys are run-id/… paths: remove the run's folder (or the matching files of a folder)
    const slash = prefix.lastIndexOf("/");
    const dir = join(this.path, prefix.slice(0, slash + 1));
    const start = prefix.slice(slash + 1);
    if (start === "" && slash > 0) return rm(dir, { recursive: true, force: true });
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n.startsWith(start)).map((n) => rm(join(dir, n), { recursive: true, force: true })));
  }
}

/** A folder blob store (for `connect({ blobs })` and Kubernetes runs). */
export function folderBlobs(path: string): FolderBlobStore {
  return new FolderBlobStore(path);
}

/** The store a job's spec names (a worker's Redis client serves the "redis" kind). */
export function storeFor(ref: StoreRef, redis: Redis | undefined): BlobStore {
  if (ref.kind === "folder") return new FolderBlobStore(ref.path);
  if (!redis) throw new KeOpsError("job spec: the blobs are in Redis, but this process has no Redis connection (use a folder store for runs without Redis)");
  return new RedisBlobStore(redis, ref.prefix);
}
