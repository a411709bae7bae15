/**
 * W10: keops-ts/distributed on one machine. A Gaussian sum, a logsumexp and an arg-K-min (K = 10)
 * at M = N = 2e5 (D = 3), computed by the local call and through 1 and 2 worker processes
 * (BullMQ on a redis-server of our own); the results must equal the local ones (sum within
 * float32 summation-order error, logsumexp to float rounding, every index exactly). Then the
 * overhead per shard: many tiny shards on one worker, (run time) / (shards).
 *
 *   node --import tsx bench/distributed.ts [--n 200000] [--workers 1,2] [--out bench/results]
 *   node --import tsx bench/distributed.ts --only transfer     (the Redis blob transfer alone)
 *
 * Also the blob store's Redis transfer rate: a 120 MB float32 array put, then read back whole and
 * as 8 row ranges. Writes bench/results/distributed.json and distributed.md (with the machine's
 * load), or distributed-transfer.json with `--only transfer`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Vi, Vj, randn, type Tensor } from "../src/index.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { RedisBlobStore, connect } from "../src/distributed/index.js";
import { startRedis, startWorkerProcess, type Proc } from "../test/redis-server.js";

const root = resolve(import.meta.dirname, "..");
const arg = (name: string, dflt: string): string => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : dflt;
};
const n = Number(arg("n", "200000"));
const workerCounts = arg("workers", "1,2").split(",").map(Number);
const outDir = arg("out", join(root, "bench/results"));

type Out = Tensor | [Tensor, Tensor];
const D = Vi(0, 3).sub(Vj(1, 3)).sqnorm2();
const cases: { name: string; fn: KeOpsFunction<unknown>; withB: boolean; cols: number }[] = [
  { name: "Gaussian sum", fn: D.neg().exp().mul(Vj(2, 1)).sum({ axis: 1, call: false }) as never, withB: true, cols: n },
  { name: "logsumexp", fn: D.neg().logsumexp({ axis: 1, call: false }) as never, withB: false, cols: n / 2 },
  { name: "arg-K-min (K = 10)", fn: D.argKmin({ K: 10, axis: 1, call: false }) as never, withB: false, cols: n / 2 },
];

function compare(got: Out, want: Out): { maxRelErr: number; indexMismatches: number } {
  const g = Array.isArray(got) ? got : [got], w = Array.isArray(want) ? want : [want];
  let maxRelErr = 0, indexMismatches = 0;
  g.forEach((t, k) => {
    const e = w[k]!.data;
    if (t.dtype === "int32") for (let i = 0; i < e.length; i++) indexMismatches += t.data[i] !== e[i] ? 1 : 0;
    else {
      let scale = 0;
      for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]!));
      for (let i = 0; i < e.length; i++) maxRelErr = Math.max(maxRelErr, Math.abs(t.data[i]! - e[i]!) / scale);
    }
  });
  return { maxRelErr, indexMismatches };
}

/** MB/s of a 120 MB array through the Redis blob store: put, get whole, get as 8 row ranges. */
async function transfer(url: string): Promise<{ mb: number; putMBs: number; getMBs: number; rangesMBs: number }> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url);
  try {
    const store = new RedisBlobStore(client, "bench:");
    const data = randn([10_000_000, 3], { seed: 10 }).data;
    const mb = data.byteLength / 1e6;
    let t = performance.now();
    const ref = await store.put("t/in/0", data, 3);
    const put = (performance.now() - t) / 1000;
    t = performance.now();
    await store.getRange(ref, 0, ref.rows);
    const get = (performance.now() - t) / 1000;
    t = performance.now();
    for (let k = 0; k < 8; k++) await store.getRange(ref, (k * ref.rows) / 8, ((k + 1) * ref.rows) / 8);
    const ranges = (performance.now() - t) / 1000;
    await store.deletePrefix("t/");
    return { mb, putMBs: mb / put, getMBs: mb / get, rangesMBs: mb / ranges };
  } finally {
    client.disconnect();
  }
}

if (process.argv.includes("--only")) {
  const { proc, url } = await startRedis();
  try {
    const r = { date: new Date().toISOString(), load: loadavg()[0], ...(await transfer(url)) };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "distributed-transfer.json"), JSON.stringify(r, null, 1) + "\n");
    console.log(JSON.stringify(r));
  } finally {
    await proc.kill("SIGTERM");
  }
  process.exit(0);
}

const load0 = loadavg()[0]!;
const t00 = performance.now();
const x = randn([n, 3], { seed: 1 }), y = randn([n, 3], { seed: 2 }), b = randn([n, 1], { seed: 3 });
const small = [randn([500, 3], { seed: 4 }), randn([500, 3], { seed: 5 }), randn([500, 1], { seed: 6 })];
const rows: Record<string, unknown>[] = [];
const local: Out[] = [];
for (const c of cases) {
  const args = c.withB ? [x, y, b] : [x, y];
  (c.fn as unknown as (...a: Tensor[]) => Out)(...(c.withB ? small : small.slice(0, 2))); // compile
  const t0 = performance.now();
  local.push((c.fn as unknown as (...a: Tensor[]) => Out)(...args));
  const s = (performance.now() - t0) / 1000;
  rows.push({ case: c.name, setting: "local call", seconds: s, pairsPerSecond: (n * n) / s, shards: 0, maxRelErr: 0, indexMismatches: 0 });
  console.log(JSON.stringify(rows[rows.length - 1]));
}

