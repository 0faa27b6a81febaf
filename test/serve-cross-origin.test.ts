/**
 * serve on a loopback address answers browsers only for its own pages: a request a browser sends
 * from a page of another origin (a simple cross-site POST needs no CORS preflight) is refused with
 * 403 ERR_HTTP_CROSS_ORIGIN before anything is forwarded or recorded; the same request without
 * browser headers (an SDK) or from serve's own origin goes through.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-cross-origin-');
before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

/** A POST as a browser would send it (node:http: fetch would not let a test set Origin freely). */
function post(path: string, headers: Record<string, string>): Promise<{ status: number; body: string; captureId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(`${serve.base}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers } }, (answer) => {
      let body = '';
      answer.setEncoding('utf8').on('data', (part: string) => (body += part)).on('end', () => resolve({ status: answer.statusCode!, body, captureId: answer.headers['runprint-capture-id'] as string | undefined }));
    });
    out.on('error', reject);
    out.end(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'sent by a web page' }] }));
  });
}

test('a page of another origin: refused before forwarding, nothing recorded', async () => {
  const before = upstream.requests.length;
  const runsBefore = ((await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: unknown[] }).runs.length;
  const cases: Array<Record<string, string>> = [
    { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: `http://localhost:${serve.port + 1}`, 'sec-fetch-site': 'same-site' },
    { origin: `https://127.0.0.1:${serve.port}` },
    { 'sec-fetch-site': 'cross-site' },
  ];
  for (const headers of cases) {
    for (const path of ['/openai/v1/chat/completions', '/v1/exchanges', '/v1/identity']) {
      const answer = await post(path, headers);
      assert.equal(answer.status, 403, `${path} ${JSON.stringify(headers)}`);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'ERR_HTTP_CROSS_ORIGIN');
      assert.equal(answer.captureId, undefined);
    }
  }
  assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
  assert.equal(((await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: unknown[] }).runs.length, runsBefore, 'nothing recorded');
});

test('a link to the explorer followed from another site opens it; a link to a proxied path, or a form posted from another site, does not go through', async () => {
  const navigation = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
  const page = await new Promise<{ status: number; type: string }>((resolve, reject) => {
    httpRequest(`${serve.base}/explorer/`, { headers: navigation }, (answer) => {
      answer.resume();
      resolve({ status: answer.statusCode!, type: String(answer.headers['content-type']) });
    }).on('error', reject).end();
  });
  assert.deepEqual(page, { status: 200, type: 'text/html; charset=utf-8' });
  // Not to a proxied path: an upstream's page would run on serve's origin and could read the runs.
  const proxied = await new Promise<number>((resolve, reject) => {
    httpRequest(`${serve.base}/openai/v1/models`, { headers: navigation }, (answer) => {
      answer.resume();
      resolve(answer.statusCode!);
    }).on('error', reject).end();
  });
  assert.equal(proxied, 403);
  const before = upstream.requests.length;
  const form = await post('/openai/v1/chat/completions', { ...navigation, origin: 'https://evil.example' });
  assert.equal(form.status, 403);
  const noOrigin = await post('/openai/v1/chat/completions', navigation);
  assert.equal(noOrigin.status, 403, 'a POST navigation is refused on Sec-Fetch-Site alone');
  assert.equal(upstream.requests.length, before);
});

test('no browser headers, or serve\'s own origin: forwarded and recorded', async () => {
  for (const headers of [{}, { origin: serve.base, 'sec-fetch-site': 'same-origin' }, { origin: `http://localhost:${serve.port}` }, { 'sec-fetch-site': 'none' }]) {
    const answer = await post('/openai/v1/chat/completions', headers);
    assert.equal(answer.status, 200, JSON.stringify(headers));
    assert.match(answer.captureId ?? '', /^[0-9a-f-]{36}$/);
  }
});
