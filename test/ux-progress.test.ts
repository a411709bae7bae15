/**
 * Long work: `onProgress` and `signal` on every backend, for reductions, KeOpsFunction calls and
 * solve. A watched run goes in row chunks above the backends; its results equal the unwatched run's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsAbortError, KeOpsError, LazyTensor, Vi, Vj, type BackendName, type Progress, type Tensor } from "../src/index.js";
import { REPORT_GAP, setChunking } from "../src/lazy/progress.js";
import { assertClose, assertExact, testTargets, webgpuAbsent, withSeed, type Target } from "./util.js";
import { reference } from "./reference.js";

/** Every backend: the blocking ones called blocking, webgpu with `async: true`. */
const targets = await testTargets();
/** The options that run a call on target `t`. */
const on = (t: Target): { backend: BackendName; async?: true } => ({ backend: t.backend as BackendName, ...(t.async ? { async: true as const } : {}) });
const label = (t: Target): string => `${t.backend}${t.async ? " (async)" : ""}`;

function isAbort(e: unknown): boolean {
  assert.ok(e instanceof KeOpsError && e instanceof KeOpsAbortError, `expected an AbortError KeOpsError, got ${String(e)}`);
  assert.equal(e.name, "AbortError");
  return true;
}

/** Checks the contract of a sequence of progress calls. */
function checkCalls(calls: { p: Progress; t: number }[]): void {
  assert.ok(calls.length >= 1, "onProgress was never called");
  for (let k = 1; k < calls.length; k++) {
    assert.ok(calls[k]!.p.fraction >= calls[k - 1]!.p.fraction, `fraction decreased: ${calls[k - 1]!.p.fraction} → ${calls[k]!.p.fraction}`);
    if (k < calls.length - 1) assert.ok(calls[k]!.t - calls[k - 1]!.t >= REPORT_GAP * 1000 - 5, "more than a few calls per second");
  }
  const last = calls[calls.length - 1]!.p;
  assert.equal(last.fraction, 1);
  assert.equal(last.secondsLeft, 0);
  assert.ok(last.pairsPerSecond >= 0 && Number.isFinite(last.pairsPerSecond));
}

const recorder = (): { calls: { p: Progress; t: number }[]; onProgress: (p: Progress) => void } => {
  const calls: { p: Progress; t: number }[] = [];
  return { calls, onProgress: (p) => calls.push({ p, t: performance.now() }) };
};

for (const t of targets)
  test(`${label(t)}: a watched run in tiny chunks (row ranges, batch groups, two outputs) equals the plain run and the reference`, () =>
    withSeed(async (d) => {
      const { backend } = on(t);
      // webgpu: chunks of a few rows (each chunk is a GPU run and a read-back)
      const old = setChunking(t.async ? { firstPairs: 2000, seconds: 1e-3 } : { firstPairs: 40, seconds: 1e-5 });
      try {
        for (const [B, M, N] of [[1, 0, 5], [1, 1, 1], [1, 257, 70], [3, 7, 64], [4, 1, 9]] as const) {
          const x = d.randn([B, M, 1, 3]), y = d.randn([B, 1, N, 3]), b = d.randn([B, 1, N, 2]);
          const D2 = new LazyTensor(x).sub(new LazyTensor(y)).sqnorm2();
          const K = D2.neg().exp().mul(new LazyTensor(b));
          const plain = (await K.sum({ axis: 2, ...on(t) })) as Tensor;
          const r = recorder();
          const watched = (await K.sum({ axis: 2, ...on(t), onProgress: r.onProgress })) as Tensor;
          assert.deepEqual(watched.shape, [B, M, 2]);
          assertExact(watched.data, plain.data, `sum B=${B} M=${M} N=${N}`);
          const f = K.sum({ axis: 2, call: false });
          assertClose(watched.data, reference(f).values!, { rtol: 1e-5, what: `sum B=${B} M=${M} N=${N}` });
          checkCalls(r.calls);
          if (N >= 2) {
            const [v0, i0] = (await D2.KminArgKmin({ K: 2, axis: 2, ...on(t) })) as [Tensor, Tensor];
            const [v1, i1] = (await D2.KminArgKmin({ K: 2, axis: 2, backend, async: true, signal: new AbortController().signal })) as [Tensor, Tensor];
            assertExact(v1.data, v0.data, "Kmin values");
            assertExact(i1.data, i0.data, "argKmin indices");
            const [w0] = (await D2.minArgmin({ axis: 1, ...on(t) })) as [Tensor, Tensor];
            const [w1] = (await D2.minArgmin({ axis: 1, ...on(t), onProgress: () => {} })) as [Tensor, Tensor];
            assertExact(w1.data, w0.data, "min over i");
          }
        }
      } finally {
        setChunking(old);
      }
    }));

