/**
 * The formula-string parser: syntax, precedence, literals, aliases, positioned errors, the round
 * trip (every formula a LazyTensor prints parses back to the same hash-consed node) over every op
 * of the registry, and random strings raising only KeOpsErrors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KeOpsError, LazyTensor, Pm, Vi, Vj, randn, tensor } from "../src/index.js";
import { Var, allOps, apply, opByName, type Formula, type OpDef } from "../src/formula/node.js";
import { add, div, intCst, minus, mul, sub } from "../src/formula/ops/arith.js";
import { exp, pow, powf, square } from "../src/formula/ops/math.js";
import { elem, extract, scalprod, sqnorm2 } from "../src/formula/ops/vector.js";
import { sum } from "../src/formula/ops/inner-sum.js";
import { parseAlias, parseFormula } from "../src/formula/parse.js";
import { kron, tensordot } from "../src/formula/ops/tensor.js";
import { numberVariables } from "../src/lazy/bindings.js";

const x = Var(0, 3, 0), y = Var(1, 3, 1), p = Var(2, 1, 2);
const aliases = new Map<string, Formula>([["x", x], ["y", y], ["p", p]]);
const P = (s: string): Formula => parseFormula(s, { aliases });

function throwsAt(f: () => unknown, pos: number, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KeOpsError, `expected a KeOpsError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.match(e.message, new RegExp(`at position ${pos}\\n`));
    const lines = e.message.split("\n");
    assert.equal(lines[lines.length - 1], `    ${" ".repeat(pos)}^`, "caret under the offending character");
    return true;
  });
}

test("functions by KeOps name, operands then numeric attributes; Var, IntCst, Vi/Vj/Pm", () => {
  assert.equal(parseFormula("Var(0,3,0)"), x);
  assert.equal(parseFormula("Exp(Var(0,3,0))"), exp(x));
  assert.equal(P("Pow(x,3)"), pow(x, 3));
  assert.equal(P("Pow(x, -2)"), pow(x, -2));
  assert.equal(P("Extract(x,0,2)"), extract(x, 0, 2));
  assert.equal(P("Elem(y, 2)"), elem(y, 2));
  assert.equal(P("IntCst(7)"), intCst(7));
  assert.equal(P("IntCst(-7)"), intCst(-7));
  assert.equal(P("SqNorm2(Vi(0,3) - Vj(1,3))"), sqnorm2(sub(x, y)));
  assert.equal(P("Pm(2,1)"), p);
  assert.equal(P("  Sum ( Square ( x ) )  "), sum(square(x)));
});

test("infix operators and precedence as in Python: | below + -, below * /, below unary minus", () => {
  assert.equal(P("x + y * p"), add(x, mul(y, p)));
  assert.equal(P("x * y + p"), add(mul(x, y), p));
  assert.equal(P("x - y - p"), sub(sub(x, y), p));
  assert.equal(P("x / y / p"), div(div(x, y), p));
  assert.equal(P("x - (y - p)"), sub(x, sub(y, p)));
  assert.equal(P("x * y | y"), scalprod(mul(x, y), y));
  assert.equal(P("x | y + y"), scalprod(x, add(y, y)));
  assert.equal(P("-x * y"), mul(minus(x), y));
  assert.equal(P("- -x"), minus(minus(x)));
  assert.equal(P("+x"), x);
  assert.equal(P("((x))"), x);
});

test("literals: integers are IntCst (a leading minus folds in), floats need a constant hook", () => {
  assert.equal(P("2 * x"), mul(intCst(2), x));
  assert.equal(P("-2 * x"), mul(intCst(-2), x));
  assert.equal(P("x - 2"), sub(x, intCst(2)));
  const seen: number[] = [];
  const constant = (v: number): Formula => (seen.push(v), Var(10 + seen.length, 1, 2));
  const f = parseFormula("Exp(-0.5 * x) + 1e-3 + .25", { aliases, constant });
  assert.deepEqual(seen, [-0.5, 1e-3, 0.25]);
  assert.equal(f, add(add(exp(mul(Var(11, 1, 2), x)), Var(12, 1, 2)), Var(13, 1, 2)));
  throwsAt(() => P("x * 0.5"), 4, /a float literal is not valid in a KeOps formula/);
});

test("aliases: Vi/Vj/Pm with (dim) or (ind, dim), and Var(ind,dim,cat)", () => {
  assert.deepEqual(parseAlias("x = Vi(3)"), { name: "x", ind: undefined, dim: 3, cat: 0 });
  assert.deepEqual(parseAlias("y=Vj(1, 4)"), { name: "y", ind: 1, dim: 4, cat: 1 });
  assert.deepEqual(parseAlias(" s = Pm(2) "), { name: "s", ind: undefined, dim: 2, cat: 2 });
  assert.deepEqual(parseAlias("v = Var(5,2,1)"), { name: "v", ind: 5, dim: 2, cat: 1 });
  throwsAt(() => parseAlias("x = Vk(3)"), 4, /expected Vi, Vj, Pm or Var, got "Vk"/);
  throwsAt(() => parseAlias("x = Vi(0, 0)"), 4, /dimension ≥ 1, got 0/);
  throwsAt(() => parseAlias("x Vi(3)"), 2, /expected "=", got "Vi"/);
  throwsAt(() => parseAlias("x = Var(0,3,3)"), 4, /category 0, 1 or 2, got 3/);
  throwsAt(() => parseAlias("x = Vi(3) y"), 10, /unexpected "y"/);
});

test("parse errors: KeOpsError with the position and a caret under the offending character", () => {
  throwsAt(() => P("Exp(x"), 5, /expected "," or "\)", got the end of the text/);
  throwsAt(() => P("Exp(x,)"), 6, /Exp takes 1 operand\(s\), got more arguments/);
  throwsAt(() => P("Pow(x)"), 5, /Pow takes 1 operand\(s\) then 1 number\(s\), got 1 argument/);
  throwsAt(() => P("Foo(x)"), 0, /unknown function "Foo"/);
  throwsAt(() => P("x + z"), 4, /unknown alias "z" \(aliases: x, y, p\)/);
  throwsAt(() => P("x + $"), 4, /unexpected character "\$"/);
  throwsAt(() => P("x y"), 2, /unexpected "y"/);
  throwsAt(() => P("(x + y"), 6, /expected "\)"/);
  throwsAt(() => P(""), 0, /expected a formula, got the end of the text/);
  throwsAt(() => P("x + Var(1,2,1)"), 2, /Add: operands must have the same dimension or dimension 1, got dimensions 3 and 2/);
  throwsAt(() => P("Elem(x, 3)"), 0, /Elem: expected index m to be an integer in \[0, 2\], got 3/);
  throwsAt(() => P("Pow(x, y)"), 7, /expected a number, got "y"/);
  assert.throws(() => parseFormula(3 as never), KeOpsError);
});

// ---- round trip over the registry -------------------------------------------------------------

type L = LazyTensor<boolean>;
/** Leaves: fixed i/j data, a fixed parameter, symbolic variables, an integer, a float. */
const xd = randn([4, 3], { seed: 1 }), yd = randn([5, 3], { seed: 2 });
const leaves: (() => L)[] = [
  () => Vi(xd), () => Vj(yd), () => Pm(tensor([0.5, 2, 3])), () => Vi(0, 3), () => Vj(1, 1), () => Pm(2, 3),
  () => new LazyTensor(3), () => new LazyTensor(0.25), () => Vi(xd).elem(0),
];

