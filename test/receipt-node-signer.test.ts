/**
 * Node's own Ed25519 signer on the receipt key (store/receipt-key.ts withNodeSigner, what serve and
 * in-process capture sign with): the same envelope, byte for byte, as WebCrypto's signing of the
 * same statement (Ed25519 is deterministic), verifiable as any other; the data directory's
 * receipt key comes with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { formatEnvelope } from '../src/receipt/envelope.ts';
import { signReceipt } from '../src/receipt/sign.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { receiptFactsOfRecord } from '../src/capture/run-receipt.ts';
import { receiptKey, withNodeSigner } from '../src/store/receipt-key.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-node-signer-');

test('the Node signer gives WebCrypto\'s envelope byte for byte, and it verifies', async () => {
  const pem = (await generateKeyFiles('receipts')).privateKeyPem;
  const key = await parsePrivateKey(pem);
  const fast = withNodeSigner(key, pem);
  assert.equal(typeof fast.signBytes, 'function');
  assert.equal(key.signBytes, undefined, 'the key given is not changed');
  for (const user of ['One?', 'Two?', 'Three?']) {
    const { run, bytes } = chatRun(user, 'Be brief.');
    const facts = receiptFactsOfRecord(run.record, run.identity, 'gpt-4o', 'proxy', 'test');
    const slow = formatEnvelope(await signReceipt(facts, key));
    const quick = formatEnvelope(await signReceipt(facts, fast));
    assert.equal(quick, slow);
    const verified = await verifyReceipt(JSON.parse(quick), { keys: [key.publicKey], output: bytes.responseBytes });
    assert.equal(verified.ok, true, JSON.stringify(verified.checks));
  }
  scratch.removeAll();
});

test('the data directory\'s receipt key signs with Node\'s signer', async () => {
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  assert.equal(typeof key.signBytes, 'function');
  scratch.removeAll();
});