for (const tg of targets)
  test(`${label(tg)}: abort stops a long async run within a second; later calls are unaffected`, () =>
    withSeed(async (d) => {
      const { backend } = on(tg);
      // size the run to take ≥ 1.5 s on this backend, from a measured rate
      const small = 2000;
      const xs = d.randn([small, 3]);
      const K0 = Vi(xs).sub(Vj(xs)).sqnorm2().neg().exp();
      await K0.sum({ axis: 1, ...on(tg) });
      let t = performance.now();
      await K0.sum({ axis: 1, ...on(tg) });
      const rate = (small * small) / Math.max(1e-4, (performance.now() - t) / 1000);
      const n = Math.min(400_000, Math.ceil(Math.sqrt(rate * 1.5)));
      const x = d.randn([n, 3]);
      const K = Vi(x).sub(Vj(x)).sqnorm2().neg().exp();
      const ac = new AbortController();
      const r = recorder();
      t = performance.now();
      const run = K.sum({ axis: 1, backend, async: true, signal: ac.signal, onProgress: r.onProgress }) as Promise<Tensor>;
      let abortedAt = 0;
      setTimeout(() => {
        abortedAt = performance.now();
        ac.abort();
      }, 300);
      await assert.rejects(run, isAbort);
      const late = performance.now() - abortedAt;
      // "within about a second": the chunk under way finishes (0.2–0.6 s of work), on a shared machine
      assert.ok(late < 1500, `stopped ${late.toFixed(0)} ms after the abort`);
      for (const c of r.calls) assert.ok(c.p.fraction < 1, "a run aborted part-way reported completion");
      // later calls: same kernel, a result equal to the plain one
      const after = (await K0.sum({ axis: 1, backend, async: true })) as Tensor;
      assertExact(after.data, ((await K0.sum({ axis: 1, ...on(tg) })) as Tensor).data, "a later call");
    }));

test("blocking runs: a signal aborted before the call, or from inside onProgress, stops them", () =>
  withSeed(async (d) => {
    const old = setChunking({ firstPairs: 100, seconds: 1e-5 });
    try {
      const x = d.randn([300, 3]);
      const K = Vi(x).sub(Vj(x)).sqnorm2().neg().exp();
      const ac = new AbortController();
      ac.abort(new Error("user stop"));
      assert.throws(() => K.sum({ axis: 1, signal: ac.signal }), (e) => isAbort(e) && /user stop/.test((e as Error).message));
      await assert.rejects(K.sum({ axis: 1, async: true, signal: ac.signal }) as Promise<Tensor>, isAbort);
      const ac2 = new AbortController();
      let calls = 0;
      assert.throws(() => K.sum({ axis: 1, signal: ac2.signal, onProgress: () => (calls++, ac2.abort()) }), isAbort);
      assert.equal(calls, 1);
      // a KeOpsFunction: options at the call (and those given when it was made)
      const f = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg().exp().sum({ axis: 1 });
      assert.throws(() => f(x, x, { signal: ac.signal }), isAbort);
      const r = recorder();
      const a = f(x, x, { onProgress: r.onProgress }) as Tensor;
      assertExact(a.data, (K.sum({ axis: 1 }) as Tensor).data, "KeOpsFunction call");
      checkCalls(r.calls);
      const g = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().sum({ axis: 1, signal: ac.signal });
      await assert.rejects(g.callAsync(x, x), isAbort);
    } finally {
      setChunking(old);
    }
  }));

test("solve: progress per conjugate-gradient iteration ending at 1; an abort stops it, blocking and async", () =>
  withSeed(async (d) => {
    const x = d.randn([400, 2]), b = d.randn([400, 1]);
    const K = Vi(x).sub(Vj(x)).sqnorm2().mul(-2).exp();
    const r = recorder();
    const plain = K.solve(b, { alpha: 0.5 }) as Tensor;
    const a = K.solve(b, { alpha: 0.5, onProgress: r.onProgress }) as Tensor;
    assertExact(a.data, plain.data, "solve");
    checkCalls(r.calls);
    const ac = new AbortController();
    let iterations = 0;
    assert.throws(() => K.solve(b, { alpha: 0.5, signal: ac.signal, onIteration: (it) => (iterations = it) === 2 && ac.abort() }), isAbort);
    assert.equal(iterations, 2);
    const ac2 = new AbortController();
    await assert.rejects(K.solve(b, { alpha: 0.5, async: true, signal: ac2.signal, onIteration: () => ac2.abort() }) as Promise<Tensor>, isAbort);
    const again = (await K.solve(b, { alpha: 0.5, async: true })) as Tensor;
    assertExact(again.data, plain.data, "solve after an abort");
  }));

