/**
 * Host linear algebra that a platform may provide compiled (the Node entry point registers the
 * native backend's C++, src/backends/native/gram.ts): the products of the Nyström
 * preconditioner on its float32 matrix K_nm, accumulated in float64. Where none is registered
 * (browsers) or it cannot be built, the solver keeps its JavaScript loops.
 */

/** The products on K: M rows of m float32 from `off`. */
export interface GramProducts {
  /** B (m × m float64, row-major): its lower triangle (t ≤ s) += KᵀK; the upper is left alone. */
  gram(K: Float32Array, off: number, M: number, m: number, B: Float64Array): void;
  /** u = Kᵀ r (r: M values, u: m values). */
  tmul(K: Float32Array, off: number, M: number, m: number, r: Float64Array, u: Float64Array): void;
  /** z = K u (u: m values, z: M values). */
  mul(K: Float32Array, off: number, M: number, m: number, u: Float64Array, z: Float64Array): void;
}

let provider: (() => GramProducts | null) | undefined;

/** Registers the compiled products (built lazily: `get` is called at first use and may return null). */
export function registerGramProducts(get: () => GramProducts | null): void {
  provider = get;
}

/** The compiled products, or null where there are none. */
export function gramProducts(): GramProducts | null {
  return provider ? provider() : null;
}
