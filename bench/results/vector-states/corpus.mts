// renders a corpus of programs with the code under ROOT (natively, or with RENDER=js-wasm the JS
// source and the wasm module's bytes, D ∈ {3, 64, 200}); prints name → sha1 of what was rendered
import { createHash } from "node:crypto";
const root = process.env.ROOT!;
const { Vi, Vj } = await import(`${root}/src/index.js`);
const { plan } = await import(`${root}/src/compile/plan.js`);
const { reductionByName, reductionNames } = await import(`${root}/src/reductions/index.js`);
const jsWasm = process.env.RENDER === "js-wasm";
const { renderNative } = await import(`${root}/src/backends/native/render.js`);
const { renderJs } = await import(`${root}/src/backends/js/render.js`);
const { renderWasm } = await import(`${root}/src/backends/wasm/render.js`);
const render = (p: any): string => (jsWasm ? renderJs(p) + "\n" + JSON.stringify(Array.from(renderWasm(p, false).bytes)) : renderNative(p).source);
const out: Record<string, string> = {};
for (const D of jsWasm ? [3, 64, 200] : [1, 3, 63, 64, 200]) {
  const forms: Record<string, [any, any]> = {
    vec: [Vj(2, D).mul(Vi(3, D)), undefined],
    gauss: [Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(-1).exp().mul(Vj(2, D)), undefined],
    scal: [Vi(0, D).dot(Vj(1, D)), Vj(2, D)],
    expd: [Vi(0, D).sub(Vj(1, D)).mul(0.01).exp(), undefined],
    s1: [Vi(0, 3).sub(Vj(1, 3)).sqnorm2(), Vj(2, D)],
  };
  for (const red of [...reductionNames]) for (const [fn, [f, g]] of Object.entries(forms)) for (const axis of [0, 1]) for (const dtype of ["float32", "float64"]) for (const scheme of ["direct_sum", "block_sum", "kahan_scheme"]) {
    const def = reductionByName(red)!;
    const needs2 = def.formula2 === "required";
    if (needs2 && !g) continue;
    const f2 = def.formula2 === "none" ? undefined : g;
    try { def.check({ fdim: f.node.dim, gdim: f2?.node.dim, K: 2 }); } catch { continue; }
    if (def.usesK && D > 64) continue;
    let src: string;
    try {
      src = render(plan({ formula: f.node, formula2: f2?.node, reduction: def, axis, K: 2, scheme, dtype, accDtype: dtype }).program);
    } catch (e) { src = "ERR " + (e as Error).message; }
    out[`${red} ${fn} D=${D} ax${axis} ${dtype} ${scheme}`] = createHash("sha1").update(src).digest("hex");
  }
}
console.log(JSON.stringify(out));
