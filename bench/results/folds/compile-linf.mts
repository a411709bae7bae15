// One native compile (bench/results/folds: compile-linf-d1000.json) of a D = 1000 L∞ nearest-neighbour kernel (Min over j of Max_k |x−y|), loops on or off (argv[2] = "off").
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
if (process.argv[2] === "off") process.env.KEOPS_TS_LOOP_MIN = "1000000000";
process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "kc-folds-compile-"));
const { Vi, Vj, randn } = await import("../../../src/index.ts") as any;
const { Rng } = await import("../../../src/random.ts") as any;
const D = 1000;
const mk = (n: number) => { const r = new Rng(1); const a = new Float32Array(n * D); for (let k = 0; k < a.length; k++) a[k] = r.normal(); return a; };
const { tensor } = await import("../../../src/tensor.ts") as any;
const x = tensor(mk(5), { shape: [5, D] }), y = tensor(mk(9), { shape: [9, D] });
const t0 = Date.now();
const r = Vi(x).sub(Vj(y)).abs().max().min({ axis: 1, backend: "native" });
console.log(`loops ${process.argv[2] ?? "on"}: ${Date.now() - t0} ms wall, result[0] ${r.data[0]}`);
fs.rmSync(process.env.KEOPS_TS_CACHE!, { recursive: true, force: true });
