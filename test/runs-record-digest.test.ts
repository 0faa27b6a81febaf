/**
 * A stored run's record is checked against its row's record_digest (the hex SHA-256 of the
 * record's canonical JSON, as runToStore names it) wherever the run store reads it: a record whose
 * text changed (a byte of a page that SQLite and quick_check read without an error, simulated here
 * by an UPDATE of the record column that leaves record_digest as it was) is ERR_STORE_CORRUPT
 * naming the store and the run's seq, never a wrong record. The CLI exits 3 with one line; HTTP
 * answers the code's status (500) with a message naming no file or database. The same in
 * PostgreSQL, where a record or identity document that is not JSON is ERR_STORE_CORRUPT too (it was
 * ERR_INTERNAL). Undamaged records read as before, whatever characters they hold.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { createApp } from '../src/server/app.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, recordTextMatches, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-runs-record-digest-');
let pgs: PgSchemas;
before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'RUNPRINT_DATA']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  scratch.removeAll();
  await pgs.drop();
});

/** `text` matched as it is in a regular expression. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Three runs, the second with characters beyond ASCII and a NUL (escaped in its JSON), as capture stores them. */
function threeRuns(): RunToStore[] {
  return ['Name a colour.', 'Wie heißt der Fluss? 川 🌊 \u0000 \u2028', 'Name a river.'].map((question) => {
    const { run, bytes } = chatRun(question);
    return runToStore(run, bytes, defaultContentPolicy(), 'proxy', true);
  });
}

/** The record text of `run` with one value changed, still JSON: the answer's status 200 made 201. */
function altered(run: RunToStore): string {
  assert.ok(run.recordJson.includes('"status":200'));
  const text = run.recordJson.replace('"status":200', '"status":201');
  JSON.parse(text);
  return text;
}

/** The commands that read a run's record, each on `where` (--data DIR or --runs-db URL); `ids` the stored runs' capture ids, oldest first. */
const readingCommands = (where: string[], ids: string[]): string[][] => [
  ['runs', 'list', ...where],
  ['runs', 'list', '--json', ...where],
  ['runs', 'show', ids[1]!, ...where],
  ['runs', 'diff', ids[0]!, ids[1]!, ...where],
  ['runs', 'group', '--by', 'request', ...where],
];

/** Answers of the run routes of `storage`: status and body of each. */
async function routes(storage: RunStorage, ids: string[]): Promise<Array<{ route: string; status: number; body: string }>> {
  const app = createApp({ runs: { storage } });
  const answers = [];
  for (const route of ['/v1/runs', `/v1/runs/${ids[1]!}`, '/v1/runs/groups?by=request']) {
    const response = await app.request(route);
    answers.push({ route, status: response.status, body: await response.text() });
  }
  return answers;
}

test('recordTextMatches gives the record digest runToStore names a record with, whatever its characters', () => {
  for (const run of threeRuns()) {
    assert.ok(recordTextMatches(run.recordJson, run.recordDigest));
    assert.ok(!recordTextMatches(altered(run), run.recordDigest));
  }
});