/** Every op with operands (Var and IntCst are leaves), as the registry has them now. */
function ops(): OpDef[] {
  return allOps().filter((o) => o.arity > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Builds formulas step by step from choices: each step picks an op, operands among the pool and
 * small integer attributes; combinations the op rejects (a KeOpsError) are skipped.
 */
function buildPool(steps: readonly [number, number, number, number, number][]): L[] {
  const pool = leaves.map((f) => f());
  const all = ops();
  for (const [o, a, b, c, d] of steps) {
    const op = all[o % all.length]!;
    const operands = [a, b, c].slice(0, op.arity).map((k) => pool[k % pool.length]!);
    const attrs = Array.from({ length: op.nattrs }, (_, k) => ((d >> (3 * k)) & 7) - 2);
    try {
      pool.push(operands[0]!.op(op, operands.slice(1), attrs));
    } catch (e) {
      if (!(e instanceof KeOpsError)) throw e;
    }
  }
  return pool;
}

const step = fc.tuple(fc.nat(1000), fc.nat(1000), fc.nat(1000), fc.nat(1000), fc.nat(4095));

test("round trip: every formula a LazyTensor prints parses back to the same node (property)", () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
      for (const l of buildPool(steps)) {
        const text = l.formula;
        const numbered = numberVariables([l.node], l.st.binds).formulas[0]!;
        assert.equal(parseFormula(text), numbered, `round trip of ${text}`);
        assert.equal(parseFormula(text).toString(), text);
      }
    }),
    { numRuns: 150 },
  );
});

