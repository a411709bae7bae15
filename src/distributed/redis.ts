/**
 * The optional dependencies (bullmq, ioredis), loaded only when a distributed run or worker
 * starts, and the Redis connection: options from a URL, a reachability check with a deadline.
 */
import { KeOpsError, argError } from "../errors.js";
import type { Redis, RedisOptions } from "ioredis";

/** A Redis connection: a `redis://` / `rediss://` URL, or ioredis options (`{ host, port, … }`). */
export type Connection = string | Readonly<Record<string, unknown>>;

type BullMQ = typeof import("bullmq");
type IORedis = typeof import("ioredis");

async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    throw new KeOpsError(
      `keops-ts/distributed needs the package ${name} (npm install bullmq ioredis): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** bullmq, imported at first use. */
export function loadBullMQ(): Promise<BullMQ> {
  return load<BullMQ>("bullmq");
}

/** ioredis's client class, imported at first use. */
export async function loadRedis(): Promise<IORedis["Redis"]> {
  const m = await load<IORedis & { default?: IORedis["Redis"] }>("ioredis");
  return m.Redis ?? m.default!;
}

/** ioredis options from a connection (a URL is parsed here, so every client gets the same options). */
export function redisOptions(connection: Connection, what = "connection"): RedisOptions {
  if (typeof connection === "string") {
    let u: URL;
    try {
      u = new URL(connection);
    } catch {
      argError(what, `a redis:// or rediss:// URL or ioredis options`, connection);
    }
    if (u.protocol !== "redis:" && u.protocol !== "rediss:") argError(what, `a redis:// or rediss:// URL`, connection);
    const o: RedisOptions = { host: u.hostname || "127.0.0.1", port: u.port ? Number(u.port) : 6379 };
    if (u.username) o.username = decodeURIComponent(u.username);
    if (u.password) o.password = decodeURIComponent(u.password);
    const db = u.pathname.replace(/^\//, "");
    if (db) {
      if (!/^\d+$/.test(db)) argError(what, "a URL whose path is a database number (redis://host:6379/0)", connection);
      o.db = Number(db);
    }
    if (u.protocol === "rediss:") o.tls = {};
    return o;
  }
  if (typeof connection !== "object" || connection === null || Array.isArray(connection))
    argError(what, "a redis:// URL or ioredis options ({ host, port, … })", connection);
  return { ...connection } as RedisOptions;
}

/** `host:port` for messages. */
export function where(o: RedisOptions): string {
  return `${o.host ?? "127.0.0.1"}:${o.port ?? 6379}`;
}

/**
 * Connects a client (for blobs and queries) and checks that Redis answers within `timeoutMs`;
 * otherwise a KeOpsError says where it tried and why it failed. The returned client retries
 * a lost connection a few times, then fails its commands (it never waits forever).
 */
export async function connectChecked(o: RedisOptions, timeoutMs: number): Promise<Redis> {
  const RedisClass = await loadRedis();
  const client = new RedisClass({
    ...o,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 3,
    retryStrategy: (times: number) => (times > 5 ? null : Math.min(100 * 2 ** times, 2000)),
  });
  let last: unknown;
  client.on("error", (e: unknown) => (last = e));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return client;
  } catch (e) {
    client.disconnect();
    const why = e instanceof Error ? e.message : String(e);
    const detail = last instanceof Error && last.message !== why ? ` (${last.message})` : "";
    throw new KeOpsError(`distributed: cannot reach Redis at ${where(o)}: ${why}${detail}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The options BullMQ's own connections get (blocking connections need maxRetriesPerRequest: null). */
export function bullConnection(o: RedisOptions): import("bullmq").ConnectionOptions {
  return { ...o, maxRetriesPerRequest: null } as import("bullmq").ConnectionOptions;
}