test('SQLite: a run whose record text changed (its record_digest as it was) makes runs list, show, diff and group ERR_STORE_CORRUPT naming the file and the run, exit 3, and the run routes 500 without the path', async () => {
  const data = scratch.tempDir();
  const path = join(data, 'runs.sqlite');
  const runs = threeRuns();
  const ids = runs.map((run) => run.record.captureId);
  const store = SqliteRuns.open(path);
  try {
    await store.put(runs);
  } finally {
    await store.close();
  }
  // Undamaged: every command reads it.
  for (const argv of readingCommands(['--data', data], ids)) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, argv[1] === 'diff' ? 1 : 0, `${argv.join(' ')}: ${result.stderr}`);
  }
  const db = new DatabaseSync(path);
  let seq: number;
  try {
    seq = (db.prepare('SELECT seq FROM runs WHERE record_digest = ?').get(runs[1]!.recordDigest) as { seq: number }).seq;
    assert.equal(db.prepare('UPDATE runs SET record = ? WHERE seq = ?').run(altered(runs[1]!), seq).changes, 1);
  } finally {
    db.close();
  }
  const line = new RegExp(`^runprint: ERR_STORE_CORRUPT: run database ${literal(path)} holds a run \\(seq ${seq}\\) whose record does not give its record digest: it is damaged\\n$`);
  for (const argv of readingCommands(['--data', data], ids)) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, 3, `${argv.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', argv.join(' '));
    assert.match(result.stderr, line, argv.join(' '));
  }
  // A run whose record is as stored still shows.
  const other = await runCliInProcess(['runs', 'show', ids[2]!, '--data', data]);
  assert.equal(other.code, 0, other.stderr);
  const storage = SqliteRuns.openReader(path, { check: 'bounded' });
  try {
    for (const answer of await routes(storage, ids)) {
      assert.equal(answer.status, 500, answer.route);
      assert.deepEqual(JSON.parse(answer.body), { error: { code: 'ERR_STORE_CORRUPT', message: `run database holds a run (seq ${seq}) whose record does not give its record digest: it is damaged` } }, answer.route);
      assert.ok(!answer.body.includes(data), `${answer.route}: no path of the server`);
    }
    await assert.rejects(storage.find(ids[1]!), { code: 'ERR_STORE_CORRUPT', message: `run database ${path} holds a run (seq ${seq}) whose record does not give its record digest: it is damaged` });
    assert.equal((await storage.find(ids[0]!)).length, 1);
  } finally {
    await storage.close();
  }
});

test('SQLite: the store that writes checks what it reads back too (a run claimed to sign has the record its digest names; a damaged one is left out of a claim, the others are signed)', async () => {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  const runs = threeRuns();
  const store = SqliteRuns.open(path);
  try {
    await store.put(runs);
    assert.equal((await store.unsigned(10)).length, 3);
    const db = new DatabaseSync(path);
    try {
      db.prepare('UPDATE runs SET record = ? WHERE record_digest = ?').run(altered(runs[0]!), runs[0]!.recordDigest);
    } finally {
      db.close();
    }
    await assert.rejects(store.unsigned(10), { code: 'ERR_STORE_CORRUPT' });
    // A claim leaves the damaged run out, with its error, and gives the others: one damaged run
    // must not keep every run of its batch from being signed.
    const claimed = await store.claimUnsigned(10, 'signer', new Date(0).toISOString());
    assert.deepEqual(claimed.map((run) => run.recordDigest), [runs[1]!.recordDigest, runs[2]!.recordDigest]);
    assert.deepEqual(claimed.damaged?.map((error) => [error.code, error.message]), [['ERR_STORE_CORRUPT', `run database ${path} holds a run (seq 1) whose record does not give its record digest: it is damaged`]]);
  } finally {
    await store.close();
  }
  // A recorder's sweep signs the two others and reports the damaged one.
  const again = SqliteRuns.open(path);
  const reported: string[] = [];
  const dir = scratch.tempDir();
  const recorder = new RunRecorder({ storage: again, policy: defaultContentPolicy(), sign: { key: await receiptKey(dir, dir, undefined), runprintVersion: 'test' }, claimant: 'other-signer', claimStaleMs: 0, onFailure: (error) => void reported.push(error.code) });
  try {
    await recorder.signPending();
    const read = new DatabaseSync(path, { readOnly: true });
    const signed = (read.prepare('SELECT record_digest FROM runs WHERE receipt IS NOT NULL').all() as Array<{ record_digest: string }>).map((row) => row.record_digest);
    read.close();
    assert.deepEqual(signed.sort(), [runs[1]!.recordDigest, runs[2]!.recordDigest].sort());
    assert.ok(reported.includes('ERR_STORE_CORRUPT'), `reported: ${reported.join(', ')}`);
  } finally {
    await recorder.close();
  }
});

test('PostgreSQL: a run whose record text changed makes runs list, show, diff and group ERR_STORE_CORRUPT naming the database and the run, exit 3, and the run routes 500 naming neither', { timeout: 60_000 }, async () => {
  const { url, schema } = await pgs.fresh('runprint_record_digest');
  const runs = threeRuns();
  const ids = runs.map((run) => run.record.captureId);
  const store = await PostgresRuns.open(url);
  try {
    await store.put(runs);
  } finally {
    await store.close();
  }
  for (const argv of readingCommands(['--runs-db', url], ids)) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, argv[1] === 'diff' ? 1 : 0, `${argv.join(' ')}: ${result.stderr}`);
  }
  const seq = Number((await pgs.admin.query(`SELECT seq FROM ${schema}.runs WHERE record_digest = $1`, [runs[1]!.recordDigest])).rows[0].seq);
  assert.equal((await pgs.admin.query(`UPDATE ${schema}.runs SET record = $1 WHERE seq = $2`, [altered(runs[1]!), seq])).rowCount, 1);
  const named = `PostgreSQL run database postgres://127.0.0.1:5432/test (schema ${schema}) holds a run (seq ${seq}) whose record does not give its record digest: it is damaged`;
  for (const argv of readingCommands(['--runs-db', url], ids)) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, 3, `${argv.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', argv.join(' '));
    assert.equal(result.stderr, `runprint: ERR_STORE_CORRUPT: ${named}\n`, argv.join(' '));
  }
  const storage = await PostgresRuns.open(url, { readOnly: true });
  try {
    for (const answer of await routes(storage, ids)) {
      assert.equal(answer.status, 500, answer.route);
      assert.deepEqual(JSON.parse(answer.body), { error: { code: 'ERR_STORE_CORRUPT', message: `PostgreSQL run database holds a run (seq ${seq}) whose record does not give its record digest: it is damaged` } }, answer.route);
      assert.ok(!answer.body.includes(schema) && !answer.body.includes('5432'), `${answer.route}: no database of the server`);
    }
    assert.equal((await storage.find(ids[2]!)).length, 1);
  } finally {
    await storage.close();
  }
  // A claim to sign leaves the damaged run out, with its error, and gives the two others.
  const writer = await PostgresRuns.open(url);
  try {
    const claimed = await writer.claimUnsigned(10, 'signer', new Date(0).toISOString());
    assert.deepEqual(claimed.map((run) => run.recordDigest), [runs[0]!.recordDigest, runs[2]!.recordDigest]);
    assert.deepEqual(claimed.damaged?.map((error) => error.message), [named]);
  } finally {
    await writer.close();
  }
});

test('PostgreSQL: a record or identity document that is not JSON is ERR_STORE_CORRUPT naming the run, exit 3 (not ERR_INTERNAL)', { timeout: 60_000 }, async () => {
  const { url, schema } = await pgs.fresh('runprint_record_digest');
  const runs = threeRuns();
  const store = await PostgresRuns.open(url);
  try {
    await store.put(runs);
  } finally {
    await store.close();
  }
  const seqOf = async (run: RunToStore) => Number((await pgs.admin.query(`SELECT seq FROM ${schema}.runs WHERE record_digest = $1`, [run.recordDigest])).rows[0].seq);
  const first = await seqOf(runs[0]!);
  await pgs.admin.query(`UPDATE ${schema}.runs SET identity = replace(identity, ':', '#') WHERE seq = $1`, [first]);
  let result = await runCliInProcess(['runs', 'list', '--runs-db', url]);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.stderr, `runprint: ERR_STORE_CORRUPT: PostgreSQL run database postgres://127.0.0.1:5432/test (schema ${schema}) holds a run (seq ${first}) whose identity document is not JSON: it is damaged\n`);
  const third = await seqOf(runs[2]!);
  // A byte-level change: no index reads the record's JSON of a text that is not JSON on this path.
  await pgs.admin.query(`DROP INDEX IF EXISTS ${schema}.runs_ending, ${schema}.runs_format`);
  await pgs.admin.query(`UPDATE ${schema}.runs SET record = replace(record, '"times":{', '"times"#{') WHERE seq = $1`, [third]);
  result = await runCliInProcess(['runs', 'list', '--runs-db', url]);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.stderr, `runprint: ERR_STORE_CORRUPT: PostgreSQL run database postgres://127.0.0.1:5432/test (schema ${schema}) holds a run (seq ${third}) whose record is not JSON: it is damaged\n`);
});
