/**
 * Run stores of the layouts older runprint made are upgraded by serve when it starts, on SQLite
 * and PostgreSQL: their tables are made from the CREATE statements of those versions
 * (test/fixtures/run-store-layouts), filled with the runs a serve of this version captured, signed
 * and logged (as the older version stored them: the content each run keeps in run_content, no row
 * for the response bytes' digest), and after serve's upgrade every run is listed, shown and
 * verified (record, identity, output, receipt and log), keeps the content it kept, and serve
 * captures on. Before, a store made from 3d88296 (SQLite) or 78d9759 (PostgreSQL) until 8182774
 * had no signing claim columns (claimed_by, claimed_at), which nothing added: serve refused it as
 * tables of another shape, naming no file, while the runs commands said serve upgrades it. A
 * store no upgrade fits is refused by the runs commands and serve alike, naming the file or the
 * database and schema and saying this version does not upgrade it, and is left unchanged.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { databaseShown } from '../src/store/postgres-url.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas, TEST_PG, type PgSchemas } from './helpers/pg-schemas.ts';
import { captureChat, chatCall, untilLogged } from './helpers/proxy-calls.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-store-upgrade-0123456789';
const scratch = scratchFolders('runprint-store-upgrade-');
let upstream: FakeUpstream;
let pgs: PgSchemas;

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/run-store-layouts/${name}.sql`, import.meta.url), 'utf8');
/** A regular expression's text matching `text` as it is. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

interface Filled {
  /** The data directory: its keys and log.sqlite (and runs.sqlite when the runs are in SQLite). */
  data: string;
  /** The capture ids of the runs, oldest first. */
  ids: string[];
  /** The first run's run id, the second's parent. */
  parent: string;
}

/**
 * A serve of this version captures three runs (one with the first as its parent, one streamed),
 * signs and logs them, and stops cleanly.
 */
async function fill(runsDb?: string): Promise<Filled> {
  const data = join(scratch.tempDir(), 'data');
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, ...(runsDb === undefined ? [] : ['--runs-db', runsDb])] });
  const first = await captureChat(serve.base, OPENAI_KEY, 'Name a colour.');
  const firstRun = ((await (await fetch(`${serve.base}/v1/runs/${first}`)).json()) as { runs: Array<{ record: { runId: string } }> }).runs[0]!.record.runId;
  const child = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}`, 'runprint-parent': firstRun },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'And another?' }] }),
  });
  await child.arrayBuffer();
  const streamed = await chatCall(serve.base, 'Count to three.', true);
  await streamed.arrayBuffer();
  const ids = [first, child.headers.get('runprint-capture-id')!, streamed.headers.get('runprint-capture-id')!];
  for (const id of ids) await untilLogged(serve.base, id);
  assert.equal(await serve.stop(), 0);
  return { data, ids, parent: firstRun };
}

/** Every run of the store is listed, shown and verified in full; `store` is the runs commands' option naming it. */
async function everyRunChecks(store: string[], data: string, ids: readonly string[]): Promise<void> {
  const list = await runCliInProcess(['runs', 'list', ...store, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId).sort(), [...ids].sort());
  for (const id of ids) {
    const show = await runCliInProcess(['runs', 'show', id, ...store]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^capture id +${id}$`, 'm'));
    const verify = await runCliInProcess(['runs', 'verify', id, ...store, ...(store[0] === '--data' ? [] : ['--data', data]), '--json']);
    assert.equal(verify.code, 0, `${id}: ${verify.stderr}${verify.stdout}`);
    const checks = (JSON.parse(verify.stdout) as { checks: Array<{ name: string; status: string }> }).checks;
    assert.deepEqual(Object.fromEntries(checks.map((check) => [check.name, check.status])), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' }, id);
  }
}

before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'RUNPRINT_DATA']) delete process.env[name];
  upstream = await startFakeUpstream();
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(upstream, scratch);
  await pgs.drop();
});

