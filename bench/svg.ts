/**
 * A small SVG writer for the result plots: log-log line plots of time against N, one line per
 * backend or peer (in the manner of KeOps's benchmark pages), and a log-scale bar chart for the
 * single-size workloads. No plotting dependency.
 */

/** One line of a plot. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Appended to the legend entry, e.g. "out of memory from 1e5". */
  readonly note?: string;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

/** A stable colour per implementation name (keops-ts backends first, then peers). */
export function colorOf(name: string, all: readonly string[]): string {
  return COLORS[Math.max(0, all.indexOf(name)) % COLORS.length]!;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** "10", "100", "1e3", "1e4" … for a tick at a power of ten. */
function decade(p: number): string {
  return p >= 0 && p <= 2 ? String(10 ** p) : `1e${p}`;
}

function timeTick(p: number): string {
  const s = 10 ** p;
  if (s >= 1) return `${s} s`;
  if (s >= 1e-3) return `${Math.round(s * 1e3)} ms`;
  return `${Math.round(s * 1e6)} µs`;
}

/**
 * A log-log plot of seconds against size. `sizes` are all the sizes of the workload (the x range
 * covers them, so a line that stops early — out of memory, over the time budget — shows it).
 */
export function lineplot(title: string, xLabel: string, series: readonly Series[], names: readonly string[], sizes: readonly number[]): string {
  const W = 720, H = 460, L = 80, R = 220, T = 40, B = 60, PAD = 0.15;
  const pts = series.flatMap((s) => s.points);
  const xs = [...pts.map((p) => p[0]), ...sizes], ys = pts.map((p) => p[1]);
  const lx0 = Math.log10(Math.min(...xs)) - PAD, lx1 = Math.log10(Math.max(...xs)) + PAD;
  const ly0 = Math.log10(Math.min(...ys, 1e-3)) - PAD, ly1 = Math.log10(Math.max(...ys, 1)) + PAD;
  const x0 = Math.ceil(lx0), x1 = Math.floor(lx1), y0 = Math.ceil(ly0), y1 = Math.floor(ly1);
  const px = (x: number): number => L + ((Math.log10(x) - lx0) / (lx1 - lx0)) * (W - L - R);
  const py = (y: number): number => H - B - ((Math.log10(y) - ly0) / (ly1 - ly0)) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let p = x0; p <= x1; p++) {
    const x = px(10 ** p);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${decade(p)}</text>`);
  }
  for (let p = y0; p <= y1; p++) {
    const y = py(10 ** p);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${timeTick(p)}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">${esc(xLabel)} (log scale)</text>`);
  out.push(`<text x="18" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(T + H - B) / 2})">median time per run (log scale)</text>`);
  series.forEach((s, k) => {
    const c = colorOf(s.name, names);
    const path = s.points.map(([x, y], n) => `${n ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    if (s.points.length > 1) out.push(`<path d="${path}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="${c}"/>`);
    const ly = T + 10 + k * 34;
    out.push(`<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 34}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<circle cx="${W - R + 23}" cy="${ly}" r="4" fill="${c}"/>`);
    out.push(`<text x="${W - R + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
    if (s.note) out.push(`<text x="${W - R + 40}" y="${ly + 18}" font-size="10" fill="#666">${esc(s.note)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** One bar of a bar chart. */
export interface Bar {
  readonly group: string;
  readonly name: string;
  /** Seconds, or null for a bar that has no figure (then `note` is printed instead). */
  readonly value: number | null;
  readonly label: string;
}

/** Horizontal bars on a log scale, grouped (one group per workload). */
export function barchart(title: string, bars: readonly Bar[], names: readonly string[]): string {
  const groups = [...new Set(bars.map((b) => b.group))];
  // the left margin holds the longest "group · name" label (~6.5 px a character at 12 px)
  const L = Math.max(260, Math.ceil(6.5 * Math.max(...bars.map((b) => b.group.length + b.name.length + 3)))), W = L + 500, R = 150, T = 40, row = 20, gap = 12;
  const H = T + bars.length * row + groups.length * gap + 40;
  const vals = bars.flatMap((b) => (b.value === null ? [] : [b.value]));
  const v0 = Math.floor(Math.log10(Math.min(...vals, 1e-3))), v1 = Math.ceil(Math.log10(Math.max(...vals, 1)));
  const px = (v: number): number => L + ((Math.log10(v) - v0) / Math.max(1, v1 - v0)) * (W - L - R);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let p = v0; p <= v1; p++) {
    const x = px(10 ** p);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - 30}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${H - 14}" text-anchor="middle">${timeTick(p)}</text>`);
  }
  let y = T;
  for (const g of groups) {
    for (const b of bars.filter((x) => x.group === g)) {
      const c = colorOf(b.name, names);
      out.push(`<text x="${L - 6}" y="${y + 14}" text-anchor="end">${esc(`${g} · ${b.name}`)}</text>`);
      if (b.value !== null) {
        out.push(`<rect x="${L}" y="${y + 3}" width="${Math.max(1, px(b.value) - L).toFixed(1)}" height="${row - 6}" fill="${c}"/>`);
        out.push(`<text x="${(px(b.value) + 4).toFixed(1)}" y="${y + 14}">${esc(b.label)}</text>`);
      } else out.push(`<text x="${L + 4}" y="${y + 14}" fill="#666">${esc(b.label)}</text>`);
      y += row;
    }
    y += gap;
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
