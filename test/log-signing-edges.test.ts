/**
 * The checkpoint signing path of the log service at its edges: what open() refuses in a stored
 * checkpoint, the publish timer (one per delay, retried after a failure, stopped by a refusal and
 * by close), the retry loop when another log service sharing the storage stores a checkpoint
 * first, re-reading a checkpoint another service signed (or one no service of this log signed),
 * and releasing the callers waiting for a checkpoint. Real SQLite files, often shared by two log
 * services; the storage is seen through a recorder that counts the calls the service makes and can
 * hold or fail them (as a lost connection or a slow disk would). Timers are node:test mock timers
 * where a test needs to say which publish ran when.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { LogError } from '../src/errors.ts';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../src/log/checkpoint.ts';
import { noteSigner, noteVerifier } from '../src/log/note-keys.ts';
import { signNote, verifyNote } from '../src/log/note.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { TransparencyLog, type Cosigner, type LogServiceOptions } from '../src/store/log-service.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import type { LogStorage } from '../src/store/storage.ts';

const ORIGIN = 'example.test/signing-edges';
const folders: string[] = [];
after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function newFile(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-signing-'));
  folders.push(folder);
  return join(folder, 'log.sqlite');
}

async function newKey(): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
}

const entry = (n: number | string) => new TextEncoder().encode(`entry ${n}`);

/** A deferred promise: settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * A SQLite storage seen through a recorder: every call is counted (and recorded when made after
 * close), `down` makes the named calls (or all) fail as an unreachable database does, and
 * `beforeSave` / `appendGate` run or wait before the real call.
 */
interface Recorder {
  storage: LogStorage;
  inner: SqliteLog;
  calls: Map<string, number>;
  afterClose: string[];
  down: 'all' | Set<string>;
  beforeSave: (() => Promise<void>) | undefined;
  appendGate: Promise<void> | undefined;
  count(name: string): number;
}

function record(path: string): Recorder {
  const inner = SqliteLog.open(path);
  let closed = false;
  const recorder: Recorder = {
    storage: undefined as unknown as LogStorage,
    inner,
    calls: new Map(),
    afterClose: [],
    down: new Set(),
    beforeSave: undefined,
    appendGate: undefined,
    count: (name) => recorder.calls.get(name) ?? 0,
  };
  recorder.storage = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return async (...args: unknown[]) => {
        recorder.calls.set(property, recorder.count(property) + 1);
        if (closed) recorder.afterClose.push(property);
        if (property === 'close') closed = true;
        if (property !== 'close' && (recorder.down === 'all' || recorder.down.has(property))) {
          throw new LogError('ERR_STORE_UNAVAILABLE', 'the test database is unreachable');
        }
        if (property === 'saveCheckpoint' && recorder.beforeSave !== undefined) await recorder.beforeSave();
        if (property === 'append' && recorder.appendGate !== undefined) await recorder.appendGate;
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as unknown as LogStorage;
  return recorder;
}

/** The checkpoints stored in the SQLite file, read with a connection of their own. */
function storedSizes(path: string): number[] {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare('SELECT size FROM checkpoints ORDER BY size').all() as Array<{ size: number }>).map((row) => row.size);
  } finally {
    db.close();
  }
}

function storedNote(path: string, size: number): string {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare('SELECT note FROM checkpoints WHERE size = ?').get(size) as { note: string }).note;
  } finally {
    db.close();
  }
}

function sql(path: string, statement: string, ...values: Array<string | number | Uint8Array>): void {
  const db = new DatabaseSync(path);
  try {
    db.prepare(statement).run(...values);
  } finally {
    db.close();
  }
}

async function checkpointOf(note: string, key: SigningKey): Promise<Checkpoint> {
  return parseCheckpoint((await verifyNote(note, [noteVerifier(ORIGIN, key.publicKey)])).text);
}

/** Lets the real work in flight (SQLite calls, WebCrypto signing) finish: loops on setImmediate until `done` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!done()) {
    assert.ok(Date.now() - started < 10_000, `still waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A few turns of the event loop, real time, for work that should not happen. */
