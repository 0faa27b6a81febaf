/**
 * Declared retrieval is signed: a run's receipt states the documents the application declared
 * (docs/RECEIPTS.md 13.2 `runDetails.retrieval`), through the proxy (`runprint-retrieval` header,
 * a real `runprint serve`) and in process (`withRetrieval`, runprintFetch's local store), with the
 * real openai SDK against the fake upstream. The receipt verifies and names the documents
 * (verifyReceipt, `runprint verify`, `runprint show`); a declaration changed after signing fails
 * the signature; the same call declared both ways gives equal declarations; a run without
 * declarations has a receipt with no such member.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { retrievalHeader, type RunRecord } from '../src/capture/index.ts';
import { runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/index.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { signStatement, verifyReceipt } from '../src/receipt/index.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhône and the Saône.';
const DOCS = [{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }];

let upstream: FakeUpstream;
let serve: ServeProcess;
let serveData: string;
let localData: string;
const scratch = scratchFolders('runprint-retrieval-receipt-');
before(async () => {
  upstream = await startFakeUpstream();
  serveData = scratch.tempDir();
  localData = scratch.tempDir();
  serve = await startServe({ data: serveData, args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const body = (documents: string[]) => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system' as const, content: 'Answer from the documents.' },
    { role: 'user' as const, content: `Documents:\n${documents.join('\n')}\n\nQuestion: where?` },
  ],
});
const EXPECTED = [
  { source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 },
  { source: 'kb://cities/lyon', digest: { sha256: sha256(DOC_B) }, component: 'input', element: 0 },
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Statement = Record<string, any>;
const statementOf = (receipt: string): Statement => JSON.parse(Buffer.from(JSON.parse(receipt).payload, 'base64').toString('utf8'));

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Makes `call` and returns the one request the upstream received for it. */
async function made(call: () => Promise<unknown>): Promise<RecordedRequest> {
  const mark = upstream.requests.length;
  await call();
  await upstream.settled();
  const received = upstream.requests.slice(mark);
  assert.equal(received.length, 1);
  return received[0]!;
}

/** A call through the proxy and its stored record and receipt, read over serve's HTTP API. */
async function proxied(documents: string[], headers: Record<string, string>): Promise<{ record: RunRecord; receipt: string; sent: RecordedRequest }> {
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
  let captureId = '';
  const sent = await made(async () => {
    const { response } = await client.chat.completions.create(body(documents), { headers }).withResponse();
    captureId = response.headers.get('runprint-capture-id')!;
  });
  await until(async () => (await fetch(`${serve.base}/v1/runs/${captureId}/receipt`)).status === 200, 'the receipt is signed');
  const view = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ record: RunRecord }> };
  return { record: view.runs[0]!.record, receipt: await (await fetch(`${serve.base}/v1/runs/${captureId}/receipt`)).text(), sent };
}

/** Calls made in process (runprintFetch with a local store), then their stored records and receipts, oldest first. */
async function inProcess(calls: Array<(client: OpenAI) => Promise<unknown>>): Promise<Array<{ record: RunRecord; receipt: string; sent: RecordedRequest }>> {
  const wrapped = runprintFetch({ data: localData, onError: (error) => assert.fail(error) });
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  const sent: RecordedRequest[] = [];
  for (const call of calls) sent.push(await made(() => call(client)));
  await wrapped.flush();
  await wrapped.close();
  const store = SqliteRuns.open(join(localData, 'runs.sqlite'));
  try {
    const runs = (await store.list({})).reverse().slice(-calls.length);
    return runs.map((run, i) => ({ record: run.record, receipt: run.receipt!, sent: sent[i]! }));
  } finally {
    await store.close();
  }
}

async function verified(receipt: string, data: string, sent: RecordedRequest) {
  const key = await parsePrivateKey(readFileSync(join(data, 'receipt-key.pem'), 'utf8'));
  return verifyReceipt(receipt, { keys: [key.publicKey], composition: parseJson(sent.body), from: 'openai-chat', output: sent.response.body, outputFormat: 'openai-chat' });
}

