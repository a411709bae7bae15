/**
 * The formula-string parser: a tokenizer and a recursive-descent parser (never `eval`) for
 * KeOps's formula syntax, generic over the op registry.
 *
 * Grammar (precedence as in Python, which KeOps's own formula strings follow):
 * ```
 * formula  := infix                       (the whole input)
 * infix    := scalprod (OTHER scalprod)*  (any other registered infix symbol, lowest)
 * scalprod := sum ('|' sum)*
 * sum      := product (('+' | '-') product)*
 * product  := unary (('*' | '/') unary)*
 * unary    := ('-' | '+') unary | primary ('**' unary)?   (`**`: right-associative, above a unary minus on its left)
 * primary  := NUMBER | NAME | NAME '(' arguments ')' | '(' infix ')'
 * ```
 * - `NAME(…)` is an op looked up by its KeOps name with {@link opByName}: `arity` formula
 *   operands, then `nattrs` numeric attributes (signed number literals): `Exp(x)`, `Pow(x,3)`,
 *   `Extract(x,0,2)`, `Var(0,3,1)`, `IntCst(7)`. Also `Vi(ind,dim)`, `Vj(ind,dim)`, `Pm(ind,dim)`.
 * - A bare `NAME` is an alias (`x` of `"x = Vi(0, 3)"`).
 * - Infix operators map to `Add`, `Subtract`, `Mult`, `Divide`, `Scalprod`; unary minus to
 *   `Minus`. Every other infix symbol an op registers (`op.infix`) is accepted too, at the
 *   lowest precedence (printed formulas are fully parenthesised, so they parse back the same).
 * - `a ** e` follows keopscore's `__pow__`: an integer exponent n gives `Square(a)` for 2, `a`
 *   itself for 1, `Pow(a,n)` otherwise; any other exponent (a float literal, a formula) gives
 *   `Powf(a,e)`. keopscore prints `Square(a)` as `a**2`.
 * - An integer literal is `IntCst(n)`. A float literal (`0.5`, `1e-3`) is not valid in KeOps;
 *   keops-ts accepts it when the caller provides {@link ParseOptions.constant} (genred does: the
 *   value becomes an extra parameter bound to it, as a float in a LazyTensor expression does).
 *
 * Errors are {@link KeOpsError}s that give the position and a caret under the offending
 * character.
 */
import { KeOpsError, KeOpsParseError } from "../errors.js";
import { Var, VarOp, apply, allOps, opByName, type Cat, type Formula, type OpDef } from "./node.js";

/** Options of {@link parseFormula}. */
export interface ParseOptions {
  /** Aliases by name (`x` → `Var(0,3,0)`). */
  readonly aliases?: ReadonlyMap<string, Formula>;
  /** Maps a float literal to a formula (e.g. a bound parameter); without it, floats are an error. */
  readonly constant?: (value: number) => Formula;
  /** What the text is, for error messages (default `"formula"`). */
  readonly what?: string;
}

type TokKind = "num" | "name" | "op" | "(" | ")" | "," | "[" | "]" | "=" | "end";
interface Token {
  readonly kind: TokKind;
  readonly text: string;
  readonly pos: number;
}

/** Builds the error message: what, position, the text and a caret under `pos`. */
function parseError(what: string, text: string, pos: number, msg: string): KeOpsError {
  const line = text.replace(/[\n\r\t]/g, " ");
  return new KeOpsParseError(`${what}: ${msg} at position ${pos}\n    ${line}\n    ${" ".repeat(pos)}^`, pos, text);
}

/** The infix symbols the registry declares, longest first (so `<=` wins over `<`). */
function infixTable(): Map<string, OpDef> {
  const m = new Map<string, OpDef>();
  for (const op of allOps()) if (op.infix && op.arity === 2 && op.nattrs === 0) m.set(op.infix, op);
  return m;
}

const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s+/y;

