/**
 * FIPS 180-4 SHA-256 (the example messages of the NIST Cryptographic Standards examples) through
 * every entry point of src/hash, on node:crypto and on the @noble/hashes fallback that runs where
 * the runtime has no node:crypto (loaded here as further module instances while
 * process.getBuiltinModule, or process itself, is hidden). Also the hex and byte-comparison helpers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import * as native from '../src/hash/sha256.ts';

type HashModule = typeof native;

const VECTORS: ReadonlyArray<{ message: string; digest: string }> = [
  { message: '', digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { message: 'abc', digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  {
    message: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    digest: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
];

/** A non-ASCII string: hashed as its UTF-8 bytes (c3 a9 e2 82 ac f0 9f 98 80). */
const UNICODE = 'é€😀';
const UNICODE_BYTES = new Uint8Array([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);

/** A second instance of the module, evaluated while `hide` is in force (a query string makes it new). */
async function loadWithout(hide: () => () => void, name: string): Promise<HashModule> {
  const restore = hide();
  try {
    return (await import(new URL(`../src/hash/sha256.ts?${name}`, import.meta.url).href)) as HashModule;
  } finally {
    restore();
  }
}

/** A runtime without process.getBuiltinModule (older Node, Deno, Bun). */
function hideGetBuiltinModule(): () => void {
  const process = globalThis.process as { getBuiltinModule?: unknown };
  const saved = process.getBuiltinModule;
  delete process.getBuiltinModule;
  return () => void (process.getBuiltinModule = saved);
}

/** A browser: no process at all. */
function hideProcess(): () => void {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
  Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true, writable: true });
  return () => Object.defineProperty(globalThis, 'process', saved);
}

const implementations: ReadonlyArray<[string, HashModule]> = [
  ['node:crypto', native],
  ['@noble/hashes fallback (no getBuiltinModule)', await loadWithout(hideGetBuiltinModule, 'no-get-builtin-module')],
  ['@noble/hashes fallback (no process)', await loadWithout(hideProcess, 'no-process')],
];

for (const [name, hash] of implementations) {
  test(`${name}: FIPS 180-4 examples through createSha256, sha256Once and sha256`, () => {
    const encoder = new TextEncoder();
    for (const { message, digest } of VECTORS) {
      const bytes = encoder.encode(message);
      assert.equal(hash.toHex(hash.sha256Once(message)), digest, message);
      assert.equal(hash.toHex(hash.sha256Once(bytes)), digest, message);
      assert.equal(hash.toHex(hash.createSha256().update(message).digest()), digest, message);
      assert.equal(hash.toHex(hash.createSha256().update(bytes).digest()), digest, message);
      // Incremental: split anywhere, strings and bytes mixed, update() chains.
      const half = Math.floor(message.length / 2);
      assert.equal(hash.toHex(hash.createSha256().update(message.slice(0, half)).update(bytes.subarray(half)).digest()), digest, message);
      assert.equal(hash.toHex(hash.sha256(message.slice(0, half), bytes.subarray(half))), digest, message);
    }
    assert.equal(hash.toHex(hash.sha256()), VECTORS[0]!.digest);
  });

  test(`${name}: strings are hashed as their UTF-8 bytes; digests are fresh 32-byte Uint8Arrays`, () => {
    const expected = hash.toHex(hash.sha256Once(UNICODE_BYTES));
    assert.equal(hash.toHex(hash.sha256Once(UNICODE)), expected);
    assert.equal(hash.toHex(hash.createSha256().update(UNICODE).digest()), expected);
    assert.equal(hash.toHex(hash.sha256('é', '€😀')), expected);
    const digest = hash.createSha256().update('abc').digest();
    assert.ok(digest instanceof Uint8Array);
    assert.equal(digest.length, 32);
  });
}

test('the fallbacks are really the other implementation: node:crypto answers with Buffers, @noble/hashes with plain Uint8Arrays', () => {
  assert.equal(globalThis.process.getBuiltinModule !== undefined, true);
  assert.equal(Buffer.isBuffer(native.sha256Once('abc')), true);
  for (const [name, fallback] of implementations.slice(1)) {
    assert.notEqual(fallback.sha256Once, native.sha256Once, name);
    assert.equal(Buffer.isBuffer(fallback.sha256Once('abc')), false, name);
    assert.equal(Buffer.isBuffer(fallback.sha256Once(new Uint8Array([1]))), false, name);
  }
});

test('toHex writes lowercase, two digits a byte; fromHex reads either case and rejects the rest', () => {
  assert.equal(native.toHex(new Uint8Array([0x00, 0x0f, 0xa0, 0xff])), '000fa0ff');
  assert.equal(native.toHex(new Uint8Array(0)), '');
  assert.deepEqual(native.fromHex('000fa0ff'), new Uint8Array([0x00, 0x0f, 0xa0, 0xff]));
  assert.deepEqual(native.fromHex('000FA0FF'), new Uint8Array([0x00, 0x0f, 0xa0, 0xff]));
  assert.deepEqual(native.fromHex(''), new Uint8Array(0));
  assert.deepEqual(native.fromHex('ab01Cd'), new Uint8Array([0xab, 0x01, 0xcd]));
  for (const bad of ['0', 'abc', '0g', 'g0', ' 00', '00 ', '0x00', '-1', '+1', '１２']) assert.equal(native.fromHex(bad), undefined, bad);
});

test('toHex writes the same text with and without a global Buffer (as in a browser), also for a view into a larger buffer', async () => {
  const saved = globalThis.Buffer;
  let browser: HashModule;
  try {
    // The module reads the global Buffer once, when it loads: a fresh copy loads without one.
    Reflect.deleteProperty(globalThis, 'Buffer');
    browser = await import(new URL('../src/hash/sha256.ts?no-buffer', import.meta.url).href) as HashModule;
  } finally {
    globalThis.Buffer = saved;
  }
  const reference = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(40), fc.nat(40), (whole, start, cut) => {
    const from = Math.min(start, whole.length);
    const view = whole.subarray(from, Math.max(from, whole.length - cut));
    assert.equal(native.toHex(view), reference(view));
    assert.equal(browser.toHex(view), reference(view));
  }), { numRuns: 2000 });
});

test('equalBytes: equal only for the same length and every same byte', () => {
  const a = new Uint8Array([1, 2, 3, 4]);
  assert.equal(native.equalBytes(a, new Uint8Array([1, 2, 3, 4])), true);
  assert.equal(native.equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(native.equalBytes(a, new Uint8Array([1, 2, 3])), false);
  assert.equal(native.equalBytes(new Uint8Array([1, 2, 3]), a), false);
  assert.equal(native.equalBytes(a, new Uint8Array([1, 2, 3, 4, 0])), false);
  assert.equal(native.equalBytes(a, new Uint8Array([0, 2, 3, 4])), false);
  assert.equal(native.equalBytes(a, new Uint8Array([1, 2, 3, 5])), false);
  assert.equal(native.equalBytes(a, new Uint8Array([1, 2, 7, 4])), false);
});
