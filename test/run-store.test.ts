/**
 * The run store, SQLite and PostgreSQL, on the same captured runs: a record put twice is stored
 * once; content is stored once per digest however many runs name it; queries by time, model,
 * served model and component digest; finding by capture id, record digest and run identity;
 * receipts; retention that keeps content a newer run still names; two PostgreSQL stores (two
 * serve processes) writing one database at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import OpenAI from 'openai';
import { captureRunWith, type CapturedRun } from '../src/capture/capture-run.ts';
import { isReceiptable } from '../src/capture/run-receipt.ts';
import { PostgresReplayLinks } from '../src/replay/postgres-replay-links.ts';
import { SqliteReplayLinks, type ReplayLinks } from '../src/replay/replay-links.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const pgs = await pgSchemas();
const admin = pgs.admin;
const freshUrl = async (): Promise<string> => (await pgs.fresh('runprint_runs')).url;
const folders: string[] = [];
after(async () => {
  await pgs.drop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const encoder = new TextEncoder();

/** A captured OpenAI chat call: `system` and `user` messages, answered by `served` with `text`. */
function chatRun(system: string, user: string, text: string, served = 'gpt-4o-2024-08-06', started = Date.now()): { run: CapturedRun; bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array } } {
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: system }, { role: 'user', content: user }], user: 'u-1' }));
  const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: served, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }] }));
  const headers = new Headers({ 'content-type': 'application/json', authorization: 'Bearer must-not-be-kept' });
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers, responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  return { run, bytes: { requestBytes, responseBytes } };
}

function toStore(entry: ReturnType<typeof chatRun>): RunToStore {
  return runToStore(entry.run, entry.bytes, defaultContentPolicy(), 'proxy', isReceiptable(entry.run));
}