async function idle(ms = 150): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < ms) await new Promise((resolve) => setImmediate(resolve));
}

function open(storage: LogStorage, key: SigningKey, options: Partial<LogServiceOptions> = {}): Promise<TransparencyLog> {
  return TransparencyLog.open({ storage, origin: ORIGIN, key, ...options });
}

/** A log file with `count` entries under a signed checkpoint of all of them, closed. */
async function signedFile(count: number, key: SigningKey): Promise<string> {
  const path = await newFile();
  const log = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000 });
  await Promise.all(Array.from({ length: count }, (_, n) => log.append(entry(n))));
  await log.close();
  assert.equal(storedSizes(path).at(-1), count);
  return path;
}

test('open refuses a stored checkpoint whose size, root, origin, text or key is not what the log signed, and closes the storage', async () => {
  const key = await newKey();
  const path = await signedFile(10, key);
  const good = storedNote(path, 10);
  const signer = noteSigner(ORIGIN, key);
  const { rootHash } = await checkpointOf(good, key);

  // Damage is ERR_STORE_CORRUPT; a whole store signed by another key of this log's name is a
  // server given the wrong log key: ERR_LOG_CONFIG_MISMATCH, never "corrupt".
  const refusals: Array<[string, () => Promise<void> | void, string | RegExp, string?]> = [
    ['size column', () => sql(path, 'UPDATE checkpoints SET size = 11 WHERE size = 10'), 'stored checkpoint size does not match its note'],
    [
      'root',
      async () => sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', await signNote(formatCheckpoint({ origin: ORIGIN, size: 10, rootHash: new Uint8Array(32) }), signer)),
      'stored tree does not match the root hash of the last signed checkpoint',
    ],
    [
      'origin',
      async () => sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', await signNote(formatCheckpoint({ origin: 'another.test/log', size: 10, rootHash }), signer)),
      'last stored checkpoint has another origin',
    ],
    ['text', async () => sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', await signNote('a signed line that is no checkpoint\n', signer)), 'last stored checkpoint is not a checkpoint'],
    [
      'key',
      async () => sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', await signNote(formatCheckpoint({ origin: ORIGIN, size: 10, rootHash }), noteSigner(ORIGIN, await newKey()))),
      /^last stored checkpoint is not signed by this log's key: it is signed by another key of this log's name \(key ID [0-9a-f]{8}, this key's [0-9a-f]{8}\); every server sharing a log database needs the same log key/,
      'ERR_LOG_CONFIG_MISMATCH',
    ],
    [
      // Signed by this key under another name only: no signature of this log's name is damage, not another key.
      'name',
      async () => sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', await signNote(formatCheckpoint({ origin: ORIGIN, size: 10, rootHash }), noteSigner('another.test/log', key))),
      "last stored checkpoint is not signed by this log's key",
    ],
    [
      // This key's signature line, its signature bytes damaged: damage, not another key.
      'signature',
      () => {
        const at = good.lastIndexOf(' ') + 10;
        sql(path, 'UPDATE checkpoints SET note = ? WHERE size = 10', good.slice(0, at) + (good[at] === 'A' ? 'B' : 'A') + good.slice(at + 1));
      },
      "last stored checkpoint is not signed by this log's key",
    ],
  ];
  for (const [what, damage, message, code = 'ERR_STORE_CORRUPT'] of refusals) {
    await damage();
    const recorder = record(path);
    await assert.rejects(open(recorder.storage, key), { code, message }, what);
    assert.equal(recorder.count('close'), 1, `${what}: the storage is closed`);
    // Put the good checkpoint back: the next damage is then the only one.
    sql(path, 'DELETE FROM checkpoints WHERE size >= 10');
    sql(path, 'INSERT INTO checkpoints (size, note) VALUES (10, ?)', good);
  }
  const reopened = await open(SqliteLog.open(path), key);
  assert.deepEqual(await reopened.checkpoint(), { size: 10, note: good });
  await reopened.close();
});

test('open checks its arguments with messages that name them, and closes the storage it was given', async () => {
  const key = await newKey();
  await assert.rejects(TransparencyLog.open(null as unknown as LogServiceOptions), {
    name: 'TypeError',
    message: 'TransparencyLog.open options must be an object, not null',
  });
  const recorder = record(await newFile());
  await assert.rejects(TransparencyLog.open({ storage: recorder.storage, origin: ORIGIN, key: 'PEM text' as unknown as SigningKey }), {
    name: 'TypeError',
    message: 'TransparencyLog.open options.key must be a signing key object: parse the PEM text with parsePrivateKey first',
  });
  assert.equal(recorder.count('close'), 1);
  const other = record(await newFile());
  await assert.rejects(TransparencyLog.open({ storage: other.storage, origin: 7 as unknown as string, key }), {
    name: 'TypeError',
    message: /^TransparencyLog\.open options\.origin /,
  });
  assert.equal(other.count('close'), 1);
});

test('a log with entries but no checkpoint gets the full hash check even when "tiles" is asked', async () => {
  const key = await newKey();
  const path = await newFile();
  const raw = SqliteLog.open(path);
  // As a process killed before its first checkpoint leaves them: stored, acknowledged, never signed.
  await raw.append(Array.from({ length: 5 }, (_, n) => ({ entry: entry(n), leafHash: leafHashOf(n) })));
  await raw.close();
  sql(path, 'UPDATE entries SET leaf_hash = ? WHERE idx = 3', new Uint8Array(32));
  await assert.rejects(open(SqliteLog.open(path), key, { check: 'tiles' }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored leaf hash of entry 3 does not match its entry',
  });
  sql(path, 'UPDATE entries SET leaf_hash = ? WHERE idx = 3', leafHashOf(3));
  const log = await open(SqliteLog.open(path), key, { check: 'tiles' });
  assert.equal((await log.checkpoint()).size, 5);
  assert.deepEqual(storedSizes(path), [5]);
  await log.close();
});

function leafHashOf(n: number): Uint8Array {
  return hashLeaf(entry(n));
}

test('an empty log is signed at open: a checkpoint of size 0', async () => {
  const key = await newKey();
  const path = await newFile();
  const log = await open(SqliteLog.open(path), key);
  const { size, note } = await log.checkpoint();
  assert.equal(size, 0);
  assert.equal((await checkpointOf(note, key)).size, 0);
  assert.deepEqual(storedSizes(path), [0]);
  await log.close();
  // The log's name is kept under the meta key "origin", which every later open compares.
  const db = new DatabaseSync(path);
  assert.deepEqual({ ...(db.prepare('SELECT key, value FROM meta WHERE key = ?').get('origin') as object) }, { key: 'origin', value: ORIGIN });
  db.close();
});

test('a service that loses every race to store a checkpoint gives up after 5 attempts and serves the newest stored one', async () => {
  const key = await newKey();
  const path = await newFile();
  const a = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000 });
  const recorder = record(path);
  const b = await open(recorder.storage, key, { checkpointDelayMs: 1000, refreshMs: 60_000 });
  try {
    await b.append(entry('b'));
    // Each time b is about to store its checkpoint, a (the other process) stores a larger one
    // first, then stores one more entry: b always has something to sign, and always loses.
    let n = 0;
    recorder.beforeSave = async () => {
      await a.append(entry(`a ${n++}`));
      await a.publishCheckpoint();
      await a.append(entry(`a ${n++}`));
    };
    await b.publishCheckpoint();
    assert.equal(recorder.count('saveCheckpoint'), 5);
    assert.deepEqual(storedSizes(path), [0, 2, 4, 6, 8, 10]);
    // b read a's checkpoint of size 8 before its last attempt; it never serves one of its own that was not stored.
    assert.deepEqual(await b.checkpoint(), { size: 8, note: storedNote(path, 8) });
  } finally {
    recorder.beforeSave = undefined;
    await b.close();
    await a.close();
  }
});

