// Optional fields copied only when set: the project compiles with exactOptionalPropertyTypes, so
// `{ seed: opts.seed }` with seed undefined is not a `{ seed?: number }`. One helper instead of a
// `...(x !== undefined ? { k: x } : {})` per field.

export type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** `o` without its undefined fields. */
export function definedFields<T extends object>(o: T): Defined<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Defined<T>;
}
