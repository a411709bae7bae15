/**
 * The kernel schedule (src/compile/schedule.ts): backends take their fast paths from what a
 * reduction declares, never from its name. Two reductions are defined here only, from scratch in
 * SSA, with the declarations of LogSumExp (`shiftExp`) and ArgKMin (`sortedK`): they get the same
 * fast paths, and compute the right values on every backend; without (or with a wrong)
 * declaration they take the generic path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SsaBuilder } from "../src/ir/ssa.js";
import { innerSplit, scheduleOf } from "../src/compile/schedule.js";
import type { KernelProgram } from "../src/compile/program.js";
import type { ReductionProgram, ReductionTraits } from "../src/reductions/types.js";
import { reductionByName } from "../src/reductions/index.js";
import { compileAsync, compileBlocking, resolveBackend } from "../src/backends/registry.js";
import { renderWgsl } from "../src/backends/webgpu/render.js";
import { renderNative } from "../src/backends/native/render.js";
import { allocate } from "../src/tensor.js";
import { testTargets, withSeed, type Target } from "./util.js";

/** log Σ_j exp(f): a running max m and s = Σ exp(f − m), written here without src/reductions. */
function testLogSumExp(traits?: ReductionTraits): ReductionProgram {
  const up = new SsaBuilder(), mg = new SsaBuilder(), fin = new SsaBuilder();
  const ninf = (b: SsaBuilder): number => b.c(-Infinity);
  // update: m' = max(m, f) (a NaN f reaches s), s' = s·e^(m−m') + e^(f−m')
  const m = up.input("state", 0), s = up.input("state", 1), f = up.input("fval", 0);
  const mNew = up.select(up.cmp("gt", f, m), f, m);
  const scaleOld = up.select(up.cmp("eq", m, ninf(up)), up.c(0), up.un("exp", up.bin("sub", m, mNew)));
  const scaleNew = up.select(up.cmp("eq", f, ninf(up)), up.c(0), up.un("exp", up.bin("sub", f, mNew)));
  const upOut = [mNew, up.bin("add", up.bin("mul", s, scaleOld), scaleNew)];
  // merge: rescale both sums to the larger max
  const m1 = mg.input("state", 0), s1 = mg.input("state", 1), m2 = mg.input("other", 0), s2 = mg.input("other", 1);
  const mMax = mg.bin("max", m1, m2);
  const w = (mk: number): number => mg.select(mg.cmp("eq", mk, ninf(mg)), mg.c(0), mg.un("exp", mg.bin("sub", mk, mMax)));
  const mgOut = [mMax, mg.bin("add", mg.bin("mul", s1, w(m1)), mg.bin("mul", s2, w(m2)))];
  const finOut = [fin.bin("add", fin.input("state", 0), fin.un("log", fin.input("state", 1)))];
  return {
    name: "TestLogSumExp",
    state: [{ t: "f", init: -Infinity }, { t: "f", init: 0 }],
    update: up.block(upOut),
    merge: mg.block(mgOut),
    finalize: fin.block(finOut),
    outputs: [{ shape: [1], t: "f" }],
    tiled: true,
    traits,
  };
}

