/** DSSE v1.0 envelope reading and base64 (RFC 4648 sections 4 and 5, one spelling), with properties against Buffer. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeBase64, decodeBase64Steps, encodeBase64 } from '../src/keys/base64.ts';
import { formatEnvelope, readEnvelope } from '../src/receipt/envelope.ts';

test('encodeBase64 equals Buffer standard base64; both alphabets, padded or not, decode back', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const standard = encodeBase64(bytes);
    assert.equal(standard, Buffer.from(bytes).toString('base64'));
    for (const text of [standard, standard.replace(/=+$/, ''), Buffer.from(bytes).toString('base64url')]) {
      assert.deepEqual(decodeBase64(text), bytes);
    }
  }), { numRuns: 2000 });
});

test('without a global Buffer (as in a browser) base64 is written and read the same, also for a view into a larger buffer', async () => {
  const saved = globalThis.Buffer;
  let browserEncode: typeof encodeBase64;
  let browserDecode: typeof decodeBase64;
  try {
    // The module reads the global Buffer once, when it loads: a fresh copy loads without one.
    Reflect.deleteProperty(globalThis, 'Buffer');
    const fresh: string = '../src/keys/base64.ts?no-buffer';
    ({ encodeBase64: browserEncode, decodeBase64: browserDecode } = (await import(fresh)) as typeof import('../src/keys/base64.ts'));
  } finally {
    globalThis.Buffer = saved;
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), fc.nat(40), (whole, start, cut) => {
    const view = whole.subarray(Math.min(start, whole.length), Math.max(Math.min(start, whole.length), whole.length - cut));
    const expected = Buffer.from(view).toString('base64');
    assert.equal(browserEncode(view), expected);
    assert.equal(encodeBase64(view), expected);
    for (const text of [expected, expected.replace(/=+$/, ''), Buffer.from(view).toString('base64url')]) {
      assert.deepEqual(browserDecode(text), Uint8Array.from(view));
      assert.deepEqual(decodeBase64(text), Uint8Array.from(view));
    }
  }), { numRuns: 2000 });
  assert.equal(browserDecode('AB=='), undefined);
  assert.equal(browserDecode('A+_B'), undefined);
});

test('decodeBase64 accepts only one spelling: any text it accepts re-encodes to itself (up to alphabet and padding)', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n*';
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 24 }), (text) => {
    const bytes = decodeBase64(text);
    if (bytes === undefined) return;
    const canonical = encodeBase64(bytes);
    const normalized = text.replace(/-/g, '+').replace(/_/g, '/');
    assert.ok(canonical === normalized || canonical.replace(/=+$/, '') === normalized, text);
  }), { numRuns: 20000 });
});

/** decodeBase64Steps run to its end; the number of pauses it made beside its answer. */
function stepped(decode: typeof decodeBase64Steps, text: string, step: number): { bytes: Uint8Array | undefined; pauses: number } {
  const steps = decode(text, step);
  for (let pauses = 0; ; pauses++) {
    const next = steps.next();
    if (next.done === true) return { bytes: next.value, pauses };
  }
}

test('decodeBase64Steps gives decodeBase64\'s answer for every text and step, pausing between slices of the step\'s length; without a global Buffer too', async () => {
  const saved = globalThis.Buffer;
  let browserSteps: typeof decodeBase64Steps;
  try {
    Reflect.deleteProperty(globalThis, 'Buffer');
    const fresh: string = '../src/keys/base64.ts?no-buffer-steps';
    ({ decodeBase64Steps: browserSteps } = (await import(fresh)) as typeof import('../src/keys/base64.ts'));
  } finally {
    globalThis.Buffer = saved;
  }
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n*';
  // Valid texts of either alphabet, padded or not, and texts of any of these characters (mostly invalid).
  const texts = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes).toString('base64')),
    fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
    fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes).toString('base64').replace(/=+$/, '')),
    fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 40 }),
  );
  fc.assert(fc.property(texts, fc.integer({ min: 1, max: 48 }), (text, step) => {
    const expected = decodeBase64(text);
    for (const decode of [decodeBase64Steps, browserSteps]) {
      const { bytes, pauses } = stepped(decode, text, step);
      assert.deepEqual(bytes, expected, `${JSON.stringify(text)} in steps of ${step}`);
      // A valid text pauses after each slice checked and each decoded (one slice decodes in one go).
      const slices = Math.ceil(text.replace(/=+$/, '').length / Math.max(4, step - (step % 4)));
      if (expected !== undefined) assert.equal(pauses, slices > 1 ? 2 * slices : slices, `${JSON.stringify(text)} in steps of ${step}`);
    }
  }), { numRuns: 5000 });
  // A large text: the same bytes as Buffer's, decoded a slice at a time.
  const large = Uint8Array.from({ length: 3_000_001 }, (_, i) => (i * 7919) % 251);
  const { bytes, pauses } = stepped(decodeBase64Steps, Buffer.from(large).toString('base64'), 1 << 20);
  assert.deepEqual(bytes, large);
  assert.equal(pauses, 8);
});

test('readEnvelope keeps only the DSSE members and treats an empty keyid as absent', () => {
  const envelope = readEnvelope('{"payload":"e30=","payloadType":"t","signatures":[{"keyid":"","sig":"AA==","extra":1}],"other":true}');
  assert.deepEqual(envelope, { payload: 'e30=', payloadType: 't', signatures: [{ sig: 'AA==' }] });
  assert.equal(formatEnvelope(envelope), '{\n  "payload": "e30=",\n  "payloadType": "t",\n  "signatures": [\n    {\n      "sig": "AA=="\n    }\n  ]\n}\n');
});

const rejected: Array<[string, unknown, string]> = [
  ['bytes that are not UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d), 'envelope is not strict JSON (ERR_JSON_INVALID_UTF8)'],
  ['a duplicate member', '{"payload":"","payload":"","payloadType":"t","signatures":[{"sig":""}]}', 'envelope is not strict JSON (ERR_JSON_DUPLICATE_KEY)'],
  ['null', 'null', 'envelope must be a JSON object'],
  ['payload that is a number', { payload: 1, payloadType: 't', signatures: [{ sig: '' }] }, 'envelope "payload" must be a string'],
  ['signatures that is an object', { payload: '', payloadType: 't', signatures: { sig: '' } }, 'envelope "signatures" must be a non-empty array'],
  ['a signature that is a string', { payload: '', payloadType: 't', signatures: ['AA=='] }, 'each envelope signature must be an object'],
  ['17 signatures', { payload: '', payloadType: 't', signatures: Array.from({ length: 17 }, () => ({ sig: '' })) }, 'envelope has more than 16 signatures'],
  ['a keyid that is a number', { payload: '', payloadType: 't', signatures: [{ keyid: 1, sig: '' }] }, 'envelope signature "keyid" must be a string'],
];

for (const [desc, input, message] of rejected) {
  test(`readEnvelope rejects ${desc} with ERR_ENVELOPE_INVALID`, () => {
    assert.throws(() => readEnvelope(input), { code: 'ERR_ENVELOPE_INVALID', message });
  });
}
