/** docs/SPEC.md section 6: identity strings have one canonical spelling. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIdentity, parseIdentity } from '../src/identity/identity-string.ts';

const digest = new Uint8Array(32).map((_, i) => i * 7);
const hex = Buffer.from(digest).toString('hex');

test('formats and parses a request and a run identity', () => {
  assert.equal(formatIdentity('req', digest), `rp-req-v1-sha256-${hex}`);
  const parsed = parseIdentity(`rp-run-v1-sha256-${hex}`);
  assert.equal(parsed.kind, 'run');
  assert.equal(parsed.version, 1);
  assert.equal(parsed.algorithm, 'sha256');
  assert.deepEqual(parsed.digest, digest);
  assert.match(formatIdentity('run', digest), /^[a-z0-9-]+$/);
});

test('rejects every other spelling with ERR_IDENTITY_MALFORMED', () => {
  for (const text of [
    `rp-run-v1-sha256-${hex.toUpperCase()}`,
    `RP-run-v1-sha256-${hex}`,
    `rp-run-v1-sha256-${hex}\n`,
    ` rp-run-v1-sha256-${hex}`,
    `rp:run:v1:sha256:${hex}`,
    `rp-run-v1-sha256-${hex.slice(2)}`,
    `rp-run-v1-sha256-${hex}00`,
    `rp-run-v01-sha256-${hex}`,
    `rp-out-v1-sha256-${hex}`,
    '',
  ]) {
    assert.throws(() => parseIdentity(text), { code: 'ERR_IDENTITY_MALFORMED' }, JSON.stringify(text));
  }
  assert.throws(() => parseIdentity(`rp-run-v1-sha256-${hex.toUpperCase()}`), {
    message: 'identity digest must be 64 lowercase hexadecimal digits',
  });
});

test('a well-formed identity of another version or algorithm is unsupported, not malformed', () => {
  assert.throws(() => parseIdentity(`rp-run-v2-sha256-${hex}`), {
    code: 'ERR_IDENTITY_UNSUPPORTED_VERSION',
    message: 'identity version is not supported; this implementation reads v1',
  });
  assert.throws(() => parseIdentity(`rp-run-v1-sha512-${hex}${hex}`), {
    code: 'ERR_IDENTITY_UNSUPPORTED_VERSION',
    message: 'identity algorithm is not supported; v1 uses sha256',
  });
});

test('programmer errors are TypeError and RangeError', () => {
  assert.throws(() => parseIdentity(42 as unknown as string), TypeError);
  assert.throws(() => formatIdentity('run', new Uint8Array(31)), RangeError);
});