/** The two smallest values with their indices (NaN first, ties to the lowest index), from scratch. */
function testTop2(traits?: ReductionTraits): ReductionProgram {
  const up = new SsaBuilder(), mg = new SsaBuilder(), fin = new SsaBuilder();
  /** 1 where (v, i) goes before slot (sv, si): the slot is empty, v is smaller, or v is NaN and sv not. */
  const before = (b: SsaBuilder, v: number, sv: number, si: number): number =>
    b.or(b.cmp("eq", si, b.ci(-1)), b.or(b.cmp("lt", v, sv), b.and(b.isnan(v), b.not(b.isnan(sv)))));
  /** Inserts (v, i), newer than every slot, into [(v0, i0), (v1, i1)]. */
  const insert = (b: SsaBuilder, s: number[], v: number, i: number): { out: number[]; w1: number } => {
    const [v0, v1, i0, i1] = s as [number, number, number, number];
    const w0 = before(b, v, v0, i0), w1 = before(b, v, v1, i1);
    return {
      out: [b.select(w0, v, v0), b.select(w0, v0, b.select(w1, v, v1)), b.select(w0, i, i0), b.select(w0, i0, b.select(w1, i, i1))],
      w1,
    };
  };
  const st = (b: SsaBuilder, kind: "state" | "other"): number[] => [b.input(kind, 0), b.input(kind, 1), b.input(kind, 2, "i"), b.input(kind, 3, "i")];
  const { out: upOut, w1: guard } = insert(up, st(up, "state"), up.input("fval", 0), up.idx());
  // merge: the other partial covers later indices, so its pairs are newer; an empty slot never enters
  let acc = st(mg, "state");
  const o = st(mg, "other");
  for (const q of [0, 1]) {
    const { out } = insert(mg, acc, o[q]!, o[2 + q]!);
    const real = mg.cmp("ne", o[2 + q]!, mg.ci(-1));
    acc = out.map((x, k) => mg.select(real, x, acc[k]!));
  }
  return {
    name: "TestTop2",
    state: [{ t: "f", init: Infinity }, { t: "f", init: Infinity }, { t: "i", init: -1 }, { t: "i", init: -1 }],
    update: { ...up.block(upOut), guard },
    merge: mg.block(acc),
    finalize: fin.block([fin.input("state", 0), fin.input("state", 1), fin.input("state", 2, "i"), fin.input("state", 3, "i")]),
    outputs: [{ shape: [2], t: "f" }, { shape: [2], t: "i" }],
    tiled: false,
    traits,
  };
}

/** f_ij = −(x_i − y_j)² (shiftExp) or (x_i − y_j)² (top-2), x outer and y inner of dim 1. */
function program(red: ReductionProgram, sign: 1 | -1, tag: string): KernelProgram {
  const b = new SsaBuilder((slot) => (slot === 0 ? 1 : 2));
  const d = b.bin("sub", b.load(0, 0), b.load(1, 0));
  const sq = b.bin("mul", d, d);
  return {
    key: `schedule-test|${tag}`,
    dtype: "float32",
    accDtype: "float32",
    slots: [{ role: "outer", dim: 1 }, { role: "inner", dim: 1 }],
    body: b.block([sign < 0 ? b.un("neg", sq) : sq]),
    red,
  };
}

const LSE_TRAITS: ReductionTraits = { shiftExp: [{ m: 0, s: [1], f: 0, g: [null] }] };
const TOP2_TRAITS: ReductionTraits = { sortedK: { K: 2, values: 0, indices: 2 }, indexStates: [2, 3] };

test("the same declarations as LogSumExp and ArgKMin give a test-only reduction the same fast path", () => {
  const lse = program(testLogSumExp(LSE_TRAITS), -1, "lse");
  const top2 = program(testTop2(TOP2_TRAITS), 1, "top2");
  assert.equal(scheduleOf(lse).fast?.kind, "shiftExp");
  assert.equal(scheduleOf(top2).fast?.kind, "sortedK");
  // what the built-in reductions get, for the same body
  const builtinLse = program(reductionByName("LogSumExp")!.build({ fdim: 1, K: 1, scheme: "block_sum" }), -1, "builtin-lse");
  const builtinK = program(reductionByName("ArgKMin")!.build({ fdim: 1, K: 2, scheme: "block_sum" }), 1, "builtin-k");
  assert.equal(scheduleOf(builtinLse).fast?.kind, "shiftExp");
  assert.equal(scheduleOf(builtinK).fast?.kind, "sortedK");
  assert.deepEqual(renderNative(lse).fast, renderNative(builtinLse).fast);
  assert.deepEqual(renderNative(lse).scheme, "shiftexp");
  assert.deepEqual(renderNative(top2).fast, renderNative(builtinK).fast);
  assert.deepEqual(renderNative(top2).scheme, "scan");
});

