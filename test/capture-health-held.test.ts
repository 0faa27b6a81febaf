/**
 * /healthz `capture.held`: the records a real `runprint serve` holds in memory after their commit
 * failed (another connection holds BEGIN EXCLUSIVE on runs.sqlite), as docs/openapi.json
 * documents the answer; back to 0 once the lock is released and a retry committed them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { validate } from './helpers/json-schema.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { lockRunStore, untilHealthy } from './helpers/run-store-lock.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
const SCHEMA = OPENAPI.paths['/healthz']!['get']!.responses['200']!.content['application/json']!.schema;

let upstream: FakeUpstream | undefined;
const scratch = scratchFolders('runprint-held-');
after(() => endServeTest(upstream, scratch));

interface Capture {
  healthy: boolean;
  recorded: number;
  failed: number;
  held: number;
  failures: number;
}

test('healthz capture.held counts the records kept in memory while the run store is locked, and is 0 again once they are committed', { timeout: 60_000 }, async () => {
  upstream = await startFakeUpstream();
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const call = async (content: string) => {
    const response = await chatCall(serve.base, content);
    assert.equal(response.status, 200, 'fail-open: the call completes');
    await response.text();
  };
  const health = async (): Promise<Capture> => {
    const answer = (await (await fetch(`${serve.base}/healthz`)).json()) as { capture: Capture };
    assert.deepEqual(validate(answer, SCHEMA as never, OPENAPI as never), [], 'the answer docs/openapi.json documents');
    return answer.capture;
  };

  await call('before the lock');
  assert.deepEqual(pick(await health()), { healthy: true, recorded: 1, failed: 0, held: 0 });
  const lock = lockRunStore(data);
  try {
    // The first commit waits for the lock (5 s) and fails: its record is held; the two after it
    // are held at once, without a commit attempt.
    await call('during the lock, 1');
    await call('during the lock, 2');
    await call('during the lock, 3');
    assert.deepEqual(pick(await health()), { healthy: false, recorded: 1, failed: 0, held: 3 });
    lock.release();
    await untilHealthy(health);
  } finally {
    lock.close();
  }
  assert.deepEqual(pick(await health()), { healthy: true, recorded: 4, failed: 0, held: 0 }, 'the held records were committed');
  assert.equal(await serve.stop(), 0);
});

test('healthz capture.failures counts each call whose record was in a failed commit, however the calls were batched', { timeout: 60_000 }, async () => {
  upstream ??= await startFakeUpstream();
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const health = async (): Promise<Capture> => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: Capture }).capture;
  const call = async (content: string) => {
    const response = await chatCall(serve.base, content);
    assert.equal(response.status, 200, 'fail-open: the call completes');
    await response.text();
  };
  await call('before the lock');
  const before = (await health()).failures;
  const lock = lockRunStore(data);
  try {
    // Five calls at once: their records are committed in one batch, which waits for the lock and fails.
    await Promise.all([1, 2, 3, 4, 5].map((n) => call(`during the lock, ${n}`)));
    const during = await health();
    assert.equal(during.held, 5);
    assert.ok(during.failures - before >= 5, `each of the 5 calls is a failure told (${during.failures - before} counted)`);
    lock.release();
    await untilHealthy(health);
  } finally {
    lock.close();
  }
  assert.equal(await serve.stop(), 0);
});

function pick(capture: Capture): Omit<Capture, 'failures'> {
  return { healthy: capture.healthy, recorded: capture.recorded, failed: capture.failed, held: capture.held };
}