test('proxy and in process: the receipt signs the declared documents, which verify and equal the record\'s, the same both ways', async () => {
  const proxy = await proxied([DOC_A, DOC_B], { 'runprint-retrieval': retrievalHeader(DOCS) });
  const [local] = await inProcess([(client) => withRetrieval(DOCS, () => client.chat.completions.create(body([DOC_A, DOC_B])))]);
  for (const [name, run, data] of [['proxy', proxy, serveData], ['in process', local!, localData]] as const) {
    assert.deepEqual(run.record.retrieval, EXPECTED, `${name}: the record`);
    const statement = statementOf(run.receipt);
    assert.deepEqual(statement['predicate']['runDetails']['retrieval'], EXPECTED, `${name}: the signed payload holds the declaration`);
    const report = await verified(run.receipt, data, run.sent);
    assert.ok(report.ok, `${name}: ${JSON.stringify(report.checks.filter((check) => !check.ok))}`);
    assert.deepEqual(report.retrieval, EXPECTED, `${name}: the verifier gives the signed declaration`);
  }
  assert.equal(proxy.record.runId, local!.record.runId, 'the same call: the same run identity, declared either way');
  assert.deepEqual(statementOf(proxy.receipt)['predicate']['runDetails']['retrieval'], statementOf(local!.receipt)['predicate']['runDetails']['retrieval']);
});