test("without a declaration, or with one that does not match the state, the generic path is taken", () => {
  assert.equal(scheduleOf(program(testLogSumExp(), -1, "lse-none")).fast, null);
  assert.equal(renderNative(program(testLogSumExp(), -1, "lse-none")).scheme, "lanes");
  assert.equal(scheduleOf(program(testTop2(), 1, "top2-none")).fast, null);
  // wrong layouts: a max slot that is not −∞, a K list running past the state, an out-of-range value
  assert.equal(scheduleOf(program(testLogSumExp({ shiftExp: [{ m: 1, s: [0], f: 0, g: [null] }] }), -1, "lse-bad")).fast, null);
  assert.equal(scheduleOf(program(testLogSumExp({ shiftExp: [{ m: 0, s: [1], f: 3, g: [null] }] }), -1, "lse-bad2")).fast, null);
  assert.equal(scheduleOf(program(testTop2({ sortedK: { K: 3, values: 0, indices: 2 } }), 1, "top2-bad")).fast, null);
  // a sortedK declaration on an accumulate (unguarded) reduction is not taken
  assert.equal(scheduleOf(program(testLogSumExp({ sortedK: { K: 1, values: 0, indices: 1 } }), -1, "lse-k")).fast, null);
});

/** Runs a program on a backend over x (M) and y (N), blocking or (an async-only backend) not. */
async function run(p: KernelProgram, t: Target, x: Float32Array, y: Float32Array): Promise<(Float32Array | Int32Array)[]> {
  const M = x.length;
  const outs = p.red.outputs.map((o) => (o.t === "i" ? new Int32Array(M * o.shape[0]!) : (allocate("float32", M * o.shape[0]!) as Float32Array)));
  const job = {
    inputs: [x, y], outputs: outs, nOuter: M, nInner: y.length, nBatch: 1,
    inOffsets: new Int32Array([0, 0]), outOffsets: new Int32Array(outs.length),
  };
  if (t.async) await (await compileAsync(resolveBackend(t.backend, p, "async"), p)).runAsync(job);
  else compileBlocking(resolveBackend(t.backend, p, "blocking"), p).run(job);
  return outs;
}

