/**
 * serve answers /healthz while a client reads back a run of 100,000 list elements (the most
 * capture identifies): GET /v1/runs/{id}, its composition, its verification, the page of runs
 * holding it, its receipt, and its comparison with itself (GET /v1/runs/diff). What a read of
 * such a run costs the event loop (the run's digest rows, its identity document's list roots, its
 * 100,000 pieces of content, the identity recomputed twice and the 10 MB receipt verified, the
 * 10 MB answer made and encoded) is done in steps that give it back between them, or in the
 * worker pool (capture/large-run.ts). Before,
 * one read held serve's event loop 0.16 to 2.8 s of its CPU at a time, and every other client
 * (proxied calls, /healthz) waited as long, more on a loaded machine.
 *
 * The gaps between /healthz answers are measured in the CPU time serve's main thread spent in them
 * (Linux: /proc/PID/task/PID/schedstat), as capture-large-run-event-loop.test.ts measures them
 * (helpers/event-loop-gaps.ts).
 * Each answer is byte for byte the one made in one go: the run as storedRun reads it with all its
 * digests at once, its views and composition as JSON.stringify writes them, its composition from
 * one content read per piece, its verification and comparison as verifyRun and runsDiffView make
 * them in this thread.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test, type TestContext } from 'node:test';
import { MAX_CAPTURED_ELEMENTS } from '../src/capture/capture-run.ts';
import { runComposition } from '../src/replay/rebuild-request.ts';
import { createIdentityPool } from '../src/server/identity-pool.ts';
import { runAnalysisRoutes } from '../src/server/run-analysis-routes.ts';
import { runViews } from '../src/server/run-routes.ts';
import { RUNS_DATABASE, receiptKey } from '../src/store/receipt-key.ts';
import { storedRun, type RunDigest } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { longestGap, pollGaps, type Gaps } from './helpers/event-loop-gaps.ts';
import { onePieceAtATime } from './helpers/one-piece-store.ts';
import type { DigestRowRead, RunRowRead } from './helpers/run-rows.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-large-read-loop-');
after(() => endServeTest(undefined, scratch));

/**
 * Most CPU time of serve's main thread between two /healthz answers. One step of a read takes a
 * few milliseconds to some 40 (the run's row with its 18 MB of text, its identity document
 * parsed, a page of 1,024 pieces of content read and checked); a poll's 10 ms and the rest of the
 * turn come on top. Before the steps, a read of a run of 100,000 elements held it 0.16 to 2.8 s.
 */
const MOST_CPU_MS = 120;

/** GET `path` from serve, /healthz asked every 10 ms (by another process) until it is answered: its status and body, and the gaps. */
async function readWhilePolled(base: string, pid: number, path: string): Promise<{ status: number; body: string; gaps: Gaps; ms: number }> {
  const poller = await pollGaps(base, pid);
  try {
    const started = performance.now();
    const response = await fetch(`${base}${path}`);
    const body = await response.text();
    const ms = Math.round(performance.now() - started);
    return { status: response.status, body, ms, gaps: await poller.done() };
  } finally {
    poller.stop();
  }
}

/** What is wrong with the gaps of a read: fewer than 3, or one of more than MOST_CPU_MS of serve's CPU (where the system says); undefined if nothing. The measures as a diagnostic. */
function gapsWrong(t: TestContext, route: string, gaps: Gaps, readMs: number): string | undefined {
  const longest = (of: (gap: Gaps[number]) => number | undefined) => longestGap(gaps, of);
  const measured = `${route}: ${gaps.length} gaps over the read (${readMs} ms); longest ${longest((gap) => gap.wallMs)} ms of wall time, ${longest((gap) => gap.cpuMs)} ms of serve's CPU`;
  t.diagnostic(measured);
  if (gaps.length < 3) return measured;
  if (gaps.some((gap) => gap.cpuMs === undefined)) return void t.diagnostic('no per-thread CPU time on this system: the gaps are not checked');
  return longest((gap) => gap.cpuMs) <= MOST_CPU_MS ? undefined : measured;
}

/** Equal texts; else where they first differ (not the 10 MB texts themselves). */
function sameText(actual: string | undefined, expected: string, what: string): void {
  if (actual === expected) return;
  let at = 0;
  while (actual !== undefined && at < actual.length && actual[at] === expected[at]) at++;
  assert.fail(`${what}: ${actual?.length} characters, expected ${expected.length}; first difference at ${at}: ${JSON.stringify(actual?.slice(Math.max(0, at - 80), at + 80))} where ${JSON.stringify(expected.slice(Math.max(0, at - 80), at + 80))} was expected`);
}

