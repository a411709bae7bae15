// The keops-ts playground: plain ES modules, no framework, the library's browser build.
import { genred, kernelSolve, backendInfo, rand, tensor, Tensor } from "../dist/browser.js";

const $ = (id) => document.getElementById(id);
const canvas = $("plot");
const ctx = canvas.getContext("2d");
const SIZE = canvas.width;
const ALIASES = ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)", "s = Pm(1)"];

/** The gallery: formula, reduction, and what to do with the result. */
const GALLERY = {
  gauss: { formula: "Exp(-SqDist(x,y) / s) * b", reduction: "Sum", note: "a_i = Σ_j exp(−‖x_i − x_j‖² / σ²): a kernel density, the colour of each point" },
  knn: { formula: "SqDist(x,y)", reduction: "ArgKMin", note: "the K nearest neighbours of 300 query points (ties to the lowest index), drawn as links" },
  kmeans: { formula: "SqDist(x,c)", reduction: "ArgMin", note: "one Lloyd step: each point joins its nearest of 8 centroids c (Vj), which then move to their clusters' means (○ → ●)" },
  regression: { formula: "Exp(-SqDist(x,y) / s) * b", reduction: "Solve", note: "fits f(x) = Σ_j a_j exp(−‖x − x_j‖² / σ²) to noisy values at the points: (0.5·Id + K) a = t by conjugate gradient on up to 1500 of them, then predicts on a 80 × 80 grid" },
  custom: { formula: "Exp(-SqDist(x,y) / s)", reduction: "Sum", note: "any KeOps formula over x, y, b, s; scalar reductions colour the points, ArgMin/ArgKMin draw links" },
};

let points; // Tensor [N, 2] in the unit square
let dropped = null; // points from a dropped CSV

/** Points in a few blobs (2-D), from the seeded generator. */
function blobs(n, seed) {
  const u = rand([n, 4], { seed });
  const x = new Float32Array(2 * n);
  const centres = [[0.25, 0.3], [0.7, 0.25], [0.5, 0.72], [0.8, 0.8], [0.2, 0.8]];
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(u.data[4 * i] * centres.length)];
    const r = Math.sqrt(-2 * Math.log(1 - u.data[4 * i + 1])) * 0.07, t = 2 * Math.PI * u.data[4 * i + 2];
    x[2 * i] = Math.min(1, Math.max(0, c[0] + r * Math.cos(t)));
    x[2 * i + 1] = Math.min(1, Math.max(0, c[1] + r * Math.sin(t)));
  }
  return new Tensor(x, [n, 2]);
}

function generate() {
  points = dropped ?? blobs(Number($("n").value), Number($("seed").value));
  drawPoints(points, () => [90, 90, 90]);
  setStatus(`${points.shape[0]} points ${dropped ? "(dropped CSV)" : "generated"}`);
}

// ---- colours and drawing ---------------------------------------------------------------------
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
/** A viridis-like colour for t in [0, 1]. */
export function ramp(t) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(t)), f = t - k;
  return RAMP[k].map((c, i) => Math.round(c + f * (RAMP[k + 1][i] - c)));
}
const PALETTE = [[228, 26, 28], [55, 126, 184], [77, 175, 74], [152, 78, 163], [255, 127, 0], [166, 86, 40], [247, 129, 191], [153, 153, 153]];
const px = (v) => Math.round(8 + v * (SIZE - 16));
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

/** What was drawn last: a few marks with their pixel and colour, for whoever reads the plot back. */
let plotted = [];
function clear() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SIZE, SIZE);
  plotted = [];
}
function drawPoints(p, colour, radius = 2) {
  clear();
  const n = p.shape[0];
  for (let i = 0; i < n; i++) {
    const c = colour(i);
    ctx.fillStyle = rgb(c);
    const x = px(p.data[2 * i]), y = px(1 - p.data[2 * i + 1]);
    ctx.fillRect(x - radius, y - radius, 2 * radius + 1, 2 * radius + 1);
  }
  // the marks drawn last are on top: report those
  for (let i = Math.max(0, n - 20); i < n; i++) plotted.push({ i, x: px(p.data[2 * i]), y: px(1 - p.data[2 * i + 1]), rgb: colour(i) });
}

// ---- the runs -----------------------------------------------------------------------------------
function ones(n) {
  return new Tensor(new Float32Array(n).fill(1), [n, 1]);
}

/** A reduction of `formula` over the aliases x, y, b, s (every one is an argument, used or not). */
function reduce(formula, reduction, K, data, backend) {
  const opts = { reductionOp: reduction, axis: 1, ...(reduction.includes("KMin") ? { optArg: K } : {}) };
  return genred(formula, ALIASES, opts).callAsync(data.x, data.y, data.b, data.s, { backend });
}

