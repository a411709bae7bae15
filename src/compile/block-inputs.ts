/**
 * The inputs a renderer spells for one block instance (loads, the index, states, formula values),
 * with every input the block is not given refusing: a block reading an input it has no business
 * with is a renderer bug, said with the block's label.
 */
const WHAT: Readonly<Record<string, string>> = { load: "inputs", idx: "index", state: "state", other: "other state", fval: "formula values" };

/** `given`, completed with a refusing function for each of `keys` it lacks. */
export function withRefusals<T extends object>(renderer: string, label: string, given: Partial<T>, keys: readonly (keyof T & string)[]): T {
  const out: Record<string, unknown> = { ...given };
  for (const k of keys)
    out[k] ??= (): never => {
      throw new Error(`${renderer} renderer: block "${label}" reads no ${WHAT[k] ?? k}`);
    };
  return out as T;
}
