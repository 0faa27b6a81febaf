/** The service's CLI-like routes through `app.request()` (no socket): identity with a response, explain, diff, sign and verify (README, "Service"). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compositionFromDocument } from '../src/compose/from-document.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { formatEnvelope } from '../src/receipt/envelope.ts';
import { receiptFactsOf } from '../src/receipt/receipt-facts.ts';
import { signReceipt } from '../src/receipt/sign.ts';
import { formatBundle } from '../src/receipt/sigstore-bundle.ts';
import { createApp, type AppOptions } from '../src/server/app.ts';
import { createIdentityPool } from '../src/server/identity-pool.ts';
import { APPLICATION_KEY, GATEWAY_KEY, REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { runRunprint } from './helpers/serve-process.ts';

const encoder = new TextEncoder();
const SSE = readFileSync(new URL('./fixtures/output/openai-chat/text.sse', import.meta.url), 'utf8');
const SSE_JSON = readFileSync(new URL('./fixtures/output/openai-chat/text.json', import.meta.url), 'utf8');
const TOKEN = 'sign-token-1';
const VERSION = '9.9.9-test';
const signKey = await parsePrivateKey(APPLICATION_KEY.privateKeyPem);

function appWith(options: AppOptions = {}) {
  return createApp({ sign: { key: signKey, token: TOKEN, runprintVersion: VERSION }, ...options });
}

function post(app: ReturnType<typeof createApp>, path: string, body: unknown, headers: Record<string, string> = {}) {
  return app.request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

const OTHER_REQUEST = { ...REQUEST, temperature: 1 };

/** What POST /v1/diff answers with a receipt or an identity document on a side (docs/CLI.md, "diff --json"). */
interface DiffAnswer {
  equal: boolean;
  compared: string;
  a: string;
  kinds: { a: string; b: string };
  signaturesChecked?: boolean;
  output: { equal: boolean; a: string | null; b: string | null };
}

/** What the CLI prints with --json for the same files (request.json, response.json, other-request.json). */
const cliFolder = await mkdtemp(join(tmpdir(), 'runprint-api-cli-'));
await writeFile(join(cliFolder, 'request.json'), JSON.stringify(REQUEST));
await writeFile(join(cliFolder, 'other-request.json'), JSON.stringify(OTHER_REQUEST));
await writeFile(join(cliFolder, 'response.json'), RESPONSE_TEXT);
async function cliJson(args: string[]): Promise<unknown> {
  const result = await runRunprint(args, { cwd: cliFolder });
  assert.equal(result.stderr, '');
  return JSON.parse(result.stdout);
}

