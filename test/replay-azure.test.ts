/**
 * Replaying an Azure OpenAI run (docs/REPLAY.md section 5): a run a real `runprint serve` captured
 * from a loopback fake of Azure OpenAI (which answers only with `?api-version=` and the `api-key`
 * header, as Azure does) is replayed with `--upstream openai=URL?api-version=...`: the query
 * reaches the upstream after the recorded path, AZURE_OPENAI_API_KEY is sent as `api-key` and
 * OPENAI_API_KEY is not sent; no key is printed or stored. What cannot work is refused with
 * ERR_CLI_USAGE before anything is sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { upstreamOptions } from '../src/cli/serve-capture.ts';
import { replayCredentials } from '../src/replay/replay-credentials.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const AZURE_KEY = 'azure-test-key-5f3c9a7e1b2d4c6e';
const OPENAI_KEY = 'sk-test-openai-not-for-azure-8d1e';
const VERSION = '2024-10-21';
const DEPLOYMENT_PATH = '/openai/deployments/gpt-4o-mini/chat/completions';

interface Received {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

let server: Server;
let fakeUrl: string;
const received: Received[] = [];
let serve: ServeProcess;
let data: string;
let original: string;
const saved = { azure: process.env['AZURE_OPENAI_API_KEY'], openai: process.env['OPENAI_API_KEY'] };

/** A fake Azure OpenAI resource: 404 without api-version, 401 without the right api-key, else one fixed answer. */
function startFakeAzure(): Promise<void> {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ url: request.url ?? '', headers: request.headers });
      const url = new URL(request.url ?? '/', 'http://fake');
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method !== 'POST' || url.pathname !== DEPLOYMENT_PATH || url.searchParams.get('api-version') !== VERSION) return send(404, { error: { code: '404', message: 'Resource not found' } });
      if (request.headers['api-key'] !== AZURE_KEY) return send(401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } });
      send(200, {
        id: 'chatcmpl-azure-1',
        object: 'chat.completion',
        created: 1767225600,
        model: 'gpt-4o-mini-2024-07-18',
        system_fingerprint: 'fp_azure_1',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Blue.' }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
      });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    fakeUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    resolve();
  }));
}

const cli = (argv: string[]) => runCliInProcess(argv);

/** Every byte under `dir` (the run store with its WAL, the keys...), as Latin-1 text to search. */
function allBytes(dir: string): string {
  let text = '';
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += readFileSync(join(entry.parentPath, entry.name)).toString('latin1');
  }
  return text;
}

