/**
 * docs/openapi.json against the service: every route of the app is in the document and every path
 * of the document is a route, and the real answers of a real `runprint serve` (log, witness and
 * signing on), successes and errors, validate against the document's schemas. So do the answers
 * every route gives before it is served, each provoked from a real serve: a Host not allowed (421),
 * a request from another origin (403), TRACE, a method Node does not know or a query that is not
 * percent-encoding (400), a path or headers too long (431), the caps on connections (429 and 503,
 * with Retry-After), headers that do not arrive in time (408), the routes of a feature serve runs
 * without (404), and the capture proxy's 502 and fail-closed 503. A status the document does not
 * give for that route fails. A method a path does not list (405 with Allow): openapi-methods.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
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
import { answerProblems, checkRaw, documentedAnswer, DOCUMENT, DOCUMENT_BYTES, exchange, fullServeArgs, METHODS, operations, pathOf, requestOf } from './helpers/openapi-check.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { lockRunStore } from './helpers/run-store-lock.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';
import { closedPort } from './helpers/closed-port.ts';

async function scratch(): Promise<string> {
  const data = await mkdtemp(join(tmpdir(), 'runprint-openapi-'));
  folders.push(data);
  return data;
}

function documented(): string[] {
  return Object.entries(DOCUMENT.paths).flatMap(([path, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method.toUpperCase()} ${path}`));
}

const folders: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  await killServeProcesses();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
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
  const data = await scratch();
  const { args, logKey, signKey } = await fullServeArgs(data, 'example.test/openapi-log');
  const serve = await startServe({ data, token: 'log-token-1', args });
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
    seen.add(`${method.toUpperCase()} ${template}`);
    const bytes = new Uint8Array(await response.clone().arrayBuffer());
    problems.push(...answerProblems(`${method.toUpperCase()} ${path} -> ${response.status}`, documentedAnswer(template, method, response.status), response.headers, bytes));
    return response;
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
  // Its salts alone (what the explorer reads when some content is digest only); an unknown run.
  assert.deepEqual(await (await call('/v1/runs/{id}/salts', `/v1/runs/${exchange.captureId}/salts`)).json(), exchange.salts);
  await call('/v1/runs/{id}/salts', `/v1/runs/${unknown}/salts`);
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

test('every route\'s answers before it is served are documented: another Host, another origin, TRACE, an unknown method, a bad query, a path or headers too long', async () => {
  const data = await scratch();
  const { args } = await fullServeArgs(data, 'example.test/openapi-refusals');
  const serve = await startServe({ data, token: 'log-token-1', args: [...args, '--upstream', `openai=http://127.0.0.1:${await closedPort()}`] });
  const problems: string[] = [];
  for (const { method, template, path } of operations()) {
    const check = async (status: number, request: string, shown = path) => checkRaw(problems, await exchange(serve.port, request), status, template, method, shown);
    // serve on loopback answers for loopback names only (DNS rebinding), and browsers for its own pages only.
    await check(421, requestOf(method, path, { host: 'rebinding.example' }));
    await check(403, requestOf(method, path, { origin: 'http://other.example' }));
    await check(400, requestOf(method, `${path}?%zz`), `${path}?%zz`);
    // Over the 80 KiB serve reads with capture on: a header, and a path parameter of 100 kB.
    await check(431, requestOf(method, path, { 'x-filler': 'x'.repeat(100_000) }));
    if (template.includes('{')) {
      const long = pathOf(template, 'a'.repeat(100_000));
      await check(431, requestOf(method, long), long);
    }
  }
  // TRACE (which fetch refuses) and a method Node does not know, on every path: 400.
  for (const template of Object.keys(DOCUMENT.paths)) {
    const path = pathOf(template);
    for (const method of ['TRACE', 'FOO']) checkRaw(problems, await exchange(serve.port, requestOf(method, path)), 400, template, method, path, DOCUMENT.components.responses['BadRequest']);
  }
  // The capture proxy's routes are not described, its own answers are: an upstream it cannot reach.
  const call = JSON.stringify(REQUEST);
  const proxied = await exchange(serve.port, requestOf('POST', '/openai/v1/chat/completions', { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(call)) }, `\r\n${call}`));
  checkRaw(problems, proxied, 502, '', 'POST', '/openai/v1/chat/completions', DOCUMENT.components.responses['UpstreamUnreachable']);
  assert.deepEqual(problems, []);
  await serve.stop();
});

test('the caps on connections, on every route: 429 past --max-client-connections, 503 past --max-connections, both with Retry-After', async () => {
  const data = await scratch();
  const serve = await startServe({ data, args: ['--max-connections', '2', '--max-client-connections', '1', '--headers-timeout', '600000', '--request-timeout', '600000'] });
  const open = (localAddress: string) =>
    new Promise<ReturnType<typeof connect>>((resolve) => {
      const socket = connect({ port: serve.port, host: '127.0.0.1', localAddress }, () => resolve(socket));
      socket.on('error', () => undefined);
    });
  const problems: string[] = [];
  // 127.0.0.1 holds its one connection: its next ones are refused with 429.
  const held = [await open('127.0.0.1')];
  for (const { method, template, path } of operations()) checkRaw(problems, await exchange(serve.port, requestOf(method, path)), 429, template, method, path);
  // 127.0.0.2 holds the server's second: a connection from 127.0.0.3 is refused with 503.
  held.push(await open('127.0.0.2'));
  for (const { method, template, path } of operations()) checkRaw(problems, await exchange(serve.port, requestOf(method, path), '127.0.0.3'), 503, template, method, path);
  for (const socket of held) socket.destroy();
  assert.deepEqual(problems, []);
  await serve.stop();
});

/** `runprint serve` on 127.0.0.1 with `args` (the log off, say, which startServe waits for): its port once it listens. */
async function startPlainServe(data: string, args: string[]): Promise<{ port: number; stop(): Promise<unknown> }> {
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr);
      if (match !== null) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  return {
    port,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test('a route of a feature serve runs without is 404, and every route answers 408 to a request whose headers do not arrive in time', async () => {
  const data = await scratch();
  const serve = await startPlainServe(data, ['--no-log', '--no-capture', '--headers-timeout', '200']);
  // The routes of such a serve: no log, witness, signing or capture (the explorer has no receipt key without capture).
  const present = new Set(createApp({ openapi: new Uint8Array(DOCUMENT_BYTES), explorer: explorerRoutes({}) }).routeTable!());
  const off = operations().filter(({ method, template }) => !present.has(`${method} ${template}`));
  assert.deepEqual(off.filter(({ template }) => ['/v1/sign', '/checkpoint', '/add-checkpoint', '/v1/runs', '/v1/exchanges'].includes(template)).length, 5);
  const problems: string[] = [];
  const said = new Map<string, string>();
  for (const { method, template, path } of off) {
    const answer = await exchange(serve.port, requestOf(method, path));
    checkRaw(problems, answer, 404, template, method, path);
    said.set(`${method} ${template}`, (JSON.parse(new TextDecoder().decode(answer.body)) as { error: { message: string } }).error.message);
  }
  // Capture's and signing's say why; the log's and the witness's are no such path.
  assert.match(said.get('POST /v1/sign') ?? '', /^no such path: signing is off on this server/);
  assert.match(said.get('GET /v1/runs/{id}') ?? '', /^no such path: capture is off on this server \(serve runs with --no-capture\)/);
  assert.equal(said.get('GET /checkpoint'), 'no such path');
  // Headers that never finish, on every route.
  await Promise.all(operations().map(async ({ method, template, path }) => checkRaw(problems, await exchange(serve.port, requestOf(method, path, {}, '')), 408, template, method, path)));
  assert.deepEqual(problems, []);
  await serve.stop();
});

test('the fail-closed capture proxy\'s 503, while the run store cannot record, is documented', async () => {
  const data = await scratch();
  const upstream = await startFakeUpstream();
  const serve = await startServe({ data, args: ['--capture-fail-closed', '--upstream', `openai=${upstream.url}`] });
  const problems: string[] = [];
  const lock = lockRunStore(data);
  try {
    const call = JSON.stringify(REQUEST);
    // The first call is forwarded and its answer held back once its record fails; the next is not forwarded.
    for (let i = 0; i < 2; i += 1) {
      const answer = await exchange(serve.port, requestOf('POST', '/openai/v1/chat/completions', { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(call)) }, `\r\n${call}`));
      checkRaw(problems, answer, 503, '', 'POST', '/openai/v1/chat/completions', DOCUMENT.components.responses['CaptureUnavailable']);
    }
  } finally {
    lock.close();
    await upstream.close();
  }
  assert.deepEqual(problems, []);
  await serve.stop();
});
