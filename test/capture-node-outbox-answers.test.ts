/**
 * runprintFetch with url: how the outbox takes the answers of what stands at the url (docs/CAPTURE.md,
 * "In process (Node)"). One stub fetch is both the provider and the server: a refused exchange
 * delivered later is counted recovered; an answer without a runprint error body (a reverse proxy's
 * 405 or 413) is ERR_CAPTURE_SERVER_MISMATCH, the exchange kept; a 403's message follows its code;
 * a path prefix is posted under.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTBOX_FOLDER, REJECTED_FOLDER, runprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';

const PROVIDER = 'https://api.openai.com/v1/chat/completions';

/** The provider's answer to a chat completion. */
function completion(): Response {
  return Response.json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
}

/** A stub fetch: the provider for PROVIDER, `server` for everything else (the exchanges' POSTs, whose URLs it keeps). */
function stub(server: (attempt: number) => Response | Promise<Response>) {
  const posted: string[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === PROVIDER) return completion();
    await new Response(init?.body ?? null).arrayBuffer();
    posted.push(url);
    return server(posted.length);
  };
  return { fetch: fetch as typeof globalThis.fetch, posted };
}

async function call(fetch: typeof globalThis.fetch): Promise<void> {
  const response = await fetch(PROVIDER, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello.' }] }) });
  await response.text();
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'in time');
}

function withData(fn: (data: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const data = mkdtempSync(join(tmpdir(), 'runprint-outbox-answers-'));
    try {
      await fn(data);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  };
}

const waiting = (data: string) => readdirSync(join(data, OUTBOX_FOLDER)).filter((name) => name.endsWith('.json'));

test('an exchange refused (404) and delivered later is counted recovered: failures - recovered is what is not recorded', withData(async (data) => {
  // The retry (after 500 ms) is answered 200, once the counts before it were looked at.
  let release: () => void = () => undefined;
  const released = new Promise<void>((done) => (release = done));
  const server = stub(async (attempt) => {
    if (attempt === 1) return new Response('Not Found', { status: 404 });
    await released;
    return Response.json({ ok: true });
  });
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, url: 'https://gw.example/runprint', fetch: server.fetch, onError: (error) => void errors.push(error) });
  try {
    await call(fetch);
    await fetch.flush();
    assert.equal(errors[0]?.code, 'ERR_CAPTURE_SERVER_MISMATCH');
    assert.equal(fetch.counts.failures, 1);
    assert.equal(fetch.counts.recovered, 0);
    release();
    await until(() => fetch.counts.outbox.delivered === 1);
    assert.deepEqual(fetch.counts.outbox, { queued: 1, delivered: 1, rejected: 0, refused: 1 });
    assert.equal(fetch.counts.failures, 1);
    assert.equal(fetch.counts.recovered, 1, 'recorded after all');
    assert.deepEqual(server.posted, ['https://gw.example/runprint/v1/exchanges', 'https://gw.example/runprint/v1/exchanges'], 'posted under the path prefix');
  } finally {
    await fetch.close();
  }
}));

for (const [status, body] of [[405, '<html>405 Not Allowed</html>'], [413, '<html>413 Request Entity Too Large</html>'], [400, ''], [422, '{"detail": "no"}']] as const) {
  test(`an answer ${status} without a runprint error body (a reverse proxy's) is ERR_CAPTURE_SERVER_MISMATCH, the exchange kept in the outbox`, withData(async (data) => {
    const server = stub(() => new Response(body, { status }));
    const errors: RunprintError[] = [];
    const fetch = runprintFetch({ data, url: 'http://127.0.0.1:9', fetch: server.fetch, onError: (error) => void errors.push(error) });
    try {
      await call(fetch);
      await fetch.flush();
      assert.ok(errors.length > 0 && errors.every((error) => error.code === 'ERR_CAPTURE_SERVER_MISMATCH'), errors.map((error) => error.toLine()).join('\n'));
      assert.match(errors[0]!.message, new RegExp(`answered ${status} to POST http://127\\.0\\.0\\.1:9/v1/exchanges without a runprint error`));
      assert.deepEqual(fetch.counts.outbox, { queued: 1, delivered: 0, rejected: 0, refused: 1 });
      assert.equal(fetch.counts.failures, 1);
      assert.equal(waiting(data).length, 1, 'kept');
      assert.deepEqual(readdirSync(join(data, OUTBOX_FOLDER, REJECTED_FOLDER)), [], 'not rejected');
    } finally {
      await fetch.close();
    }
  }));
}

test('a runprint error body keeps its handling: 400 ERR_HTTP_BAD_REQUEST rejects the exchange', withData(async (data) => {
  const server = stub(() => Response.json({ error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'bad' } }, { status: 400 }));
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, url: 'http://127.0.0.1:9', fetch: server.fetch, onError: (error) => void errors.push(error) });
  try {
    await call(fetch);
    await fetch.flush();
    assert.equal(errors[0]?.code, 'ERR_CAPTURE_EXCHANGE_REJECTED');
    assert.equal(fetch.counts.outbox.rejected, 1);
    assert.equal(waiting(data).length, 0);
  } finally {
    await fetch.close();
  }
}));

test('a 403 says what its code says: ERR_HTTP_CROSS_ORIGIN is not the capture token', withData(async (data) => {
  const server = stub(() => Response.json({ error: { code: 'ERR_HTTP_CROSS_ORIGIN', message: 'cross-origin' } }, { status: 403 }));
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, url: 'http://127.0.0.1:9', token: 'tok', fetch: server.fetch, onError: (error) => void errors.push(error) });
  try {
    await call(fetch);
    await fetch.flush();
    assert.equal(errors[0]?.code, 'ERR_CAPTURE_TOKEN_REFUSED');
    assert.match(errors[0]!.message, /answered 403 ERR_HTTP_CROSS_ORIGIN: it refused this client \(cross-origin\): 1 exchange waits in the outbox/);
    assert.doesNotMatch(errors[0]!.message, /capture token/);
  } finally {
    await fetch.close();
  }
}));