test('a lost race to store a checkpoint: the loser serves the winner\'s checkpoint, then signs on top of it', async () => {
  const key = await newKey();
  const path = await newFile();
  const a = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000 });
  const recorder = record(path);
  const b = await open(recorder.storage, key, { checkpointDelayMs: 1000, refreshMs: 60_000 });
  try {
    await Promise.all([0, 1, 2, 3, 4].map((n) => b.append(entry(`b ${n}`))));
    let lost = false;
    recorder.beforeSave = async () => {
      if (lost) return;
      lost = true;
      await Promise.all([0, 1].map((n) => a.append(entry(`a ${n}`))));
      await a.publishCheckpoint();
    };
    await b.publishCheckpoint();
    assert.equal(recorder.count('saveCheckpoint'), 1);
    assert.deepEqual(storedSizes(path), [0, 7]);
    assert.deepEqual(await b.checkpoint(), { size: 7, note: storedNote(path, 7) });

    // Once more, with an entry stored after a's checkpoint: b's second attempt wins, over a's checkpoint.
    lost = false;
    recorder.beforeSave = async () => {
      if (lost) return;
      lost = true;
      await a.append(entry('a 2'));
      await a.publishCheckpoint();
      await a.append(entry('a 3'));
    };
    await b.append(entry('b 5'));
    await b.publishCheckpoint();
    assert.equal(recorder.count('saveCheckpoint'), 3);
    assert.deepEqual(storedSizes(path), [0, 7, 9, 10]);
    const served = await b.checkpoint();
    assert.deepEqual(served, { size: 10, note: storedNote(path, 10) });
    assert.equal((await checkpointOf(served.note, key)).size, 10);
  } finally {
    recorder.beforeSave = undefined;
    await b.close();
    await a.close();
  }
});