/** Matches the sticky regex `re` at `p`; the matched text or undefined. */
function matchAt(re: RegExp, text: string, p: number): string | undefined {
  re.lastIndex = p;
  return re.exec(text)?.[0];
}

/** Splits `text` into tokens; `symbols` are the operator symbols, longest first. */
function tokenize(text: string, symbols: readonly string[], what: string): Token[] {
  const out: Token[] = [];
  let p = 0;
  while (p < text.length) {
    const ch = text[p]!;
    const space = matchAt(SPACE, text, p);
    if (space) {
      p += space.length;
      continue;
    }
    const num = matchAt(NUMBER, text, p);
    if (num) {
      out.push({ kind: "num", text: num, pos: p });
      p += num.length;
      continue;
    }
    const name = matchAt(NAME, text, p);
    if (name) {
      out.push({ kind: "name", text: name, pos: p });
      p += name.length;
      continue;
    }
    if (ch === "(" || ch === ")" || ch === "," || ch === "[" || ch === "]") {
      out.push({ kind: ch, text: ch, pos: p++ });
      continue;
    }
    const sym = symbols.find((s) => text.startsWith(s, p));
    if (sym) {
      out.push({ kind: "op", text: sym, pos: p });
      p += sym.length;
      continue;
    }
    if (ch === "=") {
      out.push({ kind: "=", text: ch, pos: p++ });
      continue;
    }
    throw parseError(what, text, p, `unexpected character ${JSON.stringify(ch)}`);
  }
  out.push({ kind: "end", text: "", pos: text.length });
  return out;
}

/**
 * Deepest nesting accepted (deeper input is an error rather than a stack overflow): each level
 * takes about ten frames of recursive descent, and a cold (not yet optimised) parser overflows
 * Node's default stack near 900 levels.
 */
const MAX_DEPTH = 500;

/** The variable helpers accepted inside formulas and aliases: category by name. */
const HELPERS: Readonly<Record<string, Cat>> = { Vi: 0, Vj: 1, Pm: 2 };

class Parser {
  private k = 0;
  private readonly toks: Token[];
  private readonly infix: Map<string, OpDef>;
  private readonly what: string;

  constructor(
    private readonly text: string,
    private readonly opts: ParseOptions,
  ) {
    this.what = opts.what ?? "formula";
    this.infix = infixTable();
    const symbols = [...new Set([...this.infix.keys(), "**", "+", "-", "*", "/", "|"])].sort((a, b) => b.length - a.length);
    this.toks = tokenize(text, symbols, this.what);
  }

  error(pos: number, msg: string): KeOpsError {
    return parseError(this.what, this.text, pos, msg);
  }
  private peek(): Token {
    return this.toks[this.k]!;
  }
  private next(): Token {
    return this.toks[this.k++]!;
  }
  private describe(t: Token): string {
    return t.kind === "end" ? "the end of the text" : JSON.stringify(t.text);
  }
  private expect(kind: TokKind, what: string): Token {
    const t = this.peek();
    if (t.kind !== kind) throw this.error(t.pos, `expected ${what}, got ${this.describe(t)}`);
    return this.next();
  }
  private isOp(sym: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === sym;
  }

  /** Applies an op, turning dimension errors into positioned errors. */
  private build(op: OpDef, args: Formula[], attrs: number[], pos: number): Formula {
    try {
      if (op === VarOp) return variable(attrs[0]!, attrs[1]!, attrs[2]!, (m) => this.error(pos, m));
      return apply(op, args, attrs);
    } catch (e) {
      if (e instanceof KeOpsError && !e.message.includes("at position")) throw this.error(pos, e.message);
      throw e;
    }
  }

  /** The whole text as one formula. */
  formula(): Formula {
    const f = this.infixLevel();
    const t = this.peek();
    if (t.kind !== "end") throw this.error(t.pos, `unexpected ${this.describe(t)}`);
    return f;
  }

