/**
 * The one check of options objects' keys, shared by every public method: an unknown key is a
 * {@link KeOpsError} naming it and the closest accepted key (a misspelt option never silently
 * does something else). Each method lists the keys it accepts beside its options type.
 */
import { KeOpsError, argError } from "./errors.js";

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, k) => k);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The accepted key closest to `key` (edit distance; ties: the first listed). */
export function closest(key: string, accepted: readonly string[]): string | undefined {
  let best: string | undefined;
  let d = Infinity;
  for (const k of accepted) {
    const e = editDistance(key, k);
    if (e < d) [best, d] = [k, e];
  }
  return best;
}

/**
 * Checks an options object of `method`: a plain object whose keys are all in `accepted` (keys
 * whose value is `undefined` count too: a misspelt key is a mistake whatever its value).
 * Throws a KeOpsError naming the first unknown key and the closest accepted one.
 */
export function checkKeys(o: unknown, method: string, accepted: readonly string[]): void {
  if (o === undefined) return;
  if (typeof o !== "object" || o === null || Array.isArray(o) || ArrayBuffer.isView(o))
    argError(`${method}: options`, "an options object", o);
  for (const key of Object.keys(o)) {
    if (accepted.includes(key)) continue;
    const near = closest(key, accepted);
    throw new KeOpsError(
      `${method}: unknown option ${JSON.stringify(key)}` +
        (near === undefined ? " (it takes no option)" : ` (did you mean ${JSON.stringify(near)}? accepted: ${accepted.join(", ")})`),
    );
  }
}