const signBody = { composition: REQUEST, output: RESPONSE_TEXT, started: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:00:01Z' };

/** The envelope `runprint sign` makes of the same run (same facts, same deterministic key). */
async function cliEnvelope(): Promise<string> {
  const read = compositionFromDocument(structuredClone(REQUEST) as never);
  const facts = receiptFactsOf(read, { output: encoder.encode(RESPONSE_TEXT), capture: 'cli', runprintVersion: VERSION, parentRunIds: [], startedOn: signBody.started, finishedOn: signBody.finished });
  return formatEnvelope(await signReceipt(facts, signKey));
}

const pool = createIdentityPool({ workers: 1 });
after(async () => {
  await pool.close();
  await rm(cliFolder, { recursive: true, force: true });
});

for (const [name, options] of [['in process', {}], ['worker pool', { computeIdentity: pool.compute }]] as const) {
  test(`${name}: POST /v1/identity takes the plain body and the named form with a JSON or SSE response`, async () => {
    const app = appWith(options);
    const plain = await (await post(app, '/v1/identity', REQUEST)).json();
    assert.equal(plain.runId, null);
    assert.deepEqual(plain, JSON.parse(JSON.stringify(computeIdentity(compositionFromDocument(REQUEST as never).composition))));
    const expected = computeIdentity(compositionFromDocument(REQUEST as never, { response: encoder.encode(SSE) }).composition);
    assert.match(expected.runId ?? '', /^rp-run-/);
    for (const response of [SSE, SSE_JSON, JSON.parse(SSE_JSON)]) {
      const answer = await post(app, '/v1/identity', { request: REQUEST, response });
      assert.equal(answer.status, 200);
      assert.equal((await answer.json()).runId, expected.runId);
    }
    const base64 = await post(app, '/v1/identity', { request: REQUEST, responseBase64: Buffer.from(SSE).toString('base64') });
    assert.equal((await base64.json()).runId, expected.runId);
    // A response with a composition is refused as in the CLI; a broken stream has the CLI's code.
    const broken = await post(app, '/v1/identity', { request: REQUEST, response: 'data: {"id":' });
    assert.equal(broken.status, 400);
    assert.match((await broken.json()).error.code, /^ERR_(OUTPUT|JSON)_/);
    const both = await post(app, '/v1/identity?from=anthropic-messages', { request: REQUEST, from: 'openai-chat' });
    assert.deepEqual(await both.json(), { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'the query\'s "from" and the member "from" differ; give one', path: "$['from']" } });
  });

  test(`${name}: POST /v1/explain answers what runprint explain --json prints, without content`, async () => {
    const app = appWith(options);
    const answer = await post(app, '/v1/explain', { request: REQUEST, response: RESPONSE_TEXT });
    assert.equal(answer.status, 200);
    const text = await answer.text();
    assert.ok(!text.includes('Capital of France') && !text.includes('Answer in one word'), 'no message content in the answer');
    assert.deepEqual(JSON.parse(text), await cliJson(['explain', 'request.json', '--response', 'response.json', '--json']));
    assert.match(JSON.parse(text).runId, /^rp-run-/);
    const missing = await post(app, '/v1/explain', { response: RESPONSE_TEXT });
    assert.equal((await missing.json()).error.message, 'member "request" is required');
    const unknown = await post(app, '/v1/explain', { request: REQUEST, respnse: RESPONSE_TEXT });
    assert.equal(unknown.status, 400);
    assert.deepEqual((await unknown.json()).error, { code: 'ERR_HTTP_BAD_REQUEST', message: 'unknown member "respnse"; this route takes request, response, responseBase64, from', path: "$['respnse']" });
  });

  test(`${name}: POST /v1/diff answers what runprint diff --json prints, with 200 whether equal or not`, async () => {
    const app = appWith(options);
    const differ = await post(app, '/v1/diff', { a: REQUEST, b: OTHER_REQUEST });
    assert.equal(differ.status, 200);
    const answer = (await differ.json()) as { equal: boolean; differences: unknown[] };
    assert.deepEqual(answer, await cliJson(['diff', 'request.json', 'other-request.json', '--json']));
    assert.equal(answer.equal, false);
    assert.deepEqual(answer.differences, [{ component: 'parameters', change: 'changed', path: "$['parameters']['temperature']" }]);
    const equal = await (await post(app, '/v1/diff', { a: REQUEST, b: REQUEST, from: 'openai-chat' })).json();
    assert.equal(equal.equal, true);
    assert.deepEqual(equal.differences, []);
  });

  test(`${name}: POST /v1/diff compares receipts, identity documents and requests with their responses as runprint diff --json does`, async () => {
    const app = appWith(options);
    const receipt = await cliEnvelope();
    const lyon = RESPONSE_TEXT.replace('Paris', 'Lyon');
    await writeFile(join(cliFolder, 'receipt.json'), receipt);
    await writeFile(join(cliFolder, 'lyon.json'), lyon);
    const identity = await (await post(app, '/v1/identity', { request: REQUEST, response: RESPONSE_TEXT })).json();
    await writeFile(join(cliFolder, 'id.json'), JSON.stringify(identity));
    // A request with its response against the receipt of its run: equal run identities and outputs.
    const withResponse = await post(app, '/v1/diff', { a: REQUEST, responseA: RESPONSE_TEXT, b: JSON.parse(receipt) });
    assert.equal(withResponse.status, 200);
    const answer = (await withResponse.json()) as DiffAnswer;
    assert.deepEqual(answer, await cliJson(['diff', 'request.json', 'receipt.json', '--response-a', 'response.json', '--json']));
    assert.equal(answer.equal, true);
    assert.equal(answer.compared, 'runId');
    assert.equal(answer.a, identity.runId);
    assert.deepEqual(answer.kinds, { a: 'request', b: 'receipt' });
    assert.equal(answer.signaturesChecked, false);
    assert.equal(answer.output.equal, true);
    // The receipt as the file's text, an identity document, a bundle, another answer given in base64.
    const textual = (await (await post(app, '/v1/diff', { a: receipt, b: identity })).json()) as DiffAnswer;
    assert.deepEqual(textual, await cliJson(['diff', 'receipt.json', 'id.json', '--json']));
    assert.deepEqual(textual.kinds, { a: 'receipt', b: 'identity-document' });
    const bundle = formatBundle(JSON.parse(receipt), { publicKeyHint: APPLICATION_KEY.keyId });
    const other = (await (await post(app, '/v1/diff', { a: bundle, b: REQUEST, responseBBase64: Buffer.from(lyon).toString('base64') })).json()) as DiffAnswer;
    assert.deepEqual(other, await cliJson(['diff', 'receipt.json', 'request.json', '--response-b', 'lyon.json', '--json']));
    assert.equal(other.equal, true);
    assert.equal(other.output.equal, false);
    assert.notEqual(other.output.a, other.output.b);
    assert.ok(!JSON.stringify(other).includes('Lyon'));
    // Two requests with their responses, one as an SSE stream and one as its JSON body.
    const streams = (await (await post(app, '/v1/diff', { a: REQUEST, responseA: SSE, b: REQUEST, responseB: JSON.parse(SSE_JSON) })).json()) as DiffAnswer;
    assert.equal(streams.compared, 'runId');
    assert.equal(streams.output.equal, true);
    // Errors name the member, as the CLI names the option.
    const refused = await post(app, '/v1/diff', { a: JSON.parse(receipt), responseA: RESPONSE_TEXT, b: REQUEST });
    assert.equal(refused.status, 400);
    assert.deepEqual((await refused.json()).error, {
      code: 'ERR_HTTP_BAD_REQUEST',
      message: 'member "responseA": a response combines with a provider request, not with a receipt (a receipt states its own output digest)',
      path: "$['responseA']",
    });
    const unknown = await post(app, '/v1/diff', { a: REQUEST, b: REQUEST, response: RESPONSE_TEXT });
    assert.equal((await unknown.json()).error.message, 'unknown member "response"; this route takes a, b, from, responseA, responseABase64, responseB, responseBBase64');
    const broken = await post(app, '/v1/diff', { a: { payloadType: 'application/vnd.in-toto+json', payload: '!!!', signatures: [] }, b: REQUEST });
    assert.equal(broken.status, 400);
    assert.equal((await broken.json()).error.code, 'ERR_ENVELOPE_INVALID');
    const failed = await post(app, '/v1/diff', { a: REQUEST, b: REQUEST, responseB: '{"error":{"message":"Rate limit","type":"requests"}}' });
    assert.equal(failed.status, 400);
    assert.equal((await failed.json()).error.code, 'ERR_OUTPUT_PROVIDER_ERROR');
  });

  test(`${name}: POST /v1/sign needs the sign token and signs what runprint sign signs`, async () => {
    const app = appWith(options);
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`]) {
      const refused = await post(app, '/v1/sign', signBody, authorization === undefined ? {} : { authorization });
      assert.equal(refused.status, 401);
      assert.deepEqual((await refused.json()).error.code, 'ERR_HTTP_UNAUTHORIZED');
    }
    const signed = await post(app, '/v1/sign', signBody, { authorization: `Bearer ${TOKEN}` });
    assert.equal(signed.status, 200);
    assert.equal(await signed.text(), await cliEnvelope());
    // ?form=bundle: the Sigstore bundle runprint sign --bundle writes, byte for byte.
    const bundled = await post(app, '/v1/sign?form=bundle', signBody, { authorization: `Bearer ${TOKEN}` });
    assert.equal(bundled.status, 200);
    assert.equal(await bundled.text(), `${JSON.stringify(formatBundle(JSON.parse(await cliEnvelope()), { publicKeyHint: signKey.keyId }), null, 2)}\n`);
    const badForm = await post(app, '/v1/sign?form=pdf', signBody, { authorization: `Bearer ${TOKEN}` });
    assert.equal(badForm.status, 400);
    assert.equal((await badForm.json()).error.code, 'ERR_HTTP_BAD_REQUEST');
    const asObject = await post(app, '/v1/sign', { ...signBody, output: JSON.parse(RESPONSE_TEXT) }, { authorization: `Bearer ${TOKEN}` });
    assert.deepEqual((await asObject.json()).error, { code: 'ERR_HTTP_BAD_REQUEST', message: 'member "output" must be a string: the body exactly as received (JSON or an SSE stream)', path: "$['output']" });
    const badTime = await post(app, '/v1/sign', { ...signBody, finished: '2025-01-01T00:00:00Z' }, { authorization: `Bearer ${TOKEN}` });
    assert.equal((await badTime.json()).error.message, 'finished is before started');
    const badParent = await post(app, '/v1/sign', { ...signBody, parents: ['rp-req-x'] }, { authorization: `Bearer ${TOKEN}` });
    assert.equal((await badParent.json()).error.code, 'ERR_IDENTITY_MALFORMED', 'as runprint sign --parent');
    // Without a sign key the route does not exist.
    assert.equal((await post(createApp(options), '/v1/sign', signBody, { authorization: `Bearer ${TOKEN}` })).status, 404);
  });

  test(`${name}: POST /v1/verify answers the verify report; a failing receipt is 200 with ok false`, async () => {
    const app = appWith(options);
    const receipt = await cliEnvelope();
    const full = { receipt, keys: [APPLICATION_KEY.publicKeyPem], composition: REQUEST, output: RESPONSE_TEXT };
    const ok = await (await post(app, '/v1/verify', full)).json();
    assert.equal(ok.ok, true);
    assert.match(ok.runId, /^rp-run-/);
    assert.ok(ok.checks.every((check: { ok: boolean }) => check.ok));
    // The parsed envelope and a Sigstore bundle are read too.
    assert.equal((await (await post(app, '/v1/verify', { ...full, receipt: JSON.parse(receipt) })).json()).ok, true);
    const bundle = formatBundle(JSON.parse(receipt), { publicKeyHint: APPLICATION_KEY.keyId });
    assert.equal((await (await post(app, '/v1/verify', { ...full, receipt: bundle })).json()).ok, true);
    // Other output, another key: answers, not errors.
    const otherOutput = await post(app, '/v1/verify', { ...full, output: RESPONSE_TEXT.replace('Paris', 'Lyon') });
    assert.equal(otherOutput.status, 200);
    const failed = await otherOutput.json();
    assert.equal(failed.ok, false);
    assert.equal(failed.checks.at(-1).code, 'ERR_OUTPUT_MISMATCH');
    const wrongKey = await (await post(app, '/v1/verify', { ...full, keys: [GATEWAY_KEY.publicKeyPem] })).json();
    assert.equal(wrongKey.ok, false);
    // The caller's own inputs that cannot be read are errors, as in the CLI.
    const badKey = await post(app, '/v1/verify', { ...full, keys: ['not a key'] });
    assert.equal(badKey.status, 400);
    assert.match((await badKey.json()).error.code, /^ERR_KEY_/);
    const noKeys = await post(app, '/v1/verify', { receipt });
    assert.equal((await noKeys.json()).error.path, "$['keys']");
    const lonely = await post(app, '/v1/verify', { receipt, keys: [APPLICATION_KEY.publicKeyPem], logKey: 'x+00000000+AA==' });
    assert.equal((await lonely.json()).error.message, 'logKey, logOrigin, witnesses and witnessThreshold go with logProof');
    const parsedWithProof = await post(app, '/v1/verify', { receipt: JSON.parse(receipt), keys: [APPLICATION_KEY.publicKeyPem], logProof: 'x', logKey: 'x' });
    assert.equal((await parsedWithProof.json()).error.path, "$['receipt']");
  });

  test(`${name}: a format from: auto cannot tell is answered with how an HTTP client names it, never the CLI's --from`, async () => {
    const app = appWith(options);
    // A bare {model, messages, max_tokens} is both OpenAI Chat and Anthropic Messages (SPEC 4.5).
    const ambiguous = { model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 };
    const finding = 'input could be a request of more than one provider API (openai-chat, anthropic-messages)';
    const query = `${finding}; name the format with the query parameter "from"`;
    const member = `${finding}; name the format with the member "from"`;
    const receipt = await cliEnvelope();
    const cases: Array<[string, unknown, string]> = [
      ['/v1/identity', ambiguous, query],
      ['/v1/identity', { request: ambiguous }, query],
      ['/v1/explain', { request: ambiguous }, member],
      ['/v1/diff', { a: ambiguous, b: REQUEST }, member],
      ['/v1/sign', { ...signBody, composition: ambiguous }, member],
      ['/v1/verify', { receipt, keys: [APPLICATION_KEY.publicKeyPem], composition: ambiguous }, member],
    ];
    for (const [path, body, message] of cases) {
      const answer = await post(app, path, body, { authorization: `Bearer ${TOKEN}` });
      assert.equal(answer.status, 400, path);
      assert.deepEqual((await answer.json()).error, { code: 'ERR_PROVIDER_AMBIGUOUS_FORMAT', message, path: '$' }, path);
    }
    // What the answer says to do works.
    assert.equal((await post(app, '/v1/identity?from=openai-chat', ambiguous)).status, 200);
    assert.equal((await post(app, '/v1/explain', { request: ambiguous, from: 'openai-chat' })).status, 200);
    assert.equal((await post(app, '/v1/diff', { a: ambiguous, b: REQUEST, from: 'openai-chat' })).status, 200);
    // A body of no known API: the same remedy, after its own finding.
    const unknown = await (await post(app, '/v1/identity', { prompt_text: 'Hi' })).json();
    assert.equal(unknown.error.message, 'input has no field of a composition or of a supported provider request; name the format with the query parameter "from"');
  });
}

