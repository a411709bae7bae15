/** The Node host: worker_threads (evaluated source), every thread may block, `KEOPS_TS_THREADS`. */
import { Worker } from "node:worker_threads";
import os from "node:os";
import type { Platform, WorkerHandle } from "./types.js";

const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;

export const nodePlatform: Platform = {
  name: "node",
  cores: () => cores,
  envThreads: () => process.env.KEOPS_TS_THREADS,
  noWorkers: () => null,
  noBlocking: () => null,
  spawn(body: string, onError: (message: string) => void, onExit?: (code: number) => void): WorkerHandle {
    const source = `const { parentPort } = require("node:worker_threads");
const onMessage = (f) => parentPort.on("message", f);
${body}`;
    const w = new Worker(source, { eval: true });
    w.unref();
    w.on("error", (e) => onError(e instanceof Error ? e.message : String(e)));
    if (onExit) w.on("exit", onExit);
    return { postMessage: (m) => w.postMessage(m) };
  },
};
