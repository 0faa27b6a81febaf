/**
 * `serve --upstream-timeout MS`: how long an upstream may send nothing before serve gives up on a
 * proxied call (default 300 s). An upstream silent longer than the option before its answer gets the
 * client 504 ERR_CAPTURE_UPSTREAM_TIMEOUT naming the limit, the run recorded `timeout` and counted in
 * /healthz capture.upstreams.NAME.timedOut; one that answers within it is passed through. A value out
 * of range is a usage error (exit 2) naming where it came from. A real serve and the fake upstream.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { RUNPRINT_BIN, startServe, type ServeProcess } from './helpers/serve-process.ts';

const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Think long, then name a colour.' }] };

describe('runprint serve --upstream-timeout 1000', () => {
  const scratch = scratchFolders('runprint-upstream-timeout-');
  let upstream: FakeUpstream;
  let serve: ServeProcess;
  before(async () => {
    upstream = await startFakeUpstream();
    serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--upstream-timeout', '1000'] });
  });
  after(() => endServeTest(upstream, scratch));

  const call = () => fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-upstream-timeout' }, body: JSON.stringify(CALL) });

  test('an upstream silent for 2.5 s gets the client 504 after about 1 s, recorded timeout and counted; one answering after 0.4 s passes', async () => {
    upstream.enqueue({ kind: 'text', text: 'Too late.', headersDelayMs: 2500 });
    const started = performance.now();
    const response = await call();
    const tookMs = performance.now() - started;
    assert.equal(response.status, 504);
    assert.deepEqual(await response.json(), { error: { code: 'ERR_CAPTURE_UPSTREAM_TIMEOUT', message: "the openai upstream sent nothing for 1 s, the proxy's limit for an upstream's silence: the call got no answer" } });
    assert.ok(tookMs >= 900 && tookMs < 2400, `answered after ${Math.round(tookMs)} ms`);
    const stored = await fetch(`${serve.base}/v1/runs/${response.headers.get('runprint-capture-id')}`);
    const { runs } = (await stored.json()) as { runs: Array<{ record: { outcome: string } }> };
    assert.equal(runs[0]!.record.outcome, 'timeout');
    const health = (await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { upstreams: Record<string, { unreachable: number; timedOut: number }> } };
    assert.deepEqual([health.capture.upstreams['openai']!.timedOut, health.capture.upstreams['openai']!.unreachable], [1, 0]);

    upstream.enqueue({ kind: 'text', text: 'Violet.', headersDelayMs: 400 });
    const answered = await call();
    assert.equal(answered.status, 200);
    assert.equal(((await answered.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content, 'Violet.');
  });
});

test('--upstream-timeout and RUNPRINT_UPSTREAM_TIMEOUT out of range are usage errors naming where the value came from', () => {
  const scratch = scratchFolders('runprint-upstream-timeout-bad-');
  try {
    for (const [args, env, named] of [
      [['--upstream-timeout', '999'], {}, '--upstream-timeout'],
      [['--upstream-timeout', 'soon'], {}, '--upstream-timeout'],
      [[], { RUNPRINT_UPSTREAM_TIMEOUT: '3600001' }, 'RUNPRINT_UPSTREAM_TIMEOUT'],
    ] as const) {
      const result = spawnSync(process.execPath, [RUNPRINT_BIN, 'serve', '--port', '0', '--data', scratch.tempDir(), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 2, result.stderr);
      assert.equal(result.stderr, `runprint: ERR_CLI_USAGE: ${named} must be a number of ms from 1000 to 3600000\n`);
    }
  } finally {
    scratch.removeAll();
  }
});
