/**
 * formatEnvelope writes the payload envelopeOf encoded without escaping it again (it holds only
 * base64 characters): the text is JSON.stringify's, byte for byte, for every payload length and
 * signature list; a payload changed after envelopeOf is written by JSON.stringify as any other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelopeOf, formatEnvelope, type Envelope } from '../src/receipt/envelope.ts';

/** The text formatEnvelope gives any envelope (its documented form). */
function plain(envelope: Envelope): string {
  const signatures = envelope.signatures.map((s) => (s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig }));
  return `${JSON.stringify({ payload: envelope.payload, payloadType: envelope.payloadType, signatures }, null, 2)}\n`;
}

test('the envelope of an encoded payload is written as JSON.stringify writes it, for every length and signature list', () => {
  for (const length of [0, 1, 2, 3, 4, 57, 1000, 100_000]) {
    for (const signatures of [[], [{ sig: 'AAA=' }], [{ keyid: 'k"\\\u2028é', sig: 'BB==' }, { sig: 'CC==' }]]) {
      const envelope = envelopeOf(Uint8Array.from({ length }, (_, i) => (i * 131) % 256));
      envelope.signatures.push(...signatures);
      assert.equal(formatEnvelope(envelope), plain(envelope), `${length} bytes, ${signatures.length} signatures`);
    }
  }
});

test('a payload changed after envelopeOf (one JSON must escape) is escaped', () => {
  const envelope = envelopeOf(new Uint8Array([1, 2, 3]));
  envelope.payload = 'not "base64"\n';
  const text = formatEnvelope(envelope);
  assert.equal(text, plain(envelope));
  assert.equal(JSON.parse(text).payload, 'not "base64"\n');
});
