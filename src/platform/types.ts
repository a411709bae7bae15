/**
 * What the CPU backends need from the JavaScript host (Node or a browser): how many cores, whether
 * worker threads on shared memory can run, whether this thread may block, and starting a worker.
 * The entry points choose the host: `keops-ts` (Node) and `keops-ts/browser`. The core never
 * imports a host module itself, so a browser bundle of it holds no `node:` import.
 */

/** A started worker. */
export interface WorkerHandle {
  /** Sends a message (structured clone; SharedArrayBuffers and wasm modules are shared, not copied). */
  postMessage(message: unknown): void;
}

/** A JavaScript host. */
export interface Platform {
  /** "node" or "web". */
  readonly name: string;
  /** Logical cores. */
  cores(): number;
  /** The thread count the environment asks for (Node: `KEOPS_TS_THREADS`) as written, or undefined. */
  envThreads(): string | undefined;
  /** Why worker threads on shared memory cannot run here, or null when they can. */
  noWorkers(): string | null;
  /** Why this thread may not block in `Atomics.wait` (a browser's main thread), or null when it may. */
  noBlocking(): string | null;
  /**
   * Starts a worker (one that does not keep the process alive) running `body`, JavaScript source (a classic script) that calls
   * `onMessage(handler)` to receive each message's data. `onError` hears that the worker failed
   * to start or died; `onExit`, where the host reports it (Node), that its thread has ended.
   */
  spawn(body: string, onError: (message: string) => void, onExit?: (code: number) => void): WorkerHandle;
}
