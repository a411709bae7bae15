/** The current JavaScript host: the web one unless an entry point sets another (Node's sets its own). */
import type { Platform } from "./types.js";
import { webPlatform } from "./web.js";

export type { Platform, WorkerHandle } from "./types.js";

let current: Platform = webPlatform;

/** The host in use. */
export function platform(): Platform {
  return current;
}

/** Sets the host (called once by an entry point, before any kernel runs). */
export function setPlatform(p: Platform): void {
  current = p;
}
