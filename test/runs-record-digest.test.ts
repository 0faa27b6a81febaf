/**
 * A stored run's record is checked against its row's record_digest (the hex SHA-256 of the
 * record's canonical JSON, as runToStore names it) wherever the run store reads it: a record whose
 * text changed (a byte of a page that SQLite and quick_check read without an error, simulated here
 * by an UPDATE of the record column that leaves record_digest as it was) is ERR_STORE_CORRUPT
 * naming the store and the run's seq, never a wrong record. The CLI exits 3 with one line; HTTP
 * answers the code's status (500) with a message naming no file or database. The same in
 * PostgreSQL, where a record or identity document that is not JSON is ERR_STORE_CORRUPT too (it was
 * ERR_INTERNAL). Undamaged records read as before, whatever characters they hold.
 *
 * The identity document has no stored digest: it is checked against the record's identities and
 * its own derivations (identityGivesItsIdentities), so one altered in place (a component digest,
 * an element count, the request identity, a served fact; an element digest where one run is read)
 * is ERR_STORE_CORRUPT naming the run too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { createApp } from '../src/server/app.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, identityGivesItsIdentities, recordTextMatches, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
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

/** Puts `runs` in `store` and closes it; then every reading command on `where` reads them (diff: they differ, exit 1). */
async function storedAndRead(store: RunStorage, runs: RunToStore[], where: string[]): Promise<void> {
  try {
    await store.put(runs);
  } finally {
    await store.close();
  }
  for (const argv of readingCommands(where, runs.map((run) => run.record.captureId))) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, argv[1] === 'diff' ? 1 : 0, `${argv.join(' ')}: ${result.stderr}`);
  }
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
  // Undamaged: every command reads it.
  await storedAndRead(SqliteRuns.open(path), runs, ['--data', data]);
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
    const db = new DatabaseSync(path);
    try {
      db.prepare('UPDATE runs SET record = ? WHERE record_digest = ?').run(altered(runs[0]!), runs[0]!.recordDigest);
    } finally {
      db.close();
    }
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
  await storedAndRead(await PostgresRuns.open(url), runs, ['--runs-db', url]);
  const seq = Number((await pgs.admin.query(`SELECT seq FROM ${schema}.runs WHERE record_digest = $1`, [runs[1]!.recordDigest])).rows[0].seq);
  assert.equal((await pgs.admin.query(`UPDATE ${schema}.runs SET record = $1 WHERE seq = $2`, [altered(runs[1]!), seq])).rowCount, 1);
  await damagedOnPostgres({ url, schema, runs, ids, seq, why: 'record does not give its record digest', commands: readingCommands(['--runs-db', url], ids), allRoutes: true, label: 'record' });
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

/** `hex` with its last digit changed (one byte of the stored text). */
const flipped = (hex: string): string => hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');

/**
 * Alterations of a stored identity document in place, each of one value (a byte or two of its
 * text), still JSON; `list` says whether a read of a page of runs (runs list, GET /v1/runs) finds
 * it, not only a read of one run.
 */
const IDENTITY_DAMAGE: Array<{ what: string; list: boolean; alter: (doc: any) => void }> = [
  { what: 'a component digest', list: true, alter: (doc) => void (doc.components.parameters.digest.sha256 = flipped(doc.components.parameters.digest.sha256)) },
  { what: 'an element count', list: true, alter: (doc) => void (doc.components.input.count += 1) },
  { what: 'a list root', list: true, alter: (doc) => void (doc.components.input.root.sha256 = flipped(doc.components.input.root.sha256)) },
  { what: 'the request identity', list: true, alter: (doc) => void (doc.requestId = flipped(doc.requestId)) },
  { what: 'the run identity', list: true, alter: (doc) => void (doc.runId = flipped(doc.runId)) },
  { what: 'a served fact', list: true, alter: (doc) => void (doc.served.facts.systemFingerprint.value = 'fp_2') },
  { what: 'the served digest', list: true, alter: (doc) => void (doc.served.digest.sha256 = flipped(doc.served.digest.sha256)) },
  { what: "a one-element list's element digest", list: true, alter: (doc) => void (doc.components.input.elements[0].sha256 = flipped(doc.components.input.elements[0].sha256)) },
  { what: "a two-element list's element digest", list: false, alter: (doc) => void (doc.components.input.elements[1].sha256 = flipped(doc.components.input.elements[1].sha256)) },
  { what: 'an element digest spelt in capitals', list: true, alter: (doc) => void (doc.components.input.elements[1].sha256 = doc.components.input.elements[1].sha256.toUpperCase()) },
];

