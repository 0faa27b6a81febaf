/**
 * Declared retrieval signed by hand: `runprint sign --retrieval FILE` and `POST /v1/sign` with a
 * `runprint-retrieval` header check the documents against the request with the capture core's own
 * check and sign what capture signs. A call captured in process (runprintFetch, the real openai
 * SDK against the fake upstream, withRetrieval) and the same request, response, times and
 * documents signed by hand give the same statement: identity, retrieval and every other fact.
 * `runprint verify` shows the declaration as it does a captured receipt's. A document the request
 * does not hold, a bad file or header, too many documents: capture's codes, nothing signed.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { retrievalHeader, type RunRecord } from '../src/capture/index.ts';
import { runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import { runprintVersion } from '../src/cli/version.ts';
import { parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { computeInProcess } from '../src/server/api-answers.ts';
import { createApp, type AppOptions } from '../src/server/app.ts';
import { createIdentityPool } from '../src/server/identity-pool.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { cliFolder } from './helpers/cli-folder.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './helpers/fake-upstream/index.ts';
import { scratchFolders } from './helpers/scratch.ts';

const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhône and the Saône.';
const DOC_SYSTEM = 'Answer from the documents.';
const DOCS = [{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }, { source: 'kb://house/rules', text: DOC_SYSTEM }];
const TOKEN = 'sign-token-1';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const EXPECTED = [
  { source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 },
  { source: 'kb://cities/lyon', digest: { sha256: sha256(DOC_B) }, component: 'input', element: 0 },
  { source: 'kb://house/rules', digest: { sha256: sha256(DOC_SYSTEM) }, component: 'system', element: 0 },
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Statement = Record<string, any>;
const statementOf = (receipt: string): Statement => JSON.parse(Buffer.from(JSON.parse(receipt).payload, 'base64').toString('utf8'));

let upstream: FakeUpstream;
let captured: { record: RunRecord; receipt: string; sent: RecordedRequest };
let capturedKey: SigningKey;
let version: string;
const scratch = scratchFolders('runprint-sign-retrieval-');
const { folder, file, cli } = cliFolder('runprint-sign-retrieval-cli-');
const pool = createIdentityPool({ workers: 1 });

/** One call captured in process into a local run store: its record, its receipt and what went over the wire. */
before(async () => {
  upstream = await startFakeUpstream();
  version = await runprintVersion();
  const data = scratch.tempDir();
  const wrapped = runprintFetch({ data, onError: (error) => assert.fail(error) });
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  const mark = upstream.requests.length;
  await withRetrieval(DOCS, () => client.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: DOC_SYSTEM },
      { role: 'user', content: `Documents:\n${DOC_A}\n"quoted"\n${DOC_B}\n\nQuestion: where?` },
    ],
  }));
  await upstream.settled();
  await wrapped.flush();
  await wrapped.close();
  const sent = upstream.requests.slice(mark);
  assert.equal(sent.length, 1);
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const [run] = await store.list({});
    captured = { record: run!.record, receipt: run!.receipt!, sent: sent[0]! };
  } finally {
    await store.close();
  }
  capturedKey = await parsePrivateKey(readFileSync(join(data, 'receipt-key.pem'), 'utf8'));
  file('key.pem', readFileSync(join(data, 'receipt-key.pem')));
  file('key.pub.pem', createPublicKey(readFileSync(join(data, 'receipt-key.pem'))).export({ format: 'pem', type: 'spki' }));
  file('request.json', captured.sent.body);
  file('response.json', captured.sent.response.body);
  file('docs.json', JSON.stringify(DOCS));
});
after(async () => {
  await pool.close();
  await upstream.close();
  scratch.removeAll();
});

/** runprint sign's options that state the captured run's facts but the declaration: the same times and capture point. */
const sameRun = () => ['sign', '--key', 'key.pem', '--composition', 'request.json', '--output', 'response.json', '--capture', 'sdk', '--started', captured.record.times.started, '--finished', captured.record.times.ended];