test('a declaration changed after signing fails the signature; runprint verify and show print the declared documents', async () => {
  const run = await proxied([DOC_A, DOC_B], { 'runprint-retrieval': retrievalHeader(DOCS) });
  const dir = scratch.tempDir();
  writeFileSync(join(dir, 'receipt.json'), run.receipt);
  const pub = join(dir, 'receipt-key.pub.pem');
  writeFileSync(pub, createPublicKey(readFileSync(join(serveData, 'receipt-key.pem'))).export({ format: 'pem', type: 'spki' }));
  const good = await runRunprint(['verify', join(dir, 'receipt.json'), '--key', pub]);
  assert.equal(good.code, 0, good.stderr);
  assert.ok(good.stdout.endsWith([
    'declared retrieval: 2 documents',
    `  kb://towers/eiffel sha256:${sha256(DOC_A)} (input[0])`,
    `  kb://cities/lyon sha256:${sha256(DOC_B)} (input[0])`,
    `receipt verified: ${run.record.runId}`,
    '',
  ].join('\n')), good.stdout);
  const json = JSON.parse((await runRunprint(['verify', join(dir, 'receipt.json'), '--key', pub, '--json'])).stdout);
  assert.deepEqual(json.retrieval, EXPECTED);
  const shown = await runRunprint(['show', join(dir, 'receipt.json')]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.includes(`\n  retrieval      kb://towers/eiffel sha256:${sha256(DOC_A)} (input[0])\n                 kb://cities/lyon sha256:${sha256(DOC_B)} (input[0])\n`), shown.stdout);
  assert.ok(!shown.stdout.includes('Eiffel Tower is'), 'digests, never the text');
  const shownJson = JSON.parse((await runRunprint(['show', join(dir, 'receipt.json'), '--json'])).stdout);
  assert.deepEqual(shownJson.retrieval, EXPECTED.map((entry) => ({ ...entry, digest: `sha256:${entry.digest.sha256}` })));

  // Whoever holds the receipt (or the run store) drops a declaration, or adds one: the signature no longer holds.
  const envelope = JSON.parse(run.receipt);
  for (const change of [(s: Statement) => s['predicate']['runDetails']['retrieval'].pop(), (s: Statement) => { s['predicate']['runDetails']['retrieval'][1].source = 'kb://elsewhere'; }]) {
    const statement = statementOf(run.receipt);
    change(statement);
    const altered = JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') });
    const report = await verified(altered, serveData, run.sent);
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.at(-1), { name: 'signature', ok: false, keyId: report.checks.at(-1)!.keyId, code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' });
    assert.equal(report.retrieval, undefined);
    writeFileSync(join(dir, 'altered.json'), altered);
    const bad = await runRunprint(['verify', join(dir, 'altered.json'), '--key', pub]);
    assert.equal(bad.code, 1);
    assert.ok(!bad.stdout.includes('declared retrieval'), bad.stdout);
  }
});

test('without declarations the receipt has no retrieval member; a document declared twice is signed once', async () => {
  const plain = await proxied([DOC_A], {});
  const [twice, none] = await inProcess([
    (client) => withRetrieval([DOCS[0]!, DOCS[0]!], () => client.chat.completions.create(body([DOC_A]))),
    (client) => client.chat.completions.create(body([DOC_A])),
  ]);
  for (const [name, run] of [['proxy', plain], ['in process', none!]] as const) {
    assert.deepEqual(run.record.retrieval, []);
    const details = statementOf(run.receipt)['predicate']['runDetails'];
    assert.deepEqual(Object.keys(details).sort(), ['builder', 'logProof', 'metadata', 'output', 'parentRunIds', 'served'], `${name}: no retrieval member, as before`);
    assert.ok(!run.receipt.includes('retrieval') && !Buffer.from(JSON.parse(run.receipt).payload, 'base64').toString().includes('retrieval'));
  }
  assert.deepEqual(twice!.record.retrieval, [EXPECTED[0], EXPECTED[0]], 'the record keeps what was declared');
  assert.deepEqual(statementOf(twice!.receipt)['predicate']['runDetails']['retrieval'], [EXPECTED[0]], 'the receipt states it once');
  const report = await verified(twice!.receipt, localData, twice!.sent);
  assert.ok(report.ok, JSON.stringify(report.checks.filter((check) => !check.ok)));
  const file = join(scratch.tempDir(), 'receipt.json');
  writeFileSync(file, none!.receipt);
  const show = await runRunprint(['show', file]);
  assert.ok(show.stdout.includes('\n  retrieval      (none declared)\n'), show.stdout);
});

test('runs verify: a declaration added to or removed from a stored record after signing fails the receipt check', async () => {
  const [run] = await inProcess([(client) => withRetrieval(DOCS, () => client.chat.completions.create(body([DOC_A, DOC_B])))]);
  const { captureId } = run!.record;
  const verify = async (data: string) => {
    const out = await runRunprint(['runs', 'verify', captureId, '--data', data, '--json']);
    const result = JSON.parse(out.stdout) as { checks: Array<{ name: string; status: string; code?: string; message?: string }> };
    return { code: out.code, record: result.checks.find((check) => check.name === 'record')!, receipt: result.checks.find((check) => check.name === 'receipt')! };
  };
  const untouched = await verify(localData);
  assert.equal(untouched.receipt.status, 'pass', JSON.stringify(untouched.receipt));
  for (const change of [(record: RunRecord) => record.retrieval.pop(), (record: RunRecord) => record.retrieval.push({ ...record.retrieval[0]!, source: 'kb://added/later' })]) {
    const copy = scratch.tempDir();
    cpSync(localData, copy, { recursive: true });
    const db = new DatabaseSync(join(copy, 'runs.sqlite'));
    const record = structuredClone(run!.record);
    change(record);
    // The record's own digest made to match, as whoever controls the store can: only the signed receipt tells.
    const text = canonicalize(record);
    db.prepare('UPDATE runs SET record = ?, record_digest = ? WHERE capture_id = ?').run(text, createHash('sha256').update(text).digest('hex'), captureId);
    db.close();
    const altered = await verify(copy);
    assert.equal(altered.code, 1);
    assert.equal(altered.record.status, 'pass', 'the record is self-consistent');
    assert.deepEqual([altered.receipt.status, altered.receipt.code, altered.receipt.message], ['fail', 'ERR_IDENTITY_MISMATCH', 'the receipt declares other retrieved documents than the record states']);
  }
});

test('runs verify: a receipt signed before receipts carried declarations (no retrieval member) is not failed for the record\'s declaration, which it says is not checked', async () => {
  const [run] = await inProcess([(client) => withRetrieval(DOCS, () => client.chat.completions.create(body([DOC_A, DOC_B])))]);
  const { captureId } = run!.record;
  const copy = scratch.tempDir();
  cpSync(localData, copy, { recursive: true });
  // The receipt as a runprint of before signed it: the same statement without runDetails.retrieval, the same key.
  const statement = statementOf(run!.receipt);
  assert.ok(Array.isArray(statement['predicate']['runDetails']['retrieval']));
  delete statement['predicate']['runDetails']['retrieval'];
  const key = await parsePrivateKey(readFileSync(join(copy, 'receipt-key.pem'), 'utf8'));
  const older = JSON.stringify(await signStatement(statement as never, key));
  const db = new DatabaseSync(join(copy, 'runs.sqlite'));
  db.prepare('UPDATE runs SET receipt = ? WHERE capture_id = ?').run(older, captureId);
  db.close();
  const out = await runRunprint(['runs', 'verify', captureId, '--data', copy, '--json']);
  const receipt = (JSON.parse(out.stdout) as { checks: Array<{ name: string; status: string; code?: string; message?: string }> }).checks.find((check) => check.name === 'receipt')!;
  assert.deepEqual([receipt.status, receipt.code, receipt.message], ['pass', undefined, "receipt verified; the record's declared retrieval is not checked: the receipt states none (signed before receipts carried declarations)"]);
});
