// `npm run example -- NAME [args]`: runs examples/NAME.ts alone (through tsx, which maps the
// package's own name "keops-ts" to src/ with tsconfig.json's paths). Without NAME: the list.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "examples");
const [name, ...args] = process.argv.slice(2);
const names = readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort();
if (!name || !existsSync(join(dir, `${name}.ts`))) {
  if (name) console.error(`no example ${JSON.stringify(name)}`);
  console.error("usage: npm run example -- NAME [args]; the examples:");
  for (const n of names) {
    const doc = /\/\*\*\s*\n?\s*\*?\s*([^\n]*)/.exec(readFileSync(join(dir, `${n}.ts`), "utf8"))?.[1] ?? "";
    console.error(`  ${n.padEnd(10)} ${doc.replace(/\*\/$/, "").trim()}`);
  }
  process.exit(name ? 1 : 0);
}
const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`), ...args], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