test('the capture: its receipt signs the declared documents (the premise of the comparisons below)', () => {
  assert.deepEqual(captured.record.retrieval, EXPECTED);
  assert.deepEqual(statementOf(captured.receipt)['predicate']['runDetails']['retrieval'], EXPECTED);
});

test('runprint sign --retrieval FILE signs the statement capture signed for the same call, byte for byte with the same key', async () => {
  const signed = await cli([...sameRun(), '--retrieval', 'docs.json']);
  assert.equal(signed.code, 0, signed.stderr);
  assert.equal(signed.stderr, '');
  const statement = statementOf(signed.stdout);
  assert.deepEqual(statement['predicate']['runDetails']['retrieval'], EXPECTED);
  assert.deepEqual(statement['subject'], statementOf(captured.receipt)['subject'], 'the same run identity and output');
  assert.deepEqual(statement, statementOf(captured.receipt), 'every fact the same');
  assert.equal(JSON.parse(signed.stdout).payload, JSON.parse(captured.receipt).payload, 'the same payload bytes');
  // Standard input, a document declared twice (signed once, as capture signs it), and no declaration at all.
  const twice = await cli([...sameRun(), '--retrieval', '-'], JSON.stringify([...DOCS, DOCS[0]]));
  assert.equal(twice.code, 0, twice.stderr);
  assert.equal(JSON.parse(twice.stdout).payload, JSON.parse(captured.receipt).payload);
  const none = await cli([...sameRun(), '--retrieval', '-'], '[]');
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, (await cli(sameRun())).stdout, 'an empty declaration is no declaration');
  assert.equal(statementOf(none.stdout)['predicate']['runDetails']['retrieval'], undefined, 'no member, as capture writes none');
});