test("solve on webgpu (async): progress per iteration ending at 1, an abort part-way rejects with the AbortError", async (t) => {
  const absent = await webgpuAbsent();
  if (absent !== null) return t.skip(`webgpu: ${absent}`);
  await withSeed(async (d) => {
    const x = d.randn([300, 2]), b = d.randn([300, 1]);
    const K = Vi(x).sub(Vj(x)).sqnorm2().mul(-2).exp();
    const gpu = { alpha: 0.5, backend: "webgpu" as const, async: true as const };
    const r = recorder();
    const plain = (await K.solve(b, gpu)) as Tensor;
    const a = (await K.solve(b, { ...gpu, onProgress: r.onProgress })) as Tensor;
    assertExact(a.data, plain.data, "solve");
    checkCalls(r.calls);
    const ac = new AbortController();
    let iterations = 0;
    const r2 = recorder();
    await assert.rejects(K.solve(b, { ...gpu, signal: ac.signal, onProgress: r2.onProgress, onIteration: (it) => (iterations = it) === 2 && ac.abort() }) as Promise<Tensor>, isAbort);
    assert.equal(iterations, 2);
    for (const c of r2.calls) assert.ok(c.p.fraction < 1, "an aborted solve reported completion");
    // a gradient (several reductions) stops too
    const f = Vi(0, 2).sub(Vj(1, 2)).sqnorm2().neg().exp().sum({ axis: 1, backend: "webgpu", signal: ac.signal });
    await assert.rejects(f.vjp([x, x], d.randn([300, 1]), { async: true }), isAbort);
  });
});

for (const t of targets)
  test(`${label(t)}: vjp is watched as one run: one progress sequence over its reductions ending at 1 (its own or the function's onProgress), its signal stops it`, () =>
    withSeed(async (d) => {
      const prev = setChunking({ firstPairs: 64, seconds: 1e-4 });
      try {
        const x = d.randn([157, 3]), y = d.randn([203, 3]), w = d.randn([157, 3]);
        // SumSoftMaxWeight's gradient runs three reductions (log-sum-exp, values, the sums)
        const F = Vi(0, 3).sub(Vj(1, 3)).sqnorm2().neg();
        const build = (extra: object) => F.sumsoftmaxweight(Vj(1, 3), { axis: 1, backend: t.backend as BackendName, call: false, ...extra }) as unknown as {
          vjp(a: Tensor[], g: Tensor, o?: object): Tensor[] | Promise<Tensor[]>;
        };
        const vjp = async (f: ReturnType<typeof build>, o: object = {}) => f.vjp([x, y], w, { ...(t.async ? { async: true } : {}), ...o });
        const plain = await vjp(build({}));
        for (const how of ["vjp", "function"] as const) {
          const r = recorder();
          const got = how === "vjp" ? await vjp(build({}), { onProgress: r.onProgress }) : await vjp(build({ onProgress: r.onProgress }));
          // row chunks change nothing on the CPU backends; on webgpu a chunk of few rows may split j
          got.forEach((g, k) =>
            t.async ? assertClose(g.data, plain[k]!.data, { rtol: 1e-5, atol: 1e-6, what: `${how}: argument ${k}` }) : assertExact(g.data, plain[k]!.data, `${how}: argument ${k}`));
          checkCalls(r.calls);
          assert.equal(r.calls.filter((c) => c.p.fraction === 1).length, 1, `${how}: fraction 1 reported ${r.calls.filter((c) => c.p.fraction === 1).length} times`);
        }
        const ac = new AbortController();
        ac.abort(new Error("user stop"));
        await assert.rejects(vjp(build({}), { signal: ac.signal }), (e) => isAbort(e) && /user stop/.test((e as Error).message));
        await assert.rejects(vjp(build({ signal: ac.signal })), isAbort);
        // aborted from inside the progress callback, part-way
        const ac2 = new AbortController();
        const r2 = recorder();
        await assert.rejects(vjp(build({}), { signal: ac2.signal, onProgress: (p: Progress) => (r2.onProgress(p), ac2.abort()) }), isAbort);
        for (const c of r2.calls) assert.ok(c.p.fraction < 1, "an aborted vjp reported completion");
        await assert.rejects(vjp(build({}), { onProgress: 3 }), /KeOpsError: vjp: onProgress: expected a function/);
      } finally {
        setChunking(prev);
      }
    }));