describe('SQLite', () => {
  let filled: Filled;
  before(async () => {
    filled = await fill();
  });

  /** A copy of the filled data directory whose runs.sqlite has the tables `sql` makes, holding its runs as an older version stored them. */
  function olderStore(sql: string): { data: string; path: string } {
    const data = join(scratch.tempDir(), 'data');
    cpSync(filled.data, data, { recursive: true });
    chmodSync(data, 0o700);
    const path = join(data, 'runs.sqlite');
    const older = join(data, 'older.sqlite');
    const db = new DatabaseSync(older);
    try {
      db.exec(sql);
      db.prepare('ATTACH ? AS now').run(path);
      const columns = (db.prepare("SELECT name FROM pragma_table_info('runs')").all() as Array<{ name: string }>).map((row) => row.name).join(', ');
      db.exec(`
        INSERT INTO runs (${columns}) SELECT ${columns} FROM now.runs;
        INSERT INTO run_digests (seq, part, position, digest) SELECT seq, part, position, digest FROM now.run_digests WHERE part <> 'response';
        INSERT INTO content SELECT digest, bytes FROM now.content;
        INSERT INTO run_content (digest, seq) SELECT DISTINCT digest, seq FROM now.run_digests WHERE kept = 1;
      `);
      db.exec('DETACH now');
    } finally {
      db.close();
    }
    renameSync(older, path);
    chmodSync(path, 0o600);
    assert.deepEqual(readdirSync(data).filter((name) => name.startsWith('runs.sqlite')), ['runs.sqlite']);
    return { data, path };
  }

  /** The tables, indexes and triggers of an SQLite file, each table's columns as SQLite reads them. */
  function layoutOf(path: string): unknown {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const objects = db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{ type: string; name: string }>;
      const columns = objects.filter((object) => object.type === 'table').map((table) => [table.name, db.prepare('SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)').all(table.name)]);
      return { objects, columns };
    } finally {
      db.close();
    }
  }

  const rowsOf = (path: string, sql: string): unknown[] => {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  };

  for (const layout of ['3d88296', '8182774']) {
    test(`a store of ${layout}'s layout: the runs commands say serve upgrades it, serve does, and every run is listed, shown and verified; serve captures on`, { timeout: 120_000 }, async () => {
      const { data, path } = olderStore(fixture(`sqlite-${layout}`));
      const digestsBefore = rowsOf(join(filled.data, 'runs.sqlite'), 'SELECT seq, part, position, digest, kept FROM run_digests ORDER BY seq, part, position');
      const bytes = readFileSync(path);
      const refused = await runRunprint(['runs', 'list', '--data', data]);
      assert.equal(refused.code, 4, refused.stderr);
      assert.equal(refused.stderr, `runprint: ERR_STORE_UNAVAILABLE: the run store ${path} has an older layout than this runprint reads: runprint serve with its data directory upgrades it when it starts\n`);
      assert.deepEqual(readFileSync(path), bytes, 'a reader does not upgrade it');

      const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
      const next = await captureChat(serve.base, OPENAI_KEY, 'Name a river.');
      await untilLogged(serve.base, next);
      assert.equal(await serve.stop(), 0);

      await everyRunChecks(['--data', data], data, [...filled.ids, next]);
      // The content each run kept, now as kept flags, with a row for the response bytes' digest.
      const upgradedSeqs = `SELECT seq, part, position, digest, kept FROM run_digests WHERE seq IN (SELECT seq FROM runs WHERE capture_id IN (${filled.ids.map(() => '?').join(', ')})) ORDER BY seq, part, position`;
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        assert.deepEqual(db.prepare(upgradedSeqs).all(...filled.ids), digestsBefore);
      } finally {
        db.close();
      }
      // The parent's child is found (run_parents made and filled from the stored records).
      const children = await runCliInProcess(['runs', 'list', '--data', data, '--parent', filled.parent, '--json']);
      assert.equal(children.code, 0, children.stderr);
      assert.deepEqual((JSON.parse(children.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [filled.ids[1]]);
      // The layout of a store this version makes.
      const fresh = join(scratch.tempDir(), 'runs.sqlite');
      await SqliteRuns.open(fresh).close();
      assert.deepEqual(layoutOf(path), layoutOf(fresh));
    });
  }

  test('a store no upgrade fits (the first layout without runs.identity): the runs commands and serve name the file and say this version does not upgrade it; it is left unchanged', { timeout: 60_000 }, async () => {
    const sql = fixture('sqlite-3d88296');
    assert.match(sql, /^ {2}identity TEXT,\n/m);
    const { data, path } = olderStore(sql.replace(/^ {2}identity TEXT,\n/m, ''));
    const bytes = readFileSync(path);
    const message = `runprint: ERR_STORE_CORRUPT: run database ${path} holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades\n`;
    for (const args of [['runs', 'list', '--data', data], ['runs', 'show', filled.ids[0]!, '--data', data]]) {
      const result = await runRunprint(args);
      assert.deepEqual([result.code, result.stderr], [3, message], args.join(' '));
    }
    const serve = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--upstream', `openai=${upstream.url}`]);
    assert.equal(serve.code, 3, serve.stderr);
    assert.match(serve.stderr, new RegExp(`^${literal(message)}`, 'm'));
    assert.deepEqual(readFileSync(path), bytes, 'nothing made, upgraded or written');
    assert.deepEqual(readdirSync(data).filter((name) => name.startsWith('runs.sqlite')), ['runs.sqlite']);
  });
});

