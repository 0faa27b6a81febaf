/**
 * Which runs keep which content (run_digests.kept), on SQLite and PostgreSQL: the response bytes'
 * digest is a row of its own; a store of the first layout (a run_content table) is migrated when
 * opened, with the same kept content and the same retention afterwards; and the recorder's content
 * memory: content a recent run keeps is not made or written again, and is written again once the
 * memory is past or the recorder's expire cleared it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { captureRunWith, type CapturedRun } from '../src/capture/capture-run.ts';
import { isReceiptable } from '../src/capture/run-receipt.ts';
import { sha256Once, toHex } from '../src/hash/sha256.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { CONTENT_MEMORY_MS, RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';

const pgs = await pgSchemas();
const admin = pgs.admin;
const freshSchema = () => pgs.fresh('runprint_kept');
const folders: string[] = [];
after(async () => {
  await pgs.drop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-kept-'));
  folders.push(dir);
  return dir;
}

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array): string => toHex(sha256Once(bytes));
const DAY = 86_400_000;

interface Captured {
  run: CapturedRun;
  bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array };
}

function chatRun(system: string, user: string, answer: string, started: number, status = 200): Captured {
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: system }, { role: 'user', content: user }] }));
  const responseBytes = encoder.encode(
    status === 200
      ? JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: answer } }] })
      : JSON.stringify({ error: { message: answer, type: 'server_error' } }),
  );
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  return { run, bytes: { requestBytes, responseBytes } };
}

const toStore = (entry: Captured): RunToStore => runToStore(entry.run, entry.bytes, defaultContentPolicy(), 'proxy', isReceiptable(entry.run));
/** The digest that names a system message's content: its element digest in the identity document (SPEC 5). */
const systemDigest = (system: string): string => chatRun(system, 'x', 'y', 0).run.identity!.components.system.kind === 'list' ? (chatRun(system, 'x', 'y', 0).run.identity!.components.system as { elements: { sha256: string }[] }).elements[0]!.sha256 : '';

test('runToStore names the response bytes as a digest of their own, kept only for a 2xx answer', () => {
  const ok = chatRun('S.', 'Q?', 'A.', Date.now());
  const stored = toStore(ok);
  const response = stored.digests.filter((digest) => digest.part === 'response');
  assert.deepEqual(response, [{ part: 'response', position: -1, digest: hex(ok.bytes.responseBytes) }]);
  assert.ok(stored.kept.includes(hex(ok.bytes.responseBytes)));
  assert.ok(stored.content.some((piece) => piece.digest === hex(ok.bytes.responseBytes)));
  // Every piece of content is kept; kept names only digests the run names.
  for (const piece of stored.content) assert.ok(stored.kept.includes(piece.digest));
  const names = new Set(stored.digests.map((digest) => digest.digest));
  for (const digest of stored.kept) assert.ok(names.has(digest), digest);

  const failed = chatRun('S.', 'Q?', 'overloaded', Date.now(), 500);
  const error = toStore(failed);
  assert.deepEqual(error.digests.filter((digest) => digest.part === 'response').map((digest) => digest.digest), [hex(failed.bytes.responseBytes)]);
  assert.ok(!error.kept.includes(hex(failed.bytes.responseBytes)), 'an error body is named, never kept');
  assert.ok(!error.content.some((piece) => piece.digest === hex(failed.bytes.responseBytes)));

  // Content the store is said to hold is named as kept and not made again.
  const shared = systemDigest('S.');
  const again = runToStore(ok.run, ok.bytes, defaultContentPolicy(), 'proxy', true, (digest) => digest === shared);
  assert.ok(again.kept.includes(shared));
  assert.ok(!again.content.some((piece) => piece.digest === shared));
  assert.equal(again.content.length, stored.content.length - 1);
});

