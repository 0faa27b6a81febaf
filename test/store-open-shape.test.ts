/**
 * A store of a shape this version cannot take (tables with columns missing, a table of the same
 * name that is something else, an early development layout its upgrades apply to) is refused at
 * open with ERR_STORE_CORRUPT and left exactly as it was: no table made, altered or dropped, no row
 * written (a dump of its schema and rows compared before and after). SQLite files are made by hand
 * with node:sqlite, PostgreSQL stores in private schemas of the test database. The SQLite run
 * store's own test is in run-store-kept.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { PostgresReplayLinks } from '../src/replay/postgres-replay-links.ts';
import { SqliteReplayLinks } from '../src/replay/replay-links.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { databaseShown } from '../src/store/postgres-url.ts';
import { pgSchemas, TEST_PG } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-open-shape-');
const pgs = await pgSchemas();
after(async () => {
  await pgs.drop();
  scratch.removeAll();
});

/** Everything an SQLite file holds that a store's open could change: its schema, and every table's rows. */
function sqliteDump(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const schema = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all();
    const rows = Object.fromEntries(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((table) => [table.name, db.prepare(`SELECT * FROM "${table.name}" ORDER BY 1`).all()]),
    );
    return { schema, rows };
  } finally {
    db.close();
  }
}

/** Everything a PostgreSQL schema holds that a store's open could change: relations, columns, indexes, functions, triggers, and every table's rows. */
async function postgresDump(schema: string): Promise<unknown> {
  const q = async (text: string) => (await pgs.admin.query(text, [schema])).rows;
  const relations = await q('SELECT relname, relkind FROM pg_class WHERE relnamespace = $1::regnamespace ORDER BY relname');
  const columns = await q('SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position');
  const indexes = await q('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname');
  const functions = await q('SELECT proname, prosrc FROM pg_proc WHERE pronamespace = $1::regnamespace ORDER BY proname');
  const triggers = await q('SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid WHERE relnamespace = $1::regnamespace AND NOT tgisinternal ORDER BY tgname');
  const rows: Record<string, unknown> = {};
  for (const { relname } of relations.filter((relation: { relkind: string }) => relation.relkind === 'r') as Array<{ relname: string }>) {
    rows[relname] = (await pgs.admin.query(`SELECT to_jsonb(t)::text AS row FROM ${schema}.${relname} t ORDER BY 1`)).rows;
  }
  return { relations, columns, indexes, functions, triggers, rows };
}

/** A file holding `sql`, as a store of another shape left it. */
function sqliteFile(name: string, sql: string): string {
  const path = join(scratch.tempDir(), name);
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
  return path;
}

/** The whole file's bytes, and which of the files SQLite makes beside it are there. */
function sqliteBytes(path: string): { file: Buffer; beside: string[] } {
  return { file: readFileSync(path), beside: ['-wal', '-shm', '-journal'].filter((suffix) => existsSync(`${path}${suffix}`)) };
}

/** Bytes 18 and 19 of an SQLite file's header: 1 and 1 in rollback-journal mode, 2 and 2 in WAL mode. */
const headerMode = (path: string): number[] => [...readFileSync(path).subarray(18, 20)];

/** Each SQLite file runprint opens and makes tables in, with a table of its name of another shape. */
const SQLITE_OPENS: Array<{ name: string; foreign: string; open(path: string): unknown; refusal: { code: string }; close(opened: unknown): void | Promise<void>; makesFile?: false }> = [
  { name: 'the run store', foreign: 'CREATE TABLE content (id INTEGER PRIMARY KEY, body TEXT)', open: (path) => SqliteRuns.open(path), refusal: { code: 'ERR_STORE_CORRUPT' }, close: (opened) => (opened as SqliteRuns).close() },
  { name: 'the log', foreign: 'CREATE TABLE meta (name TEXT PRIMARY KEY, setting TEXT)', open: (path) => SqliteLog.open(path), refusal: { code: 'ERR_STORE_CORRUPT' }, close: (opened) => (opened as SqliteLog).close() },
  { name: 'the held-records journal', foreign: 'CREATE TABLE held (id INTEGER PRIMARY KEY, body TEXT)', open: (path) => new HeldJournal(path).count(), refusal: { code: 'ERR_STORE_CORRUPT' }, close: () => undefined, makesFile: false },
  { name: 'the replay links', foreign: 'CREATE TABLE replay_links (id INTEGER PRIMARY KEY, body TEXT)', open: (path) => SqliteReplayLinks.open(path), refusal: { code: 'ERR_STORE_CORRUPT' }, close: (opened) => (opened as SqliteReplayLinks).close() },
];

