/**
 * A worker: a BullMQ Worker on the run queue that runs shard jobs (and the merge-check job that
 * closes a run's flow). Shards run with `async: true`, off the event loop, so BullMQ renews the
 * job's lock while the kernel runs; a worker that dies loses its lock and BullMQ gives the shard
 * to another worker.
 */
import type { Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { KeOpsError, argError, said } from "../errors.js";
import { backendInfo, type BackendName } from "../index.js";
import { storeFor } from "./blobs.js";
import { bullConnection, connectChecked, loadBullMQ, redisOptions, type Connection } from "./redis.js";
import { runShard, type ShardResult } from "./shard.js";
import { checkSpec, type ShardJobData } from "./spec.js";

/** The default queue name of runs and workers. */
export const DEFAULT_QUEUE = "keops-ts";

/** What a shard is about to run with (for {@link WorkerOptions.onShard}). */
export interface ShardInfo {
  readonly run: string;
  readonly shard: number;
  /** 1 for the first try, 2 for the first retry, … */
  readonly attempt: number;
}

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** Redis: a `redis://host:6379` URL or ioredis options. */
  connection: Connection;
  /** Shards run at once by this worker (default 1: a kernel already uses every core). */
  concurrency?: number;
  /** Backend of the shards' kernels (default "auto"). */
  backend?: BackendName;
  /** Queue name (default "keops-ts"; the client's `connect({ queue })` must match). */
  queue?: string;
  /**
   * Milliseconds a shard's lock lasts without renewal (default 30000): a worker that dies gives
   * its shard back after about this long.
   */
  lockDuration?: number;
  /** Milliseconds to wait for Redis at start (default 10000). */
  timeoutMs?: number;
  /** Called before each shard runs (logging; fault injection in tests). A throw fails the attempt. */
  onShard?: (info: ShardInfo) => void | Promise<void>;
}

/** A running worker. */
export interface WorkerHandle {
  /**
   * Resolves once Redis answers and the worker listens; rejects with a KeOpsError otherwise
   * (Redis unreachable within `timeoutMs`, a queue that cannot open). Await it: an unobserved
   * failure is an unhandled rejection.
   */
  readonly ready: Promise<void>;
  /** Finishes the shards in progress, then disconnects. */
  close(): Promise<void>;
}

const WORKER_KEYS = ["connection", "concurrency", "backend", "queue", "lockDuration", "timeoutMs", "onShard"];

function checkOptions(o: WorkerOptions): void {
  if (typeof o !== "object" || o === null) argError("options", "{ connection, concurrency?, backend?, … }", o);
  for (const k of Object.keys(o)) if (!WORKER_KEYS.includes(k)) argError("options", `only the keys ${WORKER_KEYS.join(", ")}`, said(`the key ${JSON.stringify(k)}`));
  if (o.concurrency !== undefined && !(Number.isSafeInteger(o.concurrency) && o.concurrency >= 1)) argError("concurrency", "an integer ≥ 1", o.concurrency);
  if (o.lockDuration !== undefined && !(Number.isFinite(o.lockDuration) && o.lockDuration >= 100)) argError("lockDuration", "a number of milliseconds ≥ 100", o.lockDuration);
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) argError("timeoutMs", "a number of milliseconds > 0", o.timeoutMs);
  if (o.queue !== undefined && (typeof o.queue !== "string" || !o.queue || o.queue.includes(":"))) argError("queue", "a queue name without ':'", o.queue);
  if (o.onShard !== undefined && typeof o.onShard !== "function") argError("onShard", "a function", o.onShard);
  const b = o.backend ?? "auto";
  if (b !== "auto") {
    const info = backendInfo().backends.find((x) => x.name === b);
    if (!info) argError("backend", `"auto" or one of ${backendInfo().backends.map((x) => JSON.stringify(x.name)).join(", ")}`, b);
    if (info.unavailable !== null) throw new KeOpsError(`backend: "${b}" cannot run on this machine: ${info.unavailable}`);
  }
}

/** The job processor: shards, and the check that closes a run. */
async function process(job: Job, redis: Redis, o: WorkerOptions, UnrecoverableError: new (m: string) => Error): Promise<unknown> {
  try {
    if (job.name === "shard") {
      const data = job.data as ShardJobData;
      const spec = checkSpec(data.spec);
      if (o.onShard) await o.onShard({ run: spec.run, shard: data.shard.index, attempt: job.attemptsMade + 1 });
      return await runShard(data, storeFor(spec.store, redis), o.backend === "auto" ? undefined : o.backend);
    }
    if (job.name === "merge") {
      // every shard has reported its output (BullMQ runs this job only then): check the count
      const values = Object.values(await job.getChildrenValues()) as ShardResult[];
      const want = (job.data as { shards: number }).shards;
      const got = new Set(values.map((v) => v.index));
      for (let k = 0; k < want; k++) if (!got.has(k)) throw new KeOpsError(`run ${job.data.run}: shard ${k} reported no result`);
      return { shards: want, pairs: values.reduce((s, v) => s + v.pairs, 0) };
    }
    throw new KeOpsError(`unknown job name ${JSON.stringify(job.name)} (a keops-ts worker runs "shard" and "merge" jobs)`);
  } catch (e) {
    // a KeOpsError (a bad spec, a backend that cannot run the program) fails the same way on every
    // try: no retry. Anything else (I/O, a lost connection, a crash) is retried.
    if (e instanceof KeOpsError) throw new UnrecoverableError(e.message);
    throw e;
  }
}

/**
 * Starts a worker on the run queue, as `keops-ts worker` does: options are checked at once
 * (a KeOpsError names a bad one, or a backend that cannot run here); the connection is made in
 * the background, `ready` says when it listens.
 */
export function startWorker(opts: WorkerOptions): WorkerHandle {
  checkOptions(opts);
  const o = { ...opts, backend: opts.backend ?? "auto", queue: opts.queue ?? DEFAULT_QUEUE };
  const ropts = redisOptions(o.connection);
  const started = (async () => {
    const { Worker, UnrecoverableError } = await loadBullMQ();
    const redis = await connectChecked(ropts, o.timeoutMs ?? 10_000);
    const lockDuration = o.lockDuration ?? 30_000;
    try {
      const worker: Worker = new Worker(o.queue, (job: Job) => process(job, redis, o, UnrecoverableError), {
        connection: bullConnection(ropts),
        concurrency: o.concurrency ?? 1,
        lockDuration,
        stalledInterval: Math.max(50, Math.floor(lockDuration / 2)),
        maxStalledCount: 3,
        autorun: true,
      });
      worker.on("error", (e) => console.error(`keops-ts worker: ${e.message}`));
      await worker.waitUntilReady();
      return { worker, redis };
    } catch (e) {
      redis.disconnect();
      throw new KeOpsError(`worker: cannot start on queue ${o.queue}: ${e instanceof Error ? e.message : String(e)}`);
    }
  })();
  return {
    ready: started.then(() => undefined),
    async close() {
      const s = await started.catch(() => undefined);
      if (!s) return;
      await s.worker.close();
      await s.redis.quit().catch(() => s.redis.disconnect());
    },
  };
}
