/** `runprint diff` over receipts, bundles, identity documents and requests (with their responses) in any mix, and `--values`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runOutputFrom } from '../src/providers/run-output.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { file, cli } = cliFolder('runprint-diff-kinds-');

const SECRET = 'Capital of France? secret-4471';
const request = { ...REQUEST, messages: [REQUEST.messages[0], { role: 'user', content: SECRET }] };
const longer = { ...request, messages: [...request.messages, { role: 'assistant', content: 'Paris' }, { role: 'user', content: 'And Spain? secret-9313' }] };
file('request.json', JSON.stringify(request));
file('longer.json', JSON.stringify(longer));
file('response.json', RESPONSE_TEXT);
file('other-response.json', RESPONSE_TEXT.replace('gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'));
file('lyon-response.json', RESPONSE_TEXT.replace('Paris', 'Lyon secret-5120'));
/** The output digest of SPEC 12.1, as `sign` records it, of a response to REQUEST. */
const outputDigest = (text: string) => `sha256:${runOutputFrom(new TextEncoder().encode(text), 'openai-chat').digest!.sha256}`;
const PARIS = outputDigest(RESPONSE_TEXT);
const LYON = outputDigest(RESPONSE_TEXT.replace('Paris', 'Lyon secret-5120'));

async function ok(argv: string[]): Promise<string> {
  const result = await cli(argv);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

const ready = (async () => {
  await ok(['keygen', '--out', 'k']);
  await ok(['sign', '--key', 'k/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'receipt.json']);
  await ok(['sign', '--key', 'k/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--bundle', 'bundle.json']);
  await ok(['sign', '--key', 'k/receipt-key.pem', '--composition', 'longer.json', '--output', 'response.json', '--out', 'longer-receipt.json']);
  file('id.json', await ok(['id', 'request.json', '--response', 'response.json', '--json']));
  file('id-other.json', await ok(['id', 'request.json', '--response', 'other-response.json', '--json']));
  file('id-request.json', await ok(['id', 'request.json', '--json']));
  return {
    runId: (await ok(['id', 'request.json', '--response', 'response.json'])).trim(),
    requestId: (await ok(['id', 'request.json'])).trim(),
    longerRunId: (await ok(['id', 'longer.json', '--response', 'response.json'])).trim(),
  };
})();

test('a receipt, its bundle and the identity document of the same run are equal; the output says signatures were not checked', async () => {
  const { runId } = await ready;
  for (const [a, b, kindA, kindB, output] of [
    ['receipt.json', 'bundle.json', 'receipt', 'receipt', `output equal ${PARIS}\n`],
    ['receipt.json', 'id.json', 'receipt', 'identity document', ''],
    ['id.json', 'bundle.json', 'identity document', 'receipt', ''],
  ] as const) {
    const result = await cli(['diff', a, b]);
    assert.deepEqual(result, {
      code: 0,
      stderr: '',
      stdout: `equal ${runId}\n  a ${kindA}\n  b ${kindB}\n${output}receipt signatures not checked: run "runprint verify" to check them\n`,
    });
  }
  // Two receipts both state an output: its digests are compared too.
  assert.deepEqual(JSON.parse((await cli(['diff', 'receipt.json', 'bundle.json', '--json'])).stdout).output, { equal: true, a: PARIS, b: PARIS });
  const json = await cli(['diff', 'bundle.json', 'id.json', '--json']);
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), {
    equal: true, compared: 'runId', a: runId, b: runId, kinds: { a: 'receipt', b: 'identity-document' }, signaturesChecked: false, differences: [], inexact: [],
  });
  // Two identity documents: no receipt, no note about signatures.
  assert.deepEqual(await cli(['diff', 'id.json', 'id.json']), { code: 0, stderr: '', stdout: `equal ${runId}\n  a identity document\n  b identity document\n` });
});

test('a receipt against a request compares request identities through the computed identity document', async () => {
  const { requestId } = await ready;
  assert.deepEqual(await cli(['diff', 'receipt.json', 'request.json']), {
    code: 0,
    stderr: '',
    // The receipt states served facts, the request has none: listed as --json lists them.
    stdout: `equal ${requestId}\n  a receipt\n  b request\nremoved  served         $['served']\nreceipt signatures not checked: run "runprint verify" to check them\n`,
  });
  const json = JSON.parse((await cli(['diff', 'request.json', 'id-request.json', '--json'])).stdout);
  assert.deepEqual(json, { equal: true, compared: 'requestId', a: requestId, b: requestId, kinds: { a: 'request', b: 'identity-document' }, differences: [], inexact: [] });
  const differ = await cli(['diff', 'longer.json', 'receipt.json', '--json']);
  assert.equal(differ.code, 1);
  assert.deepEqual(JSON.parse(differ.stdout).differences, [
    { component: 'input', change: 'changed', path: "$['input']", count: { a: 3, b: 1 } },
    { component: 'served', change: 'added', path: "$['served']" },
  ]);
  assert.ok(!differ.stdout.includes('secret-'));
});

test('two receipts of different runs: each differing component with list counts, never the content', async () => {
  const { runId, longerRunId } = await ready;
  const result = await cli(['diff', 'receipt.json', 'longer-receipt.json']);
  assert.deepEqual(result, {
    code: 1,
    stderr: '',
    stdout:
      `differ\n  a ${runId} (receipt)\n  b ${longerRunId} (receipt)\n` +
      "changed  input          $['input'] (count 1 to 3)\n" +
      `output equal ${PARIS}\n` +
      'receipt signatures not checked: run "runprint verify" to check them\n',
  });
});

test('identity documents with other served facts: the fact that differs, by name', async () => {
  await ready;
  const result = await cli(['diff', 'id.json', 'id-other.json', '--json']);
  assert.equal(result.code, 1);
  const printed = JSON.parse(result.stdout);
  assert.equal(printed.compared, 'runId');
  assert.deepEqual(printed.differences, [{ component: 'served', change: 'changed', path: "$['served']['model']" }]);
  assert.ok(!result.stdout.includes('2024-11-20'));
  // One side with served facts, one without: request identities, and served is added.
  const half = await cli(['diff', 'id-request.json', 'id.json', '--json']);
  assert.equal(half.code, 0);
  assert.deepEqual(JSON.parse(half.stdout).differences, [{ component: 'served', change: 'added', path: "$['served']" }]);
});

test('--response-a and --response-b: two requests with their responses compare run identities, served facts and outputs', async () => {
  const { runId } = await ready;
  const served = await cli(['diff', 'request.json', 'request.json', '--response-a', 'response.json', '--response-b', 'other-response.json', '--json']);
  assert.equal(served.code, 1, served.stderr);
  const printed = JSON.parse(served.stdout);
  assert.equal(printed.compared, 'runId');
  assert.equal(printed.a, runId);
  assert.notEqual(printed.b, runId);
  // Both sides have their content: SPEC 10's structural diff, down to the fact's value.
  assert.deepEqual(printed.differences, [{ component: 'served', change: 'changed', path: "$['served']['model']['value']" }]);
  assert.deepEqual(printed.output, { equal: true, a: PARIS, b: PARIS });
  assert.ok(!('kinds' in printed), 'two requests keep the shape of two compositions');
  assert.ok(!served.stdout.includes('2024-11-20'));
  // Same run identity, another answer: the identities are equal (exit 0) and the output line says the outputs differ.
  const answer = await cli(['diff', 'request.json', 'request.json', '--response-a', 'response.json', '--response-b', 'lyon-response.json']);
  assert.deepEqual(answer, { code: 0, stderr: '', stdout: `equal ${runId}\noutput differs\n  a ${PARIS}\n  b ${LYON}\n` });
  const same = await cli(['diff', 'request.json', 'request.json', '--response-a', 'response.json', '--response-b', '-'], RESPONSE_TEXT);
  assert.deepEqual(same, { code: 0, stderr: '', stdout: `equal ${runId}\noutput equal ${PARIS}\n` });
  const differ = await cli(['diff', 'request.json', 'longer.json', '--response-a', 'response.json', '--response-b', 'lyon-response.json']);
  assert.equal(differ.code, 1);
  assert.ok(differ.stdout.endsWith(`output differs\n  a ${PARIS}\n  b ${LYON}\n`), differ.stdout);
  assert.ok(!differ.stdout.includes('secret-'));
});

test('--response-a and --response-b read a JSON response or its SSE stream alike: one run identity, one output digest', async () => {
  const fixtures = new URL('./fixtures/output/openai-chat/', import.meta.url);
  file('hello.json', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }], stream: true }));
  const result = await cli(['diff', 'hello.json', 'hello.json', '--response-a', new URL('text.json', fixtures).pathname, '--response-b', new URL('text.sse', fixtures).pathname, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  assert.equal(printed.compared, 'runId');
  assert.equal(printed.output.equal, true);
  assert.match(printed.output.a, /^sha256:[0-9a-f]{64}$/);
});

