/**
 * When the proxy computes a call's identity without a prepare pool: after the request is out (as
 * serve's upstream fetch reports it, a new connection opened first; one turn of the event loop
 * with any other fetch), while the upstream answers; before forwarding when the call declares
 * retrieval (checked against the composition first). The answer names the identity either way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retrievalHeader } from '../src/capture/declared.ts';
import { prepareRequest } from '../src/capture/capture-run.ts';
import { createProxy } from '../src/server/proxy-routes.ts';

const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Use the report.' }, { role: 'user', content: 'Revenue rose by twelve percent. What happened?' }] });
const answer = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'It grew.' } }] });
const requestId = prepareRequest('openai-chat', new TextEncoder().encode(body)).identity!.requestId;

async function order(reportsSent: boolean, headers: Record<string, string> = {}): Promise<{ steps: string[]; response: Response }> {
  const steps: string[] = [];
  const fetchImpl = Object.assign(
    async (_url: string | URL | Request, init?: RequestInit & { onSent?: () => void }) => {
      steps.push('fetch');
      if (reportsSent) {
        // The request is out only later (a connection being opened): the identity waits for it.
        setTimeout(() => {
          steps.push('sent');
          init?.onSent?.();
        }, 30);
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      steps.push('answer');
      return new Response(answer, { status: 200, headers: { 'content-type': 'application/json' } });
    },
    reportsSent ? { reportsSent: true } : {},
  ) as typeof fetch;
  const proxy = createProxy({
    upstreams: { openai: 'http://upstream.test' },
    fetch: fetchImpl,
    sink: { healthy: true, record: async () => undefined },
    maxBodyBytes: 1 << 20,
    receipts: false,
    // Asked for once per call, as the identity is computed: where it shows when that happened.
    salts: () => {
      steps.push('identity');
      return undefined;
    },
  });
  const url = new URL('http://127.0.0.1:8480/openai/v1/chat/completions');
  const response = await proxy.handle(new Request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } }), url)!;
  await response.text();
  return { steps, response };
}

test('a fetch that reports when the request is out: the identity after that, before the answer', async () => {
  const { steps, response } = await order(true);
  assert.deepEqual(steps, ['fetch', 'sent', 'identity', 'answer']);
  assert.equal(response.headers.get('runprint-request-id'), requestId);
});

test('any other fetch: the identity one turn after the call went to it, before the answer', async () => {
  const { steps, response } = await order(false);
  assert.deepEqual(steps, ['fetch', 'identity', 'answer']);
  assert.equal(response.headers.get('runprint-request-id'), requestId);
});

test('declared retrieval: the identity before forwarding (the declaration is checked against it)', async () => {
  const { steps, response } = await order(true, { 'runprint-retrieval': retrievalHeader([{ source: 'report', text: 'Revenue rose by twelve percent.' }]) });
  assert.deepEqual(steps.slice(0, 2), ['identity', 'fetch']);
  assert.equal(response.headers.get('runprint-request-id'), requestId);
  assert.equal(response.headers.get('runprint-retrieval-error'), null);
});

test('serve\'s upstream fetch reports the request sent once the upstream can have read it all, on a new connection too', async () => {
  const { createServer } = await import('node:http');
  const { createUpstreamFetch } = await import('../src/server/upstream-fetch.ts');
  const received: number[] = [];
  const server = createServer((request, response) => {
    let size = 0;
    request.on('data', (chunk: Buffer) => (size += chunk.length));
    request.on('end', () => {
      received.push(size);
      setTimeout(() => response.end('{}'), 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstreamFetch = createUpstreamFetch();
  try {
    assert.equal(upstreamFetch.reportsSent, true);
    for (const size of [10, 4 * 1024 * 1024]) {
      let sentAt = 0;
      const started = performance.now();
      const answered = upstreamFetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/v1/chat/completions`, { method: 'POST', body: new Uint8Array(size), onSent: () => (sentAt = performance.now()) });
      const response = await answered;
      const at = performance.now();
      await response.text();
      assert.ok(sentAt > 0 && sentAt < at, `onSent before the answer (${size} bytes)`);
      assert.ok(at - started >= 45, 'the answer came after the upstream\'s 50 ms');
    }
    assert.deepEqual(received, [10, 4 * 1024 * 1024]);
  } finally {
    upstreamFetch.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
