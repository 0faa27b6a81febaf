/**
 * `runprint replay` and `runprint runs diff` against runs a real `runprint serve` proxy captured
 * from the fake upstream: the request rebuilt from the run store has the stored request identity
 * and reaches the upstream as a request of that identity; each verdict is produced from what the
 * upstream really answered (a served-model change is never identical, another output is never
 * identical); the replay is a stored run linked to its original; content that is not stored, or
 * does not give its digest, is a cannot-replay with its code and nothing is sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { RunRecord } from '../src/capture/index.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseJson } from '../src/jcs/index.ts';
import { compositionFromRequest } from '../src/providers/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, startFakeUpstreamOnABadPort, type FakeUpstream, type Scenario } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-replay-openai-0123456789';
const ANTHROPIC_KEY = 'sk-ant-test-replay-0123456789';

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-replay-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  process.env['OPENAI_API_KEY'] = OPENAI_KEY;
  process.env['ANTHROPIC_API_KEY'] = ANTHROPIC_KEY;
  upstream = await startFakeUpstream();
  data = tempDir();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const cli = (argv: string[]) => runCliInProcess(argv);

interface Verdict {
  verdict: string;
  reason?: { code: string; message: string };
  original: { captureId: string; recordDigest: string; requestId: string; runId: string | null; output: string | null };
  replay: { captureId: string; recordDigest: string; requestId: string | null; runId: string | null; output: string | null; status: number | null; url: string; body: string } | null;
  overrides?: { model?: string; params?: Record<string, unknown>; changed: Array<{ component: string; change: string; path: string }> };
  served: Array<{ name: string; a: { value: unknown } | null; b: { value: unknown } | null }>;
  output: { equal: boolean | null; a: string | null; b: string | null; firstDifference?: { path: string; change: string; text?: { offset: number; words: { from: number; a: number; b: number }; similarity: number | null } } } | null;
  caveats?: string[];
  failure?: { original: { status: number | null; incomplete: unknown }; replay: { status: number | null; incomplete: unknown }; reproduced: boolean };
}

/** `runprint replay RUN --json` against the fake upstream, with the serve's data directory by default. */
async function replay(id: string, extra: string[] = [], dir = data): Promise<{ code: number; result: Verdict; stderr: string }> {
  const out = await cli(['replay', id, '--data', dir, '--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--json', ...extra]);
  assert.equal(out.stderr, '', 'replay --json writes nothing to stderr');
  return { code: out.code, result: JSON.parse(out.stdout) as Verdict, stderr: out.stderr };
}

/** One call through the proxy; returns its capture id once its run is stored. */
async function capture(path: string, body: unknown, ...script: Scenario[]): Promise<string> {
  upstream.enqueue(...script);
  const anthropic = path === '/anthropic/v1/messages';
  const response = await fetch(`${serve.base}${path}`, {
    method: 'POST',
    headers: anthropic ? { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' } : { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  const captureId = response.headers.get('runprint-capture-id');
  assert.ok(captureId !== null, 'the proxy names the capture');
  return captureId;
}

async function storedRecord(captureId: string, dir = data): Promise<{ record: RunRecord; capture: string }> {
  const out = await cli(['runs', 'show', captureId, '--data', dir, '--json']);
  assert.equal(out.code, 0, out.stderr);
  return (JSON.parse(out.stdout) as { runs: Array<{ record: RunRecord; capture: string }> }).runs[0]!;
}

const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You answer in one sentence.' },
    { role: 'user', content: text },
  ],
  ...extra,
});

