// First-call CPU time (render + compile + run) of a D-dim vector output in a fresh process.
const ROOT = process.env.ROOT!;
const { Vi, Vj, randn } = await import(ROOT + "/src/index.js");
const D = Number(process.env.D ?? 1000), M = 100, N = 100;
const backend = process.env.BK!;
const shape = process.env.SHAPE ?? "gauss";
const x = randn([M, 3], { seed: 0 }), y = randn([N, 3], { seed: 1 }), b = randn([N, D], { seed: 2 }), xd = randn([M, D], { seed: 3 });
const f = shape === "gauss" ? Vi(x).sub(Vj(y)).sqnorm2().mul(-1).exp().mul(Vj(b)) : Vj(b).mul(Vi(xd));
const c0 = process.cpuUsage(), t0 = performance.now();
let r: any;
try { r = f.sum({ axis: 1, backend }); } catch (e) { console.log(JSON.stringify({ backend, D, shape, error: String((e as Error).message).slice(0, 120) })); process.exit(0); }
const c1 = process.cpuUsage(c0), t1 = performance.now();
const c2 = process.cpuUsage();
f.sum({ axis: 1, backend });
const c3 = process.cpuUsage(c2);
console.log(JSON.stringify({ backend, D, shape, M, N, firstCpuMs: Math.round((c1.user + c1.system) / 1000), firstWallMs: Math.round(t1 - t0), secondCpuMs: Math.round((c3.user + c3.system) / 1000), out: r.shape }));
