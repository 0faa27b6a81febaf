/** docs/SPEC.md section 3.1: a failure found while scanning JSON text, before it gets its path. */
import type { ErrorCode } from '../errors.ts';

/**
 * Thrown while scanning; the parser turns it into a JsonError with a path. `between` marks an
 * error between values, whose place is the enclosing container rather than a member of it.
 */
export class ScanError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly index: number;
  readonly between: boolean;
  constructor(code: ErrorCode, message: string, index: number, between = false) {
    this.code = code;
    this.message = message;
    this.index = index;
    this.between = between;
  }
}

/** A syntax error at `index`, or a truncation when the text ends there. */
export function unexpected(text: string, index: number, expected: string, between = false): ScanError {
  return index >= text.length
    ? new ScanError('ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete', index, between)
    : new ScanError('ERR_JSON_SYNTAX', `JSON syntax error: ${expected}`, index, between);
}
