/**
 * Peer: faiss-node's exact IndexFlatL2 for the KNN workload (W3), when the package can be
 * loaded. It is not a dependency of keops-ts: it is imported by name at run time.
 */
import type { Data } from "../data.js";
import { KNN_K, type Workload } from "../workloads.js";
import { NoFigure, type Impl, type Runner } from "./runner.js";

interface FaissIndex {
  add(v: number[]): void;
  search(q: number[], k: number): { labels: number[]; distances: number[] };
}
type FaissModule = { IndexFlatL2: new (d: number) => FaissIndex };

const NAME = "faiss-node";

/** Loads faiss-node, or null with the reason. */
export async function loadFaiss(): Promise<{ mod: FaissModule | null; why: string }> {
  try {
    const m = (await import(NAME)) as { default?: FaissModule } & FaissModule;
    return { mod: m.IndexFlatL2 ? m : m.default!, why: "" };
  } catch (e) {
    return { mod: null, why: String((e as Error).message ?? e).split("\n")[0]! };
  }
}

let faiss: FaissModule | null = null;

/** faiss-node IndexFlatL2: the index is built from y in every run, then x is searched. */
export const faissImpl: Impl = {
  async init() {
    const { mod, why } = await loadFaiss();
    if (!mod) throw new NoFigure("not available", `faiss-node cannot be loaded: ${why}`);
    faiss = mod;
    return {};
  },
  setup(w: Workload, d: Data): Runner {
    if (w.id !== "W3") throw new NoFigure("not available", "faiss-node only runs the KNN workload");
    const ys = Array.from(d.y), xs = Array.from(d.x);
    return {
      call: () => {
        const index = new faiss!.IndexFlatL2(d.D);
        index.add(ys);
        const { labels } = index.search(xs, KNN_K);
        return { indices: Float64Array.from(labels), width: KNN_K };
      },
    };
  },
};