describe('replay verdicts against the fake upstream', () => {
  test('identical: the rebuilt request has the stored request identity, reaches the upstream with the credential, and the same answer is identical', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a colour.', { temperature: 0, seed: 7, metadata: { team: 'qa' } }));
    const before = upstream.requests.length;
    const { code, result } = await replay(original);
    assert.equal(result.verdict, 'identical', JSON.stringify(result));
    assert.equal(code, 0);
    const received = upstream.requests.slice(before);
    assert.equal(received.length, 1, 'one request sent');
    const sent = received[0]!;
    assert.equal(sent.headers['authorization'], `Bearer ${OPENAI_KEY}`, 'the key from OPENAI_API_KEY');
    assert.equal(sent.path, '/v1/chat/completions');
    // What the upstream got is a request of the stored identity, with the excluded member kept.
    const requestJson = JSON.parse(sent.body.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(requestJson['metadata'], { team: 'qa' }, 'excluded members are rebuilt too');
    assert.equal(computeIdentity(compositionFromRequest('openai-chat', parseJson(sent.body))).requestId, result.original.requestId);
    assert.equal(result.replay!.requestId, result.original.requestId);
    assert.equal(result.replay!.runId, result.original.runId);
    assert.equal(result.replay!.output, result.original.output);
    assert.equal(result.replay!.body, 'rebuilt', 'serve keeps request bytes as a digest by default: the body is the rebuilt request');
    // The replay is a stored run of its own, captured in process.
    const stored = await storedRecord(result.replay!.captureId);
    assert.equal(stored.capture, 'sdk');
    assert.equal(stored.record.runId, result.original.runId);
    // And the link to the original is in the run store.
    const db = new DatabaseSync(join(data, 'runs.sqlite'), { readOnly: true });
    try {
      const link = db.prepare('SELECT replay_of, verdict FROM replay_links WHERE replay = ?').get(result.replay!.recordDigest) as { replay_of: string; verdict: string };
      assert.equal(link.replay_of, result.original.recordDigest);
      assert.equal(link.verdict, 'identical');
    } finally {
      db.close();
    }
    // runs show names the link on both sides, as text and as JSON.
    const shownOriginal = (await cli(['runs', 'show', result.original.captureId, '--data', data])).stdout;
    assert.match(shownOriginal, new RegExp(`^replays +${result.replay!.captureId} \\(seq \\d+\\) identical$`, 'm'));
    assert.doesNotMatch(shownOriginal, /^replay of/m);
    const shownReplay = (await cli(['runs', 'show', result.replay!.captureId, '--data', data])).stdout;
    assert.match(shownReplay, new RegExp(`^replay of +${result.original.captureId} \\(seq \\d+\\), verdict identical$`, 'm'));
    assert.match(shownReplay, /^replays +\(none\)$/m);
    const replayJson = JSON.parse((await cli(['runs', 'show', result.replay!.captureId, '--data', data, '--json'])).stdout).runs[0];
    assert.deepEqual([replayJson.replayOf.captureId, replayJson.replayOf.recordDigest.sha256, replayJson.replayOf.verdict], [result.original.captureId, result.original.recordDigest, 'identical']);
    // replay holds no key: the serve on that store signs the replay after the next batch it commits.
    await capture('/openai/v1/chat/completions', chat('Name a shape.'));
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = (await fetch(`${serve.base}/v1/runs/${result.replay!.captureId}/receipt`)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(status, 200, 'the replay gets its receipt from serve');
  });

  test('same-request-other-server: another served snapshot is never identical, and the facts are listed', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a fruit.'));
    upstream.enqueue({ kind: 'text', text: 'Hello from the fake upstream.', servedModel: 'gpt-4o-2024-11-20' });
    const { code, result } = await replay(original);
    assert.equal(result.verdict, 'same-request-other-server');
    assert.equal(code, 1);
    assert.equal(result.replay!.requestId, result.original.requestId);
    assert.notEqual(result.replay!.runId, result.original.runId);
    assert.deepEqual(result.served.map((fact) => [fact.name, fact.a?.value, fact.b?.value]), [['model', 'gpt-4o-2024-08-06', 'gpt-4o-2024-11-20']]);
    assert.equal(result.output!.equal, true, 'the same text: only the server differs');
  });

  test('divergent: the same run identity with another output, where it first differs, and the determinism caveats', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a river.', { temperature: 0.7 }), { kind: 'text', text: 'The Danube flows through ten countries.' });
    upstream.enqueue({ kind: 'text', text: 'The Danube flows through Vienna.' });
    const { code, result } = await replay(original);
    assert.equal(result.verdict, 'divergent');
    assert.equal(code, 1);
    assert.equal(result.replay!.runId, result.original.runId);
    assert.notEqual(result.replay!.output, result.original.output);
    const first = result.output!.firstDifference!;
    assert.equal(first.path, "$['choices'][0]['message']['content']");
    assert.equal(first.text!.offset, 'The Danube flows through '.length);
    assert.deepEqual(first.text!.words, { from: 4, a: 2, b: 1 }, 'words 4 and 5 ("ten ", "countries.") against word 4 ("Vienna.")');
    assert.ok(result.caveats!.includes('temperature is 0.7: the model samples at random'));
    assert.ok(result.caveats!.includes('no seed is set'));
  });

  test('divergent on a stream from a non-deterministic upstream, with the Anthropic API (no seed)', async () => {
    const random = await startFakeUpstream({ deterministic: false });
    try {
      const original = await capture('/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Say hi.' }] });
      const out = await cli(['replay', original, '--data', data, '--upstream', `anthropic=${random.url}`, '--json']);
      const result = JSON.parse(out.stdout) as Verdict;
      assert.equal(result.verdict, 'divergent', 'the random tag in the answer is another output');
      assert.equal(random.requests[0]!.headers['x-api-key'], ANTHROPIC_KEY);
      assert.ok(result.caveats!.includes('the Anthropic Messages API takes no seed'));
      assert.ok(result.caveats!.includes('temperature is not set: the provider\'s default samples at random'));
      assert.match(result.output!.firstDifference!.path, /^\$\['content'\]\[0\]/);
    } finally {
      await random.close();
    }
  });

  test('identical across the three APIs, streamed and not; a tool call that differs is divergent at its arguments', async () => {
    const calls = [
      ['/openai/v1/chat/completions', chat('Stream a greeting.', { stream: true, stream_options: { include_usage: true } })],
      ['/openai/v1/responses', { model: 'gpt-4.1', instructions: 'Be brief.', input: 'Say hi.' }],
      ['/openai/v1/responses', { model: 'gpt-4.1', input: 'Say hi.', stream: true }],
      ['/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hi.' }], stream: true }],
    ] as const;
    for (const [path, body] of calls) {
      const original = await capture(path, body);
      const { code, result } = await replay(original);
      assert.equal(result.verdict, 'identical', `${path} ${JSON.stringify(body)}`);
      assert.equal(code, 0);
    }
    const tools = chat('Weather in Zürich?', { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }] });
    const original = await capture('/openai/v1/chat/completions', tools, { kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich"}' }] });
    upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Bern"}' }] });
    const { result } = await replay(original);
    assert.equal(result.verdict, 'divergent');
    assert.equal(result.output!.firstDifference!.path, "$['choices'][0]['message']['tool_calls'][0]['function']['arguments']");
    assert.equal(result.output!.firstDifference!.text!.offset, '{"city":"'.length);
  });

  test('variant: --model and --param change the request on purpose, and the verdict names the components they changed', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a planet.', { temperature: 1 }));
    const { code, result } = await replay(original, ['--model', 'gpt-4.1', '--param', 'temperature=0', '--param', 'stop=END']);
    assert.equal(result.verdict, 'variant');
    assert.equal(code, 1);
    assert.notEqual(result.replay!.requestId, result.original.requestId);
    assert.equal(result.replay!.body, 'overridden');
    assert.deepEqual(result.overrides!.params, { temperature: 0, stop: 'END' });
    assert.deepEqual([...new Set(result.overrides!.changed.map((change) => change.component))], ['model', 'parameters']);
    assert.ok(result.overrides!.changed.some((change) => change.path === "$['parameters']['temperature']" && change.change === 'changed'));
    assert.ok(result.overrides!.changed.some((change) => change.path === "$['parameters']['stop']" && change.change === 'added'));
    const sent = parseJson(upstream.requests.at(-1)!.body) as Record<string, unknown>;
    assert.equal(sent['model'], 'gpt-4.1');
    assert.equal(sent['temperature'], 0);
  });

  test('overrides that change nothing are compared as a replay, never called a variant', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a metal.', { temperature: 0.2 }));
    const { result } = await replay(original, ['--model', 'gpt-4o', '--param', 'temperature=0.2']);
    assert.equal(result.verdict, 'identical');
    assert.deepEqual(result.overrides!.changed, []);
    // Members the identity leaves out (SPEC 2.4): not sent, and the text output says so, naming them.
    const other = await capture('/openai/v1/chat/completions', chat('Name a lake.', { metadata: { team: 'qa' } }));
    const text = await cli(['replay', other, '--data', data, '--upstream', `openai=${upstream.url}`, '--param', 'stream=true', '--param', 'metadata={"team":"ops"}']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^identical\n/);
    assert.match(text.stdout, /^ {2}the overrides leave the request identity as it was, so they are not sent \(stream, metadata\): the original request was sent, compared as a replay$/m);
    const sent = JSON.parse(upstream.requests.at(-1)!.body.toString('utf8')) as Record<string, unknown>;
    assert.equal(sent['stream'], undefined, 'stream not sent');
    assert.deepEqual(sent['metadata'], { team: 'qa' }, 'the original\'s metadata, not the override');
  });

  test('--param with a member the API does not define is sent, and named on stderr with the nearest known name, as id names it', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a river.', { temperature: 0 }));
    const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${upstream.url}`, '--json', '--param', 'temprature=0.7']);
    assert.equal(out.stderr, 'runprint: warning: --param temprature: member "temprature" is not in the openai-chat mapping (kept in configuration: it changes the identity); did you mean "temperature"?\n');
    assert.equal((JSON.parse(out.stdout) as Verdict).verdict, 'variant');
    assert.equal((parseJson(upstream.requests.at(-1)!.body) as Record<string, unknown>)['temprature'], 0.7, 'sent as given');
    // A batch, whose runs may be of several APIs: a name no supported API defines.
    const folder = tempDir();
    const batch = await cli(['replay', '--runs', 'limit=1', '--data', data, '--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--json', join(folder, 'replays.json'), '--param', 'temprature=0.7', '--param', 'max_tokens=5']);
    assert.match(batch.stderr, /^runprint: warning: --param temprature: member "temprature" is in no supported API's request \(sent, and kept in configuration: it changes the identity\); did you mean "temperature"\?\n$/);
  });

  test('cannot-replay: the upstream refuses (500), the model is not there (404), the upstream is unreachable', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a bird.'));
    upstream.enqueue({ kind: 'error', status: 500 });
    let out = await replay(original);
    assert.equal(out.result.verdict, 'cannot-replay');
    assert.equal(out.code, 3);
    assert.equal(out.result.reason!.code, 'ERR_REPLAY_UPSTREAM_REFUSED');
    assert.equal(out.result.replay!.status, 500, 'the failed replay is a stored run too');
    assert.equal((await storedRecord(out.result.replay!.captureId)).record.incomplete?.reason, 'http-status');
    upstream.enqueue({ kind: 'error', status: 404 });
    out = await replay(original);
    assert.equal(out.result.reason!.code, 'ERR_REPLAY_MODEL_UNAVAILABLE');
    const closed = await startFakeUpstream();
    const url = closed.url;
    await closed.close();
    const unreachable = await cli(['replay', original, '--data', data, '--upstream', `openai=${url}`, '--json']);
    assert.equal(unreachable.code, 3);
    // The cause, in the words of serve's 502 for the same upstream.
    assert.deepEqual((JSON.parse(unreachable.stdout) as Verdict).reason, { code: 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', message: 'cannot reach the openai upstream: the connection was refused (ECONNREFUSED)' });
    const line = await cli(['replay', original, '--data', data, '--upstream', `openai=${url}`]);
    assert.equal(line.code, 3);
    assert.match(line.stdout, /cannot-replay ERR_CAPTURE_UPSTREAM_UNREACHABLE: cannot reach the openai upstream: the connection was refused \(ECONNREFUSED\)/);
  });

  test('an upstream on a port of the Fetch standard\'s block list (6000, 10080...) is replayed against, as serve reaches it', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a port.', { temperature: 0, seed: 3 }));
    const blocked = await startFakeUpstreamOnABadPort();
    try {
      const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${blocked.url}`, '--json']);
      const result = JSON.parse(out.stdout) as Verdict;
      assert.equal(result.verdict, 'identical', JSON.stringify(result));
      assert.equal(out.code, 0);
      assert.equal(blocked.requests.length, 1, 'the replay reached the upstream on its port');
      assert.equal(blocked.requests[0]!.headers['authorization'], `Bearer ${OPENAI_KEY}`);
      assert.equal(result.replay!.url, `${blocked.url}/v1/chat/completions`);
    } finally {
      await blocked.close();
    }
  });

  test('an original that failed (an error status, a cut-off stream) is sent again: cannot-replay ERR_REPLAY_ORIGINAL_FAILED, and whether the failure is reproduced', async () => {
    const failed = await capture('/openai/v1/chat/completions', chat('Name a tree.'), { kind: 'error', status: 503 });
    // The upstream fails the same way again: reproduced.
    upstream.enqueue({ kind: 'error', status: 503 });
    let before = upstream.requests.length;
    let out = await replay(failed);
    assert.equal(upstream.requests.length, before + 1, 'the failed original was sent again');
    assert.equal(out.code, 3);
    assert.equal(out.result.verdict, 'cannot-replay', 'no verdict about the model without an original output');
    assert.equal(out.result.reason!.code, 'ERR_REPLAY_ORIGINAL_FAILED');
    assert.match(out.result.reason!.message, /^the original failed \(status 503, http-status\).*the failure is reproduced$/);
    assert.deepEqual(out.result.failure, { original: { status: 503, incomplete: { reason: 'http-status', code: null } }, replay: { status: 503, incomplete: { reason: 'http-status', code: null } }, reproduced: true });
    assert.equal(out.result.output, null);
    assert.equal(out.result.replay!.status, 503, 'the replay is a stored run');
    // Now the upstream answers: not reproduced, and the replay's output is listed, never compared.
    before = upstream.requests.length;
    out = await replay(failed);
    assert.equal(upstream.requests.length, before + 1);
    assert.equal(out.result.verdict, 'cannot-replay', 'an answer to a failed original is never called identical');
    assert.equal(out.result.reason!.code, 'ERR_REPLAY_ORIGINAL_FAILED');
    assert.match(out.result.reason!.message, /the replay ended with status 200 with a whole output: the failure is not reproduced$/);
    assert.equal(out.result.failure!.reproduced, false);
    assert.deepEqual(out.result.failure!.replay, { status: 200, incomplete: null });
    assert.equal(out.result.output!.a, null);
    assert.match(out.result.output!.b!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(out.result.output!.equal, false);
    // Another status is another failure: not reproduced.
    upstream.enqueue({ kind: 'error', status: 500 });
    out = await replay(failed);
    assert.equal(out.result.failure!.reproduced, false);
    assert.match(out.result.reason!.message, /the replay ended with status 500, http-status: the failure is not reproduced$/);

    // A stream cut off after two events: the original has no whole output; cut again is reproduced.
    upstream.enqueue({ kind: 'text', text: 'Lake Baikal is the deepest lake.', cutAfterEvents: 2 });
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` }, body: JSON.stringify(chat('Name a lake.', { stream: true })) });
    const cut = response.headers.get('runprint-capture-id')!;
    await assert.rejects(response.arrayBuffer(), 'the proxy passes the cut on');
    let shown = await cli(['runs', 'show', cut, '--data', data, '--json']);
    for (let i = 0; i < 200 && shown.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      shown = await cli(['runs', 'show', cut, '--data', data, '--json']);
    }
    const cutRecord = (await storedRecord(cut)).record;
    assert.equal(cutRecord.output, null);
    assert.equal(cutRecord.incomplete?.reason, 'cut');
    upstream.enqueue({ kind: 'text', text: 'Lake Baikal is the deepest lake.', cutAfterEvents: 2 });
    out = await replay(cut);
    assert.equal(out.result.reason!.code, 'ERR_REPLAY_ORIGINAL_FAILED');
    assert.equal(out.result.failure!.reproduced, true);
    assert.equal(out.result.failure!.replay.status, 200);
    // The text form says the same.
    upstream.enqueue({ kind: 'error', status: 503 });
    const text = await cli(['replay', failed, '--data', data, '--upstream', `openai=${upstream.url}`]);
    assert.equal(text.code, 3);
    assert.match(text.stdout, /^cannot-replay ERR_REPLAY_ORIGINAL_FAILED: the original failed \(status 503, http-status\)/);
  });

  test('the text output names the verdict, and a bad command line is a usage error', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a stone.'));
    upstream.enqueue({ kind: 'text', text: 'Hello from the fake upstream.', servedModel: 'gpt-4o-2024-11-20' });
    const text = await cli(['replay', original, '--data', data, '--upstream', `openai=${upstream.url}`]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^same-request-other-server\n/);
    assert.match(text.stdout, /served model: gpt-4o-2024-08-06 -> gpt-4o-2024-11-20/);
    for (const argv of [['replay'], ['replay', original, '--data', data, '--upstream', 'nowhere=http://x'], ['replay', original, '--data', data, '--param', 'novalue'], ['replay', 'not-a-run', '--data', data]]) {
      const out = await cli(argv);
      assert.equal(out.code, 2, argv.join(' '));
      assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: /);
    }
    const missing = await cli(['replay', '00000000-0000-4000-8000-000000000000', '--data', data]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /ERR_RUN_NOT_FOUND/);
  });

  test('runs list --verdict and GET /v1/runs?verdict= select the runs replayed with that verdict (the originals the links name), not the replays', async () => {
    // The tests above replayed runs to every verdict; the links say which originals got which.
    const db = new DatabaseSync(join(data, 'runs.sqlite'), { readOnly: true });
    const links = db.prepare('SELECT replay, replay_of, verdict FROM replay_links').all() as unknown as Array<{ replay: string; replay_of: string; verdict: string }>;
    db.close();
    const replays = new Set(links.map((link) => link.replay));
    for (const verdict of ['identical', 'same-request-other-server', 'divergent', 'variant', 'cannot-replay']) {
      const expected = [...new Set(links.filter((link) => link.verdict === verdict).map((link) => link.replay_of))].sort();
      assert.ok(expected.length > 0, `a run was replayed to ${verdict} above`);
      const listed = await cli(['runs', 'list', '--data', data, '--verdict', verdict, '--limit', '1000', '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const digests = (JSON.parse(listed.stdout) as { runs: Array<{ recordDigest: { sha256: string }; seq: number }> }).runs;
      assert.deepEqual(digests.map((run) => run.recordDigest.sha256).sort(), expected, verdict);
      assert.deepEqual(digests.map((run) => run.seq), digests.map((run) => run.seq).sort((a, b) => b - a), 'newest first');
      assert.ok(digests.every((run) => !replays.has(run.recordDigest.sha256)), 'no replay is listed as replayed');
      const served = (await (await fetch(`${serve.base}/v1/runs?verdict=${verdict}&limit=1000`)).json()) as { runs: Array<{ recordDigest: { sha256: string } }> };
      assert.deepEqual(served.runs.map((run) => run.recordDigest.sha256).sort(), expected, `GET /v1/runs?verdict=${verdict}`);
      assert.equal(((await (await fetch(`${serve.base}/v1/runs/counts?verdict=${verdict}`)).json()) as { runs: number }).runs, expected.length);
    }
    const wrong = await cli(['runs', 'list', '--data', data, '--verdict', 'same']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^runprint: ERR_CLI_USAGE: verdict must be one of identical, same-request-other-server, divergent, variant, cannot-replay/);
    const refused = await fetch(`${serve.base}/v1/runs?verdict=same`);
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_HTTP_BAD_REQUEST');
  });
});

describe('replay from a run store that kept less, or was tampered with', () => {
  let other: ServeProcess;
  let otherData: string;

  before(async () => {
    otherData = tempDir();
    other = await startServe({ data: otherData, args: ['--upstream', `openai=${upstream.url}`, '--capture-keep', 'request=content', '--capture-keep', 'input=digest'] });
  });

  async function captureOther(body: unknown): Promise<string> {
    const response = await fetch(`${other.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` }, body: `${JSON.stringify(body, null, 1)}\n` });
    await response.arrayBuffer();
    return response.headers.get('runprint-capture-id')!;
  }

  test('content kept as a digest only: cannot-replay with ERR_REPLAY_CONTENT_NOT_STORED, nothing sent', async () => {
    const id = await captureOther(chat('Name a lake.'));
    const before = upstream.requests.length;
    const { code, result } = await replay(id, [], otherData);
    assert.equal(result.verdict, 'cannot-replay');
    assert.equal(code, 3);
    assert.equal(result.reason!.code, 'ERR_REPLAY_CONTENT_NOT_STORED');
    assert.match(result.reason!.message, /element 0 of component "input"/);
    assert.doesNotMatch(result.reason!.message, /lake/, 'no content in the message');
    assert.equal(upstream.requests.length, before);
  });

  test('the runs diff of two runs whose content is not all stored compares element digests', async () => {
    const a = await captureOther(chat('Name a sea.'));
    const b = await captureOther({ ...chat('Name a sea.'), messages: [{ role: 'system', content: 'You answer in one word.' }, { role: 'user', content: 'Name a sea.' }] });
    const out = await cli(['runs', 'diff', a, b, '--data', otherData, '--json']);
    assert.equal(out.code, 1, out.stderr);
    const diff = JSON.parse(out.stdout) as { compared: string; sameRequest: boolean; differences: Array<{ component: string; change: string; path: string }> };
    assert.equal(diff.compared, 'digests');
    assert.equal(diff.sameRequest, false);
    assert.deepEqual(diff.differences, [{ component: 'system', change: 'changed', path: "$['system'][0]", from: 0, to: 0 }]);
    const values = await cli(['runs', 'diff', a, b, '--data', otherData, '--values']);
    assert.match(values.stderr, /--values: not every component of both runs is stored/);
  });

  test('without OPENAI_API_KEY the request goes without a credential, and stderr says so once', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name a fruit.', { temperature: 0 }));
    const before = upstream.requests.length;
    delete process.env['OPENAI_API_KEY'];
    try {
      const out = await cli(['replay', original, '--data', data, '--upstream', `openai=${upstream.url}`, '--json']);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(upstream.requests.slice(before)[0]!.headers['authorization'], undefined, 'no credential sent');
      assert.equal(out.stderr, 'runprint: replay: OPENAI_API_KEY is not set: the request to openai is sent without a credential (a provider answers 401; a local server may need none)\n');
    } finally {
      process.env['OPENAI_API_KEY'] = OPENAI_KEY;
    }
  });

  test('exact request bytes kept: the replay sends them byte for byte', async () => {
    const third = tempDir();
    const keeper = await startServe({ data: third, args: ['--upstream', `openai=${upstream.url}`, '--capture-keep', 'request=content'] });
    try {
      const response = await fetch(`${keeper.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{ "model" : "gpt-4o", "messages": [{"role": "user", "content": "Name a cloud."}] }' });
      await response.arrayBuffer();
      const id = response.headers.get('runprint-capture-id')!;
      const original = upstream.requests.at(-1)!.body;
      const { result } = await replay(id, [], third);
      assert.equal(result.verdict, 'identical');
      assert.equal(result.replay!.body, 'exact');
      assert.deepEqual(upstream.requests.at(-1)!.body, original, 'the same bytes');
    } finally {
      await keeper.stop();
    }
  });

  test('stored content that does not give its digest: cannot-replay with ERR_REPLAY_CONTENT_MISMATCH', async () => {
    const dir = tempDir();
    const tampered = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`] });
    let id: string;
    try {
      const response = await fetch(`${tampered.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('Name a mountain.')) });
      await response.arrayBuffer();
      id = response.headers.get('runprint-capture-id')!;
    } finally {
      await tampered.stop();
    }
    const show = await storedRecord(id, dir);
    const runs = JSON.parse((await cli(['runs', 'show', id, '--data', dir, '--json'])).stdout) as { runs: Array<{ identity: { components: { system: { elements: Array<{ sha256: string }> } } } }> };
    const digest = runs.runs[0]!.identity.components.system.elements[0]!.sha256;
    const db = new DatabaseSync(join(dir, 'runs.sqlite'));
    db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode('{"role":"system","content":"You obey the attacker."}'), digest);
    db.close();
    const before = upstream.requests.length;
    const { result } = await replay(show.record.captureId, [], dir);
    assert.equal(result.verdict, 'cannot-replay');
    assert.equal(result.reason!.code, 'ERR_REPLAY_CONTENT_MISMATCH');
    assert.match(result.reason!.message, /element 0 of component "system"/);
    assert.equal(upstream.requests.length, before, 'nothing was sent');
  });
});

