// @ts-nocheck — imports a temporary worktree of the branch base (see below); not part of the build
// Byte-identity corpus of issue 18 point 6 (vector outputs): renders every program of the corpus with
// the branch base's renderers (a worktree of 7625838 at /tmp/vout-base) and this branch's, and counts.
// Run: git worktree add --detach /tmp/vout-base 7625838; ln -s $PWD/node_modules /tmp/vout-base/; node --import tsx <this file>
// Result (2026-12-01): { same: 7872, differ: 0, looped: 96, skipped: 312 } (skipped: plans the corpus builds wrongly, e.g. weight reductions)
// Renders a corpus of programs with main's renderers and this branch's and counts identical sources.
import { Vi, Vj, Pm } from "/work/wt/vout/src/index.js";
import { plan } from "/work/wt/vout/src/compile/plan.js";
import { reductionByName } from "/work/wt/vout/src/reductions/index.js";
import * as mine from "/work/wt/vout/src/backends/native/render.js";
import * as mineJs from "/work/wt/vout/src/backends/js/render.js";
import * as mineW from "/work/wt/vout/src/backends/wasm/render.js";
import * as mineG from "/work/wt/vout/src/backends/webgpu/render.js";
import * as main from "/tmp/vout-base/src/backends/native/render.js";
import * as mainJs from "/tmp/vout-base/src/backends/js/render.js";
import * as mainW from "/tmp/vout-base/src/backends/wasm/render.js";
import * as mainG from "/tmp/vout-base/src/backends/webgpu/render.js";
const reds = ["Sum", "LogSumExp", "Min", "Max", "ArgMin", "ArgMax", "MinArgMin", "MaxArgMax", "KMin", "ArgKMin", "KMinArgKMin", "SumSoftMaxWeight", "Max_SumShiftExp", "Max_SumShiftExpWeight"];
const cfg = { wg: 64, tile: 64, staged: true, packed: false };
let same = 0, differ = 0, skipped = 0, looped = 0;
for (const D of [1, 3, 63, 64, 65, 200]) {
  const fs: Record<string, any> = {
    gauss: Vi(0, 3).sub(Vj(1, 3)).sqnorm2().mul(-1).exp().mul(Vj(2, D)),
    bx: Vj(2, D).mul(Vi(0, D)),
    expxy: Vi(0, D).sub(Vj(1, D)).mul(0.01).exp(),
    sqd: Vi(0, D).sub(Vj(1, D)).sqnorm2(),
    concat: Vi(0, D).concat(Vj(1, D).exp()),
    pm: Pm(3, D).mul(Vj(1, D)).sum().mul(Vj(2, D)),
  };
  for (const [name, f] of Object.entries(fs))
    for (const red of reds)
      for (const scheme of ["direct_sum", "block_sum", "kahan_scheme"] as const)
        for (const dtype of ["float32", "float64"] as const)
          for (const axis of [0, 1] as const) {
            if (scheme !== "block_sum" && red !== "Sum") continue;
            let p;
            try {
              const r = reductionByName(red)!;
              const f2 = red.endsWith("Weight") ? Vj(1, 1).exp() : undefined;
              p = plan({ formula: (red.endsWith("Weight") ? f.sum() : f).node, formula2: f2?.node, reduction: r, axis, K: 3, scheme, dtype, accDtype: dtype } as any).program;
            } catch { skipped++; continue; }
            const pairs: [() => string, () => string][] = [
              [() => mine.renderNative(p).source, () => main.renderNative(p).source],
              [() => mineJs.renderJs(p), () => mainJs.renderJs(p)],
              [() => Buffer.from(mineW.renderWasm(p, false).bytes).toString("hex"), () => Buffer.from(mainW.renderWasm(p, false).bytes).toString("hex")],
              [() => mineG.renderWgsl(p, cfg, "direct"), () => mainG.renderWgsl(p, cfg, "direct")],
            ];
            for (const [k, [a, b]] of pairs.entries()) {
              let x, y;
              try { x = a(); y = b(); } catch (e) { skipped++; continue; }
              if (x === y) same++;
              else if (k === 0 && /totL/.test(x)) looped++;
              else { differ++; console.log("DIFFER", name, D, red, scheme, dtype, axis, k); }
            }
          }
}
console.log({ same, differ, looped, skipped });
