/**
 * signReceipt and signStatement's optional `pause` (signing in steps, docs/API.md): a value that is
 * not a function is a programmer error at once (a TypeError with code ERR_INVALID_ARG_TYPE, not
 * the bare "pause is not a function" of its first call), and a `pause` that rejects or throws ends
 * the signing at once with its own error: its first rejection is not taken for canonicalize's
 * error and the statement is not then canonicalized in one go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunprintError } from '../src/errors.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { canonicalBytesInSteps } from '../src/jcs/canonical-steps.ts';
import { generateKeyFiles, parsePrivateKey, parsePublicKey, signReceipt, signStatement, verifyReceipt } from '../src/receipt/index.ts';
import { buildStatement, type Statement } from '../src/receipt/statement.ts';
import { runOutputFrom } from '../src/providers/index.ts';

const files = await generateKeyFiles('pause-key');
const key = await parsePrivateKey(files.privateKeyPem);

/** A run of `count` input messages: its receipt's statement names each element's digest. */
function factsOf(count: number) {
  const composition = {
    version: 'runprint/v1',
    model: { name: 'gpt-4o' },
    parameters: {},
    configuration: {},
    system: [],
    input: Array.from({ length: count }, (_, i) => ({ role: 'user', content: `message ${i}` })),
    context: [],
    tools: [],
    served: {},
  };
  const output = runOutputFrom(new TextEncoder().encode('{"text":"Hi"}'));
  return {
    identity: computeIdentity(composition),
    requestedModel: 'gpt-4o',
    output: { digest: output.digest, rawDigest: output.rawDigest, finishReason: null, usage: null, stream: false },
    capture: 'sdk' as const,
    runprintVersion: '0.0.0',
  };
}

const large = factsOf(10_000);
const statement: Statement = buildStatement(large);

function argumentError(what: string, described: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.ok(!(error instanceof RunprintError));
    assert.equal((error as { code?: unknown }).code, 'ERR_INVALID_ARG_TYPE');
    assert.equal(error.message, `${what} pause must be a function or undefined, not ${described}`);
    return true;
  };
}

test('a pause that is not a function or undefined: a TypeError with code ERR_INVALID_ARG_TYPE naming the argument, before any work', async () => {
  const cases: Array<[unknown, string]> = [
    ['x', 'a string'],
    [{}, 'an object of another shape'],
    [42, 'a number'],
    [null, 'null'],
    [Promise.resolve(), 'an object of another shape'],
  ];
  for (const [pause, described] of cases) {
    await assert.rejects(signStatement(statement, key, pause as never), argumentError('signStatement', described));
    await assert.rejects(signReceipt(large, key, pause as never), argumentError('signReceipt', described));
    // A short statement too (no long array, where pause was only called once it was made).
    await assert.rejects(signReceipt(factsOf(1), key, pause as never), argumentError('signReceipt', described));
  }
  // Without pause, and with undefined: signed, the same envelope.
  const once = await signReceipt(large, key);
  assert.deepEqual(await signReceipt(large, key, undefined), once);
  assert.deepEqual(await signStatement(statement, key, async () => {}), once);
});

test('a pause that rejects or throws: the signing rejects with its error after that one call', async () => {
  for (const how of ['rejects', 'throws'] as const) {
    const stop = new Error(`cancel signing (${how})`);
    let calls = 0;
    const pause =
      how === 'rejects'
        ? async () => {
            calls++;
            throw stop;
          }
        : () => {
            calls++;
            throw stop;
          };
    await assert.rejects(signStatement(statement, key, pause as () => Promise<void>), (error) => error === stop);
    assert.equal(calls, 1, `${how}: pause called ${calls} times`);
    calls = 0;
    await assert.rejects(signReceipt(large, key, pause as () => Promise<void>), (error) => error === stop);
    assert.equal(calls, 1, `${how}: pause called ${calls} times`);
    calls = 0;
    await assert.rejects(canonicalBytesInSteps(statement, pause as () => Promise<void>, 4096), (error) => error === stop);
    assert.equal(calls, 1);
  }
  // A pause that rejects on its third call: no more after it.
  let calls = 0;
  const third = new Error('third');
  await assert.rejects(
    signStatement(statement, key, async () => {
      if (++calls === 3) throw third;
    }),
    (error) => error === third,
  );
  assert.equal(calls, 3);
  // And a pause that works: the receipt verifies.
  const envelope = await signReceipt(large, key, () => new Promise((resolve) => setImmediate(resolve)));
  const report = await verifyReceipt(envelope, { keys: [await parsePublicKey(files.publicKeyPem)] });
  assert.equal(report.ok, true);
});
