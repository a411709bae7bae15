// One native compile (bench/results/folds: compile-linf-d1000.json): a D = 1000 L∞ nearest-neighbour
// kernel (Min over j of Max_k |x_ik − y_jk|), loops on, or off with argv[2] = "off".
// Run as: bash -c 'time node --import tsx bench/results/folds/compile-linf.mts on|off'
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
if (process.argv[2] === "off") process.env.KEOPS_TS_LOOP_MIN = "1000000000";
process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "kc-folds-compile-"));
const { Vi, Vj, tensor } = await import("../../../src/index.js");
const { Rng } = await import("../../../src/random.js");
const D = 1000;
const mk = (n: number): Float32Array => {
  const r = new Rng(1);
  const a = new Float32Array(n * D);
  for (let k = 0; k < a.length; k++) a[k] = r.normal();
  return a;
};
const x = tensor(mk(5), { shape: [5, D] }), y = tensor(mk(9), { shape: [9, D] });
const t0 = Date.now();
const r = Vi(x).sub(Vj(y)).abs().max().min({ axis: 1, backend: "native" }) as { data: ArrayLike<number> };
console.log(`loops ${process.argv[2] ?? "on"}: ${Date.now() - t0} ms wall, result[0] ${r.data[0]}`);
fs.rmSync(process.env.KEOPS_TS_CACHE, { recursive: true, force: true });
