/**
 * The identity document's text as the run store keeps it (src/store/identity-text.ts): made once
 * per document, for the row the store writes and the copy the recorder signs from, so both read
 * the same text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IdentityDocument } from '../src/identity/identity.ts';
import { identityText } from '../src/store/identity-text.ts';

test('identityText is JSON.stringify of the document, made once per document; null for none', () => {
  let made = 0;
  const document = { requestId: 'rp-req-v1-sha256-00', runId: null } as unknown as IdentityDocument;
  // Counts each JSON.stringify of this document.
  Object.defineProperty(document, 'toJSON', { value: () => ({ requestId: 'rp-req-v1-sha256-00', runId: null, made: ++made }), enumerable: false });
  const first = identityText(document);
  assert.equal(first, '{"requestId":"rp-req-v1-sha256-00","runId":null,"made":1}');
  assert.equal(identityText(document), first, 'the same text again, not made again');
  assert.equal(made, 1);
  const other = { requestId: 'rp-req-v1-sha256-01', runId: null } as unknown as IdentityDocument;
  assert.equal(identityText(other), JSON.stringify(other), 'another document has its own text');
  assert.equal(identityText(null), null);
});