test('a request with its response against the receipt of its run: equal run identities and outputs', async () => {
  const { runId, requestId } = await ready;
  assert.deepEqual(await cli(['diff', 'request.json', 'receipt.json', '--response-a', 'response.json']), {
    code: 0,
    stderr: '',
    stdout: `equal ${runId}\n  a request\n  b receipt\noutput equal ${PARIS}\nreceipt signatures not checked: run "runprint verify" to check them\n`,
  });
  const other = await cli(['diff', 'bundle.json', 'request.json', '--response-b', 'lyon-response.json', '--json']);
  assert.equal(other.code, 0, other.stderr);
  assert.deepEqual(JSON.parse(other.stdout), {
    equal: true, compared: 'runId', a: runId, b: runId, kinds: { a: 'receipt', b: 'request' }, signaturesChecked: false, output: { equal: false, a: PARIS, b: LYON }, differences: [], inexact: [],
  });
  // A response on one side only: no run identity on the other, so request identities, and no output compared.
  const half = await cli(['diff', 'request.json', 'request.json', '--response-b', 'response.json', '--json']);
  assert.equal(half.code, 0, half.stderr);
  assert.deepEqual(JSON.parse(half.stdout), { equal: true, compared: 'requestId', a: requestId, b: requestId, differences: [{ component: 'served', change: 'added', path: "$['served']" }], inexact: [] });
  // Without --json the same: equal request identities (exit 0), and the served facts one side lacks.
  assert.deepEqual(await cli(['diff', 'request.json', 'request.json', '--response-a', 'response.json']), {
    code: 0, stderr: '', stdout: `equal ${requestId}\nremoved  served         $['served']\n`,
  });
  assert.deepEqual(await cli(['diff', 'id-request.json', 'id.json']), {
    code: 0, stderr: '', stdout: `equal ${requestId}\n  a identity document\n  b identity document\nadded    served         $['served']\n`,
  });
});

