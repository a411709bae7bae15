// writes the native source and flags of the D = 1000 attention (float32) rendered by ROOT's code
import fs from "node:fs";
const root = process.env.ROOT!;
const { Vi, Vj } = await import(`${root}/src/index.js`);
const { plan } = await import(`${root}/src/compile/plan.js`);
const { reductionByName } = await import(`${root}/src/reductions/index.js`);
const { renderNative } = await import(`${root}/src/backends/native/render.js`);
const native = await import(`${root}/src/backends/native/index.js`);
const D = 1000;
const f = Vi(0, D).dot(Vj(1, D)).mul(1 / Math.sqrt(D)), g = Vj(2, D);
const p = plan({ formula: f.node, formula2: g.node, reduction: reductionByName("SumSoftMaxWeight")!, axis: 1, K: 1, scheme: "block_sum", dtype: "float32", accDtype: "float32" }).program;
fs.writeFileSync(process.env.OUT!, renderNative(p).source);
console.log(native.nativeBackend.declines(p));
