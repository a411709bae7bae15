/**
 * The web host (browsers, and any runtime with Web Workers): workers are started from a Blob URL;
 * shared memory needs cross-origin isolation; a window's main thread may not block.
 */
import type { Platform, WorkerHandle } from "./types.js";

/** The globals this file reads (typed here: the build has no DOM library). */
interface WebGlobals {
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  Worker?: new (url: string, options?: { name?: string }) => {
    postMessage(m: unknown): void;
    onerror: ((e: { message?: string; preventDefault?: () => void }) => void) | null;
  };
  WorkerGlobalScope?: abstract new () => unknown;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL: { createObjectURL?: (blob: unknown) => string };
}

const g = globalThis as unknown as WebGlobals;

/** What a page must send to be cross-origin isolated. */
export const ISOLATION_HEADERS = "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (or credentialless)";

export const webPlatform: Platform = {
  name: "web",
  cores: () => Math.max(1, Math.floor(Number(g.navigator?.hardwareConcurrency) || 1)),
  envThreads: () => undefined,
  noWorkers(): string | null {
    if (typeof g.Worker !== "function" || typeof g.Blob !== "function" || typeof g.URL?.createObjectURL !== "function")
      return "this JavaScript host has no Web Workers";
    if (typeof SharedArrayBuffer === "undefined" || g.crossOriginIsolated === false)
      return `SharedArrayBuffer is unavailable: the page is not cross-origin isolated (serve it with the headers ${ISOLATION_HEADERS})`;
    return null;
  },
  noBlocking(): string | null {
    const inWorker = typeof g.WorkerGlobalScope === "function" && globalThis instanceof g.WorkerGlobalScope;
    return inWorker ? null : "a browser's main thread may not block (Atomics.wait): pass { async: true } or run keops-ts in a Web Worker";
  },
  spawn(body: string, onError: (message: string) => void): WorkerHandle {
    const source = `const onMessage = (f) => { self.onmessage = (e) => f(e.data); };\n${body}`;
    const url = g.URL.createObjectURL!(new g.Blob!([source], { type: "text/javascript" }));
    const w = new g.Worker!(url, { name: "keops-ts" });
    w.onerror = (e) => {
      e.preventDefault?.();
      onError(e.message ?? "the worker failed to start");
    };
    return { postMessage: (m) => w.postMessage(m) };
  },
};
