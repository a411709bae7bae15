/**
 * Printing for consoles: the key under which Node's `util.inspect` (so `console.log`) looks for a
 * custom printout, without importing `node:util` (browsers load this too), and the NumPy-style
 * summary of a dense tensor's values.
 */

/** `util.inspect.custom`: a registered symbol, the same in every realm. */
export const INSPECT: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** What {@link formatTensor} reads of a tensor. */
export interface Printable {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly data: ArrayLike<number>;
}

/** Above this many elements, only the first and last {@link EDGE} entries of each axis are shown (NumPy's threshold). */
export const THRESHOLD = 1000;
/** Entries kept at each end of a summarised axis. */
export const EDGE = 3;

/** Formats the shown numbers alike: integers for int32, else fixed or exponential notation. */
function numberFormat(values: readonly number[], isInt: boolean): (x: number) => string {
  if (isInt) return (x) => String(x);
  const finite = values.filter((x) => Number.isFinite(x));
  const big = finite.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const small = finite.filter((x) => x !== 0).reduce((m, x) => Math.min(m, Math.abs(x)), Infinity);
  const special = (x: number): string | undefined => (Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : undefined);
  if (finite.every((x) => Number.isInteger(x)) && big < 1e8) return (x) => special(x) ?? `${x}.`;
  if (big >= 1e5 || small < 1e-4) return (x) => special(x) ?? x.toExponential(4);
  return (x) => special(x) ?? x.toFixed(4);
}

/**
 * The values of a tensor as nested brackets, NumPy-style: rows on their own lines, entries
 * right-aligned to one width, and, above {@link THRESHOLD} elements, each axis cut to its first
 * and last {@link EDGE} entries around `...`.
 */
export function formatValues(t: Printable): string {
  const { shape, data } = t;
  const size = shape.reduce((a, b) => a * b, 1);
  const summarise = size > THRESHOLD;
  // indices kept along each axis
  const kept = shape.map((n) => (summarise && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n)));
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  const shown: number[] = [];
  const collect = (axis: number, at: number): void => {
    if (axis === shape.length) return void shown.push(data[at]!);
    for (const i of kept[axis]!) if (i >= 0) collect(axis + 1, at + i * strides[axis]!);
  };
  if (size > 0) collect(0, 0);
  const fmt = numberFormat(shown, t.dtype === "int32");
  const width = shown.reduce((w, x) => Math.max(w, fmt(x).length), 0);
  const cell = (x: number): string => fmt(x).padStart(width);
  const render = (axis: number, at: number, indent: string): string => {
    if (shape.length === 0) return fmt(data[0]!);
    if (axis === shape.length - 1)
      return `[${kept[axis]!.map((i) => (i < 0 ? "..." : cell(data[at + i * strides[axis]!]!))).join(", ")}]`;
    const sep = `,${"\n".repeat(shape.length - 1 - axis)}${indent} `;
    return `[${kept[axis]!.map((i) => (i < 0 ? "..." : render(axis + 1, at + i * strides[axis]!, indent + " "))).join(sep)}]`;
  };
  return size === 0 ? "[]" : render(0, 0, "");
}

/** `Tensor(shape [M, D], float32)` and the values. */
export function formatTensor(t: Printable): string {
  return `Tensor(shape [${t.shape.join(", ")}], ${t.dtype})\n${formatValues(t)}`;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);
}
