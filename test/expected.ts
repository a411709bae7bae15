/** Printouts the tests expect in several places, written once. */

/** The last lines of the second tutorial: pykeops's printout of its `gammafun` (a Sum reduction with one symbolic variable). */
export const TUTORIAL2_GAMMAFUN = [
  "KeOps LazyTensor",
  "    formula: (Sum(Exp((Minus(Sum(Square((Var(1,3,0) - Var(0,3,1))))) / Var(2,4,2)))) * Var(3,4,1))",
  "    symbolic variables: Var(0, 3, 1)",
  "    shape: (50, 30, 4)",
  "    reduction: Sum (axis=1)",
].join("\n");