test("round trip covers every op of the registry", () => {
  // per op, deterministic tries over operands of the growing pool and small attributes, until
  // the op accepts one; every op of the registry must be reached and round-trip
  const pool = leaves.map((f) => f());
  const missing: string[] = [];
  for (const op of ops()) {
    let built: L | undefined;
    for (let t = 0; t < 400 && !built; t++) {
      const operands = [t, t * 7 + 3, t * 13 + 5].slice(0, op.arity).map((k) => pool[(k + pool.length - 1) % pool.length]!);
      const attrs = Array.from({ length: op.nattrs }, (_, k) => (Math.floor(t / 3 ** k) % 7) - 1);
      try {
        built = operands[0]!.op(op, operands.slice(1), attrs);
      } catch (e) {
        if (!(e instanceof KeOpsError)) throw e;
      }
    }
    // ops that need particular operands (even dimensions for the complex ones): every pair of the pool
    for (let p = 0; p < pool.length && !built && op.arity === 2 && op.nattrs === 0; p++)
      for (let q = 0; q < pool.length && !built; q++) {
        try {
          built = pool[p]!.op(op, [pool[q]!], []);
        } catch (e) {
          if (!(e instanceof KeOpsError)) throw e;
        }
      }
    if (!built) {
      missing.push(op.name);
      continue;
    }
    pool.push(built);
    const text = built.formula;
    const numbered = numberVariables([built.node], built.st.binds).formulas[0]!;
    assert.equal(parseFormula(text), numbered, text);
    let reached = false;
    const visit = (f: Formula): void => {
      if (f.op === op) reached = true;
      f.args.forEach(visit);
    };
    visit(numbered);
    assert.ok(reached, `${op.name}: not in ${text}`);
  }
  assert.deepEqual(missing, [], `ops no operands or attributes could be found for: ${missing.join(", ")}`);
});

test("operators of the registry: each infix op prints and parses as (A op B)", () => {
  for (const op of allOps().filter((o) => o.infix && o.arity === 2 && o.nattrs === 0)) {
    let f: Formula;
    try {
      f = apply(op, [x, Var(1, 3, 1)]);
    } catch (e) {
      if (e instanceof KeOpsError) continue;
      throw e;
    }
    assert.equal(parseFormula(f.toString()), f, op.name);
  }
  assert.ok(opByName("Scalprod")?.infix === "|");
});

test("constants of the registry (ops without operands) print and parse back", () => {
  for (const op of allOps().filter((o) => o.arity === 0 && o.name !== "Var"))
    for (const v of [1, 2, 3, -1]) {
      let f: Formula;
      try {
        f = apply(op, [], Array(op.nattrs).fill(v));
      } catch (e) {
        if (e instanceof KeOpsError) continue;
        throw e;
      }
      assert.equal(parseFormula(f.toString()), f, f.toString());
    }
});

