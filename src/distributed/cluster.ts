/**
 * The client side of a distributed run on BullMQ: a flow whose children are the shards and whose
 * parent (run by a worker once every shard is done) checks that all of them reported; the
 * client then reads the partial states from the blob store and merges them itself.
 *
 * Retries are BullMQ's (`attempts`, exponential backoff); a shard whose worker died is put back
 * in the queue when its lock expires; a shard that fails for good fails the run with its reason.
 */
import type { FlowProducer, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { KeOpsError, argError, said } from "../errors.js";
import type { ReductionResult } from "../lazy/execute.js";
import type { KeOpsFunction } from "../lazy/keopsfunction.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { RedisBlobStore, type BlobStore } from "./blobs.js";
import { assemble } from "./merge.js";
import { bindCall, defaultSizes, prepareRun } from "./prepare.js";
import { bullConnection, connectChecked, loadBullMQ, redisOptions, where, type Connection } from "./redis.js";
import type { ShardResult } from "./shard.js";
import { describeShard, type RunManifest, type RunSpec, type ShardJobData } from "./spec.js";
import { DEFAULT_QUEUE } from "./worker.js";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Redis: a `redis://host:6379` URL or ioredis options. */
  connection: Connection;
  /** Queue name (default "keops-ts"; workers must use the same). */
  queue?: string;
  /**
   * Where inputs and partial states go: the queue's Redis (default; fine up to a few GB), or a
   * folder on a file system every worker mounts ({@link folderBlobs}).
   */
  blobs?: BlobStore;
  /** Milliseconds to wait for Redis before a run fails with a KeOpsError (default 10000). */
  timeoutMs?: number;
}

/** What `onProgress` receives. */
export interface DistributedProgress {
  readonly shardsDone: number;
  readonly shardsTotal: number;
  /** Pairs (i, j) per second since the run started, counting finished shards. */
  readonly pairsPerSecond: number;
  /** Finished share of the pairs, 0 … 1. */
  readonly fraction: number;
  /** Estimated seconds left (NaN before the first shard finishes). */
  readonly secondsLeft: number;
}

/** Options of {@link Cluster.run}. */
export interface RunOptions {
  /**
   * Output rows per shard (rows of the result: i for axis 1, j for axis 0). Default: about four
   * shards per live worker, rows first.
   */
  rowsPerShard?: number;
  /** Reduced indices per shard (default: all of them unless there are few rows). */
  colsPerShard?: number;
  /** Tries per shard (default 3), with exponential backoff from 200 ms. */
  attempts?: number;
  /** Called as shards finish (at most every 250 ms, and when the last one does). */
  onProgress?: (p: DistributedProgress) => void;
  /** Aborting removes the run's pending jobs and rejects with a KeOpsError named "AbortError". */
  signal?: AbortSignal;
}

/** A connection to a queue of workers. */
export interface Cluster {
  /** Runs `fn(...args)` on the workers; the same Tensor(s) as the local call. */
  run<T = Tensor | [Tensor, Tensor]>(fn: KeOpsFunction<T>, args: readonly TensorLike[], opts?: RunOptions): Promise<T>;
  /** Closes the connections (runs in progress are abandoned). */
  close(): Promise<void>;
}

const RUN_KEYS = ["rowsPerShard", "colsPerShard", "attempts", "onProgress", "signal"];
const CONNECT_KEYS = ["connection", "queue", "blobs", "timeoutMs"];

function checkRunOptions(o: RunOptions): void {
  if (typeof o !== "object" || o === null) argError("opts", "an options object", o);
  for (const k of Object.keys(o)) if (!RUN_KEYS.includes(k)) argError("opts", `only the keys ${RUN_KEYS.join(", ")}`, said(`the key ${JSON.stringify(k)}`));
  for (const k of ["rowsPerShard", "colsPerShard", "attempts"] as const)
    if (o[k] !== undefined && !(Number.isSafeInteger(o[k]) && o[k]! >= 1)) argError(k, "an integer ≥ 1", o[k]);
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") argError("onProgress", "a function", o.onProgress);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) argError("signal", "an AbortSignal", o.signal);
}

function abortError(run: string): KeOpsError {
  const e = new KeOpsError(`distributed run ${run}: aborted (its pending shards were removed)`);
  e.name = "AbortError";
  return e;
}

interface Live {
  queue: Queue;
  flow: FlowProducer;
  events: QueueEvents;
  redis: Redis;
  /** Event handlers of the runs in progress, by run id. */
  runs: Map<string, { completed(jobId: string, value: unknown): void; failed(jobId: string, reason: string): void; stop(e: Error): void }>;
}