describe('PostgreSQL', () => {
  let filled: Filled & { schema: string; url: string };
  before(async () => {
    const { schema, url } = await pgs.fresh('runprint_upgrade_now');
    filled = { ...(await fill(url)), schema, url };
  });

  /** A copy of the filled data directory, and a fresh schema with the tables `sql` makes holding the filled store's runs as an older version stored them. */
  async function olderStore(sql: string): Promise<{ data: string; schema: string; url: string }> {
    const data = join(scratch.tempDir(), 'data');
    cpSync(filled.data, data, { recursive: true });
    chmodSync(data, 0o700);
    const { schema, url } = await pgs.fresh('runprint_upgrade');
    const now = filled.schema;
    await pgs.admin.query(`SET search_path = ${schema}; ${sql}`);
    const columns = ((await pgs.admin.query("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'runs' ORDER BY ordinal_position")).rows as Array<{ column_name: string }>).map((row) => row.column_name).join(', ');
    await pgs.admin.query(`
      INSERT INTO runs (${columns}) SELECT ${columns} FROM ${now}.runs;
      SELECT setval(pg_get_serial_sequence('runs', 'seq'), (SELECT max(seq) FROM runs));
      INSERT INTO run_digests (seq, part, position, digest) SELECT seq, part, position, digest FROM ${now}.run_digests WHERE part <> 'response';
      INSERT INTO content SELECT digest, bytes FROM ${now}.content;
      INSERT INTO run_content (digest, seq) SELECT DISTINCT digest, seq FROM ${now}.run_digests WHERE kept;
      RESET search_path;
    `);
    return { data, schema, url };
  }

  /** The tables and indexes of a schema, each table's columns (in any order: a column an upgrade adds comes last). */
  async function layoutOf(schema: string): Promise<unknown> {
    const tables = (await pgs.admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [schema])).rows;
    const indexes = (await pgs.admin.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema])).rows;
    const columns = (await pgs.admin.query('SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, column_name', [schema])).rows;
    return { tables, indexes, columns };
  }

  /** Everything in a schema that an upgrade would change: its columns, indexes and every table's rows. */
  async function contentsOf(schema: string): Promise<unknown> {
    const tables = ((await pgs.admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [schema])).rows as Array<{ tablename: string }>).map((row) => row.tablename);
    const rows: Record<string, unknown[]> = {};
    for (const table of tables) rows[table] = (await pgs.admin.query(`SELECT to_jsonb(t)::text AS row FROM ${schema}.${table} t ORDER BY 1`)).rows;
    return { layout: await layoutOf(schema), rows };
  }

  const where = (schema: string) => `the PostgreSQL database ${databaseShown(TEST_PG)} (schema ${schema})`;

  for (const layout of ['bf0152d', '8182774']) {
    test(`a store of ${layout}'s layout: the runs commands say serve upgrades it, serve does, and every run is listed, shown and verified; serve captures on`, { timeout: 120_000 }, async () => {
      const { data, schema, url } = await olderStore(fixture(`postgres-${layout}`));
      const contents = await contentsOf(schema);
      const refused = await runCliInProcess(['runs', 'list', '--runs-db', url]);
      assert.equal(refused.code, 4, refused.stderr);
      assert.equal(refused.stderr, `runprint: ERR_STORE_UNAVAILABLE: the run store in ${where(schema)} has an older layout than this runprint reads: runprint serve --runs-db with this database upgrades it when it starts\n`);
      assert.deepEqual(await contentsOf(schema), contents, 'a reader does not upgrade it');

      const serve = await startServe({ data, args: ['--runs-db', url, '--upstream', `openai=${upstream.url}`] });
      const next = await captureChat(serve.base, OPENAI_KEY, 'Name a river.');
      await untilLogged(serve.base, next);
      assert.equal(await serve.stop(), 0);

      await everyRunChecks(['--runs-db', url], data, [...filled.ids, next]);
      const digests = (name: string) => pgs.admin.query(`SELECT d.seq, part, position, digest, kept FROM ${name}.run_digests d JOIN ${name}.runs r ON r.seq = d.seq WHERE r.capture_id = ANY ($1) ORDER BY d.seq, part, position`, [filled.ids]);
      assert.deepEqual((await digests(schema)).rows, (await digests(filled.schema)).rows, 'the content each run kept, now as kept flags, with a row for the response bytes');
      const parents = (name: string) => pgs.admin.query(`SELECT parent, seq FROM ${name}.run_parents ORDER BY parent, seq`);
      assert.deepEqual((await parents(schema)).rows, (await parents(filled.schema)).rows, 'the parents of the stored runs');
      assert.deepEqual(await layoutOf(schema), await layoutOf(filled.schema), 'the layout of a store this version makes');
    });
  }

  test('a store no upgrade fits (the first layout without runs.identity): the runs commands and serve name the database and schema and say this version does not upgrade it; it is left unchanged', { timeout: 60_000 }, async () => {
    const sql = fixture('postgres-bf0152d');
    assert.match(sql, /^ {2}identity text,\n/m);
    const { data, schema, url } = await olderStore(sql.replace(/^ {2}identity text,\n/m, ''));
    const contents = await contentsOf(schema);
    const message = `ERR_STORE_CORRUPT: ${where(schema)} holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades`;
    for (const args of [['runs', 'list', '--runs-db', url], ['runs', 'show', filled.ids[0]!, '--runs-db', url]]) {
      const result = await runCliInProcess(args);
      assert.deepEqual([result.code, result.stderr], [3, `runprint: ${message}\n`], args.join(' '));
    }
    const serve = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--runs-db', url, '--upstream', `openai=${upstream.url}`]);
    assert.equal(serve.code, 3, serve.stderr);
    assert.match(serve.stderr, new RegExp(`^runprint: ${literal(message)}$`, 'm'));
    await assert.rejects(PostgresRuns.open(url), { code: 'ERR_STORE_CORRUPT', message: message.replace('ERR_STORE_CORRUPT: ', '') });
    assert.deepEqual(await contentsOf(schema), contents, 'nothing made, upgraded or written');
  });
});
