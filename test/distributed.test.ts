/**
 * keops-ts/distributed against a real redis-server (started here on a free port, no persistence)
 * and real worker processes (the `keops-ts` command line, test/distributed-worker.ts adding fault
 * hooks): results equal to the local call, a shard that throws once is retried, a worker
 * SIGKILLed mid-shard loses nothing, an unreachable Redis is a KeOpsError within a bounded time,
 * a backend that cannot run the program says why in the failed run, abort removes pending jobs.
 *
 * `KEOPS_TEST_REDIS=0` leaves these tests out; otherwise a missing redis-server is a failure
 * (scripts/test-deps.sh installs it).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KeOpsError, Vi, Vj, backendInfo, type Tensor } from "../src/index.js";
import { genred } from "../src/lazy/genred.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { connect, folderBlobs, startWorker, type Cluster, type DistributedProgress } from "../src/distributed/index.js";
import { assertClose, assertExact, withSeed } from "./util.js";
import { Proc, freePort, startRedis, startWorkerProcess } from "./redis-server.js";

const skip = process.env.KEOPS_TEST_REDIS === "0" ? "KEOPS_TEST_REDIS=0" : false;
const root = resolve(import.meta.dirname, "..");
type Out = Tensor | [Tensor, Tensor];

let redis: Proc | undefined;
let url = "";
const procs: Proc[] = [];

before(async () => {
  if (skip) return;
  const r = await startRedis();
  redis = r.proc;
  url = r.url;
});

after(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await redis?.kill("SIGTERM");
});

/** A worker process on `queue` (the CLI with fault hooks), short locks. */
async function worker(queue: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Proc> {
  const p = await startWorkerProcess(root, url, ["--queue", queue, "--lock-ms", "1000", ...extra], env);
  procs.push(p);
  return p;
}

function same(got: Out, want: Out, what: string, rtol: number): void {
  const g = Array.isArray(got) ? got : [got], w = Array.isArray(want) ? want : [want];
  assert.equal(g.length, w.length, what);
  g.forEach((t, k) => {
    assert.deepEqual(t.shape, w[k]!.shape, `${what}: shape`);
    if (t.dtype === "int32") assertExact(t.data, w[k]!.data, `${what} indices`);
    else assertClose(t.data, w[k]!.data, { rtol, what });
  });
}

const local = (fn: KeOpsFunction<unknown>, args: Tensor[]): Out => (fn as unknown as (...a: unknown[]) => Out)(...args, { backend: "wasm" });

test("two worker processes: sum, logsumexp, arg-K-min, a genred function equal the local call; Redis and folder blobs", { skip, timeout: 120_000 }, async () => {
  // wasm everywhere: no C++ compile per formula (the native path of the shards is tested in
  // test/distributed-shards.test.ts, and measured by bench/distributed.ts)
  const q = "equal";
  await Promise.all([worker(q, ["--backend", "wasm"]), worker(q, ["--backend", "wasm"])]);
  const dir = mkdtempSync(join(tmpdir(), "keops-dist-"));
  const clusters: Cluster[] = [connect({ connection: url, queue: q }), connect({ connection: url, queue: q, blobs: folderBlobs(dir) })];
  try {
    await withSeed(async (d) => {
      const M = 2000, N = 3001;
      const x = d.randn([M, 3]), y = d.randn([N, 3]), b = d.randn([N, 2]);
      const D = Vi(0, 3).sub(Vj(1, 3)).sqnorm2();
      const cases: [string, KeOpsFunction<unknown>, Tensor[], number][] = [
        ["Gaussian sum", D.neg().exp().mul(Vj(2, 2)).sum({ axis: 1, call: false }) as never, [x, y, b], 1e-5],
        ["logsumexp", D.neg().logsumexp({ axis: 1, call: false }) as never, [x, y], 1e-6],
        ["arg-K-min", D.argKmin({ K: 7, axis: 1, call: false }) as never, [x, y], 0],
        ["K-min, axis 0", D.KminArgKmin({ K: 3, axis: 0, call: false }) as never, [x, y], 0],
        ["genred inline", genred("Exp(-SqDist(Var(0,3,0), Var(1,3,1))) * Var(2,2,1)", [], { axis: 1 }) as never, [x, y, b], 1e-5],
      ];
      // every case with Redis blobs, the first (sum) with folder blobs too
      for (const [k, cluster] of clusters.entries())
        for (const [name, fn, args, rtol] of k ? cases.slice(0, 1) : cases) {
          const progress: DistributedProgress[] = [];
          const got = (await cluster.run(fn, args, { rowsPerShard: 700, colsPerShard: 1100, onProgress: (p) => progress.push(p) })) as Out;
          same(got, local(fn, args), `${name} (${k ? "folder" : "Redis"} blobs)`, rtol);
          const last = progress[progress.length - 1]!;
          assert.ok(last.shardsDone === last.shardsTotal && last.shardsTotal >= 9 && last.fraction === 1 && last.pairsPerSecond > 0, `${name}: ${JSON.stringify(last)}`);
          assert.ok(progress.every((p, i) => i === 0 || p.fraction >= progress[i - 1]!.fraction), `${name}: fraction non-decreasing`);
        }
      // default shard sizes from the number of live workers; the result's shape and dtype as locally
      const fn = D.neg().exp().sum({ axis: 1, call: false }) as never;
      const got = (await clusters[0]!.run(fn, [x, y])) as Tensor;
      same(got, local(fn, [x, y]), "default shard sizes", 1e-5);
    });
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a shard that throws once is retried; a worker SIGKILLed mid-shard loses nothing", { skip, timeout: 120_000 }, async () => {
  await withSeed(async (d) => {
    const x = d.randn([600, 3]), y = d.randn([900, 3]);
    const fn = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().logsumexp({ axis: 1, call: false }) as never;
    const want = local(fn, [x, y]);
    // throws in shard 1's first attempt: BullMQ retries it
    const flaky = await worker("retry", ["--backend", "wasm"], { KEOPS_TEST_FAULT: "throw-once:1" });
    const c1 = connect({ connection: url, queue: "retry" });
    try {
      same((await c1.run(fn, [x, y], { rowsPerShard: 200, colsPerShard: 450, attempts: 2 })) as Out, want, "retried", 1e-6);
      assert.match(flaky.out, /start shard 1 attempt 1[\s\S]*start shard 1 attempt 2/);
    } finally {
      await c1.close();
      await flaky.kill("SIGTERM");
    }
    // a slow worker takes a shard and is killed mid-shard; a second worker finishes everything
    const doomed = await worker("kill", ["--backend", "wasm"], { KEOPS_TEST_FAULT: "slow:20000" });
    const c2 = connect({ connection: url, queue: "kill" });
    try {
      const pending = c2.run(fn, [x, y], { rowsPerShard: 300, colsPerShard: 900 });
      await doomed.waitFor(/start shard (\d+) attempt 1/, 30_000);
      const taken = Number(/start shard (\d+) attempt 1/.exec(doomed.out)![1]);
      await doomed.kill("SIGKILL");
      const rescuer = await worker("kill", ["--backend", "wasm"]);
      same((await pending) as Out, want, "after SIGKILL", 1e-6);
      assert.match(rescuer.out, new RegExp(`start shard ${taken} attempt`), `the killed worker's shard ${taken} ran again elsewhere`);
    } finally {
      await c2.close();
    }
  });
});

test("blob stores: row ranges across Redis values and in files, replace on put, delete by prefix", { skip, timeout: 30_000 }, async () => {
  const { RedisBlobStore, FolderBlobStore } = await import("../src/distributed/blobs.js");
  const { Redis } = await import("ioredis");
  const client = new Redis(url);
  const dir = mkdtempSync(join(tmpdir(), "keops-blobs-"));
  try {
    // 120-byte Redis values: 10 rows of 3 float32 each, so ranges span several values
    for (const store of [new RedisBlobStore(client, "t:", 60, 120), new FolderBlobStore(dir)]) {
      const data = Float32Array.from({ length: 3000 }, (_, k) => k * 0.5);
      const ref = await store.put("run/in/0", data, 3);
      assert.deepEqual(ref, { key: "run/in/0", dtype: "float32", rows: 1000, dim: 3 });
      for (const [a, b] of [[7, 23], [0, 1000], [999, 1000], [10, 20], [5, 5]] as const)
        assert.deepEqual(await store.getRange(ref, a, b), data.subarray(3 * a, 3 * b), `${store.ref.kind} rows ${a}–${b}`);
      await assert.rejects(store.getRange(ref, 990, 1001), /rows 990–1001 are outside its 1000 rows/);
      const ints = Int32Array.from([1, -1, 3, 4]);
      const iref = await store.put("run/out/0.i", ints, 2);
      await store.put("run/out/0.i", ints.map((v) => v + 1), 2); // a retried shard replaces
      assert.deepEqual(await store.getRange(iref, 1, 2), Int32Array.from([4, 5]));
      assert.ok(await store.has("run/in/0"));
      await store.deletePrefix("run/");
      assert.ok(!(await store.has("run/in/0")) && !(await store.has("run/out/0.i")), store.ref.kind);
      await assert.rejects(store.getRange(ref, 0, 1), /blob run\/in\/0: /);
      await assert.rejects(store.put("../x", data, 3), /blob key: expected a path of/);
    }
  } finally {
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Redis unreachable: a KeOpsError within a bounded time, from run, startWorker and the CLI", { skip, timeout: 60_000 }, async () => {
  const port = await freePort(); // nothing listens there
  const c = connect({ connection: `redis://127.0.0.1:${port}`, timeoutMs: 1000 });
  const fn = Vi(0, 1).sub(Vj(1, 1)).sum({ axis: 1, call: false }) as never;
  const t0 = performance.now();
  await assert.rejects(c.run(fn, [[[1]], [[2]]] as never), (e: unknown) =>
    e instanceof KeOpsError && new RegExp(`cannot reach Redis at 127.0.0.1:${port}`).test(e.message));
  assert.ok(performance.now() - t0 < 5000, `rejected after ${performance.now() - t0} ms`);
  await c.close();
  await assert.rejects(startWorker({ connection: `redis://127.0.0.1:${port}`, timeoutMs: 1000 }).ready, /cannot reach Redis at 127\.0\.0\.1/);
  assert.throws(() => startWorker({ connection: url, concurrency: 0 }), /concurrency: expected an integer ≥ 1, got 0/);
  assert.throws(() => startWorker({ connection: url, backend: "gpu" as never }), /backend: expected "auto" or one of/);
  const cli = new Proc(spawn(process.execPath, ["--import", "tsx", "src/distributed/bin.ts", "worker", "--redis", `redis://127.0.0.1:${port}`], { cwd: root, stdio: ["ignore", "pipe", "pipe"] }), "cli");
  assert.equal(await cli.exited, 1);
  assert.match(cli.out, /keops-ts: distributed: cannot reach Redis at 127\.0\.0\.1:\d+/);
  // and bad arguments are KeOpsErrors naming them
  assert.throws(() => connect({ connection: "http://x" }), /connection: expected a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => connect({ connection: url, queues: "x" } as never), /options: expected only the keys connection, queue, blobs, timeoutMs, got the key "queues"/);
});

test("a worker whose backend cannot run the program says why in the failed run; abort removes pending jobs", { skip, timeout: 90_000 }, async () => {
  // 58 variables: with its output, 59 arrays, more than koffi passes to a native kernel
  let e57 = Vj(0, 1);
  for (let k = 1; k < 57; k++) e57 = e57.add(Vj(k, 1)) as typeof e57;
  const fn = Vi(57, 1).mul(e57).sum({ axis: 1, call: false }) as never;
  const args = [...Array.from({ length: 57 }, () => [[1], [2]]), [[3]]];
  const native = backendInfo().backends.find((b) => b.name === "native")!;
  if (native.unavailable === null) {
    await worker("decline", ["--backend", "native"]);
    const c = connect({ connection: url, queue: "decline" });
    try {
      await assert.rejects(c.run(fn, args as never), (e: unknown) =>
        e instanceof KeOpsError && /shard 0 \(rows 0–1, columns 0–2\) failed: backend: "native" cannot run this reduction: the program reads and writes 59 arrays/.test(e.message));
    } finally {
      await c.close();
    }
  } else {
    // no compiler here: the worker refuses to start, and says why
    const cli = new Proc(spawn(process.execPath, ["--import", "tsx", "src/distributed/bin.ts", "worker", "--redis", url, "--backend", "native"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] }), "cli");
    assert.equal(await cli.exited, 1);
    assert.match(cli.out, new RegExp(`backend: "native" cannot run on this machine: ${native.unavailable.slice(0, 20).replace(/[()[\]]/g, ".")}`));
  }
  // abort: no worker on this queue, so every shard is pending; they are removed
  const { Queue } = await import("bullmq");
  const c = connect({ connection: url, queue: "abort" });
  const queue = new Queue("abort", { connection: { host: "127.0.0.1", port: Number(new URL(url).port) } });
  try {
    const ac = new AbortController();
    const x = [[1, 2], [3, 4], [5, 6]];
    const pending = c.run(Vi(0, 2).sub(Vj(1, 2)).sqnorm2().sum({ axis: 1, call: false }) as never, [x, x], { rowsPerShard: 1, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 500));
    const before = await queue.getJobCounts("waiting", "waiting-children");
    assert.ok(before.waiting! >= 3, `queued: ${JSON.stringify(before)}`);
    ac.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof KeOpsError && e.name === "AbortError");
    assert.deepEqual(await queue.getJobCounts("waiting", "waiting-children", "active"), { waiting: 0, "waiting-children": 0, active: 0 });
  } finally {
    await queue.close();
    await c.close();
  }
});