  /** `name = helper(…)` (an alias declaration). */
  alias(): { name: string; ind: number | undefined; dim: number; cat: Cat } {
    const name = this.expect("name", "an alias name");
    this.expect("=", `"="`);
    const fn = this.expect("name", `Vi, Vj, Pm or Var`);
    const nums = this.numberList(fn);
    let ind: number | undefined, dim: number, cat: Cat;
    if (fn.text === "Var") {
      if (nums.length !== 3) throw this.error(fn.pos, `Var takes 3 numbers (ind, dim, cat), got ${nums.length}`);
      [ind, dim] = [nums[0]!, nums[1]!];
      cat = nums[2] as Cat;
    } else if (fn.text in HELPERS) {
      if (nums.length !== 1 && nums.length !== 2)
        throw this.error(fn.pos, `${fn.text} takes (dim) or (ind, dim), got ${nums.length} number(s)`);
      [ind, dim] = nums.length === 2 ? [nums[0]!, nums[1]!] : [undefined, nums[0]!];
      cat = HELPERS[fn.text]!;
    } else throw this.error(fn.pos, `expected Vi, Vj, Pm or Var, got ${JSON.stringify(fn.text)}`);
    const end = this.peek();
    if (end.kind !== "end") throw this.error(end.pos, `unexpected ${this.describe(end)}`);
    // validates ind / dim / cat (the index 0 stands in when it is assigned later)
    variable(ind ?? 0, dim, cat, (m) => this.error(fn.pos, m));
    return { name: name.text, ind, dim, cat };
  }

  /** `( number, number, … )` after a name. */
  private numberList(fn: Token): number[] {
    this.expect("(", `"(" after ${fn.text}`);
    const out: number[] = [];
    if (this.peek().kind !== ")") {
      out.push(this.signedNumber());
      while (this.peek().kind === ",") (this.next(), out.push(this.signedNumber()));
    }
    this.expect(")", `"," or ")"`);
    return out;
  }

  /** `[n, m, …]`: a list of integers (TensorDot's and Kron's attributes). */
  private intList(): number[] {
    this.expect("[", `"["`);
    const out: number[] = [];
    if (this.peek().kind !== "]") {
      for (;;) {
        const pos = this.peek().pos;
        const v = this.signedNumber();
        if (!Number.isSafeInteger(v)) throw this.error(pos, `expected an integer in a list, got ${v}`);
        out.push(v);
        if (this.peek().kind !== ",") break;
        this.next();
      }
    }
    this.expect("]", `"," or "]"`);
    return out;
  }

  private signedNumber(): number {
    let sign = 1;
    while (this.isOp("-") || this.isOp("+")) if (this.next().text === "-") sign = -sign;
    const t = this.expect("num", "a number");
    return sign * Number(t.text);
  }

  private depth = 0;

  private infixLevel(): Formula {
    if (++this.depth > MAX_DEPTH) throw this.error(this.peek().pos, `formula nested more than ${MAX_DEPTH} levels deep`);
    try {
      return this.infixChain();
    } finally {
      this.depth--;
    }
  }

  private infixChain(): Formula {
    let a = this.scalprod();
    for (;;) {
      const t = this.peek();
      const op = t.kind === "op" ? this.infix.get(t.text) : undefined;
      if (!op || ["+", "-", "*", "/", "|", "**"].includes(t.text)) return a;
      this.next();
      a = this.build(op, [a, this.scalprod()], [], t.pos);
    }
  }

  private scalprod(): Formula {
    let a = this.sum();
    while (this.isOp("|")) {
      const t = this.next();
      a = this.build(named("Scalprod"), [a, this.sum()], [], t.pos);
    }
    return a;
  }

  private sum(): Formula {
    let a = this.product();
    while (this.isOp("+") || this.isOp("-")) {
      const t = this.next();
      a = this.build(named(t.text === "+" ? "Add" : "Subtract"), [a, this.product()], [], t.pos);
    }
    return a;
  }

