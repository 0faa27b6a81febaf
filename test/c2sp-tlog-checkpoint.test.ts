/** C2SP tlog-checkpoint: formatCheckpoint/parseCheckpoint round trip and strict refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatCheckpoint, parseCheckpoint } from '../src/log/index.ts';

const rootHash = new Uint8Array(32).map((_, i) => i);

test('the checkpoint text is origin, size and base64 root hash, one per line', () => {
  const text = formatCheckpoint({ origin: 'example.com/log', size: 20852163, rootHash });
  assert.equal(text, 'example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n');
  assert.deepEqual(parseCheckpoint(text), { origin: 'example.com/log', size: 20852163, rootHash });
  const extended = formatCheckpoint({ origin: 'example.com/log', size: 0, rootHash, extensions: ['a b', 'c'] });
  assert.equal(extended, 'example.com/log\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\na b\nc\n');
  assert.deepEqual(parseCheckpoint(extended).extensions, ['a b', 'c']);
});

test('format and parse are inverse for any origin and size (fast-check)', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[!-~][ -~]{0,40}$/), fc.maxSafeNat(), fc.uint8Array({ minLength: 32, maxLength: 32 }), (origin, size, hash) => {
      const checkpoint = parseCheckpoint(formatCheckpoint({ origin, size, rootHash: hash }));
      assert.equal(checkpoint.origin, origin);
      assert.equal(checkpoint.size, size);
      assert.deepEqual(Uint8Array.from(checkpoint.rootHash), hash);
    }),
  );
});

test('refusals name the line', () => {
  const hash = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
  const cases: Array<[string, string]> = [
    [`o\n01\n${hash}\n`, 'checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`o\n-1\n${hash}\n`, 'checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`o\n1 \n${hash}\n`, 'checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`o\n18446744073709551615\n${hash}\n`, 'checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`o\n1\n${hash.slice(0, -1)}\n`, 'checkpoint root hash must be 32 bytes in standard base64'],
    [`o\n1\nAAEC\n`, 'checkpoint root hash must be 32 bytes in standard base64'],
    [`o\n1\n${hash}`, 'checkpoint must end with a newline'],
    [`o\n1\n`, 'checkpoint must have an origin, a size and a root hash line'],
    [`\n1\n${hash}\n`, 'checkpoint origin must be one non-empty line'],
    [`o\n1\n${hash}\n\n`, 'checkpoint extension lines must be non-empty'],
    [`o\n1\n${hash}\n\u0007\n`, 'checkpoint contains a character a note may not hold'],
  ];
  for (const [text, message] of cases) assert.throws(() => parseCheckpoint(text), { name: 'LogError', code: 'ERR_LOG_CHECKPOINT_INVALID', message }, JSON.stringify(text));
  assert.throws(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint origin must be one non-empty line' });
  assert.throws(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: rootHash.subarray(1) }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint root hash must be 32 bytes' });
  assert.throws(() => formatCheckpoint({ origin: 'o', size: -1, rootHash }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint size must be a non-negative safe integer' });
  assert.throws(() => formatCheckpoint({ origin: 'o', size: 1, rootHash, extensions: [''] }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint extension line must be one non-empty line' });
});