test('a checkpoint another service signed is re-read and served, and waiting callers see it', async () => {
  const key = await newKey();
  const path = await newFile();
  const a = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000 });
  const b = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000, refreshMs: 20 });
  try {
    const { index } = await a.append(entry(0));
    const waiting = b.waitForCheckpoint(index, 5000);
    await a.publishCheckpoint();
    assert.equal(await waiting, true);
    assert.deepEqual(await b.checkpoint(), { size: 1, note: storedNote(path, 1) });
    // b signs the next one over a's, consistent with it.
    await b.append(entry(1));
    await b.publishCheckpoint();
    assert.deepEqual(storedSizes(path), [0, 1, 2]);
  } finally {
    await b.close();
    await a.close();
  }
});

test('a stored checkpoint this log did not sign stops the service that reads it: no more entries, the last verified one served', async () => {
  const key = await newKey();
  const path = await newFile();
  const log = await open(SqliteLog.open(path), key, { checkpointDelayMs: 1000, refreshMs: 60_000 });
  try {
    await log.append(entry(0));
    await log.publishCheckpoint();
    const verified = await log.checkpoint();
    // Another process with another key under the same name stores a larger checkpoint.
    const raw = SqliteLog.open(path);
    await raw.append([{ entry: entry(1), leafHash: leafHashOf(1) }]);
    await raw.close();
    const foreign = await signNote(formatCheckpoint({ origin: ORIGIN, size: 2, rootHash: new Uint8Array(32) }), noteSigner(ORIGIN, await newKey()));
    sql(path, 'INSERT INTO checkpoints (size, note) VALUES (2, ?)', foreign);
    await assert.rejects(log.publishCheckpoint(), { code: 'ERR_LOG_CONFIG_MISMATCH', message: /^last stored checkpoint is not signed by this log's key: it is signed by another key of this log's name/ });
    await assert.rejects(log.append(entry(2)), {
      code: 'ERR_STORE_CORRUPT',
      message: 'stored tree does not extend the last signed checkpoint; the log takes no entries',
    });
    assert.deepEqual(await log.checkpoint(), verified);
  } finally {
    await log.close();
  }
});

test('a checkpoint in hand is re-read from storage once per refreshMs, not on every request', async () => {
  const key = await newKey();
  const recorder = record(await newFile());
  const log = await open(recorder.storage, key, { refreshMs: 1000 });
  try {
    const reads = recorder.count('latestCheckpoint');
    await log.checkpoint();
    assert.equal(recorder.count('latestCheckpoint'), reads, 'fresh: not re-read');
    await new Promise((resolve) => setTimeout(resolve, 1050));
    await log.checkpoint();
    await log.checkpoint();
    await log.checkpoint();
    assert.equal(recorder.count('latestCheckpoint'), reads + 1, 'stale: re-read once, then fresh again');
  } finally {
    await log.close();
  }
});