test('--response-a and --response-b go only with a provider request; a failed response exits 3; one standard input at most', async () => {
  await ready;
  assert.deepEqual(await cli(['diff', 'receipt.json', 'request.json', '--response-a', 'response.json']), {
    code: 2,
    stdout: '',
    stderr: 'runprint: ERR_CLI_USAGE: --response-a: a response combines with a provider request, not with a receipt (a receipt states its own output digest)\n',
  });
  const identity = await cli(['diff', 'request.json', 'id.json', '--response-b', 'response.json']);
  assert.equal(identity.code, 2);
  assert.equal(identity.stderr, 'runprint: ERR_CLI_USAGE: --response-b: a response combines with a provider request, not with an identity document (it states its own served facts)\n');
  const composition = { version: 'runprint/v1', model: { name: 'm' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {} };
  file('composition.json', JSON.stringify(composition));
  const withComposition = await cli(['diff', 'composition.json', 'request.json', '--response-a', 'response.json']);
  assert.equal(withComposition.code, 2);
  assert.match(withComposition.stderr, /^runprint: ERR_CLI_USAGE: --response-a: a response combines with a provider request, not with a composition /);
  file('error-response.json', JSON.stringify({ error: { message: 'Rate limit reached secret-7781', type: 'requests' } }));
  const failed = await cli(['diff', 'request.json', 'request.json', '--response-b', 'error-response.json']);
  assert.equal(failed.code, 3);
  assert.match(failed.stderr, /^runprint: ERR_OUTPUT_PROVIDER_ERROR: [^\n]*\n$/);
  assert.ok(!failed.stderr.includes('secret-7781'));
  for (const argv of [['-', 'request.json', '--response-b', '-'], ['request.json', 'request.json', '--response-a', '-', '--response-b', '-'], ['-', '-']]) {
    const twice = await cli(['diff', ...argv], '{}');
    assert.deepEqual(twice, { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: only one of A, B, --response-a and --response-b can be standard input\n' }, argv.join(' '));
  }
});

test('--values prints the differing values of two requests, cut and escaped; without it no content is printed', async () => {
  const long = 'x'.repeat(200);
  file('values-a.json', JSON.stringify(request));
  file('values-b.json', JSON.stringify({ ...request, temperature: 0.7, messages: [request.messages[0], { role: 'user', content: `\u001b[31mred\u202e\u2060\u{e0049} ${long}` }] }));
  const plain = await cli(['diff', 'values-a.json', 'values-b.json']);
  assert.equal(plain.code, 1);
  assert.ok(!plain.stdout.includes('secret-4471') && !plain.stdout.includes('xxx') && !plain.stdout.includes('0.7'));
  const shown = await cli(['diff', 'values-a.json', 'values-b.json', '--values']);
  assert.equal(shown.code, 1);
  assert.equal(shown.stderr, '');
  const lines = shown.stdout.split('\n');
  const content = lines.findIndex((line) => line.includes("['content']"));
  assert.ok(content > 0, shown.stdout);
  assert.equal(lines[content + 1], `           a: "${SECRET}"`);
  const b = lines[content + 2]!;
  // A word joiner and a tag character (hidden text) too, as JSON escapes (the tag character as its two UTF-16 units).
  assert.ok(b.startsWith('           b: "\\u001b[31mred\\u202e\\u2060\\udb40\\udc49 xxx'), b);
  assert.ok(b.endsWith('x…'), b);
  assert.equal([...b.slice('           b: '.length)].length, 81); // 80 characters and the mark
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u202e\u2060\u{e0049}]/u.test(shown.stdout));
  const temperature = lines.findIndex((line) => line.includes("['temperature']"));
  assert.deepEqual(lines.slice(temperature + 1, temperature + 3), ['           a: 0', '           b: 0.7']);
  const json = JSON.parse((await cli(['diff', 'values-a.json', 'values-b.json', '--values', '--json'])).stdout);
  assert.deepEqual(json.differences.find((d: { path: string }) => d.path.endsWith("['temperature']")).values, { a: '0', b: '0.7' });
  const plainJson = JSON.parse((await cli(['diff', 'values-a.json', 'values-b.json', '--json'])).stdout);
  assert.ok(plainJson.differences.every((d: object) => !('values' in d)));
});

test('--values with a receipt or identity document says no content is available and prints none', async () => {
  await ready;
  const result = await cli(['diff', 'longer.json', 'receipt.json', '--values']);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, 'runprint: --values: no content to show: a receipt or an identity document carries only digests\n');
  assert.ok(!result.stdout.includes('secret-'));
  assert.ok(!result.stdout.includes('a: '));
});