/** Three chat completions runs as capture stores them, each asking two user messages (an input list of two elements). */
function twoMessageRuns(): RunToStore[] {
  return ['colour', 'river', 'mountain'].map((thing) => {
    const started = Date.now();
    const requestBytes = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Name a ${thing}.` }, { role: 'user', content: 'And say why.' }] }));
    const responseBytes = new TextEncoder().encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `A ${thing}.` } }] }));
    const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
    return runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
  });
}

/** The stored text of `run`'s identity document with `alter` applied: still JSON, one value changed. */
function alteredIdentity(run: RunToStore, alter: (doc: any) => void): string {
  const text = JSON.stringify(run.identity);
  const doc = JSON.parse(text);
  alter(doc);
  const changed = JSON.stringify(doc);
  assert.notEqual(changed, text);
  return changed;
}

/** `doc` without the input list's element digests. */
function withoutElements(doc: any): unknown {
  if (typeof doc?.components?.input !== 'object' || doc.components.input === null) return doc;
  return { ...doc, components: { ...doc.components, input: { ...doc.components.input, elements: null } } };
}

test('identityGivesItsIdentities: an undamaged document gives its identities; each alteration of one value is found (an element digest of a longer list only with roots)', () => {
  for (const run of [...threeRuns(), ...twoMessageRuns()]) {
    assert.ok(identityGivesItsIdentities(run.identity!, run.record, false));
    assert.ok(identityGivesItsIdentities(run.identity!, run.record, true));
  }
  const run = twoMessageRuns()[0]!;
  const single = threeRuns()[0]!;
  for (const damage of IDENTITY_DAMAGE) {
    // The one-element case on a run whose input is one message; the others on two.
    const target = damage.what.startsWith("a one-element") ? single : run;
    const doc = JSON.parse(alteredIdentity(target, damage.alter));
    assert.equal(identityGivesItsIdentities(doc, target.record, true), false, damage.what);
    assert.equal(identityGivesItsIdentities(doc, target.record, false), !damage.list, damage.what);
  }
  // Served facts that are not served facts, excluded names that are not names, a document that is not one.
  for (const alter of [(doc: any) => void (doc.served.facts.model = 'gpt-4o'), (doc: any) => void (doc.excluded = [1]), (doc: any) => void delete doc.components.tools, (doc: any) => void (doc.version = 'runprint/v2'), (doc: any) => void (doc.served = null)]) {
    assert.equal(identityGivesItsIdentities(JSON.parse(alteredIdentity(run, alter)), run.record, true), false, alter.toString());
  }
  assert.equal(identityGivesItsIdentities(null as never, run.record, true), false);
  assert.equal(identityGivesItsIdentities([] as never, run.record, true), false);
});

test('identityGivesItsIdentities: every change of one character of a stored identity document that still parses to another document is found with roots, and without them but in an element digest of a list of two or more', () => {
  const run = twoMessageRuns()[1]!;
  const text = JSON.stringify(run.identity);
  let changes = 0;
  let unnoticed = 0;
  for (let index = 0; index < text.length; index++) {
    for (const code of [text.charCodeAt(index) + 1, text.charCodeAt(index) - 1, 0x30, 0x61, 0x41]) {
      const changed = text.slice(0, index) + String.fromCharCode(code) + text.slice(index + 1);
      if (changed === text) continue;
      let doc: any;
      try {
        doc = JSON.parse(changed);
      } catch {
        continue;
      }
      // The same document (a change that JSON.parse undoes) is no damage.
      if (JSON.stringify(doc) === text) continue;
      changes++;
      assert.equal(identityGivesItsIdentities(doc, run.record, true), false, changed);
      // Without roots, only a change among the input's two element digests may pass.
      if (JSON.stringify(withoutElements(doc)) !== JSON.stringify(withoutElements(JSON.parse(text)))) assert.equal(identityGivesItsIdentities(doc, run.record, false), false, changed);
      else if (!/^[0-9a-f]{64}$/.test(doc.components.input.elements[0]?.sha256) || !/^[0-9a-f]{64}$/.test(doc.components.input.elements[1]?.sha256)) assert.equal(identityGivesItsIdentities(doc, run.record, false), false, changed);
      else unnoticed++;
    }
  }
  assert.ok(changes > 1000, `${changes} changes`);
  // The hex digits changed to another in the 128 digits of the two element digests.
  assert.ok(unnoticed > 0 && unnoticed <= 2 * 128 * 3, `${unnoticed} unnoticed without roots`);
});

/** Stores `runs` in a SQLite run store at `path`; the seq of `runs[index]`, whose identity text is then `identity`. */
async function sqliteWithIdentity(path: string, runs: RunToStore[], index: number, identity: string): Promise<number> {
  const store = SqliteRuns.open(path);
  try {
    await store.put(runs);
  } finally {
    await store.close();
  }
  const db = new DatabaseSync(path);
  try {
    const seq = (db.prepare('SELECT seq FROM runs WHERE record_digest = ?').get(runs[index]!.recordDigest) as { seq: number }).seq;
    assert.equal(db.prepare('UPDATE runs SET identity = ? WHERE seq = ?').run(identity, seq).changes, 1);
    return seq;
  } finally {
    db.close();
  }
}

test('SQLite: a run whose identity document was altered in place (a component digest, an element count, the request identity, a served fact) makes runs list, show, diff and group ERR_STORE_CORRUPT naming the file and the run, exit 3, and the run routes 500 without the path', async () => {
  for (const damage of IDENTITY_DAMAGE.filter((damage) => damage.list && !damage.what.startsWith('a one-element'))) {
    const data = scratch.tempDir();
    const path = join(data, 'runs.sqlite');
    const runs = twoMessageRuns();
    const ids = runs.map((run) => run.record.captureId);
    const seq = await sqliteWithIdentity(path, runs, 1, alteredIdentity(runs[1]!, damage.alter));
    const line = `runprint: ERR_STORE_CORRUPT: run database ${path} holds a run (seq ${seq}) whose identity document does not give its identities: it is damaged\n`;
    for (const argv of readingCommands(['--data', data], ids)) {
      const result = await runCliInProcess(argv);
      assert.equal(result.code, 3, `${damage.what}: ${argv.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '', argv.join(' '));
      assert.equal(result.stderr, line, `${damage.what}: ${argv.join(' ')}`);
    }
    // The runs whose documents are as stored still show.
    const other = await runCliInProcess(['runs', 'show', ids[2]!, '--data', data]);
    assert.equal(other.code, 0, other.stderr);
    const storage = SqliteRuns.openReader(path, { check: 'bounded' });
    try {
      for (const answer of await routes(storage, ids)) {
        assert.equal(answer.status, 500, `${damage.what}: ${answer.route}`);
        assert.deepEqual(JSON.parse(answer.body), { error: { code: 'ERR_STORE_CORRUPT', message: `run database holds a run (seq ${seq}) whose identity document does not give its identities: it is damaged` } }, answer.route);
        assert.ok(!answer.body.includes(data), `${answer.route}: no path of the server`);
      }
    } finally {
      await storage.close();
    }
  }
});

