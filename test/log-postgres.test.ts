/**
 * The log on a real PostgreSQL (issue 4, sections 3 and 6): the same tree as SQLite, refusal of a
 * damaged store, no password in any error, and several log processes on one database racing to
 * sequence. Each test uses a fresh schema of RUNPRINT_TEST_PG (default the local test database),
 * dropped afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { noteVerifier } from '../src/log/note-keys.ts';
import { verifyNote } from '../src/log/note.ts';
import { computeTiles, consistencyProofFromTiles, rootFromTiles, tilesForSize, type TileReader } from '../src/log/tiles.ts';
import { verifyConsistency } from '../src/merkle/consistency.ts';
import { verifyInclusion } from '../src/merkle/inclusion.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { decodeBase64, encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { advisoryLockKey, PostgresLog } from '../src/store/postgres-log.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import type { LogStorage, NewEntry, StoredEntry } from '../src/store/storage.ts';
import { LogError } from '../src/errors.ts';

const BASE = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ORIGIN = 'example.test/runprint-pg';
const main = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));

const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
const schemas: string[] = [];
const folders: string[] = [];
after(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** A new empty schema and the URL whose search_path selects it. */
async function freshSchema(): Promise<{ schema: string; url: string }> {
  const schema = `runprint_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  const url = new URL(BASE);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { schema, url: url.toString() };
}

async function newKey(): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
}

function item(text: string, runId?: string): NewEntry {
  const entry = new TextEncoder().encode(text);
  return runId === undefined ? { entry, leafHash: hashLeaf(entry) } : { entry, leafHash: hashLeaf(entry), runId };
}

/** Byte arrays as hex: storage may hand out Buffers or plain Uint8Arrays of the same bytes. */
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const plain = (stored: StoredEntry[]) => stored.map((s) => ({ index: s.index, leafHash: hex(s.leafHash), created: s.created }));

const reader = (storage: LogStorage): TileReader => (tile) => storage.tileData(tile);

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<LogError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LogError, `expected a LogError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

test('append, dedupe, run lookups, tiles, meta and checkpoints: same results and tree as SQLite', async () => {
  const { url } = await freshSchema();
  const folder = await mkdtemp(join(tmpdir(), 'runprint-pg-'));
  folders.push(folder);
  const postgres = await PostgresLog.open(url);
  const sqlite = SqliteLog.open(join(folder, 'log.sqlite'));
  try {
    assert.equal(postgres.kind, 'PostgreSQL');
    assert.equal(await postgres.size(), 0);
    assert.deepEqual(await postgres.append([]), []);
    // Batches of irregular sizes crossing tile boundaries at levels 1 and 2 (65,536 leaves), with
    // duplicates inside a batch and of stored entries.
    const sizes = [1, 255, 1, 300, 7, 20_000, 45_000, 3, 4_000];
    let n = 0;
    let batches = 0;
    for (const size of sizes) {
      const batch: NewEntry[] = [];
      for (let i = 0; i < size; i++) {
        if (i % 97 === 5 && n > 10) batch.push(item(`entry ${n - 7}`, `run-${(n - 7) % 50}`));
        else if (i % 101 === 7 && batch.length > 0) batch.push(batch[batch.length - 1]!);
        else {
          batch.push(item(`entry ${n}`, n % 3 === 0 ? undefined : `run-${n % 50}`));
          n++;
        }
      }
      const fromPostgres = await postgres.append(batch);
      const fromSqlite = await sqlite.append(batch);
      assert.deepEqual(plain(fromPostgres), plain(fromSqlite), `batch ${batches}`);
      batches++;
    }
    const size = await sqlite.size();
    assert.equal(size, n);
    assert.equal(await postgres.size(), size);
    assert.ok(size > 65_536, 'the tree has a complete level-2 tile');

    // The same tiles as SQLite and as computed from the leaf hashes, and the same root.
    const leaves = await postgres.hashes(0, 0, size);
    assert.deepEqual(leaves.map(hex), (await sqlite.hashes(0, 0, size)).map(hex));
    const expected = computeTiles(leaves);
    assert.deepEqual(expected.map(({ tile }) => tile), tilesForSize(size));
    for (const { tile, data } of expected) {
      if (tile.level === 0 && tile.index % 50 !== 0 && tile.width === 256) continue; // a sample of full leaf tiles; every other tile
        assert.equal(hex(await postgres.tileData(tile)), hex(data), `tile ${tile.level}/${tile.index}`);
    }
    assert.equal(hex(await rootFromTiles(size, reader(postgres))), hex(await rootFromTiles(size, reader(sqlite))));
    assert.equal(hex(await rootFromTiles(1000, reader(postgres))), hex(await rootFromTiles(1000, reader(sqlite))));
    assert.deepEqual((await postgres.entries(65_530, 12)).map(hex), (await sqlite.entries(65_530, 12)).map(hex));
    assert.deepEqual(new TextDecoder().decode((await postgres.entries(5, 1))[0]), 'entry 5');
    await rejectsWith(postgres.entries(size - 2, 3), 'ERR_STORE_CORRUPT', /entries are missing/);
    await rejectsWith(postgres.hashes(1, 0, Math.floor(size / 256) + 1), 'ERR_STORE_CORRUPT', /level 1 are missing/);
    assert.deepEqual(await postgres.indexesOfRun('run-7'), await sqlite.indexesOfRun('run-7'));
    assert.ok((await postgres.indexesOfRun('run-7')).length > 100);
    assert.deepEqual(await postgres.indexesOfRun('run-none'), []);
    await postgres.checkHashes();

    // Meta: first value wins.
    assert.equal(await postgres.getMeta('origin'), undefined);
    assert.equal(await postgres.setMetaOnce('origin', 'a'), 'a');
    assert.equal(await postgres.setMetaOnce('origin', 'b'), 'a');
    assert.equal(await postgres.getMeta('origin'), 'a');

    // Checkpoints: compare-and-swap on the largest stored size.
    assert.equal(await postgres.latestCheckpoint(), undefined);
    assert.equal(await postgres.saveCheckpoint(0, { size: 1, note: 'one' }), false);
    assert.equal(await postgres.saveCheckpoint(-1, { size: 1, note: 'one' }), true);
    assert.equal(await postgres.saveCheckpoint(-1, { size: 2, note: 'two' }), false);
    assert.equal(await postgres.saveCheckpoint(1, { size: 300, note: 'three hundred' }), true);
    assert.equal(await postgres.saveCheckpoint(1, { size: 301, note: 'late' }), false);
    assert.deepEqual(await postgres.latestCheckpoint(), { size: 300, note: 'three hundred' });

    // Witnessed checkpoints: compare-and-swap per origin.
    assert.equal(await postgres.witnessed('other.example/log'), undefined);
    assert.equal(await postgres.saveWitnessed('other.example/log', 3, { size: 4, note: 'x' }), false);
    assert.equal(await postgres.saveWitnessed('other.example/log', -1, { size: 4, note: 'four' }), true);
    assert.equal(await postgres.saveWitnessed('other.example/log', -1, { size: 5, note: 'five' }), false);
    assert.equal(await postgres.saveWitnessed('other.example/log', 4, { size: 9, note: 'nine' }), true);
    assert.deepEqual(await postgres.witnessed('other.example/log'), { size: 9, note: 'nine' });
    assert.equal(await postgres.witnessed('third.example/log'), undefined);
  } finally {
    await postgres.close();
    await sqlite.close();
  }
  // Everything is in the database: a new connection sees it, and a closed storage refuses.
  const again = await PostgresLog.open(url);
  try {
    assert.equal(await again.getMeta('origin'), 'a');
    assert.deepEqual(await again.latestCheckpoint(), { size: 300, note: 'three hundred' });
    assert.ok((await again.size()) > 65_536);
  } finally {
    await again.close();
  }
  await rejectsWith(again.size(), 'ERR_STORE_UNAVAILABLE', /closed/);
});

test('TransparencyLog on PostgreSQL signs the checkpoint SQLite would, and reopens it', async () => {
  const { url } = await freshSchema();
  const folder = await mkdtemp(join(tmpdir(), 'runprint-pg-'));
  folders.push(folder);
  const key = await newKey();
  const onPostgres = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key, checkpointDelayMs: 10 });
  const onSqlite = await TransparencyLog.open({ storage: SqliteLog.open(join(folder, 'log.sqlite')), origin: ORIGIN, key, checkpointDelayMs: 10 });
  const entries = Array.from({ length: 700 }, (_, n) => new TextEncoder().encode(`entry ${n}`));
  try {
    for (const log of [onPostgres, onSqlite]) {
      const stored = await Promise.all(entries.map((entry, n) => log.append(entry, n % 2 === 0 ? 'run-even' : undefined)));
      assert.deepEqual(stored.map((s) => s.index), entries.map((_, n) => n));
      assert.equal((await log.append(entries[3]!)).created, false);
      await log.publishCheckpoint();
    }
    const a = await onPostgres.checkpoint();
    const b = await onSqlite.checkpoint();
    assert.equal(a.size, 700);
    // Ed25519 signatures are deterministic: the same key over the same tree gives the same note.
    assert.equal(a.note, b.note);
    assert.deepEqual(await onPostgres.indexesOfRun('run-even'), await onSqlite.indexesOfRun('run-even'));
    const proof = await onPostgres.inclusionProof(512, 700);
    const fromSqlite = await onSqlite.inclusionProof(512, 700);
    assert.equal(hex(proof.leafHash), hex(fromSqlite.leafHash));
    assert.deepEqual(proof.proof.map(hex), fromSqlite.proof.map(hex));
    const signed = parseCheckpoint((await verifyNote(a.note, [noteVerifier(ORIGIN, key.publicKey)])).text);
    assert.equal(verifyInclusion(hashLeaf(entries[512]!), 512, 700, proof.proof, signed.rootHash), true);
  } finally {
    await onPostgres.close();
    await onSqlite.close();
  }
  const reopened = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key });
  try {
    assert.equal((await reopened.checkpoint()).size, 700);
  } finally {
    await reopened.close();
  }
});