describe('an SQLite file in rollback-journal mode', () => {
  for (const store of SQLITE_OPENS) {
    test(`that ${store.name} refuses is left byte for byte as it was: not put in WAL mode, no -wal or -shm made`, () => {
      const path = sqliteFile('other.sqlite', `${store.foreign}; INSERT INTO ${store.foreign.split(' ')[2]} VALUES (1, 'x');`);
      const before = sqliteBytes(path);
      assert.deepEqual(before.beside, []);
      assert.deepEqual(headerMode(path), [1, 1]);
      assert.throws(() => store.open(path), store.refusal);
      assert.deepEqual(sqliteBytes(path), before, 'the same bytes, nothing beside it');
    });

    test(`that ${store.name} takes (empty, or new) ends in WAL mode`, async () => {
      const path = sqliteFile('empty.sqlite', 'CREATE TABLE t (a); DROP TABLE t;');
      assert.deepEqual(headerMode(path), [1, 1]);
      await store.close(store.open(path));
      assert.deepEqual(headerMode(path), [2, 2]);
      // The journal's reads make no file (its first write does).
      if (store.makesFile === false) return;
      const created = join(scratch.tempDir(), 'new.sqlite');
      await store.close(store.open(created));
      assert.deepEqual(headerMode(created), [2, 2]);
    });
  }

  test('a run store of this version in rollback-journal mode (copied by a tool that reset its mode) is opened, its runs read, and it ends in WAL mode', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    await SqliteRuns.open(path).close();
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = DELETE; INSERT INTO content VALUES ('ab', x'0102');");
    db.close();
    assert.deepEqual(headerMode(path), [1, 1]);
    const store = SqliteRuns.open(path);
    try {
      assert.deepEqual(await store.content('ab'), new Uint8Array([1, 2]));
    } finally {
      await store.close();
    }
    assert.deepEqual(headerMode(path), [2, 2]);
  });
});

describe('the SQLite log', () => {
  const refusal = { code: 'ERR_STORE_CORRUPT', message: 'log database has tables of another shape than this version of runprint writes' };

  test('an early layout (entries without leaf_key, a content_hash instead; none of the other tables) is refused unchanged', () => {
    const path = sqliteFile('log.sqlite', `
      CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, content_hash BLOB NOT NULL UNIQUE, run_id TEXT) STRICT;
      INSERT INTO entries VALUES (0, x'01', x'02', x'03', 'rp-run-1');
    `);
    const before = sqliteDump(path);
    assert.throws(() => SqliteLog.open(path), refusal);
    assert.deepEqual(sqliteDump(path), before, 'nothing made or changed');
  });

  test('a log of this version whose meta table is something else is refused unchanged', async () => {
    const path = join(scratch.tempDir(), 'log.sqlite');
    const log = SqliteLog.open(path);
    await log.setMetaOnce('origin', 'example.test/log');
    await log.close();
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE meta; CREATE TABLE meta (name TEXT PRIMARY KEY, setting TEXT) STRICT; INSERT INTO meta VALUES ('origin', 'x'); DROP TABLE witnessed;");
    db.close();
    const before = sqliteDump(path);
    assert.throws(() => SqliteLog.open(path), refusal);
    assert.deepEqual(sqliteDump(path), before, 'nothing made or changed (witnessed not made)');
  });

  test('a log of this version without its later tables (tile_nodes, witnessed) is still opened, and they are made', async () => {
    const path = join(scratch.tempDir(), 'log.sqlite');
    await SqliteLog.open(path).close();
    const db = new DatabaseSync(path);
    db.exec('DROP TABLE tile_nodes; DROP TABLE witnessed;');
    db.close();
    const log = SqliteLog.open(path);
    try {
      assert.equal(await log.size(), 0);
      assert.equal(await log.witnessed('example.test/log'), undefined);
    } finally {
      await log.close();
    }
    const tables = (sqliteDump(path) as { schema: Array<{ type: string; name: string }> }).schema.filter((row) => row.type === 'table').map((row) => row.name);
    assert.deepEqual(tables, ['checkpoints', 'entries', 'leaf_collisions', 'meta', 'tile_hashes', 'tile_nodes', 'witnessed']);
  });
});