/** The same runs in a store: kept flags, content, then retention of the older two. */
async function exercise(store: RunStorage, keptOf: (digest: string) => Promise<number[]>): Promise<void> {
  const start = Date.parse('2026-11-01T00:00:00Z');
  const a = chatRun('Shared.', 'One?', 'First.', start);
  const b = chatRun('Shared.', 'Two?', 'Second.', start + DAY);
  const c = chatRun('Shared.', 'Three?', 'Third.', start + 10 * DAY);
  await store.put([a, b, c].map(toStore));
  const shared = systemDigest('Shared.');
  assert.deepEqual(await keptOf(shared), [1, 1, 1]);
  assert.deepEqual(await keptOf(hex(a.bytes.responseBytes)), [1]);
  assert.deepEqual(await keptOf(hex(a.bytes.requestBytes)), [0], 'the exact request bytes are named, not kept, by default');
  // A query by the response bytes' digest finds the run.
  assert.deepEqual((await store.list({ component: { digest: hex(b.bytes.responseBytes) } })).map((run) => run.record.captureId), [b.run.record.captureId]);
  assert.equal(await store.expire(new Date(start + 5 * DAY).toISOString()), 2);
  assert.deepEqual(await keptOf(shared), [0, 0, 1], 'expired runs keep nothing');
  assert.equal(await store.content(hex(a.bytes.responseBytes)), undefined);
  assert.equal(await store.content(hex(b.bytes.responseBytes)), undefined);
  assert.deepEqual(await store.content(hex(c.bytes.responseBytes)), c.bytes.responseBytes);
  assert.notEqual(await store.content(shared), undefined, 'content a newer run keeps stays');
  assert.equal(await store.expire(new Date(start + 20 * DAY).toISOString()), 1);
  assert.equal(await store.content(shared), undefined, 'and goes when no run keeps it');
}

/** Turns a store of this layout back into the first one: run_content from the kept flags, no response rows, no kept column. */
const FIRST_LAYOUT_SQLITE = `
BEGIN;
CREATE TABLE run_content (digest TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (digest, seq)) STRICT, WITHOUT ROWID;
CREATE INDEX run_content_seq ON run_content (seq);
INSERT OR IGNORE INTO run_content SELECT digest, seq FROM run_digests WHERE kept = 1;
CREATE TABLE old_digests (seq INTEGER NOT NULL, part TEXT NOT NULL, position INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (seq, part, position)) STRICT, WITHOUT ROWID;
INSERT INTO old_digests SELECT seq, part, position, digest FROM run_digests WHERE part <> 'response';
DROP TABLE run_digests;
ALTER TABLE old_digests RENAME TO run_digests;
CREATE INDEX run_digests_digest ON run_digests (digest, seq);
COMMIT;
`;

