/** docs/SPEC.md section 3.5: an in-process JavaScript value as a plain JSON tree, under the rules canonicalize applies. */
import type { JsonValue } from './json-value.ts';
import { readMaxDepth } from './limits.ts';
import { assertWellFormed } from './lone-surrogates.ts';
import { normalize } from './normalize.ts';

export interface ToJsonValueOptions {
  /** Deepest nesting accepted; the root array or object is depth 1. Default 128, at most 1000. */
  maxDepth?: number;
}

/**
 * Returns a fresh JSON tree for `value`, for code that restructures values before hashing:
 * toJSON methods called, boxed primitives unwrapped, undefined members dropped, objects with a
 * null prototype and members in RFC 8785 order. Fails exactly where canonicalize(value) fails,
 * with the same code and path, so canonicalize(toJsonValue(v)) === canonicalize(v).
 */
export function toJsonValue(value: unknown, options?: ToJsonValueOptions): JsonValue {
  const tree = normalize(value, readMaxDepth(options?.maxDepth), true).value;
  assertWellFormed(tree);
  return tree;
}