/** A schema holding a signed log of `count` entries (checkpoint at the end), and the key. */
async function signedLog(count: number): Promise<{ schema: string; url: string; key: SigningKey }> {
  const { schema, url } = await freshSchema();
  const key = await newKey();
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key, checkpointDelayMs: 10 });
  await Promise.all(Array.from({ length: count }, (_, n) => log.append(new TextEncoder().encode(`entry ${n}`))));
  await log.close();
  return { schema, url, key };
}

test('opening refuses a damaged store with ERR_STORE_CORRUPT, and a whole one of another log with ERR_LOG_CONFIG_MISMATCH', async (t) => {
  const damage: Array<[string, (schema: string) => string, RegExp, 'storage' | 'service']> = [
    ['a changed leaf hash', (s) => `UPDATE ${s}.entries SET leaf_hash = sha256('x'::bytea) WHERE idx = 77`, /leaf hash of entry 77 does not match/, 'service'],
    ['a changed entry', (s) => `UPDATE ${s}.entries SET entry = 'changed'::bytea WHERE idx = 300`, /leaf hash of entry 300 does not match/, 'service'],
    ['a deleted entry in the middle', (s) => `DELETE FROM ${s}.entries WHERE idx = 100`, /not numbered 0 \.\. size - 1/, 'storage'],
    ['entries deleted below the checkpoint', (s) => `DELETE FROM ${s}.entries WHERE idx >= 500`, /stored tile hashes at level 1 do not match the number of entries/, 'service'],
    [
      'entries and tile hashes deleted below the checkpoint',
      (s) => `DELETE FROM ${s}.entries WHERE idx >= 500; DELETE FROM ${s}.tile_hashes WHERE idx >= 1`,
      /truncated: it holds 500 entries, its last checkpoint 600/,
      'service',
    ],
    ['a deleted tile hash', (s) => `DELETE FROM ${s}.tile_hashes WHERE level = 1 AND idx = 1`, /tile hashes at level 1 do not match the number of entries/, 'service'],
    ['a changed tile hash', (s) => `UPDATE ${s}.tile_hashes SET hash = sha256('x'::bytea) WHERE level = 1 AND idx = 0`, /tile hash 0 at level 1 does not match/, 'service'],
    ['a checkpoint note of another size', (s) => `UPDATE ${s}.checkpoints SET size = 601 WHERE size = 600`, /checkpoint size does not match its note/, 'service'],
  ];
  for (const [name, sql, message, layer] of damage) {
    await t.test(name, async () => {
      const { schema, url, key } = await signedLog(600);
      await admin.query(sql(schema));
      if (layer === 'storage') {
        await rejectsWith(PostgresLog.open(url), 'ERR_STORE_CORRUPT', message);
      } else {
        const storage = await PostgresLog.open(url);
        await rejectsWith(TransparencyLog.open({ storage, origin: ORIGIN, key }), 'ERR_STORE_CORRUPT', message);
        // The service closed the storage it refused.
        await rejectsWith(storage.size(), 'ERR_STORE_UNAVAILABLE', /closed/);
      }
    });
  }

  // A whole store of another log than the options name: a configuration mismatch, not damage.
  await t.test('another log name', async () => {
    const { schema, url, key } = await signedLog(600);
    await admin.query(`UPDATE ${schema}.meta SET value = 'other.example/log' WHERE key = 'origin'`);
    const storage = await PostgresLog.open(url);
    const message = new RegExp(`^the log database belongs to the log "other\\.example/log", and this server's log name is "${ORIGIN.replace(/[.]/g, '\\.')}": give serve the log's name \\(--log-name or RUNPRINT_LOG_NAME`);
    await rejectsWith(TransparencyLog.open({ storage, origin: ORIGIN, key }), 'ERR_LOG_CONFIG_MISMATCH', message);
    await rejectsWith(storage.size(), 'ERR_STORE_UNAVAILABLE', /closed/);
  });

  await t.test('a checkpoint signed by another key', async () => {
    const { url } = await signedLog(600);
    await rejectsWith(
      TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key: await newKey() }),
      'ERR_LOG_CONFIG_MISMATCH',
      /^last stored checkpoint is not signed by this log's key: it is signed by another key of this log's name \(key ID [0-9a-f]{8}, this key's [0-9a-f]{8}\); every server sharing a log database needs the same log key/,
    );
  });

  await t.test('a tree whose hashes agree with its entries but not with the signed checkpoint', async () => {
    const { schema, url, key } = await signedLog(600);
    // Another entry 0 with its leaf hash and level-1 hash recomputed: only the checkpoint can tell.
    await admin.query(`UPDATE ${schema}.entries SET entry = 'swapped'::bytea, leaf_hash = sha256('\\x00'::bytea || 'swapped'::bytea) WHERE idx = 0`);
    await admin.query(`UPDATE ${schema}.tile_hashes SET hash = $1 WHERE level = 1 AND idx = 0`, [Buffer.from(await rootOfLeaves(url, 0, 256))]);
    await rejectsWith(TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key }), 'ERR_STORE_CORRUPT', /does not match the root hash of the last signed checkpoint/);
  });

  await t.test('tables of the same names that are not a runprint log', async () => {
    const { schema, url } = await freshSchema();
    await admin.query(`CREATE TABLE ${schema}.entries (id integer PRIMARY KEY, body text)`);
    await rejectsWith(PostgresLog.open(url), 'ERR_STORE_CORRUPT', /not those of a runprint log/);
  });
});

