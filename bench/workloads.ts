/**
 * The workloads W1–W8 of bench/REFERENCE.md: sizes (full and quick), pairs per call, and which
 * implementations run them. The computations themselves live in impl/*.ts, the float64
 * references in reference.ts.
 */

/** A workload as the harness schedules it. */
export interface Workload {
  /** Key used in files and tables ("W3-D64"). */
  readonly key: string;
  /** bench/REFERENCE.md id ("W3"). */
  readonly id: string;
  readonly title: string;
  /** Point dimension D. */
  readonly D: number;
  /** Dimension of b (W1: 1, W2: 3). */
  readonly Dv: number;
  /** Sizes measured by a full run (the extra small ones give the time-budget predictor a start). */
  readonly full: readonly number[];
  readonly quick: readonly number[];
  /** Label of the size axis. */
  readonly sizeLabel: string;
  /** Pairs (i, j) per timed run, or null where pairs/s is not meaningful. */
  pairs(size: number): number | null;
  /** Peers that run this workload (keops-ts backends always do). */
  readonly peers: readonly ("tfjs-cpu" | "tfjs-wasm" | "plain-js" | "faiss" | "usearch")[];
  /** How a time is best shown: seconds per run, or µs per call (W7). */
  readonly unit: "s" | "us/call";
}

const square = (n: number): number => n * n;

/** W7: one timed run is this many calls on M = 50, N = 30 data (the size field is the call count). */
export const W7_M = 50, W7_N = 30, W7_D = 3, W7_DV = 4;
/** W8: the tiny data its new formulas run on. */
export const W8_SIZE = 100;
/** KNN: K. */
export const KNN_K = 10;
/** W6: the ridge alpha and CG tolerance. */
export const SOLVE_ALPHA = 0.1, SOLVE_EPS = 1e-6;

const dense = ["tfjs-cpu", "tfjs-wasm", "plain-js"] as const;
/** The K-NN peers: FAISS IndexFlatL2 (Python child) and usearch's exact search (npm). */
const knn = ["faiss", "usearch"] as const;
/** K-NN in embedding dimensions (M = N = 1e4 in a full run; 1e3 starts the time predictor). */
const knnHighD = (D: number): Workload => ({
  key: `W3-D${D}`, id: "W3", title: `K nearest neighbours (argKmin, K = 10), D = ${D}`, D, Dv: 0, full: [1e3, 1e4], quick: [300],
  sizeLabel: "M = N", pairs: square, peers: knn, unit: "s",
});

/** Every workload, in report order. */
export const WORKLOADS: readonly Workload[] = [
  { key: "W1", id: "W1", title: "Gaussian convolution, D = 3, b of dim 1", D: 3, Dv: 1, full: [1e3, 1e4, 1e5, 1e6], quick: [300, 1000], sizeLabel: "M = N", pairs: square, peers: dense, unit: "s" },
  { key: "W2", id: "W2", title: "Gaussian convolution, D = 3, b of dim 3", D: 3, Dv: 3, full: [1e3, 1e4, 1e5], quick: [1000], sizeLabel: "M = N", pairs: square, peers: dense, unit: "s" },
  { key: "W3-D3", id: "W3", title: "K nearest neighbours (argKmin, K = 10), D = 3", D: 3, Dv: 0, full: [1e3, 1e4, 1e5], quick: [1000], sizeLabel: "M = N", pairs: square, peers: [...dense, ...knn], unit: "s" },
  { key: "W3-D64", id: "W3", title: "K nearest neighbours (argKmin, K = 10), D = 64", D: 64, Dv: 0, full: [1e3, 1e4], quick: [500], sizeLabel: "M = N", pairs: square, peers: [...dense, ...knn], unit: "s" },
  knnHighD(128),
  knnHighD(256),
  knnHighD(1024),
  { key: "W4", id: "W4", title: "logsumexp over j of −‖x_i − y_j‖², D = 3", D: 3, Dv: 0, full: [1e3, 1e4, 1e5], quick: [1000], sizeLabel: "M = N", pairs: square, peers: dense, unit: "s" },
  { key: "W5", id: "W5", title: "gradient of Σ_i ‖a_i‖² w.r.t. x for W1 (forward + backward)", D: 3, Dv: 1, full: [1e3, 1e4], quick: [500], sizeLabel: "M = N", pairs: square, peers: ["tfjs-cpu", "tfjs-wasm"], unit: "s" },
  { key: "W6", id: "W6", title: "solve (alpha·Id + K) a = b, Gaussian K, alpha = 0.1, b of dim 1", D: 3, Dv: 1, full: [1e3, 3e3, 1e4], quick: [300], sizeLabel: "M", pairs: () => null, peers: ["tfjs-cpu", "tfjs-wasm"], unit: "s" },
  { key: "W6-nystrom", id: "W6", title: "solve as W6, with keops-ts's Nyström preconditioner (precond: \"nystrom\")", D: 3, Dv: 1, full: [1e3, 3e3, 1e4], quick: [300], sizeLabel: "M", pairs: () => null, peers: [], unit: "s" },
  { key: "W7-rebuild", id: "W7", title: "tutorial small-call loop (M = 50, N = 30), expression rebuilt every call", D: W7_D, Dv: W7_DV, full: [1000], quick: [200], sizeLabel: "calls", pairs: (n) => n * W7_M * W7_N, peers: [], unit: "us/call" },
  { key: "W7-reuse", id: "W7", title: "tutorial small-call loop (M = 50, N = 30), one function called again (call: false)", D: W7_D, Dv: W7_DV, full: [1000], quick: [200], sizeLabel: "calls", pairs: (n) => n * W7_M * W7_N, peers: dense, unit: "us/call" },
  { key: "W8", id: "W8", title: "first call of a never-seen formula (M = N = 100)", D: 3, Dv: 1, full: [W8_SIZE], quick: [W8_SIZE], sizeLabel: "M = N", pairs: () => null, peers: [], unit: "s" },
];

/** The workload of a key. */
export function workload(key: string): Workload {
  const w = WORKLOADS.find((x) => x.key === key);
  if (!w) throw new Error(`unknown workload ${JSON.stringify(key)}; known: ${WORKLOADS.map((x) => x.key).join(", ")}`);
  return w;
}
