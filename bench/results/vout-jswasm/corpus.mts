// Renders js and wasm sources for a corpus of programs (ROOT: the checkout; DS, REDS: dimensions and
// reductions); prints one line per program: key, js source hash, wasm module hash + scratch + pad, looped or not.
import { createHash } from "node:crypto";
const ROOT = process.env.ROOT!;
const { Vi, Vj, Pm } = await import(ROOT + "/src/index.js");
const { plan } = await import(ROOT + "/src/compile/plan.js");
const { reductionNames, reductionByName } = await import(ROOT + "/src/reductions/index.js");
const { renderJs } = await import(ROOT + "/src/backends/js/render.js");
const { renderWasm } = await import(ROOT + "/src/backends/wasm/render.js");
const { withLoops, LOOP_MIN_DIM } = await import(ROOT + "/src/compile/loops.js");
const { vectorOutput } = await import(ROOT + "/src/compile/vout.js");
const h = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex").slice(0, 16);
const shapes = (D: number): Record<string, any> => ({
  gauss3b: Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(-1).exp().mul(Vj(2, D)),
  bx: Vj(2, D).mul(Vi(0, D)),
  expdiff: Vi(0, D).sub(Vj(1, D)).mul(0.01).exp(),
  gaussDy: Vi(0, D).sub(Vj(1, D)).sqnorm2().mul(-1 / D).exp().mul(Vj(1, D)),
  sqdist: Vi(0, D).sub(Vj(1, D)).sqnorm2(),
  scal: Vi(0, D).sub(Vj(1, D)).abs().sum(),
  concat: Vi(0, D).concat(Vj(1, D).exp()),
  xminusy: Vi(0, D).sub(Vj(1, D)),
  param: Vi(0, D).mul(Pm(3, D)).add(Vj(1, D)),
});
const out: Record<string, string> = {};
const rec: string[] = [];
for (const D of (process.env.DS ?? "1,3,63,64,65,1000").split(",").map(Number))
  for (const [name, f] of Object.entries(shapes(D)))
    for (const red of (process.env.REDS ? process.env.REDS.split(",") : reductionNames))
      for (const axis of [0, 1] as const)
        for (const dtype of ["float32", "float64"] as const)
          for (const scheme of (red === "Sum" ? ["direct_sum", "block_sum", "kahan_scheme"] : ["block_sum"]) as any[]) {
            const key = `${name}|D${D}|${red}|ax${axis}|${dtype}|${scheme}`;
            let p;
            try {
              const r = reductionByName(red)!;
              p = plan({ formula: f.node, formula2: red.includes("Weight") ? Vj(1, D).node : undefined, reduction: r, axis, K: 3, scheme, dtype, accDtype: dtype }).program;
            } catch (e) { continue; }
            const q = withLoops(p);
            if (vectorOutput(q.body, q.red, q.slots.length, q.loopMin ?? LOOP_MIN_DIM)) rec.push(key);
            let js: string, wa: string;
            try { js = h(renderJs(p)); } catch (e) { js = "ERR " + (e as Error).message.slice(0, 80); }
            try { const r = renderWasm(p, false); wa = h(r.bytes) + " " + r.scratchBytes + " " + r.pad; } catch (e) { wa = "ERR " + (e as Error).message.slice(0, 80); }
            out[key + "|js"] = js; out[key + "|wasm"] = wa;
            process.stdout.write(`${key}\t${js}\t${wa}\t${rec.at(-1) === key ? "looped" : "-"}\n`);
          }