test("webgpu: the WGSL renderer takes the declared fast paths (and the generic update without them)", () => {
  const cfg = { wg: 64, tile: 64, staged: true, packed: false };
  const wgsl = (p: KernelProgram): string => renderWgsl(p, cfg, "direct");
  const lse = (t?: ReductionTraits): KernelProgram => program(testLogSumExp(t), -1, `lse-${!!t}`);
  const top2 = (t?: ReductionTraits): KernelProgram => program(testTop2(t), 1, `top2-${!!t}`);
  assert.match(wgsl(lse(LSE_TRAITS)), /fast path: shiftExp/);
  assert.match(wgsl(program(reductionByName("LogSumExp")!.build({ fdim: 1, K: 1, scheme: "block_sum" }), -1, "builtin-lse")), /fast path: shiftExp/);
  assert.match(wgsl(top2(TOP2_TRAITS)), /fast path: sortedK/);
  assert.match(wgsl(program(reductionByName("ArgKMin")!.build({ fdim: 1, K: 2, scheme: "block_sum" }), 1, "builtin-k")), /fast path: sortedK/);
  assert.doesNotMatch(wgsl(lse()), /fast path/);
  assert.doesNotMatch(wgsl(top2()), /fast path/);
  // one exp per pair: in the loop over a tile's j, the shiftExp update has one k_exp on each
  // branch; the generic update's selects evaluate two per pair
  const perPair = (src: string): string => {
    const lines = src.split("\n");
    const start = lines.findIndex((l) => l.includes("for (var jj = 0u;"));
    const end = lines.indexOf("      }", start);
    return lines.slice(start, end).join("\n");
  };
  const fast = perPair(wgsl(lse(LSE_TRAITS)));
  assert.equal(fast.split("k_exp(").length - 1, 2);
  assert.match(fast, /if \(f0 > t0\) \{\n\s+let c: f32 = select\(k_exp\(/);
  assert.match(fast, /\} else \{\n\s+let e: f32 = select\(select\(k_exp\(/);
  assert.equal(perPair(wgsl(lse())).split("k_exp(").length - 1, 2);
  assert.doesNotMatch(perPair(wgsl(lse())), /else/);
});

for (const t of await testTargets())
  test(`test-only reductions compute the right values with and without their fast path: ${t.backend}${t.async ? " (async)" : ""}`, () =>
    withSeed(async (data) => {
      const backend = t.backend;
      for (const N of [0, 1, 17, 1025, 4097]) {
        const M = 23;
        // values on a grid of 1/4 so that ties happen; a NaN in one x and one y
        const grid = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.round(data.rng.normal() * 8) / 4);
        const x = grid(M), y = grid(N);
        x[3] = NaN;
        if (N > 5) y[5] = NaN;
        for (const traits of [true, false]) {
          const [lse] = await run(program(testLogSumExp(traits ? LSE_TRAITS : undefined), -1, `lse-${traits}`), t, x, y);
          const [vals, inds] = await run(program(testTop2(traits ? TOP2_TRAITS : undefined), 1, `top2-${traits}`), t, x, y);
          for (let i = 0; i < M; i++) {
            const f = Array.from(y, (yj) => (x[i]! - yj) ** 2);
            const what = `${backend} N=${N} i=${i} declared=${traits}`;
            // log-sum-exp in float64
            const m = Math.max(...f.map((v) => -v));
            const want = N === 0 ? -Infinity : f.some(Number.isNaN) ? NaN : m + Math.log(f.reduce((s, v) => s + Math.exp(-v - m), 0));
            const got = lse![i]!;
            if (Number.isNaN(want) || !Number.isFinite(want)) assert.ok(Object.is(got, want) || (Number.isNaN(want) && Number.isNaN(got)), `${what}: lse ${got} vs ${want}`);
            else assert.ok(Math.abs(got - want) <= 1e-5 + 1e-5 * Math.abs(want), `${what}: lse ${got} vs ${want}`);
            // top 2: NaN first, then ascending, ties to the lowest index
            const order = f.map((v, j) => [v, j] as const).sort((a, b) =>
              Number.isNaN(a[0]) !== Number.isNaN(b[0]) ? (Number.isNaN(a[0]) ? -1 : 1) : a[0] - b[0] || a[1] - b[1]);
            for (let k = 0; k < 2; k++) {
              const e = order[k];
              assert.equal(inds![2 * i + k], e ? e[1] : -1, `${what}: index ${k}`);
              if (e) assert.ok(Object.is(vals![2 * i + k], Math.fround(e[0])) || (Number.isNaN(e[0]) && Number.isNaN(vals![2 * i + k]!)), `${what}: value ${k}`);
              else assert.equal(vals![2 * i + k], Infinity);
            }
          }
        }
      }
    }));

test("the target schedule: tiles, row blocks and merge points follow the target's shape", () => {
  const lse = scheduleOf(program(reductionByName("LogSumExp")!.build({ fdim: 1, K: 1, scheme: "block_sum" }), -1, "t-lse"));
  const t = lse.target({ lanes: 16, unroll: 2, elemBytes: 4, accBytes: 4, tile: { bytes: 16384, min: 128, max: 4096 }, rows: { stateBytes: 32768, max: 64, select: 64 } });
  assert.equal(t.tile, 4096); // one inner component: 4096 floats fit in 16 KiB
  assert.equal(t.rows, 64);
  assert.deepEqual(t.merges, ["tile", "unrolled", "lanes"]);
  const k = scheduleOf(program(reductionByName("ArgKMin")!.build({ fdim: 1, K: 2, scheme: "block_sum" }), 1, "t-k"));
  assert.equal(k.strategy, "select");
  assert.deepEqual(k.target({ lanes: 4, unroll: 4, elemBytes: 4, accBytes: 4, tile: 1024, splitInner: true }).merges, ["splitInner"]);
  assert.equal(innerSplit(10, 1e6, { units: 64, rowsPerUnit: 64, minPart: 1024 }), 64);
  assert.equal(innerSplit(1e5, 1e6, { units: 64, rowsPerUnit: 64, minPart: 1024 }), 1);
  assert.equal(innerSplit(10, 3000, { units: 64, rowsPerUnit: 64, minPart: 1024 }), 2);
});
