/**
 * keops-ts/distributed: sharded reductions on BullMQ and Redis (or Valkey ≥ 6.2).
 *
 * ```ts
 * import { connect } from "keops-ts/distributed";
 * const cluster = connect({ connection: "redis://host:6379" });
 * const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().mul(Vj(2, 1)).sum({ axis: 1, call: false });
 * const a = await cluster.run(f, [x, y, b]);   // the same Tensor as f(x, y, b)
 * await cluster.close();
 * ```
 * Workers: `npx keops-ts worker --redis redis://host:6379`, or {@link startWorker}. bullmq and
 * ioredis are optional peer dependencies, imported when a run or a worker starts.
 *
 * Every row block of the result is independent, and the reduced index splits too: each shard
 * returns the reduction's partial state, which the client merges exactly with the reduction's
 * own merge. Without Redis (a Kubernetes Indexed Job), {@link prepareFolderRun} writes the inputs
 * and a `spec.json`; `keops-ts shard` runs one shard and `keops-ts merge` assembles.
 * @packageDocumentation
 */
export { connect, type Cluster, type ConnectOptions, type RunOptions, type DistributedProgress } from "./cluster.js";
export { startWorker, DEFAULT_QUEUE, type WorkerOptions, type WorkerHandle, type ShardInfo } from "./worker.js";
export { folderBlobs, FolderBlobStore, RedisBlobStore, type BlobStore } from "./blobs.js";
export { prepareFolderRun } from "./prepare.js";
export { runShard, type ShardResult } from "./shard.js";
export { assemble } from "./merge.js";
export { SPEC_VERSION, type RunSpec, type RunManifest, type ShardSpec, type BlobRef, type StoreRef, type VariableSpec } from "./spec.js";
export type { Connection } from "./redis.js";
