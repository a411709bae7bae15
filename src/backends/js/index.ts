/** The JS backend: generated JavaScript compiled with `new Function`, run on worker threads when large. */
import type { BlockingBackend, BlockingKernel, Kernel, KernelJob, KernelProgram } from "../../compile/program.js";
import { LruCache } from "../../compile/lru.js";
import { renderJs } from "./render.js";
import { runPooled, runPooledAsync, type RowKernel } from "./pool.js";
import { singleThreadReason, threadCount, usableThreads } from "../workers.js";

/** Work (pairs × instructions) below which a call stays on the calling thread. */
const PARALLEL_WORK = 4e6;

function rowsOf(job: KernelJob, b: number, n: number): { off: ArrayLike<number>; oo: ArrayLike<number> } {
  return {
    off: job.inOffsets.subarray(b * job.inputs.length, (b + 1) * job.inputs.length),
    oo: job.outOffsets.subarray(b * n, (b + 1) * n),
  };
}

class JsKernel implements Kernel {
  constructor(
    private readonly key: string,
    private readonly src: string,
    private readonly fn: RowKernel,
    private readonly cost: number,
  ) {}

  run(job: KernelJob): void {
    const threads = usableThreads(false);
    const work = job.nBatch * job.nOuter * job.nInner * this.cost;
    if (threads > 1 && work >= PARALLEL_WORK && job.nBatch * job.nOuter > 1) {
      runPooled(job, this.key, this.src, this.fn, threads);
      return;
    }
    for (let b = 0; b < job.nBatch; b++) {
      const { off, oo } = rowsOf(job, b, job.outputs.length);
      this.fn(job.inputs, off, job.nInner, 0, job.nOuter, job.outputs, oo);
    }
  }

  runAsync(job: KernelJob): Promise<void> {
    if (job.nBatch * job.nOuter === 0) return Promise.resolve();
    // no workers here (a page without cross-origin isolation): the calling thread computes
    if (singleThreadReason(true) !== null) return Promise.resolve().then(() => this.run(job));
    return runPooledAsync(job, this.key, this.src, threadCount());
  }
}

const compiled = new LruCache<string, JsKernel>();

export const jsBackend: BlockingBackend = {
  name: "js",
  caps: { blocking: true, async: true, dtypes: ["float32", "float64"], cost: 100, costNote: "generated JavaScript: the universal fallback, ~1e8 pairs/s" },
  unavailable: () => null,
  declines: () => null,
  compile(p: KernelProgram): BlockingKernel {
    let k = compiled.get(p.key);
    if (!k) {
      const src = renderJs(p);
      const fn = new Function(src)() as RowKernel;
      k = new JsKernel(p.key, src, fn, Math.max(1, p.body.code.length + p.red.update.code.length));
      compiled.set(p.key, k);
    }
    return k;
  },
};
