/**
 * Errors where the user makes them (issue 20): a reduction's demands on its formulas are checked
 * at the method call (weighted logsumexp, sumsoftmaxweight: also with call: false and in genred);
 * parse errors carry `position` and `formula` as fields; and every `internal:` error of src/ is
 * listed here with the guard that keeps it unreachable from the public API, each guard exercised
 * (a new `internal:` site fails this test until it is listed with its guard).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { KeOpsError, KeOpsParseError, LazyTensor, Vi, Vj, Pm, genred, randn, type Tensor } from "../src/index.js";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");

const isKeOps = (re: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof KeOpsError, `expected a KeOpsError, got ${String(e)}`);
  assert.doesNotMatch(e.message, /internal:/);
  assert.match(e.message, re);
  return true;
};

test("a weighted logsumexp or sumsoftmaxweight of a vector formula is a KeOpsError at the method call (call: false and genred too)", () => {
  const x = randn([5, 3]), y = randn([6, 3]), b = randn([6, 2]);
  const F = Vi(x).sub(Vj(y));
  const here = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => {
      isKeOps(re)(e);
      // raised by the call itself: planning (src/compile) is not on the stack
      assert.doesNotMatch((e as Error).stack ?? "", /compile[/\\]plan/);
      return true;
    });
  };
  here(() => F.logsumexp({ axis: 1, weight: Vj(b) }), /logsumexp: with a weight, expected a scalar formula, got dimension 3/);
  here(() => F.logsumexp({ axis: 1, weight: Vj(b), call: false }), /expected a scalar formula, got dimension 3/);
  here(() => F.logsumexp({ axis: 1, weight: Vj(b), async: true }), /expected a scalar formula, got dimension 3/);
  here(() => F.sumsoftmaxweight(Vj(b), { axis: 1 }), /sumsoftmaxweight: expected a scalar formula, got dimension 3/);
  here(() => genred("x - y", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], { reductionOp: "LogSumExp", formula2: "b", axis: 1 }), /expected a scalar formula/);
  // the scalar case works
  assert.deepEqual((F.sqnorm2().logsumexp({ axis: 1, weight: Vj(b) }) as Tensor).shape, [5, 2]);
});

test("KeOpsParseError: a KeOpsError with the 0-based position and the formula as fields", () => {
  const cases: [() => unknown, number, string][] = [
    [() => genred("Exp(x", ["x = Vi(3)"], { axis: 1 }), 5, "Exp(x"],
    [() => genred("x + Foo(x)", ["x = Vi(3)"], { axis: 1 }), 4, "x + Foo(x)"],
    [() => genred("x", ["x = Vk(3)"], { axis: 1 }), 4, "x = Vk(3)"],
  ];
  for (const [f, position, formula] of cases)
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof KeOpsParseError, String(e));
      assert.ok(e instanceof KeOpsError);
      assert.equal(e.name, "KeOpsParseError");
      assert.equal(e.position, position);
      assert.equal(e.formula, formula);
      assert.match(e.message, new RegExp(`at position ${position}\\n`));
      return true;
    });
});

/** Every `internal:` error constructed in src/, as `file: message start`. */
function internalSites(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (f.endsWith(".ts"))
        for (const m of fs.readFileSync(f, "utf8").matchAll(/new \w*Error\(\s*[`"']internal: ([^`"'$]{0,60})/g))
          out.push(`${path.relative(src, f).split(path.sep).join("/")}: ${m[1]!.trim()}`);
    }
  };
  walk(src);
  return out.sort();
}

const x = randn([6, 3], { dtype: "float64", seed: 3 }), y = randn([7, 3], { dtype: "float64", seed: 4 });
const s = randn([7, 1], { dtype: "float64", seed: 5 });

/** Each internal error, the guard in front of it, and a public-API walk up to that guard. */
const GUARDS: Record<string, { guard: string; exercise: () => void }> = {
  "lazy/keopsfunction.ts: variable": {
    guard: "the Binder numbers every variable of the formula either as an argument or as fixed data (numberVariables); calls check the argument count first",
    exercise: () => {
      const f = Vi(0, 3).sub(Vj(y)).sqnorm2().sum({ axis: 1, call: false }) as unknown as (...a: unknown[]) => Tensor;
      assert.throws(() => f(), isKeOps(/argument/));
      assert.equal(f(x).shape[0], 6);
    },
  },
  "lazy/bindings.ts: unbound placeholder": {
    guard: "a non-symbolic variable exists only as created with its data (Vi/Vj/Pm of a tensor, a number): its binding travels with it through every combination",
    exercise: () => {
      const a = Vi(x).add(Vj(y).elem(0)).mul(new LazyTensor(0.5)).add(Pm(2, 3));
      assert.equal((a.sum({ axis: 1, call: false }) as unknown as (...t: unknown[]) => Tensor)([1, 2, 3]).shape[0], 6);
    },
  },
  "autodiff/grad.ts: the vjp of": {
    guard: "every op's vjp returns cotangents of its operands' dimensions, broadcast operands included (test/grad-ops.test.ts checks each op by finite differences)",
    exercise: () => void Vi(x).add(Vj(s)).square().sum().grad(Vj(s), Vi(randn([6, 1], { dtype: "float64" }))).sum({ axis: 0 }),
  },
  "autodiff/grad.ts: Diff(": {
    guard: "the inner gradient is linear in its direction w, so the outer gradient w.r.t. w no longer contains w (holds for every op's vjp)",
    exercise: () => void Vi(x).sub(Vj(y)).sqnorm2().exp().diff(Vi(x), Vj(y)).sum({ axis: 1 }),
  },
  "autodiff/grad.ts: the gradT of": {
    guard: "a gradT hook (IfElse, Clamp, ClampInt, ReLU) returns a combination of its branches' gradients, each of the variable's dimension (gradFormula's result)",
    exercise: () => void Vi(x).sub(Vj(y)).ifelse(Vi(x).sqrt(), Vi(x).square()).clamp(0, 2).relu().sum().grad(Vi(x), Vj(s)).sum({ axis: 1 }),
  },
  "formula/node.ts: ": {
    guard: "lowering (compile/lower.ts) substitutes every macro op's expand() before calling lower(): Grad, Diff, GradMatrix, Divergence, Laplacian, ComplexAbs/Angle/Divide, Factorize",
    exercise: () => {
      void Vi(x).sub(Vj(y)).sqnorm2().grad(Vi(x), Vj(s)).sum({ axis: 1 });
      void Vi(x).sub(Vj(y)).sqnorm2().diff(Vi(x), Vi(x)).sum({ axis: 1 });
      void genred("Laplacian(Exp(-SqDist(x,y)),x) + Divergence(x-y,x) + Sum(GradMatrix(x-y,x)) + Factorize(x|y, x|y)", ["x = Vi(3)", "y = Vj(3)"], { axis: 1 })(x, y);
      const z = (LazyTensor as unknown as { complex(a: unknown, b: unknown): { abs(): LazyTensor<false>; angle(): LazyTensor<false>; div(o: unknown): { real: LazyTensor<false> } } }).complex(Vi(x).elem(0), Vj(y).elem(1));
      void z.abs().add(z.angle()).add(z.div(z).real).sum({ axis: 1 });
    },
  },
  "compile/lower.ts: ": {
    guard: "every op lowers to exactly its dimension's values (test/ops.test.ts runs every op at several D; apply() computed the dimension with the same op)",
    exercise: () => void Vi(x).sqdist(Vj(y)).concat(Vi(x).normalize()).sum({ axis: 1 }),
  },
};

test("every internal: error of src/ is listed with its guard, and each guard holds on the public API", () => {
  const sites = internalSites();
  const listed = Object.keys(GUARDS);
  for (const site of sites)
    assert.ok(listed.some((k) => site.startsWith(k)), `an internal: error without a listed guard: ${site}`);
  for (const k of listed) assert.ok(sites.some((site) => site.startsWith(k)), `listed but gone from src/: ${k}`);
  for (const [k, g] of Object.entries(GUARDS)) {
    assert.ok(g.guard.length > 20, k);
    try {
      g.exercise();
    } catch (e) {
      assert.fail(`${k}: the public call next to its guard threw ${String(e)}`);
    }
  }
});
