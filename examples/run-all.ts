/**
 * `npm run demo`: the two KeOps tutorials in keops-ts, then what the library is for: a Gaussian
 * kernel sum over more points than a dense matrix could hold, sized to run in ~15 s here.
 */
import { existsSync } from "node:fs";
import { backendInfo } from "keops-ts";

const parts: [string, string, () => Promise<unknown>][] = [
  ["Tutorial 1 — Fancy reductions", "./tutorial1.ts", async () => (await import("./tutorial1.js")).main()],
  ["Tutorial 1 — Solving linear systems", "./solve.ts", async () => (await import("./solve.js")).main()],
  ["Tutorial 2 — Vi, Vj, Pm helpers and symbolic variables", "./tutorial2.ts", async () => (await import("./tutorial2.js")).main()],
  ["A large problem — 2-D Gaussian kernel density", "./large.ts", async () => (await import("./large.js")).main({ seconds: 15 })],
];

const info = backendInfo();
console.log(`keops-ts demo — default backend: ${info.auto} (available: ${info.backends.filter((b) => b.unavailable === null).map((b) => b.name).join(", ")})\n`);
for (const [title, file, run] of parts) {
  if (!existsSync(new URL(file, import.meta.url))) continue;
  console.log(`===== ${title} =====`);
  const t = performance.now();
  await run();
  console.log(`(${title.split(" — ")[0]}: ${((performance.now() - t) / 1000).toFixed(1)} s)\n`);
}
