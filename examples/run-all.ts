/** `npm run demo`: the tutorials, on the default backend. */
import { existsSync } from "node:fs";
import { backendInfo } from "../src/index.js";

const parts: [string, string][] = [
  ["Tutorial 1 — Fancy reductions", "./tutorial1.ts"],
  ["Tutorial 1 — Solving linear systems", "./solve.ts"],
  ["Tutorial 2 — Vi, Vj, Pm helpers and symbolic variables", "./tutorial2.ts"],
];

console.log(`keops-ts demo — default backend: ${backendInfo().auto}\n`);
for (const [title, file] of parts) {
  if (!existsSync(new URL(file, import.meta.url))) continue;
  console.log(`===== ${title} =====`);
  const mod = (await import(file)) as { main: () => unknown };
  await mod.main();
  console.log();
}