const { proc: redis, url } = await startRedis();
let overhead: { shards: number; seconds: number; perShardMs: number } | undefined;
let moved: Awaited<ReturnType<typeof transfer>> | undefined;
try {
  moved = await transfer(url);
  console.log(JSON.stringify({ transfer: moved }));
  for (const W of workerCounts) {
    const queue = `bench-${W}`;
    const workers: Proc[] = await Promise.all(Array.from({ length: W }, () => startWorkerProcess(root, url, ["--queue", queue])));
    const cluster = connect({ connection: url, queue });
    try {
      for (const [k, c] of cases.entries()) {
        const args = c.withB ? [x, y, b] : [x, y];
        // compile the partial kernel on every worker first (small shards, one per worker at least)
        await cluster.run(c.fn, c.withB ? small : small.slice(0, 2), { rowsPerShard: 100 });
        const t0 = performance.now();
        const got = (await cluster.run(c.fn, args, { rowsPerShard: n / 4, colsPerShard: c.cols })) as Out;
        const s = (performance.now() - t0) / 1000;
        const shards = 4 * Math.ceil(n / c.cols);
        rows.push({ case: c.name, setting: `${W} worker${W > 1 ? "s" : ""}`, seconds: s, pairsPerSecond: (n * n) / s, shards, ...compare(got, local[k]!) });
        console.log(JSON.stringify(rows[rows.length - 1]));
      }
      if (W === 1) {
        // overhead per shard: 100 shards of 100 × 1000 pairs (compute ~µs each)
        const xs = randn([10_000, 3], { seed: 7 }), ys = randn([1000, 3], { seed: 8 }), bs = randn([1000, 1], { seed: 9 });
        await cluster.run(cases[0]!.fn, [xs, ys, bs], { rowsPerShard: 5000 });
        const t0 = performance.now();
        await cluster.run(cases[0]!.fn, [xs, ys, bs], { rowsPerShard: 100 });
        const s = (performance.now() - t0) / 1000;
        overhead = { shards: 100, seconds: s, perShardMs: (s / 100) * 1000 };
        console.log(JSON.stringify({ overhead }));
      }
    } finally {
      await cluster.close();
      await Promise.all(workers.map((w) => w.kill("SIGTERM")));
    }
  }
} finally {
  await redis.kill("SIGTERM");
}

const load1 = loadavg()[0]!;
const machine = `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const result = { date: new Date().toISOString(), n, machine, loadStart: load0, loadEnd: load1, seconds: (performance.now() - t00) / 1000, rows, overhead, transfer: moved };
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "distributed.json"), JSON.stringify(result, null, 1) + "\n");
const fmt = (v: number) => v.toExponential(2);
const md = [
  `# W10: distributed runs on one machine (M = N = ${n.toExponential(0)}, D = 3)`,
  "",
  `Generated by \`node --import tsx bench/distributed.ts\` on ${result.date}. Machine: ${machine}.`,
  `Load average (1 min) at the start / end: ${load0.toFixed(2)} / ${load1.toFixed(2)} on ${cpus().length} cores (the machine is shared: compare the rows of this run, not other days).`,
  "",
  "Workers are `keops-ts worker` processes on this same machine (backend auto = native, every core each), a redis-server",
  "of the bench's own on 127.0.0.1, inputs and partial states through Redis. Each run is timed after a small run of the same",
  "function has compiled its kernels everywhere. Shards: 4 row blocks; logsumexp and arg-K-min also split the reduced index in 2.",
  "",
  "| reduction | setting | time | pairs/s | shards | max error / scale | index mismatches |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.case} | ${r.setting} | ${(r.seconds as number).toFixed(2)} s | ${fmt(r.pairsPerSecond as number)} | ${r.shards || "—"} | ${(r.maxRelErr as number).toExponential(1)} | ${r.indexMismatches} |`),
  "",
  moved ? `Redis blob store, a ${moved.mb.toFixed(0)} MB array: put ${moved.putMBs.toFixed(0)} MB/s, read back whole ${moved.getMBs.toFixed(0)} MB/s, as 8 row ranges ${moved.rangesMBs.toFixed(0)} MB/s.` : "",
  "",
  overhead ? `Overhead per shard (one worker, ${overhead.shards} shards of 100 × 1000 pairs): ${overhead.perShardMs.toFixed(1)} ms (${overhead.seconds.toFixed(2)} s in all): queueing, reading the shard's rows from Redis, the kernel call, writing its state, the merge.` : "",
  "",
].join("\n");
writeFileSync(join(outDir, "distributed.md"), md);
console.log(md);