/** Runs example `name`; resolves to a summary (also kept as window.playground.last). */
async function run(name, backend) {
  const g = GALLERY[name];
  const formula = $("formula").value;
  const s = Number($("s").value);
  const K = Number($("k").value);
  const N = points.shape[0];
  const t0 = performance.now();
  const summary = { name, backend, N, formula };
  if (name === "gauss" || (name === "custom" && ["Sum", "LogSumExp", "Min", "Max"].includes($("reduction").value))) {
    const a = await reduce(formula, name === "gauss" ? "Sum" : $("reduction").value, K, { x: points, y: points, b: ones(N), s: [s] }, backend);
    summary.ms = performance.now() - t0;
    if (a.shape[1] !== 1) throw new Error(`the plot colours points by a scalar: this formula has dimension ${a.shape[1]}`);
    let lo = Infinity, hi = -Infinity;
    for (const v of a.data) if (Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    drawPoints(points, (i) => ramp((a.data[i] - lo) / (hi - lo || 1)));
    Object.assign(summary, { values: Array.from(a.data), lo, hi });
  } else if (name === "knn" || name === "custom") {
    const M = Math.min(300, N);
    const q = new Tensor(points.data.slice(0, 2 * M), [M, 2]);
    const red = name === "knn" ? "ArgKMin" : $("reduction").value;
    if (red === "KMin") throw new Error("KMin gives K values per point, which this plot cannot show: pick ArgKMin (links to the K nearest) or a scalar reduction");
    const Kk = red === "ArgKMin" ? Math.min(K, N) : 1;
    const idx = await reduce(formula, red, Kk, { x: q, y: points, b: ones(N), s: [s] }, backend);
    summary.ms = performance.now() - t0;
    drawPoints(points, () => [170, 170, 170], 1);
    ctx.strokeStyle = "rgba(55,126,184,0.8)";
    ctx.beginPath();
    const per = idx.size / M;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < per; k++) {
        const j = idx.data[i * per + k];
        if (j < 0) continue;
        ctx.moveTo(px(q.data[2 * i]), px(1 - q.data[2 * i + 1]));
        ctx.lineTo(px(points.data[2 * j]), px(1 - points.data[2 * j + 1]));
      }
    ctx.stroke();
    plotted = [];
    for (let i = 0; i < M; i++) {
      ctx.fillStyle = rgb([228, 26, 28]);
      ctx.fillRect(px(q.data[2 * i]) - 2, px(1 - q.data[2 * i + 1]) - 2, 5, 5);
      if (i >= M - 20) plotted.push({ i, x: px(q.data[2 * i]), y: px(1 - q.data[2 * i + 1]), rgb: [228, 26, 28] });
    }
    Object.assign(summary, { indices: Array.from(idx.data), K: per, queries: M });
  } else if (name === "kmeans") {
    const C = 8;
    const c = new Tensor(points.data.slice(0, 2 * C), [C, 2]); // the first 8 points as centroids
    const f = genred(formula, ["x = Vi(2)", "c = Vj(2)"], { reductionOp: "ArgMin", axis: 1 });
    const labels = await f.callAsync(points, c, { backend });
    summary.ms = performance.now() - t0;
    const sums = new Float64Array(2 * C), counts = new Float64Array(C);
    for (let i = 0; i < N; i++) {
      const l = labels.data[i];
      sums[2 * l] += points.data[2 * i];
      sums[2 * l + 1] += points.data[2 * i + 1];
      counts[l]++;
    }
    const moved = Array.from({ length: C }, (_, l) => (counts[l] ? [sums[2 * l] / counts[l], sums[2 * l + 1] / counts[l]] : [c.data[2 * l], c.data[2 * l + 1]]));
    drawPoints(points, (i) => PALETTE[labels.data[i] % PALETTE.length]);
    for (let l = 0; l < C; l++) {
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.arc(px(c.data[2 * l]), px(1 - c.data[2 * l + 1]), 6, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillStyle = "#000";
      ctx.beginPath();
      ctx.arc(px(moved[l][0]), px(1 - moved[l][1]), 5, 0, 2 * Math.PI);
      ctx.fill();
    }
    Object.assign(summary, { labels: Array.from(labels.data), centroids: Array.from(c.data), moved });
  } else if (name === "regression") {
    // noisy values of a smooth function at (at most 1500 of) the points
    const n = Math.min(N, 1500);
    const train = new Tensor(points.data.slice(0, 2 * n), [n, 2]);
    const noise = rand([n, 1], { seed: 99 });
    const t = new Tensor(new Float32Array(n).map((_, i) => Math.sin(6 * points.data[2 * i]) * Math.cos(5 * points.data[2 * i + 1]) + 0.2 * (noise.data[i] - 0.5)), [n, 1]);
    const solver = kernelSolve(formula, ALIASES, "b", { axis: 1 });
    const a = await solver.callAsync(train, train, t, [s], { alpha: 0.5, backend });
    const G = 80;
    const grid = new Tensor(new Float32Array(2 * G * G).map((_, k) => ((k & 1 ? Math.floor(k / 2 / G) : (k / 2) % G) + 0.5) / G), [G * G, 2]);
    const predict = genred(formula, ALIASES, { reductionOp: "Sum", axis: 1 });
    const f = await predict.callAsync(grid, train, a, [s], { backend });
    summary.ms = performance.now() - t0;
    clear();
    const cell = (SIZE - 16) / G;
    const colourOf = (v) => ramp((v + 1.1) / 2.2);
    for (let k = 0; k < G * G; k++) {
      ctx.fillStyle = rgb(colourOf(f.data[k]));
      ctx.fillRect(8 + Math.floor(grid.data[2 * k] * G) * cell, 8 + (G - 1 - Math.floor(grid.data[2 * k + 1] * G)) * cell, Math.ceil(cell) + 1, Math.ceil(cell) + 1);
    }
    ctx.fillStyle = "rgba(0,0,0,0.35)";
    for (let i = 0; i < n; i++) ctx.fillRect(px(points.data[2 * i]), px(1 - points.data[2 * i + 1]), 1, 1);
    // grid cells away from the points' dots: centre of each reported cell
    for (const k of [0, G - 1, (G * G) >> 1, G * G - 1]) {
      const gx = Math.floor(grid.data[2 * k] * G), gy = Math.floor(grid.data[2 * k + 1] * G);
      plotted.push({ i: k, x: Math.round(8 + (gx + 0.5) * cell), y: Math.round(8 + (G - 1 - gy + 0.5) * cell), rgb: colourOf(f.data[k]), value: f.data[k] });
    }
    Object.assign(summary, { trained: n, coefficients: Array.from(a.data), targets: Array.from(t.data), grid: Array.from(grid.data), predicted: Array.from(f.data) });
  }
  summary.plotted = plotted;
  return summary;
}

// ---- the page -----------------------------------------------------------------------------------
function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function pick(name) {
  const g = GALLERY[name];
  if (name !== "custom") $("formula").value = g.formula;
  $("reduction").value = g.reduction === "Solve" ? "Sum" : g.reduction;
  $("reduction").disabled = name !== "custom";
  $("info").textContent = g.note;
}

async function runFromPage() {
  const name = $("example").value, backend = $("backend").value;
  setStatus(`running ${name} on ${backend}…`);
  try {
    const s = await run(name, backend);
    window.playground.last = s;
    setStatus(`${name}: ${s.ms.toFixed(0)} ms on ${backend === "auto" ? `auto (${backendInfo().auto})` : backend}, N = ${s.N}`);
    return s;
  } catch (e) {
    setStatus(`${e.name}: ${e.message}`, true);
    window.playground.last = { error: `${e.name}: ${e.message}` };
    return window.playground.last;
  }
}

function init() {
  const info = backendInfo();
  const sel = $("backend");
  sel.add(new Option(`auto (${info.auto})`, "auto"));
  for (const b of info.backends) {
    const o = new Option(b.unavailable ? `${b.name} — ${b.unavailable}` : b.name, b.name);
    o.disabled = b.unavailable !== null;
    sel.add(o);
  }
  $("example").addEventListener("change", () => pick($("example").value));
  $("generate").addEventListener("click", () => ((dropped = null), generate()));
  $("run").addEventListener("click", runFromPage);
  canvas.addEventListener("dragover", (e) => e.preventDefault());
  canvas.addEventListener("drop", async (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    const nums = (await file.text()).split(/\r?\n/).map((l) => l.split(/[,;\s]+/).filter(Boolean).map(Number)).filter((r) => r.length >= 2 && r.every(Number.isFinite));
    if (!nums.length) return setStatus("no rows of two numbers in that file", true);
    let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    for (const r of nums) for (let c = 0; c < 2; c++) (lo[c] = Math.min(lo[c], r[c])), (hi[c] = Math.max(hi[c], r[c]));
    const span = Math.max(hi[0] - lo[0], hi[1] - lo[1]) || 1;
    dropped = tensor(nums.map((r) => [(r[0] - lo[0]) / span, (r[1] - lo[1]) / span]));
    generate();
  });
  pick("gauss");
  generate();
  window.playground = { run: async (name, opts = {}) => {
    $("example").value = name;
    pick(name);
    if (opts.n) ($("n").value = String(opts.n)), (dropped = null), generate();
    if (opts.backend) $("backend").value = opts.backend;
    if (opts.formula) $("formula").value = opts.formula;
    if (opts.reduction) $("reduction").value = opts.reduction;
    return runFromPage();
  }, points: () => ({ data: Array.from(points.data), shape: points.shape }), ready: true, last: null };
}

init();