async function exercise(store: RunStorage): Promise<void> {
  const day = Date.parse('2026-12-01T00:00:00Z');
  const a = chatRun('Shared system prompt.', 'First question', 'First answer', 'gpt-4o-2024-08-06', day);
  const b = chatRun('Shared system prompt.', 'Second question', 'Second answer', 'gpt-4o-2024-11-20', day + 86_400_000);
  const c = chatRun('Another system prompt.', 'First question', 'Third answer', 'gpt-4o-2024-08-06', day + 2 * 86_400_000);
  const runs = [a, b, c].map(toStore);
  await store.put(runs);
  await store.put([runs[0]!]);
  const all = await store.list({});
  assert.deepEqual(all.map((run) => run.record.captureId), [c, b, a].map((entry) => entry.run.record.captureId), 'newest first, each once');
  assert.ok(!JSON.stringify(all).includes('must-not-be-kept'), 'no credential header is stored');

  const systemDigest = a.run.identity!.components.system.digest.sha256;
  assert.equal(systemDigest, b.run.identity!.components.system.digest.sha256);
  assert.deepEqual((await store.list({ component: { part: 'system', digest: systemDigest } })).map((run) => run.record.captureId).sort(), [a, b].map((entry) => entry.run.record.captureId).sort());
  const question = a.run.identity!.components.input;
  assert.equal(question.kind, 'list');
  const questionDigest = question.kind === 'list' ? question.elements[0]!.sha256 : '';
  assert.deepEqual((await store.list({ component: { digest: questionDigest } })).map((run) => run.record.captureId).sort(), [a, c].map((entry) => entry.run.record.captureId).sort(), 'an element digest finds the runs with that message');
  assert.deepEqual((await store.list({ component: { part: 'system', digest: questionDigest } })), [], 'narrowed to a part');
  assert.deepEqual((await store.list({ servedModel: 'gpt-4o-2024-11-20' })).map((run) => run.record.captureId), [b.run.record.captureId]);
  assert.equal((await store.list({ model: 'gpt-4o' })).length, 3);
  assert.deepEqual((await store.list({ since: new Date(day + 86_400_000).toISOString() })).length, 2);
  assert.deepEqual((await store.list({ limit: 1, before: all[0]!.seq })).map((run) => run.seq), [all[1]!.seq], 'paging by seq');

  // Found by capture id, record digest and run identity.
  const stored = all[2]!;
  assert.deepEqual((await store.find(a.run.record.captureId)).map((run) => run.seq), [stored.seq]);
  assert.deepEqual((await store.find(stored.recordDigest)).map((run) => run.seq), [stored.seq]);
  assert.deepEqual((await store.find(a.run.record.runId!)).map((run) => run.seq), [stored.seq]);
  assert.deepEqual(await store.find('rp-run-v1-sha256-' + '0'.repeat(64)), []);
  assert.deepEqual(stored.record, a.run.record);
  assert.deepEqual(stored.identity, a.run.identity);
  assert.equal(stored.model, 'gpt-4o');

  // Content: one row per digest, named by the identity document's digests.
  const systemElement = a.run.identity!.components.system;
  const element = systemElement.kind === 'list' ? systemElement.elements[0]!.sha256 : '';
  assert.deepEqual(JSON.parse(new TextDecoder().decode(await store.content(element))), { role: 'system', content: 'Shared system prompt.' });
  assert.deepEqual(await store.content(a.run.record.response.rawDigest!.sha256), a.bytes.responseBytes);
  assert.equal(await store.content(a.run.record.request.rawDigest.sha256), undefined, 'the exact request bytes are not kept by default');

  // Receipts: every run is without a receipt until its receipt is set.
  const unsigned = async () => (await store.list({})).filter((run) => run.receipt === null).map((run) => run.seq);
  assert.equal((await unsigned()).length, 3);
  assert.equal(await store.lastLogged(), undefined, 'no run has a log index yet');
  await store.setReceipts([{ recordDigest: stored.recordDigest, receipt: '{"payload":"x"}', logIndex: 7 }]);
  assert.equal((await unsigned()).length, 2);
  assert.ok(!(await unsigned()).includes(stored.seq));
  assert.deepEqual([(await store.find(stored.recordDigest))[0]!.receipt, (await store.find(stored.recordDigest))[0]!.logIndex], ['{"payload":"x"}', 7]);

  // Claims: a run claimed by one signer is not handed to another until the claim is stale, and a
  // signer that does not hold the claim cannot set (or overwrite) the receipt.
  const claimedByA = await store.claimUnsigned(10, 'a', '2000-01-01T00:00:00Z');
  assert.equal(claimedByA.length, 2);
  assert.deepEqual(await store.claimUnsigned(10, 'b', '2000-01-01T00:00:00Z'), [], 'b gets nothing a holds');
  assert.equal((await store.claimUnsigned(10, 'a', '2000-01-01T00:00:00Z')).length, 2, 'a takes its own claims again (a restart)');
  await store.setReceipts([{ recordDigest: claimedByA[0]!.recordDigest, receipt: '{"by":"b"}', logIndex: null }], 'b');
  assert.equal((await store.find(claimedByA[0]!.recordDigest))[0]!.receipt, null, 'b cannot set a receipt for a run a claims');
  await store.setReceipts([{ recordDigest: claimedByA[0]!.recordDigest, receipt: '{"by":"a"}', logIndex: 8 }], 'a');
  await store.setReceipts([{ recordDigest: claimedByA[0]!.recordDigest, receipt: '{"by":"again"}', logIndex: null }], 'a');
  assert.deepEqual([(await store.find(claimedByA[0]!.recordDigest))[0]!.receipt, (await store.find(claimedByA[0]!.recordDigest))[0]!.logIndex], ['{"by":"a"}', 8], 'a receipt once set is never overwritten');
  // The run with the highest log index (what the log outbox checks the log still holds).
  assert.deepEqual(await store.lastLogged(), { logIndex: 8, receipt: '{"by":"a"}', recordDigest: claimedByA[0]!.recordDigest });
  assert.equal((await store.claimUnsigned(10, 'b', new Date(Date.now() + 1000).toISOString())).length, 1, 'a stale claim is taken over');
  await store.setReceipts([{ recordDigest: claimedByA[1]!.recordDigest, receipt: '{"by":"a, later"}', logIndex: null }], 'b');
  // A receipt without a log index waits for the log (what the outbox counts for /healthz).
  assert.equal(await store.unloggedCount(100), 1);
  assert.equal(await store.unloggedCount(0), 0, 'counted up to the bound');
  await store.setLogIndexes([{ recordDigest: claimedByA[1]!.recordDigest, logIndex: 3 }]);
  assert.equal(await store.unloggedCount(100), 0);
  assert.equal((await store.lastLogged())!.logIndex, 8, 'the highest index, not the latest stored');

  // Retention: a's content goes, but the system prompt b still names stays, and a's record stays.
  assert.equal(await store.expire(new Date(day + 43_200_000).toISOString()), 1);
  const expired = (await store.find(a.run.record.captureId))[0]!;
  assert.equal(expired.contentExpired, true);
  assert.deepEqual(expired.record, a.run.record);
  assert.equal(await store.content(a.run.record.response.rawDigest!.sha256), undefined, 'a\'s own output is deleted');
  assert.notEqual(await store.content(element), undefined, 'the shared system prompt stays for b');
  const firstQuestion = question.kind === 'list' ? question.elements[0]!.sha256 : '';
  assert.notEqual(await store.content(firstQuestion), undefined, 'the first question stays: c names it too');
  assert.equal(await store.expire(new Date(day + 43_200_000).toISOString()), 0, 'expiring again expires nothing');
}

