/**
 * Float64 evaluations of the math ops (issue 4), merged into the oracle's REF_OPS table by
 * test/reference.ts. Written directly from each op's definition (KeOps's semantics), independent
 * of the SSA lowering: no import from src/formula.
 */
type Vec = number[];
type RefOp = (args: Vec[], attrs: readonly number[], dim: number) => Vec;

const bc = (x: Vec, c: number): number => (x.length === 1 ? x[0]! : x[c]!);
const map1 = (f: (a: number) => number): RefOp => ([x]) => x!.map(f);
const mapN = (f: (...a: number[]) => number): RefOp => (xs, _a, dim) =>
  Array.from({ length: dim }, (_, c) => f(...xs.map((x) => bc(x, c))));
const total = (v: Vec): number => v.reduce((a, b) => a + b, 0);
const roundHalfAway = (x: number): number => (x < 0 ? -Math.round(-x) : Math.round(x));


/** erf in float64: Taylor series for |x| ≤ 3, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z <= 3) {
    let term = z, s = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const t = term / (2 * n + 1);
      s += t;
      if (Math.abs(t) < 1e-17 * Math.abs(s)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))
    let f = z;
    for (let k = 80; k >= 1; k--) f = z + k / 2 / f;
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

/** Row-major multi-index ↔ flat index. */
function unflat(f: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) (idx[k] = f % shape[k]!, (f = Math.floor(f / shape[k]!)));
  return idx;
}
function flat(idx: readonly number[], shape: readonly number[]): number {
  return idx.reduce((f, i, k) => f * shape[k]! + i, 0);
}

/** TensorDot by scattering every pair of entries whose contracted indices agree. */
function tensordot(a: Vec, b: Vec, attrs: readonly number[], dim: number): Vec {
  let da: number[], db: number[], ca: number[], cb: number[], perm: number[];
  if (attrs.length === 0) (da = [a.length], db = [b.length], ca = [], cb = [], perm = [0, 1]);
  else {
    const [na, nb, nc] = attrs as [number, number, number];
    let p = 3;
    const take = (n: number) => attrs.slice(p, (p += n));
    (da = take(na)), (db = take(nb)), (ca = take(nc)), (cb = take(nc)), (perm = take(na + nb - 2 * nc));
  }
  const keptA = da.map((_, k) => k).filter((k) => !ca.includes(k));
  const keptB = db.map((_, k) => k).filter((k) => !cb.includes(k));
  const outShape: number[] = [];
  [...keptA.map((k) => da[k]!), ...keptB.map((k) => db[k]!)].forEach((d, k) => (outShape[perm[k]!] = d));
  const out = new Array<number>(dim).fill(0);
  for (let fa = 0; fa < a.length; fa++) {
    const ia = unflat(fa, da);
    for (let fb = 0; fb < b.length; fb++) {
      const ib = unflat(fb, db);
      if (!ca.every((ax, m) => ia[ax] === ib[cb[m]!])) continue;
      const kept = [...keptA.map((k) => ia[k]!), ...keptB.map((k) => ib[k]!)];
      const oi: number[] = [];
      kept.forEach((v, k) => (oi[perm[k]!] = v));
      out[flat(oi, outShape)]! += a[fa]! * b[fb]!;
    }
  }
  return out;
}

/** np.kron of a (shape da) and b (shape db), flattened. */
function kron(a: Vec, b: Vec, attrs: readonly number[], dim: number): Vec {
  const n = attrs.length ? attrs[0]! : 1;
  const da = attrs.length ? attrs.slice(1, 1 + n) : [a.length], db = attrs.length ? attrs.slice(1 + n) : [b.length];
  const shape = da.map((d, k) => d * db[k]!);
  const out = new Array<number>(dim).fill(0);
  for (let fa = 0; fa < a.length; fa++)
    for (let fb = 0; fb < b.length; fb++) {
      const ia = unflat(fa, da), ib = unflat(fb, db);
      out[flat(ia.map((i, k) => i * db[k]! + ib[k]!), shape)] = a[fa]! * b[fb]!;
    }
  return out;
}

function weighted(s: Vec, x: Vec): number {
  const D = x.length;
  if (s.length === 1) return s[0]! * total(x.map((v) => v * v));
  if (s.length === D) return total(x.map((v, c) => s[c]! * v * v));
  let r = 0;
  for (let c = 0; c < D; c++) for (let d = 0; d < D; d++) r += x[c]! * s[c * D + d]! * x[d]!;
  return r;
}

/** Inner min/max and its index: first NaN wins, else the first extreme value. */
function scan(x: Vec, better: (a: number, b: number) => boolean): [number, number] {
  const nan = x.findIndex(Number.isNaN);
  if (nan >= 0) return [NaN, nan];
  let best = x[0]!, at = 0;
  for (let k = 1; k < x.length; k++) if (better(x[k]!, best)) (best = x[k]!, (at = k));
  return [best, at];
}
const diff = (x: Vec, y: Vec): Vec => Array.from({ length: Math.max(x.length, y.length) }, (_, c) => bc(x, c) - bc(y, c));