test('runprint verify and show print the declaration of a receipt signed by hand as of a captured one', async () => {
  const signed = await cli([...sameRun(), '--retrieval', 'docs.json', '--out', 'receipt.json']);
  assert.equal(signed.code, 0, signed.stderr);
  const verified = await cli(['verify', 'receipt.json', '--key', 'key.pub.pem', '--composition', 'request.json', '--output', 'response.json']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.ok(verified.stdout.endsWith([
    'declared retrieval: 3 documents',
    `  kb://towers/eiffel sha256:${sha256(DOC_A)} (input[0])`,
    `  kb://cities/lyon sha256:${sha256(DOC_B)} (input[0])`,
    `  kb://house/rules sha256:${sha256(DOC_SYSTEM)} (system[0])`,
    `receipt verified: ${captured.record.runId}`,
    '',
  ].join('\n')), verified.stdout);
  const json = JSON.parse((await cli(['verify', 'receipt.json', '--key', 'key.pub.pem', '--json'])).stdout);
  assert.equal(json.ok, true);
  assert.deepEqual(json.retrieval, EXPECTED);
  const shown = await cli(['show', 'receipt.json']);
  assert.ok(shown.stdout.includes(`\n  retrieval      kb://towers/eiffel sha256:${sha256(DOC_A)} (input[0])\n`), shown.stdout);
  assert.ok(!shown.stdout.includes(DOC_A) && !verified.stdout.includes(DOC_A), 'digests, never the text');
});

test('runprint sign --retrieval: a document not in the request, a bad file, too many documents: capture\'s codes, nothing signed', async () => {
  const refused = async (argv: string[], expected: { code: number; stderr: string }, stdin?: string) => {
    const result = await cli(argv, stdin);
    assert.deepEqual(result, { ...expected, stdout: '' }, argv.join(' '));
    assert.equal(result.stderr.split('\n').length, 2, 'one line, no stack trace');
  };
  file('missing-doc.json', JSON.stringify([DOCS[0], { source: 'kb://never-sent', text: 'A document the application forgot to send.' }, { source: 'kb://also-never', text: 'Another.' }]));
  await refused([...sameRun(), '--retrieval', 'missing-doc.json', '--out', 'never.json'], {
    code: 3,
    stderr: 'runprint: ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST: 2 declared document(s) are not in the request\'s system or input (sources "kb://never-sent", "kb://also-never"); nothing is signed\n',
  });
  assert.equal(existsSync(join(folder, 'never.json')), false, 'no receipt written');
  // A text that is only in the response, or in a member outside system and input (the model's name), is not in the request's system or input.
  file('elsewhere.json', JSON.stringify([{ source: 'kb://answer', text: 'Hello from the fake upstream' }, { source: 'kb://model', text: 'gpt-4o' }]));
  await refused([...sameRun(), '--retrieval', 'elsewhere.json'], {
    code: 3,
    stderr: 'runprint: ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST: 2 declared document(s) are not in the request\'s system or input (sources "kb://answer", "kb://model"); nothing is signed\n',
  });
  file('not-json.json', '[{"source": "kb://a", "text": "x"},]');
  await refused([...sameRun(), '--retrieval', 'not-json.json'], { code: 3, stderr: 'runprint: ERR_CAPTURE_RETRIEVAL_INVALID: --retrieval not-json.json must be strict I-JSON (UTF-8), a JSON array of { source, text }: ERR_JSON_SYNTAX (at $[1])\n' });
  for (const [content, path] of [
    [{ source: 'kb://a', text: DOC_A }, '$'],
    [[{ source: 'kb://a' }], '$[0]'],
    [[{ source: 'kb://a', text: DOC_A }, { source: '', text: DOC_B }], '$[1]'],
    [[{ source: 'kb://a', text: DOC_A, digest: 'x' }], '$[0]'],
    [[DOC_A], '$[0]'],
  ] as const) {
    file('bad.json', JSON.stringify(content));
    const result = await cli([...sameRun(), '--retrieval', 'bad.json']);
    assert.equal(result.code, 3);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^runprint: ERR_CAPTURE_RETRIEVAL_INVALID: --retrieval bad\\.json: must be .*\\(at ${path.replace(/[$[\]]/g, '\\$&')}\\)\\n$`), JSON.stringify(content));
    assert.ok(!result.stderr.includes('Eiffel'), 'no text echoed');
  }
  file('many.json', JSON.stringify(Array.from({ length: 257 }, (_, i) => ({ source: `kb://${i}`, text: DOC_A }))));
  await refused([...sameRun(), '--retrieval', 'many.json'], { code: 3, stderr: 'runprint: ERR_CAPTURE_RETRIEVAL_TOO_LARGE: 257 documents are declared, more than the 256 one call may declare; nothing is signed\n' });
  await refused([...sameRun(), '--retrieval', 'no-such.json'], { code: 4, stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: no-such.json\n' });
  await refused(['sign', '--add-to', 'receipt.json', '--key', 'key.pem', '--retrieval', 'docs.json'], { code: 2, stderr: 'runprint: ERR_CLI_USAGE: --retrieval cannot be used with --add-to: the payload is already signed\n' });
  await refused(['sign', '--key', 'key.pem', '--composition', '-', '--output', 'response.json', '--retrieval', '-'], { code: 2, stderr: 'runprint: ERR_CLI_USAGE: only one of --composition, --output, --salts and --retrieval can be standard input\n' });
});

function appWith(key: SigningKey, options: AppOptions = {}) {
  return createApp({ sign: { key, token: TOKEN, runprintVersion: version }, ...options });
}

function postSign(app: ReturnType<typeof createApp>, body: unknown, headers: Record<string, string> = {}) {
  return app.request('/v1/sign', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers } });
}

/** The sign body of the captured run's facts: the request and response as sent, the same times and capture point. */
const sameRunBody = () => ({ composition: JSON.parse(captured.sent.body.toString('utf8')), output: captured.sent.response.body.toString('utf8'), capture: 'sdk', started: captured.record.times.started, finished: captured.record.times.ended });

for (const [name, options] of [['in process', {}], ['worker pool', { computeIdentity: pool.compute }]] as const) {
  test(`${name}: POST /v1/sign with a runprint-retrieval header signs the statement capture signed for the same call`, async () => {
    const app = appWith(capturedKey, options);
    const signed = await postSign(app, sameRunBody(), { 'runprint-retrieval': retrievalHeader(DOCS) });
    assert.equal(signed.status, 200);
    const receipt = await signed.text();
    assert.equal(JSON.parse(receipt).payload, JSON.parse(captured.receipt).payload, 'the same payload bytes');
    assert.deepEqual(statementOf(receipt)['predicate']['runDetails']['retrieval'], EXPECTED);
    assert.equal(receipt, (await cli([...sameRun(), '--retrieval', 'docs.json'])).stdout, 'what runprint sign --retrieval prints');
    // Several headers are one list, as the proxy reads them; the bundle form carries the same envelope.
    const split = await app.request('/v1/sign?form=bundle', {
      method: 'POST', body: JSON.stringify(sameRunBody()),
      headers: [['content-type', 'application/json'], ['authorization', `Bearer ${TOKEN}`], ...DOCS.map((document) => ['runprint-retrieval', retrievalHeader([document])] as [string, string])],
    });
    assert.equal(split.status, 200);
    assert.deepEqual((await split.json()).dsseEnvelope, JSON.parse(receipt));
    const report = await verifyReceipt(receipt, { keys: [capturedKey.publicKey], composition: sameRunBody().composition, output: captured.sent.response.body });
    assert.ok(report.ok, JSON.stringify(report.checks.filter((check) => !check.ok)));
    assert.deepEqual(report.retrieval, EXPECTED);
    // The same documents as the body's member "retrieval": the same receipt.
    const member = await postSign(app, { ...sameRunBody(), retrieval: DOCS });
    assert.equal(member.status, 200);
    assert.equal(await member.text(), receipt, 'the member signs what the header signs');
    // Without the header: the receipt as before, with no retrieval member.
    const plain = await (await postSign(app, sameRunBody())).text();
    assert.equal(plain, (await cli(sameRun())).stdout);
    assert.equal(statementOf(plain)['predicate']['runDetails']['retrieval'], undefined);
  });

  test(`${name}: POST /v1/sign refuses a declaration the request does not back up, a bad header and too many documents with capture's codes`, async () => {
    const app = appWith(capturedKey, options);
    const error = async (response: Response) => ({ status: response.status, error: (await response.json()).error });
    assert.deepEqual(await error(await postSign(app, sameRunBody(), { 'runprint-retrieval': retrievalHeader([DOCS[0]!, { source: 'kb://never-sent', text: 'A document the application forgot to send.' }]) })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', message: '1 declared document(s) are not in the request\'s system or input (sources "kb://never-sent"); nothing is signed' },
    });
    assert.deepEqual(await error(await postSign(app, sameRunBody(), { 'runprint-retrieval': 'not base64url!' })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_INVALID', message: 'runprint-retrieval must be base64url (RFC 4648 section 5) of a JSON array of { source, text }' },
    });
    const wrongShape = Buffer.from(JSON.stringify([{ source: 'kb://a' }])).toString('base64url');
    assert.deepEqual(await error(await postSign(app, sameRunBody(), { 'runprint-retrieval': wrongShape })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_INVALID', message: 'runprint-retrieval: must be { source, text }, two non-empty strings', path: '$[0]' },
    });
    const many = retrievalHeader(Array.from({ length: 257 }, (_, i) => ({ source: `k${i}`, text: 'x' })));
    assert.deepEqual(await error(await postSign(app, sameRunBody(), { 'runprint-retrieval': many })), {
      status: 431,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE', message: '257 documents are declared, more than the 256 one call may declare; nothing is signed' },
    });
    assert.deepEqual(await error(await postSign(app, sameRunBody(), { 'runprint-retrieval': 'A'.repeat(65537) })), {
      status: 431,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE', message: 'runprint-retrieval holds 65537 bytes, more than the 65536 POST /v1/sign reads; nothing is signed' },
    });
    // The member "retrieval": the same checks and codes, its path in the body named.
    assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: [DOCS[0]!, { source: 'kb://never-sent', text: 'A document the application forgot to send.' }] })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', message: '1 declared document(s) are not in the request\'s system or input (sources "kb://never-sent"); nothing is signed' },
    });
    assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: [{ source: 'kb://a' }] })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_INVALID', message: 'must be { source, text }, two non-empty strings', path: "$['retrieval'][0]" },
    });
    assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: 'kb://a' })), {
      status: 400,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_INVALID', message: 'must be an array of { source, text }', path: "$['retrieval']" },
    });
    // Too many in the body is a body too large (413), the member named; in the header, 431 as above.
    assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: Array.from({ length: 257 }, (_, i) => ({ source: `k${i}`, text: 'x' })) })), {
      status: 413,
      error: { code: 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE', message: '257 documents are declared, more than the 256 one call may declare; nothing is signed', path: "$['retrieval']" },
    });
    // Declared both ways: refused, not merged or one chosen, also when one of them declares none.
    for (const [member, header] of [[[], DOCS], [DOCS, []]] as const) {
      assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: member }, { 'runprint-retrieval': retrievalHeader(header) })), {
        status: 400,
        error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'the retrieval is declared twice: in the member "retrieval" and in runprint-retrieval headers; send one', path: "$['retrieval']" },
      }, `member of ${member.length}, header of ${header.length}`);
    }
    assert.deepEqual(await error(await postSign(app, { ...sameRunBody(), retrieval: DOCS }, { 'runprint-retrieval': retrievalHeader(DOCS) })), {
      status: 400,
      error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'the retrieval is declared twice: in the member "retrieval" and in runprint-retrieval headers; send one', path: "$['retrieval']" },
    });
    // The token is checked first; the body's own errors are the body's, declaration or not.
    const unauthorized = await app.request('/v1/sign', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'runprint-retrieval': 'not base64url!' } });
    assert.equal(unauthorized.status, 401);
    const noOutput = await postSign(app, { composition: sameRunBody().composition }, { 'runprint-retrieval': retrievalHeader(DOCS) });
    assert.deepEqual((await error(noOutput)).error.path, "$['output']");
  });
}