test('SQLite: an element digest of a list of two altered in place is found where one run is read (runs show, diff, GET /v1/runs/ID) and where runs are claimed to be signed, not by a page of runs', async () => {
  const data = scratch.tempDir();
  const path = join(data, 'runs.sqlite');
  const runs = twoMessageRuns();
  const ids = runs.map((run) => run.record.captureId);
  const damage = IDENTITY_DAMAGE.find((damage) => !damage.list)!;
  const seq = await sqliteWithIdentity(path, runs, 1, alteredIdentity(runs[1]!, damage.alter));
  const line = `runprint: ERR_STORE_CORRUPT: run database ${path} holds a run (seq ${seq}) whose identity document does not give its identities: it is damaged\n`;
  for (const argv of [['runs', 'show', ids[1]!], ['runs', 'diff', ids[0]!, ids[1]!]]) {
    const result = await runCliInProcess([...argv, '--data', data]);
    assert.equal(result.code, 3, `${argv.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr, line, argv.join(' '));
  }
  assert.equal((await runCliInProcess(['runs', 'list', '--data', data])).code, 0);
  const storage = SqliteRuns.openReader(path, { check: 'bounded' });
  try {
    const answer = await createApp({ runs: { storage } }).request(`/v1/runs/${ids[1]!}`);
    assert.equal(answer.status, 500);
    assert.deepEqual(await answer.json(), { error: { code: 'ERR_STORE_CORRUPT', message: `run database holds a run (seq ${seq}) whose identity document does not give its identities: it is damaged` } });
  } finally {
    await storage.close();
  }
  const store = SqliteRuns.open(path);
  try {
    const claimed = await store.claimUnsigned(10, 'signer', new Date(0).toISOString());
    assert.deepEqual(claimed.map((run) => run.recordDigest), [runs[0]!.recordDigest, runs[2]!.recordDigest]);
    assert.deepEqual(claimed.damaged?.map((error) => error.message), [`run database ${path} holds a run (seq ${seq}) whose identity document does not give its identities: it is damaged`]);
  } finally {
    await store.close();
  }
});

test('PostgreSQL: a run whose identity document was altered in place makes runs list and show ERR_STORE_CORRUPT naming the database and the run, exit 3, and the run routes 500 naming neither; an element digest is found by show and a claim', { timeout: 60_000 }, async () => {
  for (const damage of IDENTITY_DAMAGE.filter((damage) => ['a component digest', 'an element count', 'the request identity', 'a served fact', "a two-element list's element digest"].includes(damage.what))) {
    const { url, schema } = await pgs.fresh('runprint_record_digest');
    const runs = twoMessageRuns();
    const ids = runs.map((run) => run.record.captureId);
    const store = await PostgresRuns.open(url);
    try {
      await store.put(runs);
    } finally {
      await store.close();
    }
    const seq = Number((await pgs.admin.query(`SELECT seq FROM ${schema}.runs WHERE record_digest = $1`, [runs[1]!.recordDigest])).rows[0].seq);
    assert.equal((await pgs.admin.query(`UPDATE ${schema}.runs SET identity = $1 WHERE seq = $2`, [alteredIdentity(runs[1]!, damage.alter), seq])).rowCount, 1);
    await damagedOnPostgres({ url, schema, runs, ids, seq, why: 'identity document does not give its identities', commands: damage.list ? readingCommands(['--runs-db', url], ids) : [['runs', 'show', ids[1]!, '--runs-db', url]], allRoutes: damage.list, label: damage.what });
  }
});

/**
 * What a PostgreSQL store whose second run (`seq`, runs[1]) is damaged (`why`) answers: each of
 * `commands` exits 3 with one line naming the database and the run; the run routes (`allRoutes`,
 * else the damaged run's own) 500 with a message naming neither; the third run is still found;
 * and a claim to sign gives the two others, the damaged one's error apart.
 */
async function damagedOnPostgres(o: { url: string; schema: string; runs: RunToStore[]; ids: string[]; seq: number; why: string; commands: string[][]; allRoutes: boolean; label: string }): Promise<void> {
  const { url, schema, runs, ids, seq, label } = o;
  const named = `PostgreSQL run database postgres://127.0.0.1:5432/test (schema ${schema}) holds a run (seq ${seq}) whose ${o.why}: it is damaged`;
  for (const argv of o.commands) {
    const result = await runCliInProcess(argv);
    assert.equal(result.code, 3, `${label}: ${argv.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', argv.join(' '));
    assert.equal(result.stderr, `runprint: ERR_STORE_CORRUPT: ${named}\n`, `${label}: ${argv.join(' ')}`);
  }
  const storage = await PostgresRuns.open(url, { readOnly: true });
  try {
    for (const answer of await routes(storage, ids)) {
      if (!o.allRoutes && answer.route !== `/v1/runs/${ids[1]!}`) continue;
      assert.equal(answer.status, 500, `${label}: ${answer.route}`);
      assert.deepEqual(JSON.parse(answer.body), { error: { code: 'ERR_STORE_CORRUPT', message: `PostgreSQL run database holds a run (seq ${seq}) whose ${o.why}: it is damaged` } }, answer.route);
      assert.ok(!answer.body.includes(schema) && !answer.body.includes('5432'), `${answer.route}: no database of the server`);
    }
    assert.equal((await storage.find(ids[2]!)).length, 1);
  } finally {
    await storage.close();
  }
  const writer = await PostgresRuns.open(url);
  try {
    const claimed = await writer.claimUnsigned(10, 'signer', new Date(0).toISOString());
    assert.deepEqual(claimed.map((run) => run.recordDigest), [runs[0]!.recordDigest, runs[2]!.recordDigest], label);
    assert.deepEqual(claimed.damaged?.map((error) => error.message), [named]);
  } finally {
    await writer.close();
  }
}
