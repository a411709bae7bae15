/**
 * Each math op's dimension and argument errors: a KeOpsError naming the op (or the argument) with
 * what was expected and what was given. Also the printed names: every op prints with KeOps's
 * formula name (pykeops's infix forms for < <= > >=), and parses back to the same node.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeOpsError, LazyTensor, Vi, Vj, Pm } from "../src/index.js";
import { Var, apply, opByName } from "../src/formula/node.js";
import { parseFormula } from "../src/formula/parse.js";
import { kron, tensordot } from "../src/formula/ops/tensor.js";

const a = Vi(0, 3), b = Vj(1, 2), s = Pm(2, 1), c = Vj(3, 3);

function err(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof KeOpsError && re.test(e.message), String(re));
}

test("dimension errors of the element-wise ops name the op and both dimensions", () => {
  const bcast = /operands must have the same dimension or dimension 1, got dimensions 3 and 2/;
  err(() => a.add(b), new RegExp(`Add: ${bcast.source}`));
  err(() => a.eq(b), /Equal: operands/);
  err(() => a.ne(b), /NotEqual: operands/);
  err(() => a.lt(b), /LessThan: operands/);
  err(() => a.gt(b), /GreaterThan: operands/);
  err(() => a.le(b), /LessOrEqual: operands/);
  err(() => a.ge(b), /GreaterOrEqual: operands/);
  err(() => a.atan2(b), /Atan2: operands/);
  err(() => a.pow(b as LazyTensor<boolean>), /Powf: operands/);
  err(() => a.clamp(b, s), /Clamp: operands must have the same dimension or dimension 1, got dimensions 3 and 2 and 1/);
  err(() => a.ifelse(s, b), /IfElse: operands/);
  err(() => a.mod(b), /Mod: operands/);
  err(() => a.sqdist(b), /SqDist: operands/);
  err(() => a.dot(b), /Scalprod: operands must have the same dimension, got dimensions 3 and 2/);
});

test("vector and tensor ops: dimension errors", () => {
  err(() => a.weightedsqnorm(b), /s: expected weights of dimension 1 \(isotropic\), 3 \(diagonal\) or 9 \(full symmetric\) for D = 3, got dimension 2/);
  err(() => apply(opByName("WeightedSqNorm")!, [Var(0, 2, 0), Var(1, 3, 0)]), /WeightedSqNorm: expected weights s of dimension 1 \(isotropic\), D \(diagonal\) or D² \(full symmetric matrix\) for vectors of dimension D = 3, got dimension 2/);
  err(() => apply(opByName("WeightedSqDist")!, [Var(0, 4, 2), Var(1, 3, 0), Var(2, 3, 1)]), /WeightedSqDist: expected weights/);
  err(() => a.weightedsqdist(b, s), /Subtract: operands/);
  err(() => Vi(0, 5).matvecmult(b), /MatVecMult: expected a matrix A of dimension m·n and a vector of dimension n, got dimensions 5 and 2/);
  err(() => b.vecmatmult(Vi(0, 5)), /VecMatMult: expected a vector of dimension m and a matrix A of dimension m·n, got dimensions 5 and 2/);
  err(() => a.oneHot(4), /OneHot: expected a scalar operand \(dimension 1\), got dimension 3/);
  err(() => s.oneHot(0), /D: expected a positive integer, got 0/);
  err(() => a.elem(3), /Elem: expected index m to be an integer in \[0, 2\], got 3/);
  err(() => a.extract(1, 3), /Extract: expected length to be an integer in \[1, 2\], got 3/);
  err(() => a.norm(0), /dim: expected -1 or 2/);
  err(() => LazyTensor.concatenate([]), /xs: expected a non-empty array/);
});

test("TensorDot and Kron: list errors", () => {
  const X = Vi(0, 6), Y = Vj(1, 12);
  err(() => X.keopsTensordot(Y, [2, 2], [3, 4], [1], [0]), /TensorDot: expected dimsfa to be positive integers whose product is the dimension of a \(6\), got \[2,2\]/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 5], [1], [0]), /TensorDot: expected dimsfb/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 4], [0], [0]), /TensorDot: contracted axes must have the same size, got 2 \(axis 0 of a\) and 3 \(axis 0 of b\)/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 4], [1], []), /TensorDot: expected contfa and contfb of the same length/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 4], [2], [0]), /TensorDot: expected contfa to be distinct axes of a in \[0, 2\)/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 4], [1], [0], [0, 0]), /TensorDot: expected permute to be a permutation of 0…1, got \[0,0\]/);
  err(() => X.keopsKron(Y, [2, 3], [12]), /Kron: expected dimsfa and dimsfb non-empty, of the same length/);
  err(() => X.keopsKron(Y, [2, 3], [3, 3]), /Kron: expected dimsfb to be positive integers whose product is the dimension of b \(12\)/);
  err(() => X.keopsTensordot(Y, [2, 3], [3, 4], [1.5] as never, [0]), /contfa: expected integers/);
});

test("attribute errors: integers where KeOps takes integers", () => {
  err(() => a.clampint(0.5, 1), /a: expected an integer, got 0.5/);
  err(() => a.round(0.5), /decimals: expected an integer, got 0.5/);
  err(() => a.pow("2" as never), /p: expected a number or a LazyTensor/);
  err(() => apply(opByName("Pow")!, [Var(0, 3, 0)], [1.5]), /Pow: expected an integer exponent, got 1.5/);
  err(() => apply(opByName("IntInv")!, [], [0]), /IntInv: expected a non-zero integer, got 0/);
  err(() => apply(opByName("Zero")!, [], [0]), /Zero: expected a dimension ≥ 1, got 0/);
  err(() => apply(opByName("SumT")!, [Var(0, 3, 0)], [3]), /SumT: expected a scalar operand \(dimension 1\), got dimension 3/);
  err(() => apply(opByName("ElemT")!, [Var(0, 1, 0)], [3, 3]), /ElemT: expected index m to be an integer in \[0, 2\], got 3/);
  err(() => apply(opByName("ExtractT")!, [Var(0, 2, 0)], [2, 3]), /ExtractT: expected start to be an integer in \[0, 1\], got 2/);
  err(() => apply(opByName("ClampInt")!, [Var(0, 2, 0)], [0.5, 2]), /ClampInt: expected integer bounds/);
  err(() => apply(opByName("Round")!, [Var(0, 2, 0)], [0.5]), /Round: expected an integer number of decimals/);
  err(() => tensordot(Var(0, 2, 0), Var(1, 2, 1), { dimsfa: [3], dimsfb: [2], contfa: [], contfb: [] }), /TensorDot: expected dimsfa/);
  err(() => apply(opByName("TensorDot")!, [Var(0, 2, 0), Var(1, 2, 1)], [3]), /TensorDot: expected 0 numeric argument/);
});

test("printing: KeOps's formula names and pykeops's forms", () => {
  const f = (l: LazyTensor<boolean>) => l.formula;
  const c = Vj(1, 3);
  assert.equal(f(a.lt(c)), "(Var(0,3,0) < Var(1,3,1))");
  assert.equal(f(a.le(c)), "(Var(0,3,0) <= Var(1,3,1))");
  assert.equal(f(a.gt(c)), "(Var(0,3,0) > Var(1,3,1))");
  assert.equal(f(a.ge(c)), "(Var(0,3,0) >= Var(1,3,1))");
  assert.equal(f(a.eq(c)), "Equal(Var(0,3,0),Var(1,3,1))");
  assert.equal(f(a.ne(c)), "NotEqual(Var(0,3,0),Var(1,3,1))");
  assert.equal(f(a.pow(-0.5)), "Rsqrt(Var(0,3,0))");
  assert.equal(f(a.pow(0.5)), "Sqrt(Var(0,3,0))");
  assert.equal(f(a.pow(2)), "Square(Var(0,3,0))");
  assert.equal(f(a.pow(3)), "Pow(Var(0,3,0),3)");
  assert.equal(f(a.pow(s)), "Powf(Var(0,3,0),Var(2,1,2))");
  assert.equal(f(a.weightedsqnorm(s)), "WeightedSqNorm(Var(2,1,2),Var(0,3,0))");
  assert.equal(f(a.clamp(0, 1)), "ClampInt(Var(0,3,0),0,1)");
  assert.equal(f(a.round(2)), "Round(Var(0,3,0),2)");
  assert.equal(f(a.mod(3)), "Mod(Var(0,3,0),IntCst(3),IntCst(0))");
  assert.equal(f(a.min()), "Min(Var(0,3,0))");
  assert.equal(f(a.argmax(-1)), "ArgMax(Var(0,3,0))");
  assert.equal(f(s.oneHot(4)), "OneHot(Var(2,1,2),4)");
  assert.equal(f(a.inv()), "Inv(Var(0,3,0))");
  assert.equal(f(Vi(0, 6).keopsTensordot(Vj(1, 12), [2, 3], [3, 4], [1], [0])), "TensorDot(Var(0,6,0),Var(1,12,1),[2,3],[3,4],[1],[0])");
  assert.equal(f(Vi(0, 6).keopsTensordot(Vj(1, 12), [2, 3], [3, 4], [1], [0], [1, 0])), "TensorDot(Var(0,6,0),Var(1,12,1),[2,3],[3,4],[1],[0],[1,0])");
  assert.equal(f(Vi(0, 6).keopsKron(Vj(1, 12), [2, 3], [3, 4])), "Kron(Var(0,6,0),Var(1,12,1),[2,3],[3,4])");
  for (const name of ["Sin", "Cos", "Asin", "Acos", "Atan", "SinXDivX", "XLogX", "Sign", "Step", "ReLU", "Floor", "Norm2", "Normalize", "Tanh", "Erf", "Sigmoid", "Softplus"])
    assert.ok(opByName(name), `${name} is registered`);
});

test("every op's printed form parses back to the same node (lists of TensorDot/Kron through fromLists)", () => {
  const x = Var(0, 3, 0), y = Var(1, 3, 1), w = Var(2, 1, 2), A = Var(3, 9, 1);
  const nodes = [
    ...["Inv", "Sin", "Cos", "Asin", "Acos", "Atan", "SinXDivX", "DiffSinXDivX", "Tan", "Sinh", "Cosh", "Tanh", "Rsqrt", "XLogX",
      "Erf", "Log1p", "Expm1", "Sigmoid", "Softplus", "Sign", "Floor", "Step", "ReLU", "Norm2", "Normalize", "Min", "Max", "ArgMin", "ArgMax"]
      .map((n) => apply(opByName(n)!, [x])),
    ...["Atan2", "Powf", "Equal", "NotEqual", "LessThan", "LessOrEqual", "GreaterThan", "GreaterOrEqual", "SqDist", "Concat", "TensorProd"]
      .map((n) => apply(opByName(n)!, [x, y])),
    ...["Clamp", "IfElse", "Mod"].map((n) => apply(opByName(n)!, [x, w, y])),
    apply(opByName("WeightedSqNorm")!, [A, x]), apply(opByName("WeightedSqDist")!, [w, x, y]),
    apply(opByName("MatVecMult")!, [A, x]), apply(opByName("VecMatMult")!, [x, A]),
    apply(opByName("Round")!, [x], [2]), apply(opByName("ClampInt")!, [x], [-1, 1]), apply(opByName("OneHot")!, [w], [5]),
    apply(opByName("IntInv")!, [], [3]), apply(opByName("Zero")!, [], [4]), apply(opByName("SumT")!, [w], [3]),
    apply(opByName("ElemT")!, [w], [3, 1]), apply(opByName("ExtractT")!, [x], [1, 5]),
    apply(opByName("TensorDot")!, [x, y]), apply(opByName("Kron")!, [x, y]),
  ];
  for (const n of nodes) assert.equal(parseFormula(n.toString()), n, `round trip of ${n}`);
  // list attributes: the printed lists, read back through the registered op's fromLists
  const td = tensordot(Var(0, 6, 0), Var(1, 12, 1), { dimsfa: [2, 3], dimsfb: [3, 4], contfa: [1], contfb: [0], permute: [1, 0] });
  const kr = kron(Var(0, 6, 0), Var(1, 12, 1), [2, 3], [3, 4]);
  const fromLists = (name: string, text: string) => {
    const lists = [...text.matchAll(/\[([\d,]*)\]/g)].map((m) => (m[1] ? m[1].split(",").map(Number) : []));
    return (opByName(name) as unknown as { fromLists: (a: unknown[], l: number[][]) => unknown }).fromLists([Var(0, 6, 0), Var(1, 12, 1)], lists);
  };
  assert.equal(fromLists("TensorDot", td.toString()), td);
  assert.equal(fromLists("Kron", kr.toString()), kr);
});

test("static forms: LazyTensor.f(x, …) is x.f(…), for every math method", () => {
  const x = Vi(0, 3), y = Vj(1, 3), w = Pm(2, 1);
  const S = LazyTensor as unknown as Record<string, (...a: unknown[]) => LazyTensor<boolean>>;
  const M = (l: LazyTensor<boolean>) => l as unknown as Record<string, (...a: unknown[]) => LazyTensor<boolean>>;
  const unary = ["inv", "xlogx", "sin", "cos", "sinxdivx", "sinc", "asin", "acos", "atan", "rsqrt", "sign", "step", "relu",
    "floor", "norm2", "normalize", "tan", "sinh", "cosh", "tanh", "erf", "log1p", "expm1", "sigmoid", "softplus", "neg", "min", "max", "argmin", "argmax"];
  for (const n of unary) assert.equal(S[n]!(x).formula, M(x)[n]!().formula, n);
  for (const n of ["eq", "ne", "lt", "gt", "le", "ge", "atan2", "sqdist", "concat", "tensorprod", "dot", "power", "pow"])
    assert.equal(S[n]!(x, y).formula, M(x)[n]!(y).formula, n);
  assert.equal(S.weightedsqnorm!(x, w).formula, x.weightedsqnorm(w).formula);
  assert.equal(S.weightedsqdist!(x, y, w).formula, x.weightedsqdist(y, w).formula);
  assert.equal(S.clamp!(x, 0, 1).formula, x.clamp(0, 1).formula);
  assert.equal(S.ifelse!(x, y, w).formula, x.ifelse(y, w).formula);
  assert.equal(S.mod!(x, 3).formula, x.mod(3).formula);
  assert.equal(S.round!(x, 2).formula, x.round(2).formula);
  assert.equal(S.oneHot!(w, 3).formula, w.oneHot(3).formula);
  assert.equal(S.elem!(x, 2).formula, x.elem(2).formula);
  assert.equal(S.matvecmult!(Vj(3, 9), x).formula, Vj(3, 9).matvecmult(x).formula);
  assert.equal(S.keopsKron!(x, y, [3], [3]).formula, x.keopsKron(y, [3], [3]).formula);
  assert.equal(LazyTensor.cat([x, y], -1).formula, x.concat(y).formula);
  assert.equal(LazyTensor.sin(2).formula, "Sin(IntCst(2))");
});