/** The level-1 hash of leaves start .. start + count - 1 as stored now, from the leaf hashes. */
async function rootOfLeaves(url: string, start: number, count: number): Promise<Uint8Array> {
  const storage = await PostgresLog.open(url);
  try {
    const { rootFromLeafHashes } = await import('../src/merkle/rfc6962.ts');
    return rootFromLeafHashes(await storage.hashes(0, start, count));
  } finally {
    await storage.close();
  }
}

test('a bad URL, an unreachable server, a missing database or synchronous_commit off is ERR_STORE_UNAVAILABLE and never shows the password', async () => {
  const secret = 'hunter2-s3cret';
  const base = new URL(BASE);
  const unreachable = `postgres://runprint:${secret}@127.0.0.1:1/test`;
  const missingDatabase = `postgres://${base.username || 'postgres'}:${secret}@${base.host}/runprint_no_such_database`;
  const missingSchema = `postgres://${base.username || 'postgres'}:${secret}@${base.host}${base.pathname}?options=-c%20search_path%3Drunprint_no_such_schema`;
  const cases: Array<[string, RegExp]> = [
    [unreachable, /^the PostgreSQL log database cannot be reached: nothing accepts connections at 127\.0\.0\.1:1 \(ECONNREFUSED\); is the server running, on that host and port\?$/],
    // A database that does not exist is named, without the credentials (test/log-postgres-missing-db.test.ts checks the commands).
    [missingDatabase, new RegExp(`^the PostgreSQL log database postgres://${base.host.replace(/[.]/g, '\\.')}/runprint_no_such_database does not exist \\(3D000\\): create it \\(createdb\\), or name another in the URL$`)],
    // The schema is named, with the database, and how to make it (test/postgres-missing-schema.test.ts checks the commands).
    [missingSchema, new RegExp(`^in the PostgreSQL log database postgres://${base.host.replace(/[.]/g, '\\.')}${base.pathname}, the schema runprint_no_such_schema that the search_path names does not exist: create it \\(CREATE SCHEMA runprint_no_such_schema\\), or name another in the URL \\(\\?options=-c%20search_path%3DNAME\\)$`)],
    [`postgres://runprint:${secret}@[::1/test`, /^PostgreSQL connection URL is not a valid URL$/],
    [
      `postgres://${base.username || 'postgres'}:${secret}@${base.host}${base.pathname}?options=-c%20synchronous_commit%3Doff`,
      /^PostgreSQL synchronous_commit is off: acknowledged appends would not be durable$/,
    ],
  ];
  for (const [url, message] of cases) {
    const error = await rejectsWith(PostgresLog.open(url), 'ERR_STORE_UNAVAILABLE', message);
    assert.ok(!error.message.includes(secret) && !JSON.stringify(error.toJSON()).includes(secret));
  }

  // Through `runprint serve`: one line on stderr, no socket, no password.
  const data = await mkdtemp(join(tmpdir(), 'runprint-pg-serve-'));
  folders.push(data);
  const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--data', data, '--log-db', unreachable], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.equal(output, 'runprint: ERR_STORE_UNAVAILABLE: the PostgreSQL log database cannot be reached: nothing accepts connections at 127.0.0.1:1 (ECONNREFUSED); is the server running, on that host and port?\n');
});

