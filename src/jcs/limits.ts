/** docs/SPEC.md sections 3.1 and 3.3: the size and nesting limits, and how callers may set them. */

/** Nesting depth accepted by default; the root array or object is at depth 1. */
export const DEFAULT_MAX_DEPTH = 128;
/**
 * The largest `maxDepth` a caller may ask for. The in-process walk recurses once per level, so
 * a fixed ceiling keeps it far from the engine's stack limit whatever the caller passes.
 */
export const MAX_DEPTH_CEILING = 1000;
/** Input size accepted by default: 256 MiB of UTF-8 (or UTF-16 code units for a string). */
export const DEFAULT_MAX_BYTES = 268_435_456;

/** Returns `maxDepth` or the default; a value that is not an integer in range is a programmer error. */
export function readMaxDepth(maxDepth: number | undefined): number {
  if (maxDepth === undefined) return DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_CEILING) {
    throw new RangeError(`maxDepth must be an integer from 1 to ${MAX_DEPTH_CEILING}`);
  }
  return maxDepth;
}

/** Returns `maxBytes` or the default; a value that is not a non-negative integer is a programmer error. */
export function readMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError('maxBytes must be a non-negative integer');
  }
  return maxBytes;
}

/** The message of ERR_JSON_TOO_DEEP, shared by the parser and the in-process walk. */
export function tooDeepMessage(maxDepth: number): string {
  return `JSON value is nested deeper than the limit of ${maxDepth} levels`;
}