test('the command line still asks for --from when it cannot tell the format', async () => {
  await writeFile(join(cliFolder, 'ambiguous.json'), JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 }));
  const result = await runRunprint(['id', 'ambiguous.json'], { cwd: cliFolder });
  assert.equal(result.stderr, 'runprint: ERR_PROVIDER_AMBIGUOUS_FORMAT: input could be a request of more than one provider API (openai-chat, anthropic-messages); pass --from (at $)\n');
});

test('the CLI-like routes declare the identity body limit to the server, and refuse a larger body with 413', async () => {
  const app = appWith({ maxBodyBytes: 1000 });
  for (const path of ['/v1/identity', '/v1/explain', '/v1/diff', '/v1/verify', '/v1/sign']) {
    assert.equal(app.bodyLimit?.('POST', path), 1000, path);
    const tooLarge = await post(app, path, { request: 'x'.repeat(1000) }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(tooLarge.status, 413, path);
    assert.equal((await tooLarge.json()).error.code, 'ERR_HTTP_BODY_TOO_LARGE');
    const text = await app.request(path, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` } });
    assert.equal(text.status, 415, path);
  }
  assert.equal(createApp().bodyLimit?.('POST', '/v1/sign'), 0, 'no sign key: no route, no body read');
});

test('the element limit holds on every CLI-like route', async () => {
  const app = appWith({ maxIdentityElements: 1 });
  const answers = [
    await post(app, '/v1/explain', { request: REQUEST }),
    await post(app, '/v1/diff', { a: REQUEST, b: REQUEST }),
    await post(app, '/v1/sign', signBody, { authorization: `Bearer ${TOKEN}` }),
    await post(app, '/v1/verify', { receipt: await cliEnvelope(), keys: [APPLICATION_KEY.publicKeyPem], composition: REQUEST }),
  ];
  for (const answer of answers) {
    assert.equal(answer.status, 413);
    assert.equal((await answer.json()).error.code, 'ERR_HTTP_TOO_MANY_ELEMENTS');
  }
});
