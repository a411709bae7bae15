/**
 * Child processes for the distributed tests and bench: a redis-server of our own on a free port
 * (no persistence), keops-ts worker processes; each with its output collected.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** A child process and its output so far; `waitFor` resolves when the output matches. */
export class Proc {
  out = "";
  private waiters: { re: RegExp; res: () => void }[] = [];
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess, readonly what: string) {
    const take = (b: Buffer) => {
      this.out += b.toString();
      this.waiters = this.waiters.filter((w) => (w.re.test(this.out) ? (w.res(), false) : true));
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    this.exited = new Promise((r) => {
      child.once("exit", (code) => r(code));
      child.once("error", () => r(null));
    });
  }
  waitFor(re: RegExp, ms: number): Promise<void> {
    if (re.test(this.out)) return Promise.resolve();
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${this.what}: no ${re} within ${ms} ms; output:\n${this.out}`)), ms);
      this.waiters.push({ re, res: () => (clearTimeout(t), res()) });
      void this.exited.then((code) => rej(new Error(`${this.what} exited (${code}) before ${re}; output:\n${this.out}`)));
    });
  }
  kill(sig: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
    return this.exited;
  }
}

/** Starts redis-server on a free port; a missing binary is an error that says how to get it. */
export async function startRedis(): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  const failed = new Promise<never>((_, rej) =>
    child.once("error", (e: NodeJS.ErrnoException) =>
      rej(new Error(e.code === "ENOENT" ? "redis-server is not installed: run scripts/test-deps.sh (or set KEOPS_TEST_REDIS=0 to leave these tests out)" : e.message))));
  const proc = new Proc(child, "redis-server");
  await Promise.race([proc.waitFor(/Ready to accept connections/, 10_000), failed]);
  return { proc, url: `redis://127.0.0.1:${port}` };
}

/** A `keops-ts worker` process (test/distributed-worker.ts: the CLI with fault hooks), once it is ready. */
export async function startWorkerProcess(root: string, url: string, args: string[], env: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/distributed-worker.ts", "worker", "--redis", url, ...args], {
    cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  const p = new Proc(child, `worker ${args.join(" ")}`);
  await p.waitFor(/keops-ts worker: ready/, 60_000);
  return p;
}