describe('SQLite', () => {
  test('kept flags, content and retention', async () => {
    const path = join(folder(), 'runs.sqlite');
    const store = SqliteRuns.open(path);
    const db = new DatabaseSync(path);
    try {
      await exercise(store, async (digest) => (db.prepare('SELECT kept FROM run_digests WHERE digest = ? ORDER BY seq').all(digest) as { kept: number }[]).map((row) => row.kept));
    } finally {
      db.close();
      await store.close();
    }
  });

  test('a store of the first layout (run_content) is migrated when opened: the same content kept, the same retention', async () => {
    const path = join(folder(), 'runs.sqlite');
    const start = Date.parse('2026-11-01T00:00:00Z');
    const a = chatRun('Shared.', 'One?', 'First.', start);
    const b = chatRun('Shared.', 'Two?', 'Second.', start + 10 * DAY);
    const failed = chatRun('Shared.', 'Three?', 'overloaded', start + 10 * DAY, 500);
    const first = SqliteRuns.open(path);
    await first.put([a, b, failed].map(toStore));
    await first.close();
    const db = new DatabaseSync(path);
    const before = db.prepare("SELECT seq, part, position, digest, kept FROM run_digests WHERE part <> 'response' ORDER BY seq, part, position").all();
    const responses = db.prepare("SELECT seq, digest, kept FROM run_digests WHERE part = 'response' ORDER BY seq").all();
    db.exec(FIRST_LAYOUT_SQLITE);
    assert.equal(db.prepare("SELECT count(*) AS n FROM pragma_table_info('run_digests') WHERE name = 'kept'").get()!['n'], 0);
    db.close();

    const migrated = SqliteRuns.open(path);
    const check = new DatabaseSync(path);
    try {
      assert.equal(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'run_content'").get()!['n'], 0, 'run_content is gone');
      assert.deepEqual(check.prepare("SELECT seq, part, position, digest, kept FROM run_digests WHERE part <> 'response' ORDER BY seq, part, position").all(), before);
      assert.deepEqual(check.prepare("SELECT seq, digest, kept FROM run_digests WHERE part = 'response' ORDER BY seq").all(), responses);
      assert.deepEqual(responses.map((row) => row['kept']), [1, 1, 0], 'the error body of the failed run is named, not kept');
      assert.match(String(check.prepare("SELECT sql FROM sqlite_master WHERE name = 'run_digests_digest'").get()!['sql']), /\(digest, kept, seq\)/);
      // Opening again changes nothing.
      await migrated.close();
      const again = SqliteRuns.open(path);
      await again.close();
      assert.deepEqual(check.prepare("SELECT seq, part, position, digest, kept FROM run_digests WHERE part <> 'response' ORDER BY seq, part, position").all(), before);
      const reopened = SqliteRuns.open(path);
      try {
        assert.equal(await reopened.expire(new Date(start + 5 * DAY).toISOString()), 1);
        assert.equal(await reopened.content(hex(a.bytes.responseBytes)), undefined);
        assert.deepEqual(await reopened.content(hex(b.bytes.responseBytes)), b.bytes.responseBytes);
        assert.notEqual(await reopened.content(systemDigest('Shared.')), undefined);
        // New runs go in beside the migrated ones.
        const c = chatRun('Shared.', 'Four?', 'Fourth.', start + 11 * DAY);
        await reopened.put([toStore(c)]);
        assert.equal((await reopened.list({})).length, 4);
      } finally {
        await reopened.close();
      }
    } finally {
      check.close();
    }
  });
});

describe('PostgreSQL', () => {
  test('kept flags, content and retention', async () => {
    const { url, schema } = await freshSchema();
    const store = await PostgresRuns.open(url);
    try {
      await exercise(store, async (digest) => (await admin.query(`SELECT kept FROM ${schema}.run_digests WHERE digest = $1 ORDER BY seq`, [digest])).rows.map((row: { kept: boolean }) => (row.kept ? 1 : 0)));
    } finally {
      await store.close();
    }
  });

  test('a store of the first layout (run_content) is migrated when opened', async () => {
    const { url, schema } = await freshSchema();
    const start = Date.parse('2026-11-01T00:00:00Z');
    const a = chatRun('Shared.', 'One?', 'First.', start);
    const failed = chatRun('Shared.', 'Two?', 'overloaded', start + 10 * DAY, 500);
    const first = await PostgresRuns.open(url);
    await first.put([a, failed].map(toStore));
    await first.close();
    const q = (text: string) => admin.query(text.replaceAll('S.', `${schema}.`));
    const before = (await q("SELECT seq, part, position, digest, kept FROM S.run_digests WHERE part <> 'response' ORDER BY seq, part, position")).rows;
    const responses = (await q("SELECT seq, digest, kept FROM S.run_digests WHERE part = 'response' ORDER BY seq")).rows;
    await q(`BEGIN;
      CREATE TABLE S.run_content (digest text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (digest, seq));
      INSERT INTO S.run_content SELECT DISTINCT digest, seq FROM S.run_digests WHERE kept;
      DELETE FROM S.run_digests WHERE part = 'response';
      DROP INDEX S.run_digests_digest;
      ALTER TABLE S.run_digests DROP COLUMN kept;
      CREATE INDEX run_digests_digest ON S.run_digests (digest, seq);
      COMMIT;`);
    const migrated = await PostgresRuns.open(url);
    try {
      assert.equal((await q("SELECT to_regclass('S.run_content') IS NULL AS gone")).rows[0].gone, true);
      assert.deepEqual((await q("SELECT seq, part, position, digest, kept FROM S.run_digests WHERE part <> 'response' ORDER BY seq, part, position")).rows, before);
      assert.deepEqual((await q("SELECT seq, digest, kept FROM S.run_digests WHERE part = 'response' ORDER BY seq")).rows, responses);
      assert.deepEqual(responses.map((row: { kept: boolean }) => row.kept), [true, false]);
      assert.match((await q("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() OR indexname = 'run_digests_digest'")).rows.map((row: { indexdef: string }) => row.indexdef).join('\n'), /run_digests_digest ON \S+ USING btree \(digest, kept, seq\)/);
      assert.equal(await migrated.expire(new Date(start + 5 * DAY).toISOString()), 1);
      assert.equal(await migrated.content(hex(a.bytes.responseBytes)), undefined);
      assert.notEqual(await migrated.content(systemDigest('Shared.')), undefined, 'the failed run, not expired, still keeps the system prompt');
      assert.equal(await migrated.expire(new Date(start + 20 * DAY).toISOString()), 1);
      assert.equal(await migrated.content(systemDigest('Shared.')), undefined, 'and once it expires too, it goes');
    } finally {
      await migrated.close();
    }
  });
});

describe('the recorder remembers content it stored', () => {
  /** A SQLite store that also hands over every batch it is given. */
  function watched(path: string): { storage: RunStorage; batches: RunToStore[][] } {
    const store = SqliteRuns.open(path);
    const batches: RunToStore[][] = [];
    const storage: RunStorage = Object.assign(Object.create(store) as RunStorage, {
      put: async (batch: readonly RunToStore[]) => {
        batches.push([...batch]);
        return store.put(batch);
      },
      expire: (before: string) => store.expire(before),
      content: (digest: string) => store.content(digest),
      list: (query: Parameters<RunStorage['list']>[0]) => store.list(query),
      close: () => store.close(),
    });
    return { storage, batches };
  }

  test('content a recent run keeps is named as kept, not made or written again; past the memory or after expire it is written again', async () => {
    const { storage, batches } = watched(join(folder(), 'runs.sqlite'));
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), now: () => clock });
    const shared = systemDigest('Shared.');
    try {
      const at = Date.now();
      await recorder.record(chatRun('Shared.', 'One?', 'First.', at).run, chatRun('Shared.', 'One?', 'First.', at).bytes, 'proxy');
      assert.ok(batches[0]![0]!.content.some((piece) => piece.digest === shared), 'the first run writes it');
      const second = chatRun('Shared.', 'Two?', 'Second.', at + 1);
      await recorder.record(second.run, second.bytes, 'proxy');
      const put = batches[1]![0]!;
      assert.ok(put.kept.includes(shared));
      assert.ok(!put.content.some((piece) => piece.digest === shared), 'the second names it as kept only');
      assert.ok(put.content.some((piece) => piece.digest === hex(second.bytes.responseBytes)), 'its own new content is written');

      clock += CONTENT_MEMORY_MS;
      const third = chatRun('Shared.', 'Three?', 'Third.', at + 2);
      await recorder.record(third.run, third.bytes, 'proxy');
      assert.ok(batches[2]![0]!.content.some((piece) => piece.digest === shared), 'past the memory it is written again');

      // Everything expires: the content is gone, and the recorder does not take it as stored.
      assert.equal(await recorder.expire(new Date(at + DAY).toISOString()), 3);
      assert.equal(await storage.content(shared), undefined);
      const fourth = chatRun('Shared.', 'Four?', 'Fourth.', at + 2 * DAY);
      await recorder.record(fourth.run, fourth.bytes, 'proxy');
      assert.ok(batches[3]![0]!.content.some((piece) => piece.digest === shared));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(await storage.content(shared))), { content: 'Shared.', role: 'system' });
    } finally {
      await recorder.close();
      await storage.close();
    }
  });

  test('content of a run that ended long before its commit (an exchange delivered late) is not remembered: another process may expire it at once', async () => {
    const path = join(folder(), 'runs.sqlite');
    const { storage, batches } = watched(path);
    const now = Date.now();
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), now: () => now });
    const other = SqliteRuns.open(path);
    const shared = systemDigest('Shared late.');
    try {
      const late = chatRun('Shared late.', 'Late?', 'Late answer.', now - 3 * DAY);
      await recorder.record(late.run, late.bytes, 'proxy');
      assert.ok(batches[0]![0]!.content.some((piece) => piece.digest === shared));
      // Another serve on the same store, with a one-day retention, sweeps: the late run expires.
      assert.equal(await other.expire(new Date(now - DAY).toISOString()), 1);
      assert.equal(await other.content(shared), undefined);
      const fresh = chatRun('Shared late.', 'Fresh?', 'Fresh answer.', now);
      await recorder.record(fresh.run, fresh.bytes, 'proxy');
      assert.ok(batches[1]![0]!.content.some((piece) => piece.digest === shared), 'the fresh run writes the content again');
      assert.deepEqual(JSON.parse(new TextDecoder().decode(await storage.content(shared))), { content: 'Shared late.', role: 'system' });
      // A run that ended recently is remembered as before.
      const again = chatRun('Shared late.', 'Again?', 'Again.', now);
      await recorder.record(again.run, again.bytes, 'proxy');
      assert.ok(!batches[2]![0]!.content.some((piece) => piece.digest === shared));
    } finally {
      await recorder.close();
      await other.close();
      await storage.close();
    }
  });

  test('a batch that fails to commit is not remembered', async () => {
    const path = join(folder(), 'runs.sqlite');
    const store = SqliteRuns.open(path);
    let fail = true;
    const batches: RunToStore[][] = [];
    const storage: RunStorage = Object.assign(Object.create(store) as RunStorage, {
      put: async (batch: readonly RunToStore[]) => {
        batches.push([...batch]);
        if (fail) throw new Error('disk went away');
        return store.put(batch);
      },
      content: (digest: string) => store.content(digest),
      close: () => store.close(),
    });
    const failures: string[] = [];
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), onFailure: (error) => failures.push(error.code) });
    const shared = systemDigest('Shared.');
    try {
      const one = chatRun('Shared.', 'One?', 'First.', Date.now());
      await assert.rejects(recorder.record(one.run, one.bytes, 'proxy'), { code: 'ERR_STORE_UNAVAILABLE' });
      assert.deepEqual(failures, ['ERR_STORE_UNAVAILABLE']);
      // While the store fails, a record is held for the retry (its caller told at once), made
      // with the shared content: the failed batch is not remembered as stored.
      const two = chatRun('Shared.', 'Two?', 'Second.', Date.now());
      await assert.rejects(recorder.record(two.run, two.bytes, 'proxy'), { code: 'ERR_STORE_UNAVAILABLE' });
      fail = false;
      while (!recorder.healthy) await new Promise((resolve) => setTimeout(resolve, 20));
      const retried = batches.at(-1)!.find((run) => run.record.captureId === two.run.record.captureId);
      assert.ok(retried?.content.some((piece) => piece.digest === shared), 'written by the first run that commits');
      assert.notEqual(await storage.content(shared), undefined);
    } finally {
      await recorder.close();
      await storage.close();
    }
  });
});

