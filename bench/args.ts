/** Command-line options of bench/run.ts. */

/** Parsed options. */
export interface BenchArgs {
  readonly quick: boolean;
  /** Workload keys or ids to run (W3 selects W3-D3 and W3-D64); empty: all. */
  readonly only: readonly string[];
  /** keops-ts backends to run; empty: every available one. */
  readonly backends: readonly string[];
  /** Peers to run; empty: all. `--peers none` runs none. */
  readonly peers: readonly string[] | "none";
  readonly budgetS: number;
  readonly runs: number;
  /** Output folder override. */
  readonly out: string | undefined;
  /** Re-render RESULTS.md and the plots from this results JSON instead of measuring. */
  readonly render: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only W1,W3] [--backends js,native] [--peers tfjs-cpu,tfjs-wasm,plain-js,faiss,usearch|none] [--budget SECONDS] [--runs N] [--out DIR]
  --quick     small sizes, 5 runs, a few seconds per figure: under 2 minutes; writes bench/results/quick/
  --only      workloads (W1 … W8, or keys such as W3-D64, W7-reuse)
  --backends  keops-ts backends (default: every available one but webgpu, which runs when named;
              --backend is the same option)
  --peers     peers to run (default: all)
  --budget    seconds allowed per figure (default 60, quick 10)
  --runs      warm runs per figure (default 5)
  --out       output folder (default bench/results, quick: bench/results/quick, filtered: bench/results/partial)
  --render F  re-render RESULTS.md and the SVG plots from the results JSON F (no measuring)`;

function list(v: string | undefined, name: string): string[] {
  if (v === undefined || v.startsWith("--")) throw new Error(`${name}: expected a comma-separated list\n${USAGE}`);
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

function num(v: string | undefined, name: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(v)}\n${USAGE}`);
  return n;
}

/** Parses argv (after the script name). */
export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false, only: string[] = [], backends: string[] = [], peers: string[] | "none" = [];
  let budgetS: number | undefined, runs = 5, out: string | undefined, render: string | undefined;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++k];
    switch (flag) {
      case "--quick": quick = true; break;
      case "--only": only = list(value(), "--only"); break;
      case "--backends": case "--backend": backends = list(value(), flag); break;
      case "--peers": { const p = list(value(), "--peers"); peers = p.length === 1 && p[0] === "none" ? "none" : p; break; }
      case "--budget": budgetS = num(value(), "--budget"); break;
      case "--runs": runs = Math.round(num(value(), "--runs")); break;
      case "--out": out = value(); break;
      case "--render": render = value(); break;
      case "--help": case "-h": throw new Error(USAGE);
      default: throw new Error(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return { quick, only, backends, peers, budgetS: budgetS ?? (quick ? 10 : 60), runs, out, render };
}