  private product(): Formula {
    let a = this.unary();
    while (this.isOp("*") || this.isOp("/")) {
      const t = this.next();
      a = this.build(named(t.text === "*" ? "Mult" : "Divide"), [a, this.unary()], [], t.pos);
    }
    return a;
  }

  private unary(): Formula {
    // kept small: the nesting of parentheses recurses through this frame
    if (this.isOp("-") || this.isOp("+")) return this.signed();
    const f = this.primary();
    return this.isOp("**") ? this.power(f) : f;
  }

  /** Leading signs, then the operand. */
  private signed(): Formula {
    const minus: Token[] = [];
    while (this.isOp("-") || this.isOp("+")) {
      const t = this.next();
      if (t.text === "-") minus.push(t);
    }
    let f: Formula;
    // `-2` and `-0.5` are negative literals (as Python folds them), not Minus(literal); but
    // `-2**2` is −(2**2), as in Python
    const after = this.toks[this.k + 1];
    if (minus.length && this.peek().kind === "num" && !(after?.kind === "op" && after.text === "**"))
      f = this.literal(this.next(), -1), minus.pop();
    else {
      f = this.primary();
      if (this.isOp("**")) f = this.power(f);
    }
    for (let k = minus.length - 1; k >= 0; k--) f = this.build(named("Minus"), [f], [], minus[k]!.pos);
    return f;
  }

  /** `base ** unary`, as keopscore's `__pow__` builds it (the `**` is the next token). */
  private power(base: Formula): Formula {
    const t = this.next();
    if (++this.depth > MAX_DEPTH) throw this.error(t.pos, `formula nested more than ${MAX_DEPTH} levels deep`);
    let e: Formula;
    try {
      e = this.unary();
    } finally {
      this.depth--;
    }
    if (e.op === named("IntCst")) {
      const n = e.attrs[0]!;
      if (n === 2) return this.build(named("Square"), [base], [], t.pos);
      if (n === 1) return base;
      return this.build(named("Pow"), [base], [n], t.pos);
    }
    return this.build(named("Powf"), [base, e], [], t.pos);
  }

  private primary(): Formula {
    const t = this.next();
    switch (t.kind) {
      case "num":
        return this.literal(t, 1);
      case "(": {
        const f = this.infixLevel();
        this.expect(")", `")"`);
        return f;
      }
      case "name":
        return this.peek().kind === "(" ? this.call(t) : this.aliasRef(t);
      default:
        throw this.error(t.pos, `expected a formula, got ${this.describe(t)}`);
    }
  }

  /** A number literal: an integer is `IntCst(n)`, a float goes through `opts.constant`. */
  private literal(t: Token, sign: 1 | -1): Formula {
    const v = sign * Number(t.text);
    if (/^\d+$/.test(t.text) && Number.isSafeInteger(v)) return this.build(named("IntCst"), [], [v], t.pos);
    if (!this.opts.constant)
      throw this.error(t.pos, `a float literal is not valid in a KeOps formula (use a parameter), got ${t.text}`);
    return this.opts.constant(v);
  }

  private aliasRef(t: Token): Formula {
    const f = this.opts.aliases?.get(t.text);
    if (f) return f;
    const known = this.opts.aliases?.size ? ` (aliases: ${[...this.opts.aliases.keys()].join(", ")})` : "";
    throw this.error(t.pos, `unknown alias ${JSON.stringify(t.text)}${known}`);
  }

