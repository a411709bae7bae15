/**
 * Peer: usearch's exact (brute-force) search from npm, the JavaScript-native K-NN a Node user
 * installs (`exactSearch(dataset, queries, D, K, "l2sq", threads)`, every core). An optional
 * development dependency, imported only here: when it is missing the report says so.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Data } from "../data.js";
import { KNN_K, type Workload } from "../workloads.js";
import { NoFigure, type Impl, type Runner } from "./runner.js";

interface BatchMatches {
  readonly keys: BigUint64Array;
  readonly counts: BigUint64Array;
}
interface USearch {
  exactSearch(dataset: Float32Array, queries: Float32Array, dims: number, count: number, metric: string, threads?: number): BatchMatches;
}
const NAME = "usearch";

/** Loads usearch, or null with the reason; its version from its package.json. */
export async function loadUsearch(): Promise<{ mod: USearch | null; version: string; why: string }> {
  try {
    const m = (await import(NAME)) as { default?: USearch } & USearch;
    const version = packageVersion(NAME);
    return { mod: typeof m.exactSearch === "function" ? m : m.default!, version, why: "" };
  } catch (e) {
    return { mod: null, version: "", why: String((e as Error).message ?? e).split("\n")[0]! };
  }
}

/** A package's version from the package.json above its resolved entry point (its exports hide the file). */
function packageVersion(name: string): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name));
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const f = path.join(dir, "package.json");
    if (!existsSync(f)) continue;
    const pkg = JSON.parse(readFileSync(f, "utf8")) as { name?: string; version?: string };
    if (pkg.name === name) return pkg.version ?? "unknown";
  }
  return "unknown";
}

let usearch: USearch | null = null;

/** usearch exactSearch of x among y, squared L2, K = 10, with as many threads as keops-ts uses. */
export const usearchImpl: Impl = {
  async init() {
    const { mod, version, why } = await loadUsearch();
    if (!mod) throw new NoFigure("not available", `usearch cannot be loaded: ${why}`);
    usearch = mod;
    return { usearch: version };
  },
  setup(w: Workload, d: Data): Runner {
    if (w.id !== "W3") throw new NoFigure("not available", "usearch only runs the KNN workload");
    const threads = os.availableParallelism();
    return {
      call: () => {
        const r = usearch!.exactSearch(d.y, d.x, d.D, KNN_K, "l2sq", threads);
        return { indices: Float64Array.from(r.keys, Number), width: KNN_K };
      },
    };
  },
};