test("random strings raise only KeOpsErrors (property)", () => {
  const tokens = fc.constantFrom(
    "Exp", "Var", "Pow", "Sum", "Extract", "IntCst", "Vi", "Vj", "Pm", "x", "y", "(", ")", ",", "+", "-", "*", "/", "|",
    "=", "0", "1", "3", "2.5", "-", " ", "1e", ".", "Foo", "\n",
  );
  const text = fc.oneof(fc.string({ maxLength: 30 }), fc.array(tokens, { maxLength: 20 }).map((t) => t.join("")));
  fc.assert(
    fc.property(text, (s) => {
      for (const f of [() => P(s), () => parseFormula(s), () => parseAlias(s), () => parseFormula(s, { aliases, constant: () => p })]) {
        try {
          f();
        } catch (e) {
          if (!(e instanceof KeOpsError)) throw new Error(`${JSON.stringify(s)} raised ${String(e)}`);
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("deep nesting is an error, not a stack overflow; long formulas parse in linear time", () => {
  assert.throws(() => P("(".repeat(5000) + "x" + ")".repeat(5000)), (e: unknown) => e instanceof KeOpsError && /nested more than 500 levels/.test(e.message));
  assert.throws(() => P("Exp(".repeat(5000) + "x" + ")".repeat(5000)), (e: unknown) => e instanceof KeOpsError && /nested more than 500 levels/.test(e.message));
  assert.equal(P("Exp(".repeat(400) + "x" + ")".repeat(400)).dim, 3);
  assert.equal(P("-".repeat(5001) + "x").op.name, "Minus");
  assert.equal(P("- - 2"), minus(intCst(-2)));
  const long = Array.from({ length: 20000 }, () => "x").join(" + ");
  assert.equal(P(long).dim, 3);
});

test("TensorDot and Kron with their integer lists round-trip through the parser", () => {
  const a = Var(0, 6, 0), b = Var(1, 12, 1);
  for (const f of [
    tensordot(a, b, { dimsfa: [2, 3], dimsfb: [3, 4], contfa: [1], contfb: [0] }),
    tensordot(a, b, { dimsfa: [2, 3], dimsfb: [3, 4], contfa: [1], contfb: [0], permute: [1, 0] }),
    tensordot(a, b, { dimsfa: [6], dimsfb: [12], contfa: [], contfb: [] }),
    kron(Var(0, 4, 0), Var(1, 6, 1), [2, 2], [2, 3]),
  ])
    assert.equal(parseFormula(String(f)), f, String(f));
  assert.throws(() => parseFormula("TensorDot(Var(0,6,0),Var(1,12,1),[2,3],[3,4],[1])"), /4 or 5 lists[\s\S]*\n    \^/);
  assert.throws(() => parseFormula("Kron(Var(0,4,0),Var(1,6,1),[2,2],[2,3.5])"), /expected an integer in a list, got 3.5 at position 36/);
});

test("`**` as keopscore's __pow__: 2 → Square, 1 → the base, other integers → Pow, anything else → Powf", () => {
  const c = new Map<number, number>();
  const constant = (v: number): Formula => {
    c.set(c.size, v);
    return Var(10 + c.size - 1, 1, 2);
  };
  const Q = (s: string): Formula => parseFormula(s, { aliases, constant });
  assert.equal(P("(x - y)**2"), square(sub(x, y)));
  assert.equal(P("x ** 3"), pow(x, 3));
  assert.equal(P("x**-2"), pow(x, -2));
  assert.equal(P("x**1"), x);
  assert.equal(P("x**0"), pow(x, 0));
  assert.equal(P("x**p"), powf(x, p));
  assert.equal(Q("x**0.5"), powf(x, Var(10, 1, 2)));
  assert.deepEqual([...c.values()], [0.5]);
  assert.equal(Q("x**-0.5"), powf(x, Var(11, 1, 2)));
  assert.equal(c.get(1), -0.5);
  // precedence as in Python: above unary minus on its left and above * /, right-associative
  assert.equal(P("-x**2"), minus(square(x)));
  assert.equal(P("-2**2"), minus(square(intCst(2))));
  assert.equal(P("x*y**2"), mul(x, square(y)));
  assert.equal(P("x**2*y"), mul(square(x), y));
  assert.equal(P("x**p**2"), powf(x, square(p)));
  // what keopscore prints (Square as `**2`, no spaces) parses
  assert.equal(parseFormula("Sum((Var(0,3,0)-Var(1,3,1))**2)"), sum(square(sub(x, y))));
  assert.equal(parseFormula("Exp(-Sum((Var(0,3,0)-Var(1,3,1))**2))*Var(2,1,2)"), mul(exp(minus(sum(square(sub(x, y))))), p));
  // and what we print for the parsed formula parses back to the same node
  for (const s of ["(x - y)**2", "x**3", "x**-2", "x**p", "-x**2 / y**2"]) assert.equal(P(P(s).toString()), P(s), s);
  throwsAt(() => P("x**0.5"), 3, /a float literal is not valid in a KeOps formula/);
  throwsAt(() => P("x**"), 3, /expected a formula, got the end of the text/);
  throwsAt(() => P("x***2"), 3, /expected a formula, got "\*"/);
});

test("a long chain of `**` is an error, not a stack overflow", () => {
  assert.throws(() => P(Array.from({ length: 5000 }, () => "x").join("**")), (e: unknown) => e instanceof KeOpsError && /nested more than 500 levels/.test(e.message));
});
