/** Asserting the TypeErrors a function throws for misuse, with Node's codes. */
import assert from 'node:assert/strict';

/** Asserts `fn` throws a TypeError with `code` and a message matching `message`. */
export function refused(fn: () => unknown, code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE', message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, `a TypeError: ${String(error)}`);
    assert.equal((error as { code?: unknown }).code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}
