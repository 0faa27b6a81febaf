/**
 * docs/openapi.json against the service: every route of the app is in the document and every path
 * of the document is a route, and the real answers of a real `runprint serve` (log, witness and
 * signing on), successes and errors, validate against the document's schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { explorerRoutes } from '../src/server/explorer-routes.ts';
import type { RunStorage } from '../src/store/run-storage.ts';
import type { LogService } from '../src/server/log-routes.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { validate } from './helpers/json-schema.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

type Operation = { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
const DOCUMENT_BYTES = readFileSync(new URL('../docs/openapi.json', import.meta.url));
const DOCUMENT = JSON.parse(DOCUMENT_BYTES.toString('utf8')) as { openapi: string; paths: Record<string, Record<string, Operation>> };
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

function documented(): string[] {
  return Object.entries(DOCUMENT.paths).flatMap(([path, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method.toUpperCase()} ${path}`));
}

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

test('the JSON Schema checker used below fails what it must', () => {
  const root = { s: { type: 'object', required: ['a'], additionalProperties: false, properties: { a: { type: ['string', 'null'], pattern: '^x' }, b: { type: 'integer', minimum: 1 }, c: { oneOf: [{ type: 'null' }, { type: 'object' }] } } } };
  const schema = { $ref: '#/s' };
  assert.deepEqual(validate({ a: 'xy' }, schema, root), []);
  assert.deepEqual(validate({ a: null, b: 2, c: {} }, schema, root), []);
  for (const wrong of [{ a: 'y' }, { b: 1 }, { a: 'x', d: 1 }, { a: 'x', b: 1.5 }, { a: 'x', b: 0 }, { a: 'x', c: 3 }, []]) {
    assert.notDeepEqual(validate(wrong, schema, root), [], JSON.stringify(wrong));
  }
  assert.notDeepEqual(validate(1, { minLength: 1 }, root), [], 'an unknown keyword fails');
});

test('every route of the app is in docs/openapi.json and every documented route is one of the app\'s', async () => {
  assert.equal(DOCUMENT.openapi, '3.1.0');
  const app = createApp({
    log: { log: {} as LogService, token: 't' },
    witness: { logs: new Map(), signers: [], state: { witnessed: async () => undefined, saveWitnessed: async () => true } } as never,
    sign: { key: await parsePrivateKey((await generateKeyFiles('k')).privateKeyPem), token: 't', runprintVersion: 'x' },
    openapi: new Uint8Array(DOCUMENT_BYTES),
    runs: { storage: {} as RunStorage },
    runAnalysis: { storage: {} as RunStorage, verify: {} },
    ingest: { sink: { record: async () => undefined }, maxBodyBytes: 1, receipts: false },
    explorer: explorerRoutes({ receiptKey: (await parsePrivateKey((await generateKeyFiles('r')).privateKeyPem)).publicKey }),
  });
  const routes = app.routeTable!();
  assert.deepEqual([...routes].sort(), documented().sort());
});

test('real answers of runprint serve, successes and errors, validate against docs/openapi.json', async () => {
  const data = await mkdtemp(join(tmpdir(), 'runprint-openapi-'));
  folders.push(data);
  const LOG_NAME = 'example.test/openapi-log';
  const logKey = await generateKeyFiles(LOG_NAME);
  const witnessKey = await generateKeyFiles('example.test/openapi-witness');
  const signKey = await generateKeyFiles('receipts');
  for (const [name, text] of [['log.pem', logKey.privateKeyPem], ['witness.pem', witnessKey.privateKeyPem], ['sign.pem', signKey.privateKeyPem]] as const) {
    await writeFile(join(data, name), text, { mode: 0o600 });
  }
  const serve = await startServe({
    data,
    token: 'log-token-1',
    args: ['--log-name', LOG_NAME, '--log-key', join(data, 'log.pem'), '--sign-key', join(data, 'sign.pem'), '--sign-token', 'sign-token-1',
      '--witness-key', join(data, 'witness.pem'), '--witness-name', 'example.test/openapi-witness', '--witness-log', logKey.verifierKey],
  });
  const seen = new Set<string>();
  const problems: string[] = [];
  async function call(template: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const redirect = init.redirect ?? 'follow';
    const method = (init.method ?? 'GET').toLowerCase();
    const headers = new Headers(init.headers);
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers.set('content-type', 'application/json');
    }
    const response = await fetch(`${serve.base}${path}`, { method, headers, redirect, ...(body === undefined ? {} : { body }) });
    const copy = response.clone();
    const operation = DOCUMENT.paths[template]?.[method];
    const where = `${method.toUpperCase()} ${path} -> ${response.status}`;
    seen.add(`${method.toUpperCase()} ${template}`);
    const documentedAnswer = operation?.responses[String(response.status)];
    if (documentedAnswer === undefined) {
      problems.push(`${where}: status not documented`);
      return copy;
    }
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (documentedAnswer.content === undefined) {
      if (mediaType !== '') problems.push(`${where}: a body of ${mediaType} where none is documented`);
      return copy;
    }
    const content = documentedAnswer.content?.[mediaType];
    if (content === undefined) problems.push(`${where}: content type ${mediaType} not documented`);
    else if (mediaType === 'application/json') problems.push(...validate(await response.json(), content.schema as never, DOCUMENT).map((problem) => `${where}: ${problem}`));
    else if (mediaType !== 'application/octet-stream') problems.push(...validate(await response.text(), content.schema as never, DOCUMENT).map((problem) => `${where}: ${problem}`));
    return copy;
  }
  const sign = { authorization: 'Bearer sign-token-1' };
  await call('/healthz', '/healthz');
  const served = await call('/openapi.json', '/openapi.json');
  assert.deepEqual(new Uint8Array(await served.arrayBuffer()), new Uint8Array(DOCUMENT_BYTES));
  await call('/v1/identity', '/v1/identity', { method: 'POST', json: REQUEST });
  await call('/v1/identity', '/v1/identity?from=openai-chat', { method: 'POST', json: { request: REQUEST, response: RESPONSE_TEXT } });
  await call('/v1/identity', '/v1/identity', { method: 'POST', body: '{"model":', headers: { 'content-type': 'application/json' } });
  await call('/v1/identity', '/v1/identity', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
  await call('/v1/explain', '/v1/explain', { method: 'POST', json: { request: REQUEST, response: RESPONSE_TEXT } });
  await call('/v1/explain', '/v1/explain', { method: 'POST', json: { request: REQUEST, from: 'nope' } });
  await call('/v1/diff', '/v1/diff', { method: 'POST', json: { a: REQUEST, b: { ...REQUEST, temperature: 1 } } });
  await call('/v1/diff', '/v1/diff', { method: 'POST', json: { a: REQUEST } });
  await call('/v1/sign', '/v1/sign', { method: 'POST', json: { composition: REQUEST, output: RESPONSE_TEXT } });
  const receipt = await (await call('/v1/sign', '/v1/sign', { method: 'POST', headers: sign, json: { composition: REQUEST, output: RESPONSE_TEXT } })).text();
  await call('/v1/sign', '/v1/sign', { method: 'POST', headers: sign, json: { composition: REQUEST } });
  await call('/v1/sign', '/v1/sign?form=bundle', { method: 'POST', headers: sign, json: { composition: REQUEST, output: RESPONSE_TEXT } });
  await call('/v1/sign', '/v1/sign?form=nope', { method: 'POST', headers: sign, json: { composition: REQUEST, output: RESPONSE_TEXT } });
  // Receipts, identity documents and requests with responses in one diff: kinds, signaturesChecked, output, count.
  const identity = await (await call('/v1/identity', '/v1/identity', { method: 'POST', json: { request: REQUEST, response: RESPONSE_TEXT } })).json();
  const mixed = await (await call('/v1/diff', '/v1/diff', { method: 'POST', json: { a: REQUEST, responseA: RESPONSE_TEXT.replace('Paris', 'Lyon'), b: receipt } })).json();
  assert.deepEqual([mixed.kinds, mixed.signaturesChecked, mixed.output.equal], [{ a: 'request', b: 'receipt' }, false, false]);
  const longer = { ...REQUEST, messages: [...REQUEST.messages, { role: 'user', content: 'And Spain?' }] };
  const counted = await (await call('/v1/diff', '/v1/diff', { method: 'POST', json: { a: identity, b: longer } })).json();
  assert.deepEqual(counted.differences[0].count, { a: 1, b: 2 });
  await call('/v1/diff', '/v1/diff', { method: 'POST', json: { a: receipt, b: REQUEST, responseA: RESPONSE_TEXT } });
  await call('/v1/log/entries', '/v1/log/entries', { method: 'POST', body: receipt, headers: { 'content-type': 'application/json' } });
  await call('/v1/log/entries', '/v1/log/entries', { method: 'POST', body: '{"payload":1}', headers: { 'content-type': 'application/json', authorization: 'Bearer log-token-1' } });
  const submitted = await (await call('/v1/log/entries', '/v1/log/entries?wait=checkpoint', { method: 'POST', body: receipt, headers: { 'content-type': 'application/json', authorization: 'Bearer log-token-1' } })).json();
  assert.equal(typeof submitted.tlogProof, 'string', 'a checkpoint covered the entry within the wait');
  await call('/v1/log/entries', '/v1/log/entries', { method: 'POST', body: receipt, headers: { 'content-type': 'application/json', authorization: 'Bearer log-token-1' } });
  await call('/v1/log/entries', `/v1/log/entries?runId=${submitted.runId}`);
  await call('/v1/log/entries', '/v1/log/entries');
  const keys = [signKey.publicKeyPem];
  const verified = await (await call('/v1/verify', '/v1/verify', { method: 'POST', json: { receipt, keys, composition: REQUEST, output: RESPONSE_TEXT, logProof: submitted.tlogProof, logKey: logKey.verifierKey } })).json();
  assert.equal(verified.ok, true);
  assert.equal(verified.logProof.index, 0);
  const failed = await (await call('/v1/verify', '/v1/verify', { method: 'POST', json: { receipt, keys: [logKey.publicKeyPem] } })).json();
  assert.equal(failed.ok, false);
  await call('/v1/verify', '/v1/verify', { method: 'POST', json: { receipt, keys: ['no key'] } });
  const checkpoint = await (await call('/checkpoint', '/checkpoint')).text();
  await call('/tile/{path}', '/tile/0/000.p/1');
  await call('/tile/{path}', '/tile/entries/000.p/1');
  await call('/tile/{path}', '/tile/0/001');
  await call('/v1/log/proof', '/v1/log/proof?index=0');
  await call('/v1/log/proof', '/v1/log/proof?index=x');
  await call('/v1/log/tlog-proof', '/v1/log/tlog-proof?index=0');
  await call('/v1/log/tlog-proof', '/v1/log/tlog-proof?index=5');
  await call('/v1/log/key', '/v1/log/key');
  const addCheckpoint = { method: 'POST', headers: { 'content-type': 'text/plain' } };
  await call('/add-checkpoint', '/add-checkpoint', { ...addCheckpoint, body: `old 0\n\n${checkpoint}` });
  await call('/add-checkpoint', '/add-checkpoint', { ...addCheckpoint, body: `old 0\n\n${checkpoint}` });
  await call('/add-checkpoint', '/add-checkpoint', { ...addCheckpoint, body: 'not a request' });
  // The run store (capture is on by default on loopback): nothing captured in this test, so lists are empty and ids unknown.
  const runs = await (await call('/v1/runs', '/v1/runs?limit=5')).json();
  assert.deepEqual(runs, { runs: [] });
  await call('/v1/runs', '/v1/runs?component=nonsense');
  assert.deepEqual(await (await call('/v1/runs', '/v1/runs?provider=anthropic&status=failed&parent=rp-run-v1-sha256-' + '0'.repeat(64) + '&until=2026-12-01T00:00:00Z')).json(), { runs: [] });
  await call('/v1/runs', '/v1/runs?status=lost');
  assert.deepEqual(await (await call('/v1/runs', '/v1/runs?verdict=divergent')).json(), { runs: [] }, 'nothing was replayed');
  await call('/v1/runs', '/v1/runs?verdict=different');
  assert.equal((await (await call('/v1/runs/counts', '/v1/runs/counts?verdict=identical')).json()).runs, 0);
  assert.deepEqual(await (await call('/v1/runs/counts', '/v1/runs/counts?model=gpt-4o&status=complete')).json(), { runs: 0, requestIdentities: 0, runIdentities: 0, models: [], servedModels: [] });
  await call('/v1/runs/counts', '/v1/runs/counts?limit=5');
  assert.deepEqual(await (await call('/v1/runs/groups', '/v1/runs/groups?by=request')).json(), { by: 'request', runs: 0, distinct: 0, salted: 0, groups: [] });
  await call('/v1/runs/groups', '/v1/runs/groups?by=nothing');
  const unknown = `rp-run-v1-sha256-${'0'.repeat(64)}`;
  await call('/v1/runs/{id}', `/v1/runs/${unknown}`);
  await call('/v1/runs/{id}', '/v1/runs/not-an-id');
  await call('/v1/runs/{id}/receipt', `/v1/runs/${unknown}/receipt`);
  await call('/v1/runs/{id}/tlog-proof', `/v1/runs/${unknown}/tlog-proof`);
  await call('/v1/content/{digest}', `/v1/content/${'0'.repeat(64)}`);
  await call('/v1/content/{digest}', '/v1/content/xyz');
  // The explorer: / sends a browser there; its page, a module of the core, a missing file; the receipt key.
  const home = await call('/', '/', { redirect: 'manual' });
  assert.equal(home.headers.get('location'), '/explorer/');
  await call('/explorer/{path}', '/explorer/');
  await call('/explorer/{path}', '/explorer/core/jcs/index.ts');
  await call('/explorer/{path}', '/explorer/core/store/index.ts');
  const receiptKey = await (await call('/v1/receipt-key', '/v1/receipt-key')).json();
  assert.equal(receiptKey.keyId, signKey.keyId, 'with --sign-key and no --capture-key, receipts are signed with the sign key');
  // An exchange, as runprintFetch with a url sends it: the request and response bytes of one call.
  const exchange = {
    version: 'runprint/exchange/v1', captureId: '6f1c2a4e-9d3b-4c8a-8f2e-1a2b3c4d5e6f', method: 'POST', path: '/v1/chat/completions',
    request: Buffer.from(JSON.stringify(REQUEST)).toString('base64'),
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(RESPONSE_TEXT).toString('base64') },
    outcome: 'complete', times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 }, parents: [],
    // Salted by the client (runprintFetch's salt option): the server identifies it with these salts.
    salts: { system: '3b'.repeat(32) },
  };
  const ingested = await (await call('/v1/exchanges', '/v1/exchanges', { method: 'POST', json: exchange })).json();
  assert.match(ingested.runId, /^rp-run-/);
  await call('/v1/exchanges', '/v1/exchanges', { method: 'POST', json: { ...exchange, runId: 'rp-run-forged' } });
  // The ingested run compared with itself, values shown, and verified with the service's own key and log.
  const diff = await (await call('/v1/runs/diff', `/v1/runs/diff?a=${exchange.captureId}&b=${ingested.runId}&values=1`)).json();
  assert.equal(diff.sameRun, true);
  assert.equal(diff.compared, 'content');
  await call('/v1/runs/diff', `/v1/runs/diff?a=${exchange.captureId}`);
  await call('/v1/runs/diff', `/v1/runs/diff?a=${exchange.captureId}&b=${unknown}`);
  const runChecks = await (await call('/v1/runs/{id}/verify', `/v1/runs/${exchange.captureId}/verify`)).json();
  assert.deepEqual(runChecks.checks.slice(0, 3).map((check: { status: string }) => check.status), ['pass', 'pass', 'pass']);
  await call('/v1/runs/{id}/verify', `/v1/runs/${unknown}/verify`);
  // Its composition with the salts, as disclose create takes it; an unknown run.
  const composition = await (await call('/v1/runs/{id}/composition', `/v1/runs/${exchange.captureId}/composition`)).json();
  assert.deepEqual(composition.salts, exchange.salts);
  await call('/v1/runs/{id}/composition', `/v1/runs/${unknown}/composition`);
  // The ingested run replayed by the CLI on the same store against a fake provider: each side of the link names the other.
  const upstream = await startFakeUpstream({ script: [{ kind: 'text', text: 'Another answer.' }] });
  let verdict = '';
  try {
    const replayed = await runCliInProcess(['replay', exchange.captureId, '--data', data, '--upstream', `openai=${upstream.url}`, '--json']);
    assert.equal(replayed.code, 1, replayed.stderr);
    verdict = (JSON.parse(replayed.stdout) as { verdict: string }).verdict;
  } finally {
    await upstream.close();
  }
  const [original] = (await (await call('/v1/runs/{id}', `/v1/runs/${exchange.captureId}`)).json()).runs;
  assert.equal(original.replayOf, null);
  assert.equal(original.replays.length, 1);
  const link = original.replays[0];
  assert.ok(['divergent', 'same-request-other-server'].includes(verdict), verdict);
  assert.equal(link.verdict, verdict);
  const [replay] = (await (await call('/v1/runs/{id}', `/v1/runs/${link.captureId}`)).json()).runs;
  assert.deepEqual([replay.seq, replay.recordDigest, replay.replays], [link.seq, link.recordDigest, []]);
  assert.deepEqual(replay.replayOf, { recordDigest: original.recordDigest, captureId: exchange.captureId, seq: original.seq, verdict });
  const listed = (await (await call('/v1/runs', '/v1/runs?limit=5')).json()).runs;
  assert.deepEqual(listed.map((run: { seq: number; replayOf: { seq: number } | null; replays: unknown[] }) => [run.seq, run.replayOf?.seq ?? null, run.replays.length]), [[replay.seq, original.seq, 0], [original.seq, null, 1]]);
  assert.deepEqual(problems, []);
  assert.deepEqual([...seen].sort(), documented().sort(), 'every documented route was called');
  await serve.stop();
});