/** The run id of a job id (`<run>` for the parent, `<run>.<shard>` for a shard). */
function runOf(jobId: string): string {
  const dot = jobId.indexOf(".");
  return dot < 0 ? jobId : jobId.slice(0, dot);
}

/**
 * Connects to Redis and a queue of keops-ts workers. Nothing is contacted until the first run;
 * an unreachable Redis then rejects that run with a KeOpsError after `timeoutMs`.
 */
export function connect(opts: ConnectOptions): Cluster {
  if (typeof opts !== "object" || opts === null) argError("options", "{ connection, queue?, blobs? }", opts);
  for (const k of Object.keys(opts)) if (!CONNECT_KEYS.includes(k)) argError("options", `only the keys ${CONNECT_KEYS.join(", ")}`, said(`the key ${JSON.stringify(k)}`));
  const ropts = redisOptions(opts.connection);
  const queueName = opts.queue ?? DEFAULT_QUEUE;
  if (typeof queueName !== "string" || !queueName || queueName.includes(":")) argError("queue", "a queue name without ':'", queueName);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) argError("timeoutMs", "a number of milliseconds > 0", timeoutMs);
  if (opts.blobs !== undefined && (typeof opts.blobs !== "object" || typeof opts.blobs.getRange !== "function"))
    argError("blobs", "a blob store (folderBlobs(path))", opts.blobs);
  let live: Promise<Live> | undefined;
  let closed = false;

  const start = async (): Promise<Live> => {
    const { Queue, FlowProducer, QueueEvents } = await loadBullMQ();
    const redis = await connectChecked(ropts, timeoutMs);
    const connection = bullConnection(ropts);
    const queue = new Queue(queueName, { connection });
    const flow = new FlowProducer({ connection });
    const events = new QueueEvents(queueName, { connection });
    for (const c of [queue, flow, events]) (c as { on(e: "error", f: (e: Error) => void): void }).on("error", () => {});
    try {
      await Promise.all([queue.waitUntilReady(), flow.waitUntilReady(), events.waitUntilReady()]);
    } catch (e) {
      await Promise.allSettled([queue.close(), flow.close(), events.close()]);
      redis.disconnect();
      throw new KeOpsError(`distributed: cannot open the queue ${queueName} at ${where(ropts)}: ${(e as Error).message}`);
    }
    const runs: Live["runs"] = new Map();
    events.on("completed", ({ jobId, returnvalue }) => runs.get(runOf(jobId))?.completed(jobId, returnvalue));
    events.on("failed", ({ jobId, failedReason }) => runs.get(runOf(jobId))?.failed(jobId, failedReason));
    return { queue, flow, events, redis, runs };
  };

  const ensure = (): Promise<Live> => {
    if (closed) return Promise.reject(new KeOpsError("distributed: this cluster connection is closed"));
    if (!live) {
      live = start();
      live.catch(() => (live = undefined)); // a later run tries again
    }
    return live;
  };

  const runImpl = async (fn: KeOpsFunction<unknown>, args: readonly TensorLike[], o: RunOptions): Promise<ReductionResult> => {
    checkRunOptions(o);
    const bound = bindCall(fn, args);
    if (o.signal?.aborted) throw abortError("(not started)");
    const L = await ensure();
    const workers = await L.queue.getWorkersCount().catch(() => 1);
    const sizes = defaultSizes(bound.nOuter, bound.nInner, 4 * Math.max(1, workers), o);
    const store = opts.blobs ?? new RedisBlobStore(L.redis);
    const manifest = await prepareRun(bound, store, sizes);
    const run = manifest.run;
    try {
      if (manifest.shards.length) {
        try {
          await runFlow(L, manifest, o);
        } catch (e) {
          // a failed run: its shards still waiting would only fail on the deleted blobs
          await removeRun(L, run, manifest.shards.length);
          throw e;
        }
        await L.queue.remove(run).catch(() => {});
      }
      return await assemble(manifest, store);
    } finally {
      await store.deletePrefix(`${run}/`).catch(() => {});
    }
  };

  /** Queues the flow and waits for it: resolves when the parent completes. */
  const runFlow = (L: Live, manifest: RunManifest, o: RunOptions): Promise<void> => {
    const { run, shards } = manifest;
    const { shards: _all, ...spec } = manifest;
    const specOnly: RunSpec = spec;
    const total = shards.length;
    const pairsTotal = shards.reduce((s, x) => s + (x.outer[1] - x.outer[0]) * (x.inner[1] - x.inner[0]), 0);
    const t0 = performance.now();
    const done = new Set<number>();
    let pairsDone = 0;
    let lastReport = -Infinity;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        L.runs.delete(run);
        clearInterval(poll);
        o.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve();
      };
      const shardOf = (jobId: string) => shards[Number(jobId.slice(run.length + 2))];
      const failedShard = (jobId: string, reason: string): void => {
        const s = jobId === run ? undefined : shardOf(jobId);
        const name = s ? describeShard(s) : "the merge step";
        const why = reason.startsWith(`${name}: `) ? reason.slice(name.length + 2) : reason;
        finish(new KeOpsError(`distributed run ${run}: ${name} failed: ${why}`));
      };
      L.runs.set(run, {
        completed(jobId, value) {
          if (jobId === run) return finish();
          const r = (typeof value === "string" ? JSON.parse(value) : value) as ShardResult;
          if (!r || done.has(r.index)) return;
          done.add(r.index);
          pairsDone += r.pairs;
          // a few calls per second at most, and always the last
          const now = performance.now();
          if (o.onProgress && (done.size === total || now - lastReport >= 250)) {
            lastReport = now;
            const secs = (now - t0) / 1000;
            const rate = pairsDone / Math.max(secs, 1e-9);
            o.onProgress({
              shardsDone: done.size, shardsTotal: total, pairsPerSecond: rate,
              fraction: pairsTotal ? pairsDone / pairsTotal : done.size / total,
              secondsLeft: rate > 0 ? (pairsTotal - pairsDone) / rate : NaN,
            });
          }
        },
        failed(jobId, reason) {
          // a failed child fails its parent (failParentOnFailure): report the child's reason
          if (jobId !== run) failedShard(jobId, reason);
          else if (!/child .* failed|has failed children/i.test(reason)) failedShard(jobId, reason);
        },
        stop: finish,
      });
      const onAbort = (): void => {
        void removeRun(L, run, total).finally(() => finish(abortError(run)));
      };
      o.signal?.addEventListener("abort", onAbort);
      L.flow
        .add({
          name: "merge",
          queueName: L.queue.name,
          data: { run, shards: total },
          // kept until the client has seen it complete (then removed): a vanished parent is an error
          opts: { jobId: run, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
          children: shards.map((shard) => ({
            name: "shard",
            queueName: L.queue.name,
            data: { spec: specOnly, shard } satisfies ShardJobData,
            opts: {
              jobId: `${run}.s${shard.index}`,
              attempts: o.attempts ?? 3,
              backoff: { type: "exponential", delay: 200 },
              failParentOnFailure: true,
              removeOnComplete: true,
              removeOnFail: { age: 24 * 3600 },
            },
          })),
        })
        .then(() => {
          if (o.signal?.aborted) onAbort();
          // events can be missed (a reconnect): the parent's state is checked every second too
          poll = setInterval(() => {
            void L.queue.getJobState(run).then(async (state) => {
              if (state === "completed" || state === "unknown") finish(state === "completed" ? undefined : new KeOpsError(`distributed run ${run}: its jobs disappeared from the queue`));
              else if (state === "failed") {
                const job = await L.queue.getJob(run);
                failedShard(run, job?.failedReason ?? "failed");
              }
            }, () => {});
          }, 1000);
        }, (e: Error) => finish(new KeOpsError(`distributed run ${run}: queueing the shards failed: ${e.message}`)));
    });
  };

  return {
    run: (fn, args, o = {}) => runImpl(fn as KeOpsFunction<unknown>, args, o) as Promise<never>,
    async close() {
      closed = true;
      const l = await live?.catch(() => undefined);
      if (!l) return;
      for (const [run, r] of l.runs) r.stop(new KeOpsError(`distributed run ${run}: the cluster connection was closed`));
      await Promise.allSettled([l.events.close(), l.flow.close(), l.queue.close()]);
      await l.redis.quit().catch(() => l.redis.disconnect());
    },
  };
}

/** Removes a run's jobs that have not started (running ones finish; their outputs are deleted). */
async function removeRun(L: Live, run: string, shards: number): Promise<void> {
  const ids = [run, ...Array.from({ length: shards }, (_, k) => `${run}.s${k}`)];
  await Promise.allSettled(ids.map((id) => L.queue.remove(id, { removeChildren: true })));
}
