/**
 * Errors raised by keops-ts. Every user mistake is reported as a {@link KeOpsError}
 * whose message names the argument, what was expected and what was given.
 */
export class KeOpsError extends Error {
  override name = "KeOpsError";
  constructor(message: string) {
    super(message);
  }
}

/**
 * A formula string that does not parse (genred, kernelSolve, aliases): the message shows the
 * text with a caret under the offending character; `position` (0-based character offset) and
 * `formula` (the text) say the same as fields.
 */
export class KeOpsParseError extends KeOpsError {
  override name = "KeOpsParseError";
  constructor(
    message: string,
    /** 0-based offset of the offending character in {@link KeOpsParseError.formula}. */
    readonly position: number,
    /** The text that was parsed. */
    readonly formula: string,
  ) {
    super(message);
  }
}

/** Formats any value briefly for an error message. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length: number }).length}`;
  if (typeof v === "object") {
    const shape = (v as { shape?: unknown }).shape;
    const ctor = (v as object).constructor?.name ?? "object";
    if (Array.isArray(shape)) return `a ${ctor} of shape (${shape.join(", ")})`;
    return `a ${ctor}`;
  }
  return typeof v;
}

/** A "given" already worded for a message (see {@link said}). */
export class Said {
  constructor(readonly text: string) {}
}

/** Throws a KeOpsError "`arg`: expected `expected`, got `given`" (`given` described, unless {@link said}). */
export function argError(arg: string, expected: string, given: unknown): never {
  throw new KeOpsError(`${arg}: expected ${expected}, got ${given instanceof Said ? given.text : describe(given)}`);
}

/** Wraps text that {@link argError} prints as it is, instead of describing a value. */
export function said(text: string): Said {
  return new Said(text);
}
