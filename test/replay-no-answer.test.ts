/** What replay says of an upstream that gave no answer: the cause fetch threw, in serve's words. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noAnswerMessage, whyNoAnswer } from '../src/replay/no-answer.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';
import { closedPort } from './helpers/closed-port.ts';

async function thrownBy(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail('the call was answered');
}

test('a refused connection: Node\'s fetch and serve\'s upstream fetch give the same words', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/v1/chat/completions`;
  const serveFetch = createUpstreamFetch();
  try {
    const viaFetch = await thrownBy(() => fetch(url, { method: 'POST', body: '{}' }));
    const viaServe = await thrownBy(() => serveFetch(url, { method: 'POST', body: new Uint8Array(2) }));
    assert.equal(whyNoAnswer(viaFetch, url), 'the connection was refused (ECONNREFUSED)');
    assert.equal(whyNoAnswer(viaServe, url), 'the connection was refused (ECONNREFUSED)');
    assert.equal(noAnswerMessage('openai', viaFetch, url), 'cannot reach the openai upstream: the connection was refused (ECONNREFUSED)');
  } finally {
    serveFetch.close();
  }
});

test('causes fetch wraps: a system code (alone or in an AggregateError), an undici code, a bad port', () => {
  const failed = (cause: unknown) => new TypeError('fetch failed', { cause });
  const url = 'http://127.0.0.1:6000/v1/messages';
  assert.equal(whyNoAnswer(failed(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' })), url), 'the host name was not found (ENOTFOUND)');
  const both = new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })]);
  assert.equal(whyNoAnswer(failed(both), url), 'the connection was refused (ECONNREFUSED)');
  assert.equal(whyNoAnswer(failed(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), url), 'the connection closed before an answer (UND_ERR_SOCKET)');
  assert.equal(whyNoAnswer(failed(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })), url), 'the connection failed (EHOSTUNREACH)');
  assert.equal(whyNoAnswer(failed(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), url), 'the connection timed out (UND_ERR_HEADERS_TIMEOUT)');
  assert.equal(whyNoAnswer(failed(new Error('bad port')), url), 'fetch refuses to connect to port 6000 (a bad port of the Fetch standard)');
  // A code that is not a code is not repeated into the message.
  assert.equal(whyNoAnswer(failed(Object.assign(new Error('x'), { code: 'secret value' })), url), undefined);
});

test('serve\'s upstream fetch\'s own reasons pass through, an answer no HTTP client takes named as serve names it', () => {
  const url = 'http://127.0.0.1:1/v1/chat/completions';
  assert.equal(noAnswerMessage('openai', new TypeError('fetch failed: the connection closed before an answer (ECONNRESET)'), url), 'cannot reach the openai upstream: the connection closed before an answer (ECONNRESET)');
  assert.equal(noAnswerMessage('openai', new TypeError('fetch failed: the upstream answered an invalid HTTP status (999)'), url), 'the openai upstream answered an invalid HTTP status (999)');
});

test('an abort, a timeout or a bare "fetch failed" says nothing more: undefined (the run\'s outcome names it)', () => {
  const url = 'http://127.0.0.1:1/';
  assert.equal(whyNoAnswer(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), url), undefined);
  assert.equal(whyNoAnswer(new DOMException('aborted', 'AbortError'), url), undefined);
  assert.equal(whyNoAnswer(new TypeError('fetch failed'), url), undefined);
  assert.equal(noAnswerMessage('anthropic', new Error('x'), url), undefined);
});