test('a publish with nothing new signs nothing: the cosigner is not asked again', async () => {
  const key = await newKey();
  const path = await newFile();
  let asked = 0;
  const cosign: Cosigner = async ({ note }) => {
    asked++;
    return note;
  };
  const log = await open(SqliteLog.open(path), key, { cosign, checkpointDelayMs: 1000 });
  try {
    assert.equal(asked, 1, 'the empty log at open');
    await log.append(entry(0));
    await log.publishCheckpoint();
    assert.equal(asked, 2);
    await log.publishCheckpoint();
    await log.publishCheckpoint();
    assert.equal(asked, 2);
    assert.deepEqual(storedSizes(path), [0, 1]);
  } finally {
    await log.close();
  }
});

test('callers waiting for a checkpoint are released when one covers their entry, not before, and not by polling', async () => {
  const key = await newKey();
  // refreshMs of a minute: a waiter released within the test was released by the checkpoint itself.
  const log = await open(SqliteLog.open(await newFile()), key, { checkpointDelayMs: 1000, refreshMs: 60_000 });
  const released: number[] = [];
  const wait = (index: number) => log.waitForCheckpoint(index, 50_000).then((covered) => (released.push(index), covered));
  try {
    await log.append(entry(0));
    const first = wait(0);
    const second = wait(1);
    await log.publishCheckpoint();
    assert.equal(await first, true);
    await idle(50);
    assert.deepEqual(released, [0], 'entry 1 is not covered by the checkpoint of size 1');
    await log.append(entry(1));
    await log.publishCheckpoint();
    await until(() => released.length === 2, 'the waiter of entry 1');
    assert.equal(await second, true);
  } finally {
    await log.close();
  }
});

test('the publish timer: one publish per delay, a new one for entries stored after it fired', async (t) => {
  const key = await newKey();
  const path = await newFile();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const log = await open(SqliteLog.open(path), key, { checkpointDelayMs: 100, refreshMs: 60_000 });
  try {
    await log.append(entry(0));
    t.mock.timers.tick(50);
    await log.append(entry(1));
    t.mock.timers.tick(50);
    await until(() => storedSizes(path).at(-1) === 2, 'the checkpoint of both entries');
    await idle();
    await log.append(entry(2));
    // 60 ms after the first publish: within the new delay, nothing is signed yet.
    t.mock.timers.tick(60);
    await idle();
    assert.deepEqual(storedSizes(path), [0, 2]);
    t.mock.timers.tick(40);
    await until(() => storedSizes(path).at(-1) === 3, 'the checkpoint of entry 2');
  } finally {
    await log.close();
  }
});

test('the publish timer tries again while entries wait, after a failed store and after an outage', async (t) => {
  const key = await newKey();
  const path = await newFile();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const recorder = record(path);
  const log = await open(recorder.storage, key, { checkpointDelayMs: 100, refreshMs: 60_000 });
  try {
    // The checkpoint cannot be stored: the publish fails, the timer tries again a delay later.
    recorder.down = new Set(['saveCheckpoint']);
    await log.append(entry(0));
    t.mock.timers.tick(100);
    await until(() => recorder.count('saveCheckpoint') === 2 && recorder.count('size') >= 3, 'the failed publish');
    await idle();
    recorder.down = new Set();
    t.mock.timers.tick(100);
    await until(() => storedSizes(path).at(-1) === 1, 'the retried checkpoint');

    // The whole database is unreachable, even for the check of what waits: tried again all the same.
    recorder.down = 'all';
    await log.append(entry(1)).catch(() => undefined);
    recorder.down = new Set();
    await log.append(entry(1));
    recorder.down = 'all';
    const failures = recorder.count('latestCheckpoint');
    t.mock.timers.tick(100);
    await until(() => recorder.count('latestCheckpoint') > failures && recorder.count('size') > 0, 'the publish in the outage');
    await idle();
    recorder.down = new Set();
    t.mock.timers.tick(100);
    await until(() => storedSizes(path).at(-1) === 2, 'the checkpoint after the outage');

    // Nothing waits: the timer stops (no re-reading the storage every delay).
    await idle();
    const reads = recorder.count('latestCheckpoint') + recorder.count('size');
    for (let i = 0; i < 5; i++) {
      t.mock.timers.tick(100);
      await idle(30);
    }
    assert.equal(recorder.count('latestCheckpoint') + recorder.count('size'), reads);
  } finally {
    await log.close();
  }
});

