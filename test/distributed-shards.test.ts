/**
 * Distributed runs without Redis: prepare (inputs into a folder blob store), run every shard of a
 * row × column cut on each backend, assemble; the result equals the local call of the same
 * function (sum within summation-order error, logsumexp to float rounding, min/K-min and every
 * index exactly) for every reduction, both axes, ragged cuts. Coverage and missing-shard errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeOpsError, Vi, Vj, fromMatrix, randn, tensor, type Tensor } from "../src/index.js";
import { genred } from "../src/lazy/genred.js";
import type { KeOpsFunction } from "../src/lazy/keopsfunction.js";
import { FolderBlobStore } from "../src/distributed/blobs.js";
import { assemble } from "../src/distributed/merge.js";
import { bindCall, prepareRun } from "../src/distributed/prepare.js";
import { runShard } from "../src/distributed/shard.js";
import { coverage, planShards, type RunManifest } from "../src/distributed/spec.js";
import { RowEvaluator, evalBlock } from "../src/ir/interpret.js";
import { reductionByName, reductionNames } from "../src/reductions/index.js";
import { assertClose, assertExact, testBackends, withSeed } from "./util.js";

type Out = Tensor | [Tensor, Tensor];

async function distributed(fn: KeOpsFunction<unknown>, args: Tensor[], store: FolderBlobStore, rows: number, cols: number, backend?: string): Promise<{ out: Out; run: RunManifest }> {
  const run = await prepareRun(bindCall(fn, args), store, { rowsPerShard: rows, colsPerShard: cols });
  for (const shard of run.shards) await runShard({ spec: run, shard }, store, backend as never);
  return { out: (await assemble(run, store)) as Out, run };
}

function same(got: Out, want: Out, what: string, rtol: number, atol = rtol): void {
  const g = Array.isArray(got) ? got : [got], w = Array.isArray(want) ? want : [want];
  assert.equal(g.length, w.length, what);
  g.forEach((t, k) => {
    assert.deepEqual(t.shape, w[k]!.shape, `${what}: shape`);
    assert.equal(t.dtype, w[k]!.dtype, `${what}: dtype`);
    if (t.dtype === "int32") assertExact(t.data, w[k]!.data, `${what} indices`);
    else assertClose(t.data, w[k]!.data, { rtol, atol, what });
  });
}

test("merge and finalize blocks: the row evaluator equals the interpreter on every reduction", () => {
  for (const name of reductionNames) {
    const def = reductionByName(name)!;
    // a vector formula where the reduction takes one (its check says), else a scalar one
    const at = (fdim: number) => ({ fdim, gdim: def.formula2 === "required" ? 2 : undefined, K: 3, scheme: "kahan_scheme" as const });
    let params = at(2);
    try {
      def.check(params);
    } catch {
      params = at(1);
    }
    const prog = def.build(params);
    const n = prog.state.length, rows = 5;
    // rows of states with ties, empty slots (index −1, ±∞) and NaN
    const pick = (k: number, r: number, salt: number): number => {
      if (prog.state[k]!.t === "i") return [(k + r) % 4, -1, 2, 7, 3][(r + salt) % 5]!;
      return [Math.sin(k + r + salt) * 3, prog.state[k]!.init, 1, NaN, 1][(r * salt + k) % 5]!;
    };
    const cols = (salt: number) => Array.from({ length: n }, (_, k) => Float64Array.from({ length: rows }, (_, r) => pick(k, r, salt)));
    const state = cols(1), other = cols(2);
    for (const block of [prog.merge, prog.finalize]) {
      const got = new RowEvaluator(block, 8).run(state, other, rows);
      for (let r = 0; r < rows; r++)
        assert.deepEqual(got.map((c) => c[r]), evalBlock(block, { state: state.map((c) => c[r]!), other: other.map((c) => c[r]!) }), `${name} row ${r}`);
    }
  }
});

for (const backend of testBackends()) {
  test(`shards → assemble equals the local call, every reduction, both axes [${backend}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "keops-shards-"));
    const store = new FolderBlobStore(dir);
    try {
      await withSeed(async (d) => {
        const M = 97, N = 130;
        const x = d.randint([M, 3], -3, 3), y = d.randint([N, 3], -3, 3), b = d.randn([N, 2]), w = d.randn([M, 2]);
        const X = Vi(0, 3), Y = Vj(1, 3);
        const D = X.sub(Y).sqnorm2();
        // tolerances: [rtol, atol]; the Kahan case sums terms of size ~100 that cancel to ~1, so
        // the float32 local result itself is off by a few 1e-5 (the shards accumulate in float64)
        const cases: [string, (axis: 0 | 1) => KeOpsFunction<unknown>, Tensor[], number, number?][] = [
          ["Sum", (axis) => D.neg().exp().mul(Vj(2, 2)).sum({ axis, call: false }) as never, [x, y, b], 2e-6],
          ["LogSumExp", (axis) => D.neg().logsumexp({ axis, call: false }) as never, [x, y], 2e-6],
          ["LogSumExp weight", (axis) => D.neg().logsumexp({ axis, weight: Vj(2, 2).exp(), call: false }) as never, [x, y, b], 2e-6],
          ["SumSoftMaxWeight", (axis) => D.neg().sumsoftmaxweight(Vj(2, 2), { axis, call: false }) as never, [x, y, b], 2e-6],
          ["MinArgMin", (axis) => D.minArgmin({ axis, call: false }) as never, [x, y], 0],
          ["MaxArgMax", (axis) => X.sub(Y).maxArgmax({ axis, call: false }) as never, [x, y], 0],
          ["KMinArgKMin", (axis) => D.KminArgKmin({ K: 5, axis, call: false }) as never, [x, y], 0],
          ["ArgKMin D=3", (axis) => X.sub(Y).abs().argKmin({ K: 4, axis, call: false }) as never, [x, y], 0],
          ["Kahan sum", (axis) => D.mul(Vi(2, 2)).sum({ axis, sumScheme: "kahan_scheme", call: false }) as never, [x, y, w], 2e-6, 2e-4],
        ];
        // every case on js (the reference backend); on the others, whose native kernels take a
        // C++ compile each, the three state shapes: sums, (max, scaled sums), sorted (value, index) lists
        const here = backend === "js" ? cases : cases.filter(([n]) => ["Sum", "LogSumExp weight", "KMinArgKMin"].includes(n));
        for (const [name, make, args, rtol, atol] of here)
          for (const axis of [0, 1] as const) {
            // axis 0 reduces over i: b (a j-variable) and w (an i-variable) swap their roles
            const fn = make(axis);
            if (axis === 0 && name === "Sum") args[2] = d.randn([N, 2]);
            const want = (fn as (...a: Tensor[]) => Out)(...args);
            for (const [rows, cols] of [[13, 29]]) {
              const { out, run } = await distributed(fn, args, store, rows, cols, backend);
              same(out, want, `${name} axis ${axis} rows ${rows} cols ${cols} (${run.shards.length} shards) [${backend}]`, rtol, atol);
            }
          }
        // genred, inline variables and a float literal
        const g = genred("Exp(-0.5 * SqDist(Var(0,3,0), Var(1,3,1))) * Var(2,2,1)", [], { axis: 1 });
        const { out } = await distributed(g as never, [x, y, b], store, 20, 50, backend);
        same(out, g(x, y, b) as Tensor, `genred [${backend}]`, 2e-6);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("coverage: the shards must tile rows and columns exactly; a missing output names its shard", async () => {
  const spec = { nOuter: 10, nInner: 20 } as RunManifest;
  const s = planShards(10, 20, 1, false, { rowsPerShard: 4, colsPerShard: 7 });
  assert.equal(s.length, 9);
  assert.equal(coverage(spec, s).length, 3);
  assert.throws(() => coverage(spec, s.slice(1)), /rows 0–3, columns 0–6 are covered by no shard/);
  assert.throws(() => coverage(spec, [...s, s[4]!]), /covered twice/);
  assert.throws(() => coverage(spec, s.filter((x) => x.outer[0] !== 6)), /rows 6–10 are covered by no shard/);
  // K-min: no column block narrower than K
  for (const sh of planShards(5, 23, 10, true, { rowsPerShard: 5, colsPerShard: 3 })) assert.ok(sh.inner[1] - sh.inner[0] >= 10);
  const dir = mkdtempSync(join(tmpdir(), "keops-shards-"));
  try {
    const store = new FolderBlobStore(dir);
    const fn = Vi(0, 2).sub(Vj(1, 2)).sqnorm2().sum({ axis: 1, call: false }) as never;
    await withSeed(async (d) => {
      const run = await prepareRun(bindCall(fn, [d.randn([8, 2]), d.randn([9, 2])]), store, { rowsPerShard: 4, colsPerShard: 5 });
      for (const shard of run.shards.filter((x) => x.index !== 2)) await runShard({ spec: run, shard }, store, undefined);
      await assert.rejects(assemble(run, store), (e: unknown) => e instanceof KeOpsError && /shard 2 \(rows 4–8, columns 0–4\) has no output/.test(e.message));
      // empty sides: no row (no shard at all), no column (shards over an empty range)
      for (const [M, N] of [[0, 5], [6, 0]]) {
        const args = [d.randn([M, 2]), d.randn([N, 2])];
        const { out } = await distributed(fn, args, store, 4, 5);
        same(out, (fn as (...a: Tensor[]) => Tensor)(...args), `M=${M} N=${N}`, 0);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the Kubernetes flow without Redis: prepareFolderRun → `keops-ts shard` per index → `keops-ts merge` → .npy", { timeout: 120_000 }, async () => {
  const { prepareFolderRun } = await import("../src/distributed/prepare.js");
  const { main } = await import("../src/distributed/cli.js");
  const { execFile } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const dir = mkdtempSync(join(tmpdir(), "keops-k8s-"));
  try {
    await withSeed(async (d) => {
      const x = d.randn([50, 3]), y = d.randn([70, 3]);
      const fn = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().KminArgKmin({ K: 3, axis: 1, call: false }) as never;
      const { manifest, specPath } = await prepareFolderRun(fn, [x, y], dir, { rowsPerShard: 25, colsPerShard: 35 });
      assert.equal(manifest.shards.length, 4);
      // index 0 as a Kubernetes pod runs it: a process, the index from JOB_COMPLETION_INDEX
      await new Promise<void>((res, rej) =>
        execFile(process.execPath, ["--import", "tsx", "src/distributed/bin.ts", "shard", "--spec", specPath], {
          cwd: join(import.meta.dirname, ".."), env: { ...process.env, JOB_COMPLETION_INDEX: "0" },
        }, (e, out, err) => (e ? rej(new Error(`${e.message}\n${out}\n${err}`)) : res())));
      // merging before every shard ran names the first missing one
      const out = join(dir, "result");
      assert.equal(await main(["merge", "--spec", specPath, "--out", out]), 1);
      for (let k = 1; k < 4; k++) assert.equal(await main(["shard", "--spec", specPath, "--index", String(k)]), 0);
      assert.equal(await main(["shard", "--spec", specPath, "--index", "4"]), 1);
      assert.equal(await main(["merge", "--spec", specPath, "--out", out]), 0);
      const [vals, inds] = (fn as unknown as (...a: Tensor[]) => [Tensor, Tensor])(x, y);
      const npy = (f: string) => {
        const b = readFileSync(join(out, f));
        const hlen = b[8]! | (b[9]! << 8);
        return { header: b.subarray(10, 10 + hlen).toString(), body: b.subarray(10 + hlen) };
      };
      const v = npy("values.npy"), i = npy("indices.npy");
      assert.match(v.header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(50, 3\), \} *\n$/);
      assert.match(i.header, /'descr': '<i4'/);
      assert.equal((10 + v.header.length) % 64, 0);
      assertClose(new Float32Array(v.body.buffer.slice(v.body.byteOffset, v.body.byteOffset + v.body.byteLength)), vals.data, { rtol: 0, atol: 0 });
      assertExact(new Int32Array(i.body.buffer.slice(i.body.byteOffset, i.body.byteOffset + i.body.byteLength)), inds.data);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bullmq and ioredis stay out of the core: only src/distributed imports them, and only at run time", async () => {
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const src = join(import.meta.dirname, "../src");
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith(".ts") && files.push(join(d, n));
  };
  walk(src);
  const bad: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const staticValue = /^\s*import\s+(?!type\b)[^;]*from\s+"(bullmq|ioredis)"/m.test(text);
    const any = /from\s+"(bullmq|ioredis)"|import\("(bullmq|ioredis)"\)/.test(text);
    if (staticValue || (any && !f.includes(`${join("src", "distributed")}`))) bad.push(f);
  }
  assert.deepEqual(bad, []);
  // and the public entry point does not reach src/distributed
  assert.ok(!readFileSync(join(src, "index.ts"), "utf8").includes("distributed"));
});

test("a function carrying block-sparse ranges is refused: ranges index the whole problem, not a shard", () => {
  const r = tensor(new Int32Array([0, 4]), { shape: [1, 2] });
  const ranges = fromMatrix(r, r, [[true]]);
  const f = Vi(0, 2).sub(Vj(1, 2)).sqnorm2().sum({ axis: 1, ranges, call: false }) as unknown as KeOpsFunction<Tensor>;
  const x = randn([4, 2], { seed: 1 });
  assert.throws(() => bindCall(f, [x, x]), (e: Error) => e instanceof KeOpsError && /no block-sparse ranges/.test(e.message));
});