test('POST /v1/sign with a runprint-retrieval header reads the body once, in the compute: the header\'s documents go to it, the route parses nothing of the body', async () => {
  const signBody = new TextEncoder().encode(JSON.stringify(sameRunBody()));
  const calls: Array<{ operation: string | undefined; declared: unknown; body: string }> = [];
  // The compute answers for the captured run's body whatever it is sent: a route that parsed the
  // body itself too would find what it was sent.
  const app = appWith(capturedKey, {
    computeIdentity: (body, from, maxElements, operation, declared) => {
      calls.push({ operation, declared, body: new TextDecoder().decode(body) });
      return computeInProcess(signBody.slice(), from, maxElements, operation, declared);
    },
  });
  const signed = await app.request('/v1/sign', { method: 'POST', body: 'not JSON: parsed only by the compute', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'runprint-retrieval': retrievalHeader(DOCS) } });
  assert.equal(signed.status, 200);
  assert.equal(JSON.parse(await signed.text()).payload, JSON.parse(captured.receipt).payload, 'the receipt of the captured call, its retrieval checked in the compute');
  assert.deepEqual(calls, [{ operation: 'sign-facts', declared: DOCS, body: 'not JSON: parsed only by the compute' }], 'one compute, given the body and the header\'s documents');
  // A header that declares none is a declaration too (so the member with it is refused); no header, none.
  calls.length = 0;
  await postSign(app, sameRunBody(), { 'runprint-retrieval': retrievalHeader([]) });
  await postSign(app, sameRunBody());
  assert.deepEqual(calls.map((call) => call.declared), [[], undefined]);
});