describe('the held-records journal', () => {
  test('a journal whose held table is something else is refused unchanged, with ERR_STORE_CORRUPT, when read and when its rows are removed (no path in the public message)', () => {
    const path = sqliteFile('held-runs.sqlite', "CREATE TABLE held (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO held VALUES (1, 'x');");
    const before = sqliteDump(path);
    const refusal = { code: 'ERR_STORE_CORRUPT', message: `held-records journal ${path} holds tables of another shape (not a runprint held-records journal of this version): it may hold records not yet in the run store; stop serve, move it aside to keep it (or delete it to go on without them), then start serve again` };
    assert.throws(() => new HeldJournal(path).count(), refusal);
    assert.throws(() => new HeldJournal(path).load(1_000), refusal);
    assert.throws(() => new HeldJournal(path).remove(['a']), refusal);
    assert.throws(() => new HeldJournal(path).refusedRecords(), (error: RunprintError) => error.publicMessage === 'held-records journal holds tables of another shape (not a runprint held-records journal of this version): it may hold records not yet in the run store; stop serve, move it aside to keep it (or delete it to go on without them), then start serve again');
    assert.deepEqual(sqliteDump(path), before, 'nothing made or changed');
  });

  test('a journal without held whose refused table is something else is refused unchanged (held not made)', () => {
    const path = sqliteFile('held-runs.sqlite', "CREATE TABLE refused (id INTEGER PRIMARY KEY, why TEXT); INSERT INTO refused VALUES (1, 'x');");
    const before = sqliteDump(path);
    assert.throws(() => new HeldJournal(path).refusedCount(), { code: 'ERR_STORE_CORRUPT' });
    assert.deepEqual(sqliteDump(path), before, 'nothing made or changed');
  });
});

describe('the PostgreSQL log', () => {
  const refusal = { code: 'ERR_STORE_CORRUPT', message: 'tables in the PostgreSQL schema are not those of a runprint log' };

  test('entries of another shape (no leaf_hash) and none of the other tables: refused unchanged', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_shape');
    await pgs.admin.query(`CREATE TABLE ${schema}.entries (idx bigint PRIMARY KEY, entry bytea NOT NULL, run_id text); INSERT INTO ${schema}.entries VALUES (0, '\\x01', 'rp-run-1');`);
    const before = await postgresDump(schema);
    await assert.rejects(PostgresLog.open(url), refusal);
    assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed');
  });

  test('a checkpoints table of another shape beside a log of this version without witnessed: refused unchanged', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_shape');
    await (await PostgresLog.open(url)).close();
    await pgs.admin.query(`DROP TABLE ${schema}.checkpoints; CREATE TABLE ${schema}.checkpoints (size bigint PRIMARY KEY, body text); DROP TABLE ${schema}.witnessed;`);
    const before = await postgresDump(schema);
    await assert.rejects(PostgresLog.open(url), refusal);
    assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed (witnessed not made)');
  });
});

/** The run store's refusal of tables of another shape, naming the database and `schema`; `detail` after it. */
const runsRefusal = (schema: string, detail = '') => ({
  code: 'ERR_STORE_CORRUPT',
  message: `the PostgreSQL database ${databaseShown(TEST_PG)} (schema ${schema}) holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades${detail}`,
});

