/** Dense tensors and their constructors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, Tensor, lastSeed, ones, rand, randn, tensor, zeros } from "../src/index.js";

test("tensor() from nested arrays, typed arrays and numbers", () => {
  const t = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual([...t.shape], [2, 3]);
  assert.equal(t.dtype, "float32");
  assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const u = tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] });
  assert.equal(u.dtype, "float64");
  assert.deepEqual(u.reshape([4]).toArray(), [1, 2, 3, 4]);
  assert.equal(u.reshape([-1, 1]).shape[0], 4);
  assert.deepEqual(tensor(2.5).toArray(), 2.5);
  assert.equal(tensor([1, 2], { dtype: "int32" }).dtype, "int32");
  assert.deepEqual([...tensor([[]]).shape], [1, 0]);
});

test("reshape shares data; astype copies", () => {
  const t = tensor([1, 2, 3, 4]);
  const r = t.reshape([2, 2]);
  r.data[0] = 9;
  assert.equal(t.data[0], 9);
  const c = t.astype("float64");
  c.data[1] = 7;
  assert.equal(t.data[1], 2);
});

test("zeros, ones, rand, randn (seeded, reproducible)", () => {
  assert.ok(zeros([2, 3]).data.every((v) => v === 0));
  assert.ok(ones([4], { dtype: "float64" }).data.every((v) => v === 1));
  const a = randn([1000], { seed: 42, dtype: "float64" });
  assert.equal(lastSeed(), 42);
  const b = randn([1000], { seed: 42, dtype: "float64" });
  assert.deepEqual([...a.data], [...b.data]);
  const vals = [...a.data];
  const mean = vals.reduce((s, v) => s + v, 0) / 1000;
  const varr = vals.reduce((s, v) => s + (v - mean) ** 2, 0) / 1000;
  assert.ok(Math.abs(mean) < 0.15 && Math.abs(varr - 1) < 0.15, `mean ${mean} var ${varr}`);
  const u = rand([1000], { seed: 1 });
  assert.ok(u.data.every((v) => v >= 0 && v < 1));
  assert.notDeepEqual([...rand([5]).data], [...rand([5]).data]);
});

test("bad input raises KeOpsError naming the argument", () => {
  assert.throws(() => new Tensor(new Float32Array(5), [2, 3]), (e: Error) => e instanceof KeOpsError && /data: expected 6 elements/.test(e.message));
  assert.throws(() => tensor([[1, 2], [3]]), (e: Error) => e instanceof KeOpsError && /values/.test(e.message));
  assert.throws(() => tensor([1, 2, 3]).reshape([2, 2]), (e: Error) => e instanceof KeOpsError && /shape/.test(e.message));
  assert.throws(() => zeros([2, -1]), (e: Error) => e instanceof KeOpsError && /shape/.test(e.message));
  assert.throws(() => tensor(["a" as never]), KeOpsError);
});