test('unreadable inputs: not JSON, a broken receipt or identity document exit 3 with a one-line error; a missing file exits 4', async () => {
  const { runId } = await ready;
  file('garbage.json', '{"payloadType": ');
  const garbage = await cli(['diff', 'garbage.json', 'id.json']);
  assert.equal(garbage.code, 3);
  assert.match(garbage.stderr, /^runprint: ERR_JSON_\w+: .*\n$/);
  file('bad-envelope.json', JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: '!!!', signatures: [] }));
  const envelope = await cli(['diff', 'bad-envelope.json', 'id.json']);
  assert.equal(envelope.code, 3);
  assert.match(envelope.stderr, /^runprint: ERR_ENVELOPE_INVALID: .*\n$/);
  const identity = JSON.parse((await cli(['id', 'request.json', '--response', 'response.json', '--json'])).stdout);
  identity.components.input.digest.sha256 = 'not-hex';
  file('bad-id.json', JSON.stringify(identity));
  const bad = await cli(['diff', 'receipt.json', 'bad-id.json']);
  assert.deepEqual(bad, {
    code: 3,
    stdout: '',
    stderr: 'runprint: ERR_IDENTITY_DOCUMENT_INVALID: identity document components.input.digest must have a sha256 of 64 lowercase hex digits\n',
  });
  identity.components.input.digest.sha256 = runId.slice(-64);
  identity.runId = 'rp-run-v1-sha256-short';
  file('bad-run.json', JSON.stringify(identity));
  const badRun = await cli(['diff', 'bad-run.json', 'id.json']);
  assert.equal(badRun.code, 3);
  assert.match(badRun.stderr, /ERR_IDENTITY_DOCUMENT_INVALID: identity document runId must be a v1 run identity/);
  const missing = await cli(['diff', 'receipt.json', 'no-such.json']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /ERR_INPUT_NOT_FOUND/);
});

test('--values never shows a salt: two compositions that differ only by salt', async () => {
  const composition = { version: 'runprint/v1', model: { name: 'm' }, system: [], input: ['hi'], context: [], tools: [], parameters: {}, configuration: {} };
  const saltA = 'a'.repeat(64);
  const saltB = 'b'.repeat(64);
  file('salted-a.json', JSON.stringify({ ...composition, salts: { input: saltA } }));
  file('salted-b.json', JSON.stringify({ ...composition, salts: { input: saltB } }));
  const result = await cli(['diff', 'salted-a.json', 'salted-b.json', '--values', '--json']);
  assert.equal(result.code, 1, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).differences, [{ component: 'input', change: 'changed', path: "$['salts']['input']" }]);
  const text = await cli(['diff', 'salted-a.json', 'salted-b.json', '--values']);
  assert.ok(!text.stdout.includes('aaaa') && !text.stdout.includes('bbbb') && !text.stdout.includes(' a: '), text.stdout);
});
