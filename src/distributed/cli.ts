/**
 * The `keops-ts` command line:
 * - `keops-ts worker --redis URL [--concurrency N] [--backend NAME] [--queue NAME] [--lock-ms N]`
 *   runs shards from the queue until SIGINT / SIGTERM (then finishes the shards in progress);
 * - `keops-ts shard --spec FILE [--index N] [--backend NAME]` runs one shard of a run prepared in a
 *   folder (prepareFolderRun), without Redis; the index defaults to `JOB_COMPLETION_INDEX`
 *   (Kubernetes Indexed Jobs);
 * - `keops-ts merge --spec FILE --out DIR` assembles a folder run's result into `.npy` files.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KeOpsError } from "../errors.js";
import type { BackendName } from "../index.js";
import { FolderBlobStore } from "./blobs.js";
import { assemble } from "./merge.js";
import { npyBytes } from "./npy.js";
import { runShard } from "./shard.js";
import { checkShard, checkSpec, type RunManifest } from "./spec.js";
import { startWorker, type ShardInfo } from "./worker.js";

export const USAGE = `usage:
  keops-ts worker --redis URL [--concurrency N] [--backend auto|native|wasm|js] [--queue NAME] [--lock-ms N]
  keops-ts shard  --spec FILE [--index N] [--backend NAME]     (index: $JOB_COMPLETION_INDEX by default)
  keops-ts merge  --spec FILE --out DIR`;

const FLAGS: Record<string, readonly string[]> = {
  worker: ["redis", "concurrency", "backend", "queue", "lock-ms"],
  shard: ["spec", "index", "backend"],
  merge: ["spec", "out"],
};

/** Parses `--name value` pairs, checked against the command's flags. */
function flags(cmd: string, argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let k = 0; k < argv.length; k += 2) {
    const a = argv[k]!;
    const name = a.startsWith("--") ? a.slice(2) : "";
    if (!FLAGS[cmd]!.includes(name)) throw new KeOpsError(`keops-ts ${cmd}: unknown argument ${JSON.stringify(a)} (accepted: ${FLAGS[cmd]!.map((f) => `--${f}`).join(", ")})`);
    const v = argv[k + 1];
    if (v === undefined || v.startsWith("--")) throw new KeOpsError(`keops-ts ${cmd}: ${a} needs a value`);
    m.set(name, v);
  }
  return m;
}

function int(cmd: string, name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new KeOpsError(`keops-ts ${cmd}: --${name} expects a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function required(cmd: string, f: Map<string, string>, name: string): string {
  const v = f.get(name);
  if (v === undefined) throw new KeOpsError(`keops-ts ${cmd}: --${name} is required\n${USAGE}`);
  return v;
}

async function readManifest(path: string): Promise<RunManifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new KeOpsError(`--spec: cannot read ${path}: ${(e as Error).message}`);
  }
  const m = checkSpec(JSON.parse(text), path) as RunManifest;
  if (!Array.isArray(m.shards)) throw new KeOpsError(`${path}: no shard list (write it with prepareFolderRun)`);
  if (m.store.kind !== "folder") throw new KeOpsError(`${path}: the run's blobs are in Redis; shard and merge run folder runs (prepareFolderRun)`);
  return m;
}

/** Extra hooks of the worker command (tests inject faults with them). */
export interface CliHooks {
  onShard?: (info: ShardInfo) => void | Promise<void>;
}

/** Runs a command; resolves with the exit code (the worker command resolves when it stops). */
export async function main(argv: readonly string[], hooks: CliHooks = {}): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
      console.log(USAGE);
      return cmd === undefined ? 1 : 0;
    }
    if (!FLAGS[cmd]) throw new KeOpsError(`keops-ts: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
    const f = flags(cmd, rest);
    if (cmd === "worker") {
      const w = startWorker({
        connection: required(cmd, f, "redis"),
        concurrency: int(cmd, "concurrency", f.get("concurrency")),
        backend: (f.get("backend") ?? "auto") as BackendName,
        queue: f.get("queue"),
        lockDuration: int(cmd, "lock-ms", f.get("lock-ms")),
        onShard: hooks.onShard,
      });
      await w.ready;
      console.log(`keops-ts worker: ready (pid ${process.pid}, queue ${f.get("queue") ?? "keops-ts"}, backend ${f.get("backend") ?? "auto"})`);
      await new Promise<void>((resolve) => {
        const stop = () => void w.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      return 0;
    }
    const m = await readManifest(required(cmd, f, "spec"));
    const store = new FolderBlobStore(m.store.kind === "folder" ? m.store.path : "");
    if (cmd === "shard") {
      const index = int(cmd, "index", f.get("index") ?? process.env.JOB_COMPLETION_INDEX);
      if (index === undefined) throw new KeOpsError(`keops-ts shard: give --index N or set JOB_COMPLETION_INDEX`);
      const shard = m.shards[index];
      if (!shard) throw new KeOpsError(`keops-ts shard: index ${index} is outside the run's ${m.shards.length} shards (0 … ${m.shards.length - 1})`);
      const r = await runShard({ spec: m, shard: checkShard(m, shard) }, store, f.get("backend") as BackendName | undefined);
      console.log(JSON.stringify(r));
      return 0;
    }
    // merge
    const out = required(cmd, f, "out");
    const result = await assemble(m, store);
    await mkdir(out, { recursive: true });
    const tensors = Array.isArray(result) ? result : [result];
    const files = tensors.map((_, k) => join(out, tensors.length === 1 ? "result.npy" : k === 0 ? "values.npy" : "indices.npy"));
    await Promise.all(tensors.map((t, k) => writeFile(files[k]!, npyBytes(t))));
    console.log(JSON.stringify({ files, shapes: tensors.map((t) => t.shape) }));
    return 0;
  } catch (e) {
    console.error(e instanceof KeOpsError ? (e.message.startsWith("keops-ts") ? e.message : `keops-ts: ${e.message}`) : e);
    return 1;
  }
}