test('appends wait for the sequencer lock; a lost connection is replaced before the lock, and fails the append after it without storing anything', async () => {
  const { schema, url: plain } = await freshSchema();
  const secret = 'hunter2-s3cret';
  const name = `runprint_test_${randomBytes(4).toString('hex')}`;
  const url = new URL(plain);
  url.username = url.username || 'postgres';
  url.password = secret; // trust authentication: never asked for, never shown
  url.searchParams.set('application_name', name);
  const storage = await PostgresLog.open(url.toString());
  const holder = new pg.Client({ connectionString: BASE });
  await holder.connect();
  /** Waits until one of the storage's sessions waits on a lock of this kind. */
  const waitsOn = async (event: string) => {
    for (let tries = 0; ; tries++) {
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = $2", [name, event]);
      if (rows[0].n === 1) return;
      assert.ok(tries < 250, `no session of the storage waits on a ${event} lock`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const terminate = () => admin.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1', [name]);
  try {
    await storage.append(Array.from({ length: 10 }, (_, n) => item(`entry ${n}`)));

    // Another session holds the sequencer's key: the append waits. Its connection is cut while
    // waiting (nothing done yet): it starts over on a new connection and waits again.
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [advisoryLockKey('runprint/log sequencer', schema)]);
    const waiting = storage.append([item('late 0'), item('late 1')]);
    await waitsOn('advisory');
    await terminate();
    await waitsOn('advisory');
    await holder.query('SELECT pg_advisory_unlock_all()');
    assert.deepEqual((await waiting).map((s) => s.index), [10, 11]);

    // Cut after the lock, between the insert of the entries and that of the tile hashes: the
    // append fails, and none of its entries was stored.
    await holder.query(`BEGIN; LOCK TABLE ${schema}.tile_hashes IN ACCESS EXCLUSIVE MODE`);
    // Its outcome is checked from the start: the rejection may come before terminate() returns.
    const cut = rejectsWith(
      storage.append(Array.from({ length: 300 }, (_, n) => item(`cut ${n}`))),
      'ERR_STORE_UNAVAILABLE',
      /^PostgreSQL log database is unavailable \(57P01\)$/,
    );
    await waitsOn('relation');
    await terminate();
    const error = await cut;
    assert.ok(!JSON.stringify(error.toJSON()).includes(secret));
    await holder.query('ROLLBACK');
    assert.equal(await storage.size(), 12);
    assert.deepEqual(
      (await storage.append([item('cut 0'), item('entry 3'), item('cut 1')])).map((s) => [s.index, s.created]),
      [[12, true], [3, false], [13, true]],
    );
    await storage.checkHashes();
  } finally {
    await holder.end();
    await storage.close();
  }
});

test('two TransparencyLog instances on one schema racing: one index per entry, no gap, every checkpoint consistent with the one before', async (t) => {
  const { schema, url } = await freshSchema();
  const key = await newKey();
  const options = { origin: ORIGIN, key, checkpointDelayMs: 5, refreshMs: 20, maxBatch: 300 };
  // Counts, per log, the checkpoints it stored and the compare-and-swaps it lost to the other.
  const saves = { a: { won: 0, lost: 0 }, b: { won: 0, lost: 0 } };
  const open = async (name: 'a' | 'b') => {
    const storage = await PostgresLog.open(url);
    const save = storage.saveCheckpoint.bind(storage);
    storage.saveCheckpoint = async (previousSize, checkpoint) => {
      const saved = await save(previousSize, checkpoint);
      saves[name][saved ? 'won' : 'lost']++;
      return saved;
    };
    return TransparencyLog.open({ storage, ...options });
  };
  const [a, b] = await Promise.all([open('a'), open('b')]);
  const perLog = 4000;
  const shared = 300;
  const encode = (text: string) => new TextEncoder().encode(text);
  const acknowledged = new Map<string, number[]>();
  const ack = (text: string, index: number) => acknowledged.set(text, [...(acknowledged.get(text) ?? []), index]);
  const createdBy: Record<string, number[]> = { a: [], b: [] };
  try {
    await Promise.all(
      (['a', 'b'] as const).map(async (name) => {
        const log = name === 'a' ? a! : b!;
        const texts = [...Array.from({ length: perLog }, (_, n) => `${name} ${n}`), ...Array.from({ length: shared }, (_, n) => `shared ${n}`)];
        // In waves, so both logs keep sequencing while the other does.
        for (let from = 0; from < texts.length; from += 500) {
          const wave = texts.slice(from, from + 500);
          const stored = await Promise.all(wave.map((text) => log.append(encode(text))));
          stored.forEach((s, i) => {
            ack(wave[i]!, s.index);
            if (s.created) createdBy[name]!.push(s.index);
          });
        }
      }),
    );
  } finally {
    await Promise.all([a!.close(), b!.close()]);
  }
  const total = 2 * perLog + shared;
  assert.equal(acknowledged.size, total);
  // A shared entry gets one index, whichever log took it first.
  for (const [text, indexes] of acknowledged) assert.equal(new Set(indexes).size, 1, text);
  const indexes = [...acknowledged.values()].map((list) => list[0]!).sort((x, y) => x - y);
  assert.deepEqual(indexes, Array.from({ length: total }, (_, n) => n));
  assert.equal(createdBy['a']!.length + createdBy['b']!.length, total);
  // Both sequenced, interleaved: neither log's indexes form one block.
  for (const own of Object.values(createdBy)) {
    own.sort((x, y) => x - y);
    const runs = own.filter((index, i) => i === 0 || own[i - 1] !== index - 1).length;
    assert.ok(runs > 2, `indexes of one log form ${runs} runs`);
  }

  const storage = await PostgresLog.open(url);
  try {
    assert.equal(await storage.size(), total);
    // Every acknowledged entry is stored at its index.
    const stored = await storage.entries(0, total);
    for (const [text, [index]] of acknowledged) assert.equal(new TextDecoder().decode(stored[index!]), text);
    await storage.checkHashes();

    // Every stored checkpoint: signed by the log, of a distinct size, consistent with the one before.
    const { rows } = await admin.query(`SELECT size::text AS size, note FROM ${schema}.checkpoints ORDER BY checkpoints.size`);
    assert.ok(rows.length > 3, `${rows.length} checkpoints`);
    // Both logs signed checkpoints, and the storage refused one that came second (which log wins
    // each swap is the scheduler's: under load one may win them all, the other losing every one).
    assert.ok(saves.a.won + saves.a.lost > 0 && saves.b.won + saves.b.lost > 0, JSON.stringify(saves));
    assert.ok(saves.a.lost + saves.b.lost > 0, `no swap was refused: ${JSON.stringify(saves)}`);
    assert.equal(saves.a.won + saves.b.won, rows.length);
    t.diagnostic(`${total} entries, ${rows.length} checkpoints; compare-and-swap won/lost: ${JSON.stringify(saves)}`);
    const sizes = rows.map((row: { size: string }) => Number(row.size));
    assert.equal(new Set(sizes).size, sizes.length);
    assert.equal(sizes[sizes.length - 1], total);
    const verifier = noteVerifier(ORIGIN, key.publicKey);
    const read = reader(storage);
    let previous: { size: number; rootHash: Uint8Array } | undefined;
    for (const row of rows as Array<{ size: string; note: string }>) {
      const checkpoint = parseCheckpoint((await verifyNote(row.note, [verifier])).text);
      assert.equal(checkpoint.size, Number(row.size));
      assert.equal(hex(checkpoint.rootHash), hex(await rootFromTiles(checkpoint.size, read)));
      if (previous !== undefined && previous.size > 0) {
        assert.ok(checkpoint.size > previous.size);
        const proof = await consistencyProofFromTiles(previous.size, checkpoint.size, read);
        assert.equal(verifyConsistency(previous.size, checkpoint.size, proof, previous.rootHash, checkpoint.rootHash), true, `${previous.size} -> ${checkpoint.size}`);
      }
      previous = checkpoint;
    }
  } finally {
    await storage.close();
  }
});

/** `runprint serve` on a PostgreSQL database; resolves once it listens and its log is open. */
async function serve(data: string, args: string[]): Promise<{ base: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--data', data, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const listening = /listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr);
      if (listening !== null && /runprint: log .*\n/.test(stderr)) resolve(listening[1]!);
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

test('two runprint serve processes on one PostgreSQL database: submissions over both, one checkpoint, every entry provable on each', async () => {
  const { url } = await freshSchema();
  const folder = await mkdtemp(join(tmpdir(), 'runprint-pg-serve-'));
  folders.push(folder);
  const keyFile = join(folder, 'log-key.pem');
  await writeFile(keyFile, (await generateKeyFiles('localhost/runprint')).privateKeyPem, { mode: 0o600 });
  const token = 'pg-test-token-0123456789';
  const args = ['--log-db', url, '--log-key', keyFile, '--log-token', token];
  const servers = await Promise.all([serve(join(folder, 'one'), args), serve(join(folder, 'two'), args)]);
  try {
    const count = 400;
    const bodies = Array.from({ length: count }, (_, n) =>
      JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }),
    );
    const indexes: number[] = new Array(count);
    // 40 requests at a time, alternating between the two servers.
    for (let from = 0; from < count; from += 40) {
      await Promise.all(
        bodies.slice(from, from + 40).map(async (body, i) => {
          const n = from + i;
          const response = await fetch(`${servers[n % 2]!.base}/v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
          assert.equal(response.status, 201);
          const answer = await response.json();
          assert.deepEqual(decodeBase64(answer.leafHash), hashLeaf(new TextEncoder().encode(body)));
          indexes[n] = answer.index;
        }),
      );
    }
    assert.deepEqual([...indexes].sort((x, y) => x - y), Array.from({ length: count }, (_, n) => n));
    // The same entry sent to the other server: the same index.
    const again = await fetch(`${servers[1]!.base}/v1/log/entries`, { method: 'POST', body: bodies[0]!, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).index, indexes[0]);

    // Both serve the checkpoint of all entries, the second within a second of the first.
    const seen: number[] = [];
    const started = Date.now();
    const notes: string[] = [];
    await Promise.all(
      servers.map(async (server, i) => {
        while (Date.now() - started < 10_000) {
          const note = await (await fetch(`${server.base}/checkpoint`)).text();
          if (note.startsWith(`localhost/runprint\n${count}\n`)) {
            seen[i] = Date.now();
            notes[i] = note;
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    assert.equal(seen.length, 2, 'both servers reach the full checkpoint');
    assert.ok(Math.abs(seen[0]! - seen[1]!) <= 1000, `servers agree within ${Math.abs(seen[0]! - seen[1]!)} ms`);
    assert.equal(notes[0], notes[1]);
    const verifierKey = (await (await fetch(`${servers[0]!.base}/v1/log/key`)).text()).trim();
    assert.equal((await (await fetch(`${servers[1]!.base}/v1/log/key`)).text()).trim(), verifierKey);
    const { parseNoteVerifier } = await import('../src/log/note-keys.ts');
    const checkpoint = parseCheckpoint((await verifyNote(notes[0]!, [await parseNoteVerifier(verifierKey)])).text);

    for (const server of servers) {
      for (let from = 0; from < count; from += 50) {
        await Promise.all(
          bodies.slice(from, from + 50).map(async (body, i) => {
            const n = from + i;
            const response = await fetch(`${server.base}/v1/log/proof?index=${indexes[n]}&size=${count}`);
            assert.equal(response.status, 200);
            const proof = await response.json();
            const leaf = hashLeaf(new TextEncoder().encode(body));
            assert.deepEqual(decodeBase64(proof.leafHash), leaf);
            assert.equal(verifyInclusion(leaf, indexes[n]!, count, proof.proof.map(decodeBase64), checkpoint.rootHash), true);
          }),
        );
      }
    }
  } finally {
    const codes = await Promise.all(servers.map((server) => server.stop()));
    assert.deepEqual(codes, [0, 0]);
  }
});