export const MATH_REF_OPS: Record<string, RefOp> = {
  SumT: ([x], [n]) => new Array<number>(n!).fill(x![0]!),
  ElemT: ([x], [n, m]) => Array.from({ length: n! }, (_, k) => (k === m ? x![0]! : 0)),
  ExtractT: ([x], [s, n]) => Array.from({ length: n! }, (_, k) => (k >= s! && k < s! + x!.length ? x![k - s!]! : 0)),
  IntInv: (_x, [n]) => [1 / n!],
  Zero: (_x, [d]) => new Array<number>(d!).fill(0),
  Inv: map1((a) => 1 / a),
  Sign: map1((a) => (a > 0 ? 1 : a < 0 ? -1 : 0)),
  Rsqrt: map1((a) => (a === 0 ? 0 : 1 / Math.sqrt(a))),
  Powf: mapN((a, b) => Math.pow(a, b)),
  XLogX: map1((a) => (a === 0 ? 0 : a * Math.log(a))),
  Erf: map1(erf64),
  Log1p: map1(Math.log1p),
  Expm1: map1(Math.expm1),
  Sigmoid: map1((a) => 1 / (1 + Math.exp(-a))),
  Softplus: map1((a) => (a > 30 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a)))),
  Sin: map1(Math.sin),
  Cos: map1(Math.cos),
  Tan: map1(Math.tan),
  Asin: map1(Math.asin),
  Acos: map1(Math.acos),
  Atan: map1(Math.atan),
  Atan2: mapN(Math.atan2),
  Sinh: map1(Math.sinh),
  Cosh: map1(Math.cosh),
  Tanh: map1(Math.tanh),
  SinXDivX: map1((a) => (a === 0 ? 1 : Math.sin(a) / a)),
  DiffSinXDivX: map1(diffSinc),
  Equal: mapN((a, b) => (a === b ? 1 : 0)),
  NotEqual: mapN((a, b) => (a !== b ? 1 : 0)),
  LessThan: mapN((a, b) => (a < b ? 1 : 0)),
  LessOrEqual: mapN((a, b) => (a <= b ? 1 : 0)),
  GreaterThan: mapN((a, b) => (a > b ? 1 : 0)),
  GreaterOrEqual: mapN((a, b) => (a >= b ? 1 : 0)),
  Floor: map1(Math.floor),
  Round: ([x], [d]) => x!.map((a) => (d === 0 ? roundHalfAway(a) : roundHalfAway(a * 10 ** d!) / 10 ** d!)),
  Step: map1((a) => (a < 0 ? 0 : 1)),
  ReLU: map1((a) => (a < 0 ? 0 : a)),
  Clamp: mapN((x, a, b) => (x < a ? a : x > b ? b : x)),
  ClampInt: ([x], [a, b]) => x!.map((v) => (v < a! ? a! : v > b! ? b! : v)),
  IfElse: mapN((x, a, b) => (x >= 0 ? a : b)),
  Mod: mapN((x, n, d) => x - n * Math.floor((x - d) / n)),
  Norm2: ([x]) => [Math.sqrt(total(x!.map((v) => v * v)))],
  Normalize: ([x]) => {
    const s = total(x!.map((v) => v * v));
    return x!.map((v) => (s === 0 ? 0 : v / Math.sqrt(s)));
  },
  SqDist: ([x, y]) => [total(diff(x!, y!).map((v) => v * v))],
  WeightedSqNorm: ([s, x]) => [weighted(s!, x!)],
  WeightedSqDist: ([s, x, y]) => [weighted(s!, diff(x!, y!))],
  Concat: ([a, b]) => [...a!, ...b!],
  OneHot: ([x], [n]) => Array.from({ length: n! }, (_, k) => (roundHalfAway(x![0]!) === k ? 1 : 0)),
  Min: ([x]) => [scan(x!, (a, b) => a < b)[0]],
  Max: ([x]) => [scan(x!, (a, b) => a > b)[0]],
  ArgMin: ([x]) => [scan(x!, (a, b) => a < b)[1]],
  ArgMax: ([x]) => [scan(x!, (a, b) => a > b)[1]],
  MatVecMult: ([A, v], _a, m) => {
    const n = v!.length;
    return Array.from({ length: m }, (_, i) => total(v!.map((x, k) => A![i * n + k]! * x)));
  },
  VecMatMult: ([v, A], _a, n) => Array.from({ length: n }, (_, j) => total(v!.map((x, i) => x * A![i * n + j]!))),
  TensorProd: ([a, b]) => a!.flatMap((x) => b!.map((y) => x * y)),
  TensorDot: ([a, b], attrs, dim) => tensordot(a!, b!, attrs, dim),
  Kron: ([a, b], attrs, dim) => kron(a!, b!, attrs, dim),
};

/** SinXDivX'(x) in float64: the Taylor series summed until it stops changing for |x| < 1, the closed form beyond. */
function diffSinc(x: number): number {
  if (Math.abs(x) >= 1) return (Math.cos(x) - Math.sin(x) / x) / x;
  // Σ_{n≥1} (−1)^n 2n x^{2n−1} / (2n+1)!
  let sum = 0, term = x / 6; // x^{2n−1} / (2n+1)! at n = 1
  for (let n = 1; n < 40; n++) {
    const next = sum + (n % 2 ? -1 : 1) * 2 * n * term;
    if (next === sum) break;
    sum = next;
    term *= (x * x) / ((2 * n + 2) * (2 * n + 3));
  }
  return sum;
}