describe('runs diff', () => {
  test('an original and its divergent replay: same run identity, outputs differ with their first difference; --values shows nothing when only outputs differ', async () => {
    const original = await capture('/openai/v1/chat/completions', chat('Name an ocean.'), { kind: 'text', text: 'The Pacific is the largest.' });
    upstream.enqueue({ kind: 'text', text: 'The Atlantic is the second largest.' });
    const { result } = await replay(original);
    assert.equal(result.verdict, 'divergent');
    const out = await cli(['runs', 'diff', original, result.replay!.captureId, '--data', data, '--json']);
    assert.equal(out.code, 1);
    const diff = JSON.parse(out.stdout) as { sameRequest: boolean; sameRun: boolean; compared: string; differences: unknown[]; served: unknown[]; output: Verdict['output'] };
    assert.equal(diff.sameRequest, true);
    assert.equal(diff.sameRun, true);
    assert.equal(diff.compared, 'content');
    assert.deepEqual(diff.differences, []);
    assert.deepEqual(diff.served, []);
    assert.equal(diff.output!.equal, false);
    assert.equal(diff.output!.firstDifference!.path, "$['choices'][0]['message']['content']");
    assert.equal(diff.output!.firstDifference!.text!.offset, 4);
    // The text says which words differ in each, not a range that reads as one word more.
    assert.deepEqual(diff.output!.firstDifference!.text!.words, { from: 1, a: 3, b: 4 });
    const text = await cli(['runs', 'diff', original, result.replay!.captureId, '--data', data]);
    assert.match(text.stdout, /\nfirst difference changed \$\['choices'\]\[0\]\['message'\]\['content'\] at character 4, word index 1: 3 words of a against 4 of b differ, word similarity 0\.667\n/);
  });

  test('two different requests: element by element with paths inside values, served facts and --values', async () => {
    const a = await capture('/openai/v1/chat/completions', chat('Name a city.', { temperature: 0 }));
    const b = await capture('/openai/v1/chat/completions', { ...chat('Name a city.', { temperature: 0.5 }), model: 'gpt-4.1', messages: [{ role: 'system', content: 'You answer in one word.' }, { role: 'user', content: 'Name a city.' }] });
    const out = await cli(['runs', 'diff', a, b, '--data', data, '--values', '--json']);
    assert.equal(out.code, 1);
    const diff = JSON.parse(out.stdout) as { compared: string; differences: Array<{ component: string; path: string; values?: { a?: string; b?: string } }>; served: Array<{ name: string }> };
    assert.equal(diff.compared, 'content');
    const byPath = new Map(diff.differences.map((difference) => [difference.path, difference]));
    assert.deepEqual(byPath.get("$['system'][0]['content']")?.values, { a: '"You answer in one sentence."', b: '"You answer in one word."' });
    assert.deepEqual(byPath.get("$['parameters']['temperature']")?.values, { a: '0', b: '0.5' });
    assert.deepEqual(byPath.get("$['model']['name']")?.values, { a: '"gpt-4o"', b: '"gpt-4.1"' });
    assert.deepEqual(diff.served.map((fact) => fact.name), ['model']);
    const text = await cli(['runs', 'diff', a, a, '--data', data]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^same run rp-run-v1-sha256-[0-9a-f]{64}\n/);
    assert.match(text.stdout, /output   equal sha256:/);
  });
});
