/**
 * Peer: FAISS's exact IndexFlatL2 for the KNN workloads (W3), run by Debian's `python3-faiss` in
 * a child Python process (bench/impl/faiss_peer.py; one JSON line per request). The data go over
 * files in the OS temp folder (untimed); each run builds the index on y and searches x, timed
 * inside Python. Not a dependency of keops-ts: when Python or its faiss module is missing, the
 * report says so.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Data } from "../data.js";
import { KNN_K, type Workload } from "../workloads.js";
import { NoFigure, type Impl, type Runner } from "./runner.js";

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "faiss_peer.py");

/** What the Python side reports about itself. */
export interface FaissInfo {
  readonly version: string;
  readonly blas: string;
  readonly threads: number;
  readonly python: string;
}

/** The Python interpreter: `KEOPS_TS_PYTHON`, else Debian's /usr/bin/python3 (where apt puts faiss), else `python3`. */
function python(): string {
  return process.env.KEOPS_TS_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

/** One Python child answering JSON requests in order. */
class FaissProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private buf = "";
  private err = "";
  private waiting: ((line: string | Error) => void)[] = [];

  constructor(readonly exe: string) {
    this.child = spawn(exe, [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (b: Buffer) => {
      this.buf += b.toString();
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.child.stderr.on("data", (b: Buffer) => (this.err += b.toString()));
    const fail = (why: string): void => {
      for (const w of this.waiting.splice(0)) w(new Error(why));
    };
    this.child.on("error", (e) => fail(e.message));
    this.child.on("close", () => fail(this.err.trim().split("\n").pop() || `${exe} exited`));
  }

  request<T>(req: object): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => {
        if (line instanceof Error) return reject(line);
        const r = JSON.parse(line) as T & { error?: string };
        if (r.error) reject(new Error(r.error));
        else resolve(r);
      });
      this.child.stdin.write(JSON.stringify(req) + "\n");
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** Starts Python with faiss and asks for its version and BLAS, or gives the reason it cannot. */
export async function loadFaiss(): Promise<{ info: FaissInfo | null; why: string; proc?: FaissProcess }> {
  const exe = python();
  const proc = new FaissProcess(exe);
  try {
    const r = await proc.request<Omit<FaissInfo, "python">>({ cmd: "info" });
    return { info: { ...r, python: exe }, why: "", proc };
  } catch (e) {
    proc.close();
    return { info: null, why: `${exe} cannot import faiss: ${String((e as Error).message ?? e)}` };
  }
}

/** A one-line description of the FAISS peer for the report. */
export function describeFaiss(info: FaissInfo): string {
  return `FAISS ${info.version} (Debian python3-faiss through ${info.python}, IndexFlatL2, ${info.threads} OpenMP threads), BLAS: ${info.blas}`;
}

let proc: FaissProcess | undefined;
let dir: string | undefined;

/** FAISS IndexFlatL2: the index is built from y in every run, then x is searched (K = 10). */
export const faissImpl: Impl = {
  async init() {
    const { info, why, proc: p } = await loadFaiss();
    if (!info) throw new NoFigure("not available", `FAISS is not available: ${why}`);
    proc = p;
    dir = mkdtempSync(path.join(os.tmpdir(), "keops-bench-faiss-"));
    process.on("exit", () => rmSync(dir!, { recursive: true, force: true }));
    return { faiss: info.version, blas: info.blas, faissThreads: info.threads };
  },
  async setup(w: Workload, d: Data): Promise<Runner> {
    if (w.id !== "W3") throw new NoFigure("not available", "FAISS only runs the KNN workload");
    const files = { x: path.join(dir!, "x.f32"), y: path.join(dir!, "y.f32"), out: path.join(dir!, "labels.i64") };
    writeFileSync(files.x, d.x);
    writeFileSync(files.y, d.y);
    await proc!.request({ cmd: "load", ...files, M: d.M, N: d.N, D: d.D, K: KNN_K });
    return {
      call: async () => {
        const { seconds } = await proc!.request<{ seconds: number }>({ cmd: "run" });
        const raw = readFileSync(files.out);
        const labels = new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
        return { indices: Float64Array.from(labels, Number), width: KNN_K, seconds };
      },
    };
  },
};