before(async () => {
  await startFakeAzure();
  data = mkdtempSync(join(tmpdir(), 'runprint-replay-azure-'));
  serve = await startServe({ data, args: ['--upstream', `openai=${fakeUrl}/openai`] });
  // The AzureOpenAI client's call through serve: its deployment path, api-version and api-key.
  const response = await fetch(`${serve.base}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${VERSION}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'api-key': AZURE_KEY },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name a colour.' }], temperature: 0 }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  await response.arrayBuffer();
  original = response.headers.get('runprint-capture-id')!;
  assert.ok(original !== null);
  process.env['AZURE_OPENAI_API_KEY'] = AZURE_KEY;
  process.env['OPENAI_API_KEY'] = OPENAI_KEY;
});

after(async () => {
  for (const [name, value] of [['AZURE_OPENAI_API_KEY', saved.azure], ['OPENAI_API_KEY', saved.openai]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await killServeProcesses();
  await new Promise((resolve) => server.close(resolve));
  rmSync(data, { recursive: true, force: true });
});

describe('replaying an Azure OpenAI run', () => {
  test('the run is recorded as openai-chat with the deployment path and no query', async () => {
    const out = await cli(['runs', 'show', original, '--data', data, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const { record } = (JSON.parse(out.stdout) as { runs: Array<{ record: { format: string; path: string; runId: string | null } }> }).runs[0]!;
    assert.equal(record.format, 'openai-chat');
    assert.equal(record.path, '/deployments/gpt-4o-mini/chat/completions');
    assert.notEqual(record.runId, null);
  });

  test('--upstream with ?api-version: the query follows the recorded path, AZURE_OPENAI_API_KEY goes as api-key, OPENAI_API_KEY is not sent', async () => {
    const before = received.length;
    const upstream = `openai=${fakeUrl}/openai?api-version=${VERSION}`;
    const out = await cli(['replay', original, '--data', data, '--upstream', upstream, '--json']);
    assert.equal(out.stderr, '');
    assert.equal(out.code, 0, out.stdout);
    const result = JSON.parse(out.stdout) as { verdict: string; replay: { url: string; status: number } };
    assert.equal(result.verdict, 'identical');
    assert.equal(result.replay.url, `${fakeUrl}${DEPLOYMENT_PATH}?api-version=${VERSION}`);
    const sent = received.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.url, `${DEPLOYMENT_PATH}?api-version=${VERSION}`);
    assert.equal(sent[0]!.headers['api-key'], AZURE_KEY);
    assert.equal(sent[0]!.headers['authorization'], undefined, 'the OpenAI key is never sent to Azure');
    // The text form names where it went, not the key.
    const text = await cli(['replay', original, '--data', data, '--upstream', upstream]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^identical\n/);
    assert.ok(text.stdout.includes(`sent to  ${fakeUrl}${DEPLOYMENT_PATH}?api-version=${VERSION}`), text.stdout);
    for (const printed of [out.stdout, text.stdout, text.stderr]) {
      assert.ok(!printed.includes(AZURE_KEY) && !printed.includes(OPENAI_KEY), 'no key printed');
    }
  });

  test('a trailing slash before the query is the same base', async () => {
    const before = received.length;
    const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${fakeUrl}/openai/?api-version=${VERSION}`, '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(received.slice(before)[0]!.url, `${DEPLOYMENT_PATH}?api-version=${VERSION}`);
  });

  test('replay --runs takes the same --upstream with a query', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runprint-replay-azure-batch-'));
    try {
      const before = received.length;
      const out = await cli(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${fakeUrl}/openai?api-version=${VERSION}`, '--json', join(dir, 'report.json')]);
      assert.equal(out.code, 0, out.stderr + out.stdout);
      assert.match(out.stdout, /^1 run replayed/);
      const sent = received.slice(before);
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.url, `${DEPLOYMENT_PATH}?api-version=${VERSION}`);
      assert.equal(sent[0]!.headers['api-key'], AZURE_KEY);
      assert.ok(!readFileSync(join(dir, 'report.json'), 'utf8').includes(AZURE_KEY));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without AZURE_OPENAI_API_KEY: no credential at all (not the OpenAI key), said once on stderr', async () => {
    const before = received.length;
    delete process.env['AZURE_OPENAI_API_KEY'];
    try {
      const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${fakeUrl}/openai?api-version=${VERSION}`, '--json']);
      assert.equal(out.stderr, 'runprint: replay: AZURE_OPENAI_API_KEY is not set: the request to openai (Azure OpenAI) is sent without a credential (a provider answers 401; a local server may need none; OPENAI_API_KEY is not sent to it)\n');
      assert.equal(out.code, 3);
      const result = JSON.parse(out.stdout) as { verdict: string; reason: { code: string } };
      assert.equal(result.verdict, 'cannot-replay');
      assert.equal(result.reason.code, 'ERR_REPLAY_UPSTREAM_REFUSED');
      const sent = received.slice(before);
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.headers['api-key'], undefined);
      assert.equal(sent[0]!.headers['authorization'], undefined);
    } finally {
      process.env['AZURE_OPENAI_API_KEY'] = AZURE_KEY;
    }
  });

  test('refused before anything is sent: a deployment run without an upstream, or with an Azure host without api-version', async () => {
    const before = received.length;
    for (const extra of [[], ['--upstream', 'openai=https://example-resource.openai.azure.com/openai']]) {
      const out = await cli(['replay', original, '--data', data, ...extra]);
      assert.equal(out.code, 2, out.stdout);
      assert.equal(out.stdout, '');
      assert.equal(out.stderr, "runprint: ERR_CLI_USAGE: the run was recorded through Azure OpenAI's deployments path (/deployments/gpt-4o-mini/chat/completions), which Azure answers only with an api-version query the record does not keep: give the upstream with it, --upstream openai='https://RESOURCE.openai.azure.com/openai?api-version=2024-10-21' (and the key in AZURE_OPENAI_API_KEY)\n");
    }
    assert.equal(received.length, before, 'nothing sent');
  });

  test('a key in the upstream query is refused, and not echoed', async () => {
    const secret = 'query-secret-0c4b7f';
    const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${fakeUrl}/openai?api-version=${VERSION}&Api-Key=${secret}`]);
    assert.equal(out.code, 2);
    assert.equal(out.stderr, 'runprint: ERR_CLI_USAGE: --upstream URL must not carry api-key in its query: the URL is printed and stored with the verdict; set AZURE_OPENAI_API_KEY instead (sent as the api-key header)\n');
    assert.ok(!out.stderr.includes(secret));
  });

  test('serve still refuses a query on --upstream (each client sends its own, forwarded as sent)', () => {
    assert.throws(() => upstreamOptions([`openai=${fakeUrl}/openai?api-version=${VERSION}`]), { code: 'ERR_CLI_USAGE', message: /URL an http\(s\) base URL without query/ });
  });

  test('the Azure rule: an Azure OpenAI host or an api-version query gets api-key; other openai upstreams the Bearer OpenAI key', () => {
    const env = { AZURE_OPENAI_API_KEY: 'a-key', OPENAI_API_KEY: 'o-key', ANTHROPIC_API_KEY: 'n-key' };
    const lines: string[] = [];
    const headersFor = (url: string | undefined, name = 'openai') => replayCredentials(env, url === undefined ? {} : { [name]: url }, (line) => void lines.push(line))(name);
    assert.deepEqual(headersFor('https://res.openai.azure.com/openai'), { 'api-key': 'a-key' });
    assert.deepEqual(headersFor('https://RES.cognitiveservices.azure.com/openai?api-version=2024-10-21'), { 'api-key': 'a-key' });
    assert.deepEqual(headersFor('https://gateway.example/openai?api-version=2024-10-21'), { 'api-key': 'a-key' });
    assert.deepEqual(headersFor(undefined), { authorization: 'Bearer o-key' });
    assert.deepEqual(headersFor('http://127.0.0.1:8000'), { authorization: 'Bearer o-key' });
    assert.deepEqual(headersFor('https://openai.azure.com.example/openai'), { authorization: 'Bearer o-key' }, 'a host that only contains the suffix is not Azure');
    assert.deepEqual(headersFor('https://api.anthropic.com', 'anthropic'), { 'x-api-key': 'n-key', 'anthropic-version': '2023-06-01' });
    assert.deepEqual(lines, []);
  });

  test('no key is stored: neither the client\'s api-key of the original nor the replays\' credentials are in the data directory', async () => {
    assert.equal(await serve.stop(), 0);
    const stored = allBytes(data);
    assert.ok(stored.length > 0);
    assert.ok(stored.includes('gpt-4o-mini'), 'the store was read');
    assert.ok(!stored.includes(AZURE_KEY), 'the Azure key is not stored');
    assert.ok(!stored.includes(OPENAI_KEY), 'the OpenAI key is not stored');
  });
});
