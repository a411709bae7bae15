/**
 * The import structure reads one way: no cycles inside src/ (type imports included), and the
 * layers import only downwards: the SSA IR (src/ir) below the formula layer and the reductions,
 * planning (src/compile) above them, backends seeing only the lowered program.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Relative imports (value and type) of every source file, as paths relative to src/. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources(SRC)) {
    const text = readFileSync(f, "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g))
      deps.push(relative(SRC, resolve(dirname(f), m[1]!)).replace(/\.js$/, ".ts"));
    for (const m of text.matchAll(/import\("(\.[^"]+)"\)/g)) deps.push(relative(SRC, resolve(dirname(f), m[1]!)).replace(/\.js$/, ".ts"));
    g.set(relative(SRC, f), deps);
  }
  return g;
}

test("src/ has no import cycles", () => {
  const g = graph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (v: string, path: string[]): void => {
    if (state.get(v) === "done") return;
    if (state.get(v) === "open") {
      cycles.push([...path.slice(path.indexOf(v)), v].join(" → "));
      return;
    }
    state.set(v, "open");
    for (const w of g.get(v) ?? []) if (g.has(w)) visit(w, [...path, v]);
    state.set(v, "done");
  };
  for (const v of g.keys()) visit(v, []);
  assert.deepEqual(cycles, []);
});

test("layers import only downwards", () => {
  const g = graph();
  /** What each layer may not import (by folder prefix). */
  const forbidden: Record<string, string[]> = {
    "ir/": ["formula/", "reductions/", "compile/", "backends/", "lazy/", "solve/", "autodiff/", "adapters/"],
    "formula/": ["compile/", "backends/", "lazy/", "solve/", "reductions/", "adapters/"],
    "reductions/": ["formula/", "compile/", "backends/", "lazy/", "solve/", "adapters/"],
    "compile/": ["backends/", "lazy/", "solve/", "adapters/"],
    "backends/": ["formula/", "lazy/", "solve/", "autodiff/", "adapters/"],
  };
  const bad: string[] = [];
  for (const [file, deps] of g) {
    for (const [layer, no] of Object.entries(forbidden)) {
      if (!file.startsWith(layer)) continue;
      for (const d of deps) if (no.some((n) => d.startsWith(n))) bad.push(`${file} imports ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});
