/**
 * The bound on every in-memory kernel cache (plans, compiled kernels, the kernels each worker
 * thread holds): a process that keeps generating new formulas (integer constants are part of a
 * formula) must not grow without limit. Least recently used entries go first.
 */

/** Entries each cache keeps (a `let` in an object so tests can lower it). */
export const cacheLimits = { kernels: 1024 };

/** A Map bounded to `cacheLimits.kernels` entries (read at each insertion), evicting the least recently used. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  /** The value of `k`, now the most recently used; undefined when absent. */
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  /** Stores `v` under `k` as the most recently used, evicting the oldest entries beyond the limit. */
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > Math.max(1, cacheLimits.kernels)) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