describe('the PostgreSQL run store', () => {
  test('the first layout (run-store-upgrade.test.ts) but for a runs table without identity, which no upgrade adds, is refused unchanged, not half upgraded', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_shape');
    // Each upgrade applies: the signing claim's columns, the escaped flags (nulSafeMigration),
    // run_parents and its backfill, and the first layout's run_content (KEPT_MIGRATION: rows
    // written, run_content dropped); the check after them fails.
    await pgs.admin.query(`
      CREATE TABLE ${schema}.runs (seq bigserial PRIMARY KEY, record_digest text NOT NULL UNIQUE, capture_id text NOT NULL, run_id text, request_id text, model text, served_model text, started text NOT NULL, ended text NOT NULL, capture text NOT NULL, record text NOT NULL, receiptable boolean NOT NULL, receipt text, log_index bigint, content_expired boolean NOT NULL DEFAULT false);
      CREATE TABLE ${schema}.run_digests (seq bigint NOT NULL, part text NOT NULL, position integer NOT NULL, digest text NOT NULL, PRIMARY KEY (seq, part, position));
      CREATE INDEX run_digests_digest ON ${schema}.run_digests (digest, seq);
      CREATE TABLE ${schema}.content (digest text PRIMARY KEY, bytes bytea NOT NULL);
      CREATE TABLE ${schema}.run_content (digest text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (digest, seq));
      INSERT INTO ${schema}.runs (record_digest, capture_id, started, ended, capture, record, receiptable) VALUES ('d1', 'c1', 's', 'e', 'proxy', '{"parents": ["rp-run-v1-sha256-0"], "response": {"rawDigest": {"sha256": "ab"}}}', true);
      INSERT INTO ${schema}.run_digests VALUES (1, 'system', 0, 'cd');
      INSERT INTO ${schema}.content VALUES ('ab', '\\x01');
      INSERT INTO ${schema}.run_content VALUES ('ab', 1);
    `);
    const before = await postgresDump(schema);
    await assert.rejects(PostgresRuns.open(url), runsRefusal(schema));
    assert.deepEqual(await postgresDump(schema), before, 'nothing made, altered, dropped or written');
  });

  test('a content table of another shape and no other table: refused unchanged (no runs table made)', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_shape');
    await pgs.admin.query(`CREATE TABLE ${schema}.content (id integer PRIMARY KEY, body text); INSERT INTO ${schema}.content VALUES (1, 'x');`);
    const before = await postgresDump(schema);
    await assert.rejects(PostgresRuns.open(url), runsRefusal(schema));
    await assert.rejects(PostgresRuns.open(url, { create: false }), { code: 'ERR_INPUT_NOT_FOUND' });
    assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed');
  });
});

/**
 * Each key an ON CONFLICT of the PostgreSQL stores relies on, dropped from a store of this version
 * (the table's columns all there): the open refuses it unchanged, naming the key, instead of
 * passing and failing at the first write with 42P10.
 */
describe('PostgreSQL stores without the keys their writes rely on', () => {
  const keys: Array<{ store: 'runs' | 'log'; table: string; columns: string; drop: string }> = [
    { store: 'runs', table: 'runs', columns: 'record_digest', drop: 'ALTER TABLE runs DROP CONSTRAINT runs_record_digest_key' },
    { store: 'runs', table: 'content', columns: 'digest', drop: 'ALTER TABLE content DROP CONSTRAINT content_pkey' },
    { store: 'runs', table: 'run_parents', columns: 'parent, seq', drop: 'ALTER TABLE run_parents DROP CONSTRAINT run_parents_pkey' },
    { store: 'runs', table: 'run_digests', columns: 'seq, part, position', drop: 'ALTER TABLE run_digests DROP CONSTRAINT run_digests_pkey' },
    { store: 'runs', table: 'run_steps', columns: 'name', drop: 'ALTER TABLE run_steps DROP CONSTRAINT run_steps_pkey' },
    { store: 'log', table: 'meta', columns: 'key', drop: 'ALTER TABLE meta DROP CONSTRAINT meta_pkey' },
    { store: 'log', table: 'witnessed', columns: 'origin', drop: 'ALTER TABLE witnessed DROP CONSTRAINT witnessed_pkey' },
  ];
  for (const key of keys) {
    test(`${key.table} without its key on (${key.columns}): the ${key.store === 'runs' ? 'run store' : 'log'} is refused unchanged`, async () => {
      const { schema, url } = await pgs.fresh('runprint_open_keys');
      const open = () => (key.store === 'runs' ? PostgresRuns.open(url) : PostgresLog.open(url));
      await (await open()).close();
      await pgs.admin.query(`SET search_path = ${schema}; ${key.drop}; RESET search_path;`);
      const before = await postgresDump(schema);
      const what = key.store === 'runs' ? 'run store' : 'log';
      const detail = `: ${key.table} has no unique key on (${key.columns}), which its writes need`;
      await assert.rejects(open(), key.store === 'runs' ? runsRefusal(schema, detail) : { code: 'ERR_STORE_CORRUPT', message: `tables in the PostgreSQL schema are not those of a runprint ${what}${detail}` });
      assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed');
    });
  }

  test('a key of other columns, a partial one or a deferrable one is not the key: refused; the key as a unique index of its own (not a constraint), in another column order, is', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_keys');
    await (await PostgresRuns.open(url)).close();
    const refusal = runsRefusal(schema, ': run_parents has no unique key on (parent, seq), which its writes need');
    const set = (sql: string) => pgs.admin.query(`SET search_path = ${schema}; ${sql}; RESET search_path;`);
    await set('ALTER TABLE run_parents DROP CONSTRAINT run_parents_pkey; CREATE UNIQUE INDEX run_parents_other ON run_parents (parent)');
    await assert.rejects(PostgresRuns.open(url), refusal);
    await set("DROP INDEX run_parents_other; CREATE UNIQUE INDEX run_parents_partial ON run_parents (parent, seq) WHERE parent <> ''");
    await assert.rejects(PostgresRuns.open(url), refusal);
    await set('DROP INDEX run_parents_partial; ALTER TABLE run_parents ADD CONSTRAINT run_parents_deferred UNIQUE (parent, seq) DEFERRABLE');
    await assert.rejects(PostgresRuns.open(url), refusal);
    await set('ALTER TABLE run_parents DROP CONSTRAINT run_parents_deferred; CREATE UNIQUE INDEX run_parents_reordered ON run_parents (seq, parent)');
    await (await PostgresRuns.open(url)).close();
  });
});

