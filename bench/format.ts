/** Number formatting for the report and the progress lines. */

/** Seconds as "12.3 s", "45.6 ms", "7.8 µs". */
export function fmtTime(s: number): string {
  if (s >= 1000) return `${Math.round(s)} s`;
  if (s >= 1) return `${s.toPrecision(3)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${(s * 1e6).toPrecision(3)} µs`;
}

/** 1.23e8 style. */
export function fmtSci(x: number): string {
  if (x === 0) return "0";
  const [m, e] = x.toExponential(2).split("e");
  return `${m}e${Number(e)}`;
}

/** Sizes as "1e4", "3e3", "500". */
export function fmtSize(n: number): string {
  if (n < 1000) return String(n);
  const e = Math.floor(Math.log10(n));
  const m = n / 10 ** e;
  return Number.isInteger(m) ? (m === 1 ? `1e${e}` : `${m}e${e}`) : String(n);
}