/** A Chat Completions request of MAX_CAPTURED_ELEMENTS short messages. */
function largeRequest(): string {
  return JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: MAX_CAPTURED_ELEMENTS }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: lorem ipsum dolor sit amet` })) });
}

const ANSWER = JSON.stringify({ id: 'chatcmpl-large', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_large', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Read them all.' } }], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });

test(`/healthz answers while a run of ${MAX_CAPTURED_ELEMENTS} list elements is read back (the run, its composition, its verification, a page of runs, its receipt, a diff): no gap holds serve's event loop more than ${MOST_CPU_MS} ms of CPU; every answer is the one made in one go`, async (t) => {
  const upstream = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => (upstream.closeAllConnections(), upstream.close(() => resolve()))));
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=http://127.0.0.1:${(upstream.address() as AddressInfo).port}`] });
  const call = async (body: string) => {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-large' }, body });
    assert.equal(response.status, 200, await response.clone().text());
    await response.arrayBuffer();
    return response.headers.get('runprint-capture-id')!;
  };
  const small = await call(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
  const id = await call(largeRequest());
  // Both signed, and the large run's receipt stored (it is counted signed as it is written).
  while (((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { signed: number } }).capture.signed < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  for (let stored = false; !stored; ) {
    const receipt = await fetch(`${serve.base}/v1/runs/${id}/receipt`, { method: 'HEAD' });
    stored = receipt.status === 200;
    if (!stored) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const diff = `/v1/runs/diff?a=${id}&b=${encodeURIComponent((await (await fetch(`${serve.base}/v1/runs/${id}`)).json()).runs[0].record.runId)}&values=1`;
  const routes = [`/v1/runs/${id}`, `/v1/runs/${id}/composition`, `/v1/runs/${id}/verify`, '/v1/runs', `/v1/runs/${id}/receipt`, diff];
  const answers = new Map<string, string>();
  const wrong: string[] = [];
  for (const route of routes) {
    const read = await readWhilePolled(serve.base, serve.pid, route);
    assert.equal(read.status, 200, `${route}: ${read.body.slice(0, 300)}`);
    const gaps = gapsWrong(t, route.replace(id, '{id}'), read.gaps, read.ms);
    if (gaps !== undefined) wrong.push(gaps);
    answers.set(route, read.body);
  }
  assert.deepEqual(wrong, [], `reads that held serve's event loop more than ${MOST_CPU_MS} ms of its CPU at a time`);
  // HEAD: the headers alone (the answer made in steps is not made).
  const head = await fetch(`${serve.base}/v1/runs/${id}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'application/json');
  assert.equal(await head.text(), '');
  assert.equal(await serve.stop(), 0);

  // The run as read in one go: its row and all its digests at once, checked by storedRun (list roots included).
  const path = join(data, RUNS_DATABASE);
  const db = new DatabaseSync(path, { readOnly: true });
  const oneGo = (captureId: string, roots: boolean) => {
    const row = db.prepare('SELECT seq, record_digest, model, capture, record, identity, receipt, log_index, content_expired FROM runs WHERE capture_id = ?').get(captureId) as unknown as RunRowRead;
    const digests = (db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? ORDER BY part, position').all(row['seq']) as unknown as DigestRowRead[]).map((d): RunDigest => ({ part: d['part'] as RunDigest['part'], position: d['position'], digest: d['digest'], kept: d['kept'] === 1 || d['kept'] === true }));
    return storedRun({ local: `run database ${path}`, remote: 'run database' }, { seq: Number(row['seq']), recordDigest: row['record_digest'], record: row['record'], identity: row['identity'], model: row['model'], capture: row['capture'], receipt: row['receipt'], logIndex: row['log_index'], contentExpired: row['content_expired'] === 1 || row['content_expired'] === true }, digests, roots);
  };
  const run = oneGo(id, true);
  const smallRun = oneGo(small, false);
  db.close();
  const store = SqliteRuns.openReader(path);
  const pool = createIdentityPool();
  try {
    assert.equal((run.identity!.components.input as { elements: unknown[] }).elements.length, MAX_CAPTURED_ELEMENTS);
    assert.ok(isDeepStrictEqual(await store.find(id), [run]), 'the run read in steps is the run read in one go');
    sameText(answers.get(`/v1/runs/${id}`), JSON.stringify({ runs: await runViews(store, [run]) }), 'the run');
    sameText(answers.get('/v1/runs'), JSON.stringify({ runs: await runViews(store, [run, smallRun]) }), 'the page of runs');
    sameText(answers.get(`/v1/runs/${id}/receipt`), run.receipt!, 'the receipt');
    // The composition from one read per piece of content (a store that reads no page at once).
    const perPiece = onePieceAtATime(store);
    sameText(answers.get(`/v1/runs/${id}/composition`), `${JSON.stringify(await runComposition(perPiece, run), null, 2)}\n`, 'the composition');

    // The verification: serve's (identity and receipt in its worker pool) is the one verifyRun
    // makes in this thread with serve's receipt key, and the one made here with a pool.
    const served = answers.get(`/v1/runs/${id}/verify`)!;
    const verification = JSON.parse(served) as { ok: boolean; counts: unknown; checks: Array<{ name: string; reliesOn: string }> };
    assert.deepEqual([verification.ok, verification.counts], [true, { pass: 4, fail: 0, 'not-checked': 2 }]);
    const key = (await receiptKey(data, data, undefined)).publicKey;
    const reliesOn = verification.checks.find((check) => check.name === 'receipt')!.reliesOn;
    const from = reliesOn.slice(`the receipt public key ${key.keyId} (`.length, reliesOn.indexOf('); checked against'));
    const verify = async (compute?: ReturnType<typeof createIdentityPool>['compute']) => {
      const routes = runAnalysisRoutes({ storage: store, verify: { receiptKey: { key, from } }, ...(compute === undefined ? {} : { compute }) });
      const url = new URL(`http://localhost/v1/runs/${id}/verify`);
      return (await routes.verify(new Request(url), url)).text();
    };
    sameText(served, await verify(), 'the verification');
    sameText(served, await verify(pool.compute), 'the verification with a pool');
    // The run compared with itself (by its run identity), values shown: as runsDiffView makes it here.
    const here = runAnalysisRoutes({ storage: store, verify: {} });
    const url = new URL(`http://localhost${diff}`);
    sameText(answers.get(diff), await (await here.diff(new Request(url), url)).text(), 'the comparison');
  } finally {
    await pool.close();
    await store.close();
  }
});