/** Any captured exchange: `extra` sets status, body, outcome, format and parents. */
function exchangeRun(user: string, started: number, extra: Partial<Parameters<typeof captureRunWith>[0]> & { model?: string; served?: string } = {}): RunToStore {
  const anthropic = extra.format === 'anthropic-messages';
  const model = extra.model ?? (anthropic ? 'claude-sonnet-4-5' : 'gpt-4o');
  const requestBytes = extra.requestBytes ?? encoder.encode(JSON.stringify(anthropic ? { model, max_tokens: 64, messages: [{ role: 'user', content: user }] } : { model, messages: [{ role: 'user', content: user }] }));
  const served = extra.served ?? `${model}-2026`;
  const responseBytes = extra.responseBytes ?? encoder.encode(JSON.stringify(anthropic
    ? { id: 'msg_1', type: 'message', role: 'assistant', model: served, content: [{ type: 'text', text: 'Yes.' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 } }
    : { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: served, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Yes.' } }] }));
  const run = captureRunWith({
    format: 'openai-chat', method: 'POST', path: anthropic ? '/v1/messages' : '/v1/chat/completions', status: 200, headers: new Headers({ 'content-type': 'application/json' }), outcome: 'complete',
    times: { started, response: started + 5, ended: started + 10 }, ...extra, requestBytes, responseBytes,
  });
  return runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', isReceiptable(run));
}

/**
 * The filters of the explorer's runs list (provider, status, parent, time range) and the counts,
 * on runs of every status: the same answers from SQLite and PostgreSQL.
 */
async function filtersAndCounts(store: RunStorage): Promise<void> {
  const day = Date.parse('2026-12-01T00:00:00Z');
  const hour = 3_600_000;
  const root = exchangeRun('Plan the trip.', day);
  const rootId = root.record.runId!;
  const runs = [
    root,
    exchangeRun('Book the train.', day + hour, { parents: [rootId] }),
    exchangeRun('Book the hotel.', day + 2 * hour, { parents: [rootId], format: 'anthropic-messages' }),
    exchangeRun('Will this fail?', day + 3 * hour, { status: 500, responseBytes: encoder.encode('{"error":{"message":"down"}}') }),
    exchangeRun('No answer.', day + 4 * hour, { status: null, headers: null, responseBytes: new Uint8Array(0), outcome: 'network-error' }),
    exchangeRun('Cut short.', day + 5 * hour, { outcome: 'aborted', responseBytes: encoder.encode('{"id":"chatcmpl-1","obj') }),
    exchangeRun('Too hot?', day + 6 * hour, { requestBytes: encoder.encode('{"model":"gpt-4o","messages":[{"role":"user","content":"Too hot?"}],"temperature":1e999}') }),
    exchangeRun('Plan the trip.', day + 7 * hour, { served: 'gpt-4o-2027' }),
    exchangeRun('Plan the trip.', day + 8 * hour, { parents: [rootId], model: 'gpt-4o-mini' }),
  ];
  await store.put(runs);
  const ids = (found: { record: { captureId: string } }[]) => found.map((run) => run.record.captureId);
  const of = (...indexes: number[]) => indexes.map((i) => runs[i]!.record.captureId);
  assert.deepEqual(runs.map((run) => run.record.incomplete?.reason ?? null), [null, null, null, 'http-status', 'network-error', 'aborted', null, null, null], 'the runs are what the test says');
  assert.equal(runs[6]!.record.requestId, null);

  assert.deepEqual(ids(await store.list({ provider: 'anthropic' })), of(2));
  assert.deepEqual(ids(await store.list({ provider: 'openai' })), of(8, 7, 6, 5, 4, 3, 1, 0));
  assert.deepEqual(ids(await store.list({ status: 'complete' })), of(8, 7, 6, 2, 1, 0), 'complete: a whole output, identified or not');
  assert.deepEqual(ids(await store.list({ status: 'failed' })), of(4, 3), 'failed: an error status, or no answer');
  assert.deepEqual(ids(await store.list({ status: 'incomplete' })), of(5));
  assert.deepEqual(ids(await store.list({ status: 'unidentified' })), of(6));
  assert.deepEqual(ids(await store.list({ parent: rootId })), of(8, 2, 1), 'the children of the root');
  assert.deepEqual(ids(await store.list({ parent: rootId, provider: 'openai', limit: 1 })), of(8));
  assert.deepEqual(ids(await store.list({ parent: rootId, before: (await store.list({ parent: rootId }))[1]!.seq })), of(1), 'children, paged');
  assert.deepEqual(ids(await store.list({ parent: runs[1]!.record.runId! })), [], 'a run with no children');
  const at = (h: number) => new Date(day + h * hour).toISOString();
  assert.deepEqual(ids(await store.list({ since: at(2), until: at(4) })), of(3, 2), 'since is inclusive, until is not');

  const all = await store.counts({});
  assert.equal(all.runs, 9);
  assert.equal(all.requestIdentities, 7, 'two runs ask the same (Plan the trip. to gpt-4o), one is unidentified');
  assert.equal(all.runIdentities, 5, 'failed, cut and unidentified runs have none; the two same requests were served by different models');
  assert.deepEqual(all.models, [{ model: 'gpt-4o', runs: 6 }, { model: 'claude-sonnet-4-5', runs: 1 }, { model: 'gpt-4o-mini', runs: 1 }, { model: null, runs: 1 }], 'an unidentified request has no model; ties by name, none last');
  assert.deepEqual(all.servedModels, [{ servedModel: 'gpt-4o-2026', runs: 3 }, { servedModel: null, runs: 3 }, { servedModel: 'claude-sonnet-4-5-2026', runs: 1 }, { servedModel: 'gpt-4o-2027', runs: 1 }, { servedModel: 'gpt-4o-mini-2026', runs: 1 }]);
  assert.deepEqual(await store.counts({ parent: rootId, limit: 1, before: 1 }), {
    runs: 3, requestIdentities: 3, runIdentities: 3,
    models: [{ model: 'claude-sonnet-4-5', runs: 1 }, { model: 'gpt-4o', runs: 1 }, { model: 'gpt-4o-mini', runs: 1 }],
    servedModels: [{ servedModel: 'claude-sonnet-4-5-2026', runs: 1 }, { servedModel: 'gpt-4o-2026', runs: 1 }, { servedModel: 'gpt-4o-mini-2026', runs: 1 }],
  }, 'counts take the filters, not the paging');
  assert.deepEqual((await store.counts({ status: 'failed' })).models, [{ model: 'gpt-4o', runs: 2 }]);
  assert.deepEqual(await store.counts({ model: 'nothing' }), { runs: 0, requestIdentities: 0, runIdentities: 0, models: [], servedModels: [] });
}

/**
 * The verdict filter: the runs replayed with a verdict, from the replay links `runprint replay`
 * records beside the runs (a table made by the first replay: before it, no run matches).
 */
async function verdictFilter(store: RunStorage, openLinks: () => Promise<ReplayLinks>): Promise<void> {
  const day = Date.parse('2026-12-02T00:00:00Z');
  const originals = ['Colour?', 'Planet?', 'River?', 'Mountain?'].map((question, i) => exchangeRun(question, day + i * 60_000));
  const replays = ['Colour?', 'Planet?', 'Planet?', 'River?'].map((question, i) => exchangeRun(question, day + 3_600_000 + i * 60_000, { served: 'gpt-4o-2027' }));
  await store.put([...originals, ...replays]);
  assert.deepEqual(await store.list({ verdict: 'identical' }), [], 'no replay links table yet: nothing was replayed');
  assert.equal((await store.counts({ verdict: 'identical' })).runs, 0);
  const links = await openLinks();
  try {
    assert.deepEqual(await store.list({ verdict: 'identical' }), [], 'the table, no link');
    const link = (replay: number, original: number, verdict: string) => links.link({ replay: replays[replay]!.recordDigest, replayOf: originals[original]!.recordDigest, verdict, result: JSON.stringify({ verdict }) });
    await link(0, 0, 'identical');
    await link(1, 1, 'divergent');
    await link(2, 1, 'identical');
    await link(3, 2, 'cannot-replay');
    const ids = (found: { record: { captureId: string } }[]) => found.map((run) => run.record.captureId);
    const of = (...indexes: number[]) => indexes.map((i) => originals[i]!.record.captureId);
    assert.deepEqual(ids(await store.list({ verdict: 'identical' })), of(1, 0), 'the originals, newest first; not the replays');
    assert.deepEqual(ids(await store.list({ verdict: 'divergent' })), of(1), 'a run replayed twice matches each verdict');
    assert.deepEqual(ids(await store.list({ verdict: 'cannot-replay' })), of(2));
    assert.deepEqual(ids(await store.list({ verdict: 'variant' })), []);
    assert.deepEqual(ids(await store.list({ verdict: 'identical', limit: 1 })), of(1));
    assert.deepEqual(ids(await store.list({ verdict: 'identical', before: (await store.list({ verdict: 'identical' }))[0]!.seq })), of(0), 'paged');
    assert.deepEqual(ids(await store.list({ verdict: 'identical', since: new Date(day + 30_000).toISOString() })), of(1), 'with other filters');
    const counts = await store.counts({ verdict: 'identical' });
    assert.equal(counts.runs, 2);
    assert.equal(counts.requestIdentities, 2);
    assert.deepEqual(counts.servedModels, [{ servedModel: 'gpt-4o-2026', runs: 2 }], 'the originals\' served model, not the replays\'');
  } finally {
    await links.close();
  }
}

describe('SQLite', () => {
  test('filters by verdict: the runs replayed with it, from the replay links in the same file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-'));
    folders.push(folder);
    const path = join(folder, 'runs.sqlite');
    const store = SqliteRuns.open(path);
    try {
      await verdictFilter(store, async () => SqliteReplayLinks.open(path));
    } finally {
      await store.close();
    }
  });

  test('filters by provider, status, parent and time range, and counts', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-'));
    folders.push(folder);
    const store = SqliteRuns.open(join(folder, 'runs.sqlite'));
    try {
      await filtersAndCounts(store);
    } finally {
      await store.close();
    }
  });

  test('a store made before the parents table gets it, with the parents of the runs it holds', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-'));
    folders.push(folder);
    const path = join(folder, 'runs.sqlite');
    const parent = exchangeRun('Plan the trip.', Date.parse('2026-12-01T00:00:00Z'));
    const child = exchangeRun('Book the train.', Date.parse('2026-12-01T01:00:00Z'), { parents: [parent.record.runId!] });
    const store = SqliteRuns.open(path);
    await store.put([parent, child]);
    await store.close();
    // The older shape: no run_parents table and no trigger (what stores made before this version hold).
    const db = new DatabaseSync(path);
    db.exec('DROP TRIGGER runs_parents; DROP TABLE run_parents; DROP INDEX runs_model; DROP INDEX runs_ending');
    db.close();
    const reopened = SqliteRuns.open(path);
    try {
      assert.deepEqual((await reopened.list({ parent: parent.record.runId! })).map((run) => run.record.captureId), [child.record.captureId]);
      const later = exchangeRun('Book the hotel.', Date.parse('2026-12-01T02:00:00Z'), { parents: [parent.record.runId!] });
      await reopened.put([later]);
      assert.deepEqual((await reopened.list({ parent: parent.record.runId! })).map((run) => run.record.captureId), [later.record.captureId, child.record.captureId]);
      assert.equal((await reopened.counts({ status: 'complete', model: 'gpt-4o' })).runs, 3);
    } finally {
      await reopened.close();
    }
  });

  test('the highest log index is read from its index (runs_log_index), made at open for a store that lacks it; a reader does without it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-'));
    folders.push(folder);
    const path = join(folder, 'runs.sqlite');
    const runs = ['Plan the trip.', 'Book the train.', 'Book the hotel.'].map((user, i) => exchangeRun(user, Date.parse('2026-12-01T00:00:00Z') + i));
    const store = SqliteRuns.open(path);
    await store.put(runs);
    await store.setReceipts(runs.map((run, i) => ({ recordDigest: run.recordDigest, receipt: `{"r":${i}}`, logIndex: [5, 9, null][i]! })));
    await store.close();
    // A store made before the index (what stores of earlier versions hold).
    const db = new DatabaseSync(path);
    db.exec('DROP INDEX runs_log_index');
    db.close();
    const reader = SqliteRuns.openReader(path);
    try {
      assert.deepEqual(await reader.lastLogged(), { logIndex: 9, receipt: '{"r":1}', recordDigest: runs[1]!.recordDigest }, 'a reader opens and reads the older store as it is');
    } finally {
      await reader.close();
    }
    const check = new DatabaseSync(path, { readOnly: true });
    assert.equal(check.prepare("SELECT 1 FROM sqlite_master WHERE name = 'runs_log_index'").get(), undefined, 'the reader made no index');
    check.close();
    const reopened = SqliteRuns.open(path);
    try {
      assert.deepEqual(await reopened.lastLogged(), { logIndex: 9, receipt: '{"r":1}', recordDigest: runs[1]!.recordDigest });
      const opened = new DatabaseSync(path, { readOnly: true });
      const plan = opened.prepare('EXPLAIN QUERY PLAN SELECT log_index, receipt, record_digest FROM runs WHERE log_index IS NOT NULL AND receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1').all() as { detail: string }[];
      opened.close();
      assert.match(plan.map((row) => row.detail).join(' '), /USING INDEX runs_log_index/, 'serve made it at open, and the query reads it');
    } finally {
      await reopened.close();
    }
  });

  test('put, query, find, content, receipts and retention', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-'));
    folders.push(folder);
    const store = SqliteRuns.open(join(folder, 'runs.sqlite'));
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL', () => {
  test('put, query, find, content, receipts and retention: the same answers as SQLite', async () => {
    const store = await PostgresRuns.open(await freshUrl());
    try {
      assert.equal(store.kind, 'PostgreSQL');
      await exercise(store);
    } finally {
      await store.close();
    }
  });

  test('filters by provider, status, parent and time range, and counts: the same answers as SQLite', async () => {
    const store = await PostgresRuns.open(await freshUrl());
    try {
      await filtersAndCounts(store);
    } finally {
      await store.close();
    }
  });

  test('filters by verdict: the runs replayed with it, from the replay links in the same schema', async () => {
    const url = await freshUrl();
    const store = await PostgresRuns.open(url);
    try {
      await verdictFilter(store, () => PostgresReplayLinks.open(url));
    } finally {
      await store.close();
    }
  });

  test('status and provider filters have their indexes, made on open for a store that lacks them', async () => {
    const url = await freshUrl();
    const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
    const indexes = async () => (await admin.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname IN ($2, $3) ORDER BY indexname', [schema, 'runs_ending', 'runs_format'])).rows as { indexname: string; indexdef: string }[];
    const store = await PostgresRuns.open(url);
    await store.put([exchangeRun('Plan the trip.', Date.parse('2026-12-01T00:00:00Z'))]);
    await store.close();
    assert.deepEqual((await indexes()).map((index) => index.indexname), ['runs_ending', 'runs_format']);
    // A store made before them: opened again, it gets them.
    await admin.query(`DROP INDEX ${schema}.runs_ending; DROP INDEX ${schema}.runs_format`);
    assert.deepEqual(await indexes(), []);
    const reopened = await PostgresRuns.open(url);
    try {
      assert.deepEqual((await indexes()).map((index) => index.indexname), ['runs_ending', 'runs_format']);
      // The planner takes them for the filters' queries (sequential scans off, as on a large table).
      await admin.query(`SET search_path = ${schema}; SET enable_seqscan = off`);
      const plan = async (where: string) => JSON.stringify((await admin.query(`EXPLAIN (FORMAT JSON) SELECT count(*) FROM runs WHERE ${where}`)).rows);
      // The record as jsonb with each \u0000 read as \ufffd (jsonb refuses \u0000), as the store reads it.
      const record = String.raw`replace(record, E'\\u0000', E'\\ufffd')::jsonb`;
      assert.match(await plan(`(CASE WHEN ${record} ->> 'incomplete' IS NULL THEN 'complete' WHEN ${record} -> 'incomplete' ->> 'reason' IN ('http-status', 'network-error', 'provider-error') THEN 'failed' ELSE 'incomplete' END) = 'failed'`), /runs_ending/);
      assert.match(await plan(`(${record} ->> 'format') = ANY(ARRAY['anthropic-messages'])`), /runs_format/);
      await admin.query('RESET search_path; RESET enable_seqscan');
      assert.deepEqual((await reopened.list({ status: 'complete', provider: 'openai' })).length, 1);
    } finally {
      await reopened.close();
    }
  });

  test('the highest log index is read from its index (runs_log_index), made at open for a store that lacks it; a reader does without it', async () => {
    const url = await freshUrl();
    const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
    const runs = ['Plan the trip.', 'Book the train.', 'Book the hotel.'].map((user, i) => exchangeRun(user, Date.parse('2026-12-01T00:00:00Z') + i));
    const store = await PostgresRuns.open(url);
    await store.put(runs);
    await store.setReceipts(runs.map((run, i) => ({ recordDigest: run.recordDigest, receipt: `{"r":${i}}`, logIndex: [5, 9, null][i]! })));
    await store.close();
    const made = async () => (await admin.query('SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'runs_log_index'])).rows.length === 1;
    assert.ok(await made());
    await admin.query(`DROP INDEX ${schema}.runs_log_index`);
    const reader = await PostgresRuns.open(url, { readOnly: true });
    try {
      assert.deepEqual(await reader.lastLogged(), { logIndex: 9, receipt: '{"r":1}', recordDigest: runs[1]!.recordDigest }, 'a reader opens and reads the older store as it is');
    } finally {
      await reader.close();
    }
    assert.equal(await made(), false, 'the reader made no index');
    const reopened = await PostgresRuns.open(url);
    try {
      assert.ok(await made(), 'serve makes it at open');
      assert.deepEqual(await reopened.lastLogged(), { logIndex: 9, receipt: '{"r":1}', recordDigest: runs[1]!.recordDigest });
      await admin.query(`SET search_path = ${schema}; SET enable_seqscan = off`);
      const plan = JSON.stringify((await admin.query('EXPLAIN (FORMAT JSON) SELECT log_index, receipt, record_digest FROM runs WHERE log_index IS NOT NULL AND receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1')).rows);
      await admin.query('RESET search_path; RESET enable_seqscan');
      assert.match(plan, /runs_log_index/);
    } finally {
      await reopened.close();
    }
  });

  test('a store made before the parents table gets it, with the parents of the runs it holds', async () => {
    const url = await freshUrl();
    const parent = exchangeRun('Plan the trip.', Date.parse('2026-12-01T00:00:00Z'));
    const child = exchangeRun('Book the train.', Date.parse('2026-12-01T01:00:00Z'), { parents: [parent.record.runId!] });
    const store = await PostgresRuns.open(url);
    await store.put([parent, child]);
    await store.close();
    const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
    await admin.query(`DROP TABLE ${schema}.run_parents; DROP FUNCTION ${schema}.runs_parents() CASCADE`);
    const reopened = await PostgresRuns.open(url);
    try {
      assert.deepEqual((await reopened.list({ parent: parent.record.runId! })).map((run) => run.record.captureId), [child.record.captureId]);
      const later = exchangeRun('Book the hotel.', Date.parse('2026-12-01T02:00:00Z'), { parents: [parent.record.runId!] });
      await reopened.put([later]);
      assert.deepEqual((await reopened.list({ parent: parent.record.runId! })).map((run) => run.record.captureId), [later.record.captureId, child.record.captureId]);
    } finally {
      await reopened.close();
    }
  });

  test('two stores on one database (two serve processes) put at once: every run once, content once', async () => {
    const url = await freshUrl();
    const [one, two] = await Promise.all([PostgresRuns.open(url), PostgresRuns.open(url)]);
    try {
      const shared = Array.from({ length: 40 }, (_, i) => toStore(chatRun('One prompt for all.', `Question ${i}`, `Answer ${i}`)));
      await Promise.all([one.put(shared.slice(0, 25)), two.put(shared.slice(15)), one.put(shared.slice(30))]);
      const all = await two.list({ limit: 1000 });
      assert.equal(all.length, 40);
      assert.equal(new Set(all.map((run) => run.seq)).size, 40);
      const count = await admin.query(`SELECT count(*)::int AS n FROM ${new URL(url).searchParams.get('options')!.split('=')[1]}.content WHERE bytes = $1`, [Buffer.from(JSON.stringify({ content: 'One prompt for all.', role: 'system' }))]);
      assert.equal(count.rows[0].n, 1, 'the shared system prompt is one row');
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('two serve processes on one PostgreSQL database (--log-db) share the log and the run store', async () => {
    const url = await freshUrl();
    const upstream = await startFakeUpstream();
    const folder = mkdtempSync(join(tmpdir(), 'runprint-runs-pg-'));
    folders.push(folder);
    try {
      const key = join(folder, 'log-key.pem');
      const one = await startServe({ data: join(folder, 'one'), args: ['--log-db', url, '--upstream', `openai=${upstream.url}`] });
      // The second process uses the first one's log key: one log, two front ends.
      const { copyFileSync } = await import('node:fs');
      copyFileSync(join(folder, 'one', 'log-key.pem'), key);
      const two = await startServe({ data: join(folder, 'two'), args: ['--log-db', url, '--log-key', key, '--upstream', `openai=${upstream.url}`] });
      const ids: string[] = [];
      for (const [index, serve] of [one, two, one, two].entries()) {
        upstream.enqueue({ kind: 'text', text: `Answer ${index}.` });
        const { response } = await new OpenAI({ apiKey: 'sk-pg', baseURL: `${serve.base}/openai/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Question ${index}` }] }).withResponse();
        ids.push(response.headers.get('runprint-capture-id')!);
      }
      for (const serve of [one, two]) {
        const listed = (await (await fetch(`${serve.base}/v1/runs?limit=10`)).json()) as { runs: { captureId: string; receipt: { logIndex: number } | null }[] };
        assert.deepEqual(listed.runs.map((run) => run.captureId).sort(), [...ids].sort(), 'each process sees every run, whichever took it');
      }
      let listed: { runs: { receipt: { logIndex: number } | null }[] } = { runs: [] };
      for (let i = 0; i < 200; i++) {
        listed = (await (await fetch(`${one.base}/v1/runs?limit=10`)).json()) as typeof listed;
        if (listed.runs.every((run) => run.receipt?.logIndex != null)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(listed.runs.map((run) => run.receipt?.logIndex).sort(), [0, 1, 2, 3], 'four receipts, one log, no index twice');
      await one.stop();
      await two.stop();
    } finally {
      await killServeProcesses();
      await upstream.close();
    }
  });

  test('an unreachable database or foreign tables are named errors', async () => {
    await assert.rejects(PostgresRuns.open('postgres://postgres@127.0.0.1:1/test'), (error: unknown) => (error as { code?: string }).code === 'ERR_STORE_UNAVAILABLE');
    await assert.rejects(PostgresRuns.open('not a url'), (error: unknown) => (error as { code?: string }).code === 'ERR_STORE_UNAVAILABLE');
    const url = await freshUrl();
    const schema = new URL(url).searchParams.get('options')!.split('=')[1]!;
    await admin.query(`CREATE TABLE ${schema}.runs (something text)`);
    await assert.rejects(PostgresRuns.open(url), (error: unknown) => (error as { code?: string }).code === 'ERR_STORE_CORRUPT');
  });
});