test('SQLite: a store of a shape this version cannot upgrade is refused unchanged, not half upgraded (the tables and every upgrade are one transaction)', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'runprint-kept-shape-'));
  folders.push(folder);
  const path = join(folder, 'runs.sqlite');
  // The first layout (run-store-upgrade.test.ts) but for a runs table without identity, which no
  // upgrade adds: each upgrade applies (the signing claim's columns, run_content's kept flags,
  // run_parents) and the check after them fails.
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE runs (seq INTEGER PRIMARY KEY, record_digest TEXT NOT NULL UNIQUE, capture_id TEXT NOT NULL, run_id TEXT, request_id TEXT, model TEXT, served_model TEXT, started TEXT NOT NULL, ended TEXT NOT NULL, capture TEXT NOT NULL, record TEXT NOT NULL, receiptable INTEGER NOT NULL, receipt TEXT, log_index INTEGER, content_expired INTEGER NOT NULL DEFAULT 0) STRICT;
    CREATE TABLE run_digests (seq INTEGER NOT NULL, part TEXT NOT NULL, position INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (seq, part, position)) STRICT, WITHOUT ROWID;
    CREATE INDEX run_digests_digest ON run_digests (digest, seq);
    CREATE TABLE content (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL) STRICT, WITHOUT ROWID;
    CREATE TABLE run_content (digest TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (digest, seq)) STRICT, WITHOUT ROWID;
  `);
  const schemaOf = () => (db.prepare('SELECT type, name FROM sqlite_master ORDER BY type, name').all() as Array<{ type: string; name: string }>).map((row) => `${row.type} ${row.name}`);
  const before = schemaOf();
  assert.throws(() => SqliteRuns.open(path), { code: 'ERR_STORE_CORRUPT', message: `run database ${path} holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades` });
  assert.deepEqual(schemaOf(), before, 'nothing made or changed');
  db.close();
});