describe('the PostgreSQL replay links', () => {
  const refused = 'replay tables in the PostgreSQL schema are not those of a runprint run store';

  test('a replay_links of another shape (no result) and no replay_batch_items: refused unchanged (replay_batch_items not made)', async () => {
    const { schema, url } = await pgs.fresh('runprint_open_replay');
    await pgs.admin.query(`CREATE TABLE ${schema}.replay_links (seq bigserial NOT NULL, replay text PRIMARY KEY, replay_of text NOT NULL, verdict text NOT NULL); INSERT INTO ${schema}.replay_links (replay, replay_of, verdict) VALUES ('a', 'b', 'identical');`);
    const before = await postgresDump(schema);
    await assert.rejects(PostgresReplayLinks.open(url), { code: 'ERR_STORE_CORRUPT', message: refused });
    assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed');
  });

  for (const [table, columns, constraint] of [['replay_links', 'replay', 'replay_links_pkey'], ['replay_batch_items', 'batch, original', 'replay_batch_items_pkey']] as const) {
    test(`${table} without its key on (${columns}): refused unchanged`, async () => {
      const { schema, url } = await pgs.fresh('runprint_open_replay');
      await (await PostgresReplayLinks.open(url)).close();
      await pgs.admin.query(`ALTER TABLE ${schema}.${table} DROP CONSTRAINT ${constraint}`);
      const before = await postgresDump(schema);
      await assert.rejects(PostgresReplayLinks.open(url), { code: 'ERR_STORE_CORRUPT', message: `${refused}: ${table} has no unique key on (${columns}), which its writes need` });
      assert.deepEqual(await postgresDump(schema), before, 'nothing made or changed');
    });
  }
});

describe('the SQLite replay links', () => {
  test('a replay_links without its key on replay, and no replay_batch_items: refused unchanged (replay_batch_items not made)', () => {
    const path = sqliteFile('runs.sqlite', "CREATE TABLE replay_links (replay TEXT, replay_of TEXT NOT NULL, verdict TEXT NOT NULL, result TEXT NOT NULL) STRICT; INSERT INTO replay_links VALUES ('a', 'b', 'identical', '{}');");
    const before = sqliteDump(path);
    assert.throws(() => SqliteReplayLinks.open(path), { code: 'ERR_STORE_CORRUPT', message: 'replay tables in the run database are not those of a runprint run store' });
    assert.deepEqual(sqliteDump(path), before, 'nothing made or changed');
  });
});