test('after close the log neither publishes nor touches the storage', async (t) => {
  const key = await newKey();
  const path = await newFile();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const recorder = record(path);
  const log = await open(recorder.storage, key, { checkpointDelayMs: 100 });
  await log.append(entry(0));
  await log.close();
  assert.deepEqual(storedSizes(path), [0, 1], 'close signs what was pending');
  await log.publishCheckpoint();
  t.mock.timers.tick(1000);
  await idle();
  assert.deepEqual(recorder.afterClose, []);
  await assert.rejects(log.append(entry(1)), { code: 'ERR_STORE_UNAVAILABLE', message: 'the log is closed' });
});

test('after a refusal to sign, an entry stored meanwhile starts no publish timer, even when the storage looks right again', async (t) => {
  const key = await newKey();
  const path = await newFile();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const recorder = record(path);
  const log = await open(recorder.storage, key, { checkpointDelayMs: 100, refreshMs: 60_000 });
  try {
    await Promise.all(Array.from({ length: 8 }, (_, n) => log.append(entry(n))));
    t.mock.timers.tick(100);
    await until(() => storedSizes(path).at(-1) === 8, 'the checkpoint of 8');
    await idle();
    // History rewritten under the log, and one more entry stored by another process.
    sql(path, 'UPDATE entries SET leaf_hash = ? WHERE idx = 2', new Uint8Array(32));
    const raw = SqliteLog.open(path);
    await raw.append([{ entry: entry(8), leafHash: leafHashOf(8) }]);
    await raw.close();
    // An append accepted before the refusal, stored after it.
    const gate = deferred();
    recorder.appendGate = gate.promise;
    const late = log.append(entry(9));
    await until(() => recorder.count('append') === 2, 'the held append');
    await assert.rejects(log.publishCheckpoint(), { code: 'ERR_LOG_INCONSISTENT' });
    sql(path, 'UPDATE entries SET leaf_hash = ? WHERE idx = 2', leafHashOf(2));
    gate.resolve();
    recorder.appendGate = undefined;
    assert.equal((await late).index, 9);
    t.mock.timers.tick(1000);
    await idle();
    assert.deepEqual(storedSizes(path), [0, 8]);
  } finally {
    await log.close();
  }
});

test('a publish asked for while the log closes stores nothing once close() has begun to close the storage', async () => {
  const key = await newKey();
  const path = await newFile();
  const recorder = record(path);
  const log = await open(recorder.storage, key, { checkpointDelayMs: 1000, refreshMs: 60_000 });
  await log.append(entry(0));
  await log.publishCheckpoint();
  await log.append(entry(1));
  // Closing a storage can take a while (a connection pool lets its queries end first): held here.
  const closeGate = deferred();
  const inner = recorder.inner;
  const realClose = inner.close.bind(inner);
  inner.close = async () => {
    await closeGate.promise;
    await realClose();
  };
  // While close() publishes entry 1, entry 2 is stored, and a publish is asked for behind it.
  let late: Promise<void> | undefined;
  recorder.beforeSave = async () => {
    recorder.beforeSave = undefined;
    await log.append(entry(2));
    late = log.publishCheckpoint();
  };
  const closing = log.close();
  await until(() => late !== undefined && recorder.count('close') === 1, 'close() to reach the storage');
  await late;
  closeGate.resolve();
  await closing;
  // Close signed what was pending when it began; the publish behind it signed nothing after close.
  assert.deepEqual(storedSizes(path), [0, 1, 2]);
});