  /** `NAME(…)`: an op with its operands and attributes, or Vi/Vj/Pm. */
  private call(t: Token): Formula {
    if (t.text in HELPERS) {
      const nums = this.numberList(t);
      if (nums.length !== 2) throw this.error(t.pos, `${t.text} in a formula takes (ind, dim), got ${nums.length} number(s)`);
      return variable(nums[0]!, nums[1]!, HELPERS[t.text]!, (m) => this.error(t.pos, m));
    }
    const op = opByName(t.text);
    if (!op) throw this.error(t.pos, `unknown function ${JSON.stringify(t.text)}`);
    this.expect("(", `"("`);
    const args: Formula[] = [];
    const attrs: number[] = [];
    const total = op.arity + op.nattrs;
    const lists: number[][] = [];
    for (let n = 0; ; n++) {
      if (n === 0 && this.peek().kind === ")") break;
      if (n >= op.arity && op.fromLists && this.peek().kind === "[") lists.push(this.intList());
      else if (n >= total) throw this.error(this.peek().pos, `${op.name} takes ${signature(op)}, got more arguments`);
      else if (n < op.arity) args.push(this.infixLevel());
      else attrs.push(this.signedNumber());
      if (this.peek().kind !== ",") break;
      this.next();
    }
    const close = this.peek();
    if (lists.length) {
      if (close.kind !== ")") throw this.error(close.pos, `expected "," or ")", got ${this.describe(close)}`);
      this.next();
      try {
        return op.fromLists!(args, lists);
      } catch (e) {
        if (e instanceof KeOpsError) throw this.error(t.pos, e.message);
        throw e;
      }
    }
    if (close.kind !== ")") throw this.error(close.pos, `expected "," or ")", got ${this.describe(close)}`);
    if (args.length + attrs.length !== total)
      throw this.error(close.pos, `${op.name} takes ${signature(op)}, got ${args.length + attrs.length} argument(s)`);
    this.next();
    return this.build(op, args, attrs, t.pos);
  }
}

function signature(op: OpDef): string {
  const parts = [];
  if (op.arity) parts.push(`${op.arity} operand(s)`);
  if (op.nattrs) parts.push(`${op.nattrs} number(s)`);
  return parts.length ? parts.join(" then ") : "no argument";
}

function named(name: string): OpDef {
  const op = opByName(name);
  if (!op) throw new KeOpsError(`formula: the op ${name} is not part of this build`);
  return op;
}

/** `Var(ind,dim,cat)` with validation (errors through `fail`). */
function variable(ind: number, dim: number, cat: number, fail: (msg: string) => KeOpsError): Formula {
  if (!Number.isSafeInteger(ind) || ind < 0) throw fail(`expected a variable index ≥ 0, got ${ind}`);
  if (!Number.isSafeInteger(dim) || dim < 1) throw fail(`expected a variable dimension ≥ 1, got ${dim}`);
  if (cat !== 0 && cat !== 1 && cat !== 2) throw fail(`expected a variable category 0, 1 or 2, got ${cat}`);
  return Var(ind, dim, cat);
}

/** Parses a KeOps formula string into a (hash-consed) formula. */
export function parseFormula(text: string, opts: ParseOptions = {}): Formula {
  if (typeof text !== "string") throw new KeOpsError(`${opts.what ?? "formula"}: expected a string, got ${typeof text}`);
  try {
    return new Parser(text, opts).formula();
  } catch (e) {
    // MAX_DEPTH keeps far from the stack's end; this is the backstop on a smaller stack
    if (e instanceof RangeError) throw new KeOpsError(`${opts.what ?? "formula"}: formula nested too deeply for the stack (${e.message})`);
    throw e;
  }
}

/** A parsed alias declaration: `x = Vi(3)` (index undefined) or `x = Vi(0, 3)`. */
export interface AliasDecl {
  readonly name: string;
  readonly ind: number | undefined;
  readonly dim: number;
  readonly cat: Cat;
}

/** Parses an alias declaration `name = Vi(dim)`, `Vi(ind, dim)`, `Vj(…)`, `Pm(…)` or `Var(ind,dim,cat)`. */
export function parseAlias(text: string, what = "alias"): AliasDecl {
  if (typeof text !== "string") throw new KeOpsError(`${what}: expected a string such as "x = Vi(0, 3)", got ${typeof text}`);
  return new Parser(text, { what }).alias();
}
