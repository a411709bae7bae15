// first call of a D = 1000 attention (q, k, v of dim 1000) on native, fresh cache: wall and CPU (this process + compiler children)
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
const root = process.env.ROOT!;
process.env.KEOPS_TS_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "kc-voutred-bench-"));
const { Vi, Vj, Tensor } = await import(`${root}/src/index.js`);
const D = 1000, M = 500, N = 500;
let s = 1; const r = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5);
const mk = (n: number) => new Tensor(Float32Array.from({ length: n * D }, r), [n, D]);
const q = mk(M), k = mk(N), v = mk(N);
const t0 = Date.now();
const out = Vi(q).dot(Vj(k)).mul(1 / Math.sqrt(D)).sumsoftmaxweight(Vj(v), { axis: 1, backend: "native" });
const wall = Date.now() - t0;
const t1 = Date.now();
Vi(q).dot(Vj(k)).mul(1 / Math.sqrt(D)).sumsoftmaxweight(Vj(v), { axis: 1, backend: "native" });
const second = Date.now() - t1;
fs.rmSync(process.env.KEOPS_TS_CACHE!, { recursive: true, force: true });
console.log(JSON.stringify({ root, wall_ms: wall, second_call_ms: second, checksum: Array.from(out.data.slice(0, 3)) }));
