/** RFC 7493 section 2.2 and RFC 8785 section 3.2.2.3, as docs/SPEC.md section 3.2 applies them to numbers. */
import type { ErrorCode } from '../errors.ts';

/** 2^53: every IEEE 754 double at or beyond this magnitude is an integer that is not safe. */
const UNSAFE_MAGNITUDE = 9_007_199_254_740_992;

export const NON_FINITE_MESSAGE = 'JSON number is not finite (NaN, Infinity, or beyond the range of a 64-bit float)';
export const UNSAFE_INTEGER_MESSAGE =
  'JSON number is an integer outside -(2^53-1)..2^53-1; send 64-bit integers as strings';

/**
 * Returns the error code for a number runprint cannot hash exactly, or undefined if it is fine.
 * A double is an integer that is not safe exactly when its magnitude is at least 2^53, so two
 * comparisons decide what `Number.isInteger(v) && !Number.isSafeInteger(v)` would.
 */
export function numberProblem(value: number): ErrorCode | undefined {
  if (value !== value || value === Infinity || value === -Infinity) return 'ERR_JSON_NON_FINITE';
  if (value >= UNSAFE_MAGNITUDE || value <= -UNSAFE_MAGNITUDE) return 'ERR_JSON_UNSAFE_INTEGER';
  return undefined;
}

export function numberProblemMessage(code: ErrorCode): string {
  return code === 'ERR_JSON_NON_FINITE' ? NON_FINITE_MESSAGE : UNSAFE_INTEGER_MESSAGE;
}
