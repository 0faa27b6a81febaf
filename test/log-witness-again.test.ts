/**
 * A checkpoint that lacks a witness's cosignature is asked again (docs/LOG.md 19.7, "Asked
 * again"): the storage's compare-and-swap of the latest note (SQLite, PostgreSQL), two logs on one
 * PostgreSQL schema adding each its witness's cosignature to the same checkpoint, and when the
 * asks again come and stop. Real witnesses and loopback HTTP servers; PostgreSQL is
 * RUNPRINT_TEST_PG, a fresh schema.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import pg from 'pg';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { verifyCosignatures } from '../src/log/cosignature.ts';
import { noteVerifier } from '../src/log/note-keys.ts';
import { formatNote, parseNote, verifyNote } from '../src/log/note.ts';
import { parseAddCheckpoint } from '../src/log/witness.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import { openSqliteLog, TransparencyLog, type Cosigner } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import type { LogStorage } from '../src/store/storage.ts';
import { witnessCollector } from '../src/store/witness-collector.ts';
import { newKey, removeFolders, startWitness, tempFile } from './helpers/witness-fixtures.ts';
import { closedPort } from './helpers/closed-port.ts';

const ORIGIN = 'example.test/asked-again';
const BASE = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
const schemas: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  await removeFolders();
});

async function schemaUrl(): Promise<string> {
  const schema = `runprint_again_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  const url = new URL(BASE);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

function entry(n: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, waitMs = 30_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`not within ${waitMs} ms: ${what}`);
    await sleep(25);
  }
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
  test(`${kind}: replaceCheckpointNote replaces the latest checkpoint's note only while it is the note given; of two replacing one note, one does`, async () => {
    let storages: LogStorage[];
    if (kind === 'SQLite') {
      const file = await tempFile('log.sqlite');
      storages = [SqliteLog.open(file), SqliteLog.open(file)];
    } else {
      const url = await schemaUrl();
      storages = [await PostgresLog.open(url), await PostgresLog.open(url)];
    }
    const [one, two] = storages as [LogStorage, LogStorage];
    try {
      assert.equal(await one.replaceCheckpointNote(0, 'a', 'b'), false, 'no checkpoint stored');
      assert.equal(await one.saveCheckpoint(-1, { size: 0, note: 'note 0' }), true);
      assert.equal(await one.replaceCheckpointNote(0, 'other', 'note 0 cosigned'), false, 'not the stored note');
      assert.equal(await one.replaceCheckpointNote(1, 'note 0', 'note 0 cosigned'), false, 'not the stored size');
      assert.deepEqual(await two.latestCheckpoint(), { size: 0, note: 'note 0' });
      // Two processes replacing the same note at once: exactly one does.
      const results = await Promise.all([one.replaceCheckpointNote(0, 'note 0', 'note 0 + w1'), two.replaceCheckpointNote(0, 'note 0', 'note 0 + w2')]);
      assert.deepEqual(results.filter(Boolean).length, 1, String(results));
      const winner = results[0] ? 'note 0 + w1' : 'note 0 + w2';
      assert.deepEqual(await two.latestCheckpoint(), { size: 0, note: winner });
      assert.equal(await two.replaceCheckpointNote(0, winner, `${winner} + more`), true);
      // Once a larger checkpoint is stored, the smaller one's note is no longer replaced.
      assert.equal(await one.saveCheckpoint(0, { size: 3, note: 'note 3' }), true);
      assert.equal(await one.replaceCheckpointNote(0, `${winner} + more`, 'late'), false);
      assert.deepEqual(await two.latestCheckpoint(), { size: 3, note: 'note 3' });
    } finally {
      for (const storage of storages) await storage.close();
    }
  });
}

/** A witness app on a real loopback server, started on `port` when asked (it is down until then). */
async function witnessOn(port: number, logKey: ReturnType<typeof noteVerifier>, name: string) {
  const witness = await startWitness([logKey], { key: await newKey(name) });
  closers.push(() => witness.close());
  return {
    witness,
    url: `http://127.0.0.1:${port}`,
    start: async (): Promise<Listening> => {
      const server = await listen(witness.app, { host: '127.0.0.1', port });
      closers.push(() => server.close());
      return server;
    },
  };
}

test('two logs on one PostgreSQL schema, each asking its own witness again for the same checkpoint: the one that stores second adds its cosignature to the note the first stored', async () => {
  const url = await schemaUrl();
  const key = await newKey(ORIGIN);
  const logKey = noteVerifier(ORIGIN, key.publicKey);
  const [w1, w2] = [await witnessOn(await closedPort(), logKey, 'w1'), await witnessOn(await closedPort(), logKey, 'w2')];
  // Same witness name in both fixtures: distinct keys, so two distinct cosigner keys (key IDs).
  assert.notEqual(w1.witness.verifier.keyHash, w2.witness.verifier.keyHash);

  const one = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key, cosign: witnessCollector([{ url: w1.url, verifier: w1.witness.verifier }]) });
  closers.push(() => one.close());
  await one.append(entry(0));
  await one.publishCheckpoint();
  const made = (await one.checkpoint()).note;
  assert.equal(parseNote(made).signatures.length, 1, 'both witnesses were down');

  // The second log asks its witness (w2) again; the cosignature in hand, it waits until the first
  // log stored w1's, so that its compare-and-swap on the note it read fails and it must add w2's to
  // the note stored meanwhile.
  const storageTwo = await PostgresLog.open(url);
  const replaced: boolean[] = [];
  const recording: LogStorage = new Proxy(storageTwo, {
    get(target, property) {
      if (property === 'replaceCheckpointNote') {
        return async (size: number, note: string, replacement: string) => {
          const done = await target.replaceCheckpointNote(size, note, replacement);
          replaced.push(done);
          return done;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const collectorTwo = witnessCollector([{ url: w2.url, verifier: w2.witness.verifier }]);
  let cosignedByW2!: () => void;
  const heldW2 = new Promise<void>((resolve) => (cosignedByW2 = resolve));
  const cosignTwo: Cosigner = Object.assign(
    async (signed: Parameters<Cosigner>[0], proof: Parameters<Cosigner>[1]) => {
      const note = await collectorTwo(signed, proof);
      if (signed.again === true && note !== signed.note) {
        cosignedByW2();
        await until('the first log stores w1\'s cosignature', async () => ((await storageTwo.latestCheckpoint())!.note !== signed.note ? true : undefined), 90_000);
      }
      return note;
    },
    { lacks: collectorTwo.lacks! },
  );
  // w2 is up from the start (the first log does not ask it); w1 comes up once the second log holds w2's cosignature.
  await w2.start();
  const two = await TransparencyLog.open({ storage: recording, origin: ORIGIN, key, cosign: cosignTwo });
  closers.push(() => two.close());
  let held = false;
  void heldW2.then(() => (held = true));
  await until('the second log asks w2 again', async () => (held ? true : undefined));
  await w1.start();

  const final = await until('both cosignatures stored', async () => {
    const note = (await storageTwo.latestCheckpoint())!.note;
    return parseNote(note).signatures.length === 3 ? note : undefined;
  }, 90_000);
  assert.equal(parseNote(final).text, parseNote(made).text);
  assert.deepEqual(parseNote(final).signatures[0], parseNote(made).signatures[0]);
  await verifyNote(final, [logKey]);
  assert.equal((await verifyCosignatures(final, [w1.witness.verifier])).length, 1);
  assert.equal((await verifyCosignatures(final, [w2.witness.verifier])).length, 1);
  // The second log's first compare-and-swap failed (the first log had replaced the note), the next one stored.
  assert.deepEqual(replaced, [false, true]);
  assert.equal((await two.checkpoint()).note, final);
  await until('the first log serves it', async () => ((await one.checkpoint()).note === final ? true : undefined), 5000);
});

test('asked again after 1 s, then 2 s, ..: only for the latest checkpoint (the log grew: the older one is not asked again), and not after close', async () => {
  const key = await newKey(ORIGIN);
  const witnessKey = await newKey('w');
  const { cosignatureVerifier } = await import('../src/log/cosignature.ts');
  // A witness that answers 503 to everything, recording the size of each checkpoint sent and when.
  const asks: Array<{ size: number; at: number }> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      asks.push({ size: parseAddCheckpoint(new Uint8Array(Buffer.concat(chunks))).checkpoint.size, at: performance.now() });
      response.writeHead(503);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const failures: string[] = [];
  const cosign = witnessCollector([{ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, verifier: cosignatureVerifier('witness.example/w1', witnessKey.publicKey) }], {
    onFailure: (_url, error) => failures.push(error.code),
  });
  const log = await openSqliteLog({ path: await tempFile('log.sqlite'), origin: ORIGIN, key, cosign });
  let closed = false;
  closers.push(() => (closed ? Promise.resolve() : log.close()));

  // The empty log's checkpoint at open, then after 1 s and 2 s more.
  const sizeZero = await until('three asks for the checkpoint of 0', async () => {
    const found = asks.filter((ask) => ask.size === 0);
    return found.length >= 3 ? found : undefined;
  });
  // A timer never fires early: the waits are at least 1 s and 2 s (later on a loaded machine).
  assert.ok(sizeZero[1]!.at - sizeZero[0]!.at >= 950, `first wait ${sizeZero[1]!.at - sizeZero[0]!.at} ms`);
  assert.ok(sizeZero[2]!.at - sizeZero[1]!.at >= 1950, `second wait ${sizeZero[2]!.at - sizeZero[1]!.at} ms`);
  assert.equal((await log.checkpoint()).size, 0);

  await log.append(entry(0));
  assert.equal(await log.waitForCheckpoint(0, 5000), true);
  const grown = asks.length;
  await until('the checkpoint of 1 asked again', async () => (asks.slice(grown).filter((ask) => ask.size === 1).length >= 2 ? true : undefined));
  // The checkpoint of 0 was asked again at most once more (an ask in flight when the log grew), then never.
  await sleep(4500);
  assert.ok(asks.slice(grown).filter((ask) => ask.size === 0).length <= 1, JSON.stringify(asks));
  const lastZero = asks.findLastIndex((ask) => ask.size === 0);
  assert.ok(asks.slice(lastZero + 1).every((ask) => ask.size === 1));
  assert.ok(failures.every((code) => code === 'ERR_WITNESS_UNREACHABLE'));
  assert.equal(parseCheckpoint(parseNote((await log.checkpoint()).note).text).size, 1);

  await log.close();
  closed = true;
  const atClose = asks.length;
  await sleep(2500);
  assert.equal(asks.length, atClose, 'asked after close');
});

/** The note with the signature of `name`'s line (its last byte) flipped: same name and key ID, a signature that does not verify. */
function damagedLine(note: string, name: string, keyHash: string): string {
  const parsed = parseNote(note);
  return formatNote({
    text: parsed.text,
    signatures: parsed.signatures.map((signature) => {
      if (signature.name !== name || signature.keyHash !== keyHash) return signature;
      const damaged = Uint8Array.from(signature.signature);
      damaged[damaged.length - 1]! ^= 1;
      return { ...signature, signature: damaged };
    }),
  });
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
  test(`${kind}: a stored note whose line of a witness's key does not verify (damaged in storage) gets that witness's valid cosignature in its place, once`, async () => {
    const key = await newKey(ORIGIN);
    const logKey = noteVerifier(ORIGIN, key.publicKey);
    const [w1, w2] = [await witnessOn(await closedPort(), logKey, 'w1'), await witnessOn(await closedPort(), logKey, 'w2')];
    await w1.start();
    await w2.start();
    const asked: string[] = [];
    const collector = () =>
      witnessCollector(
        [
          { url: w1.url, verifier: w1.witness.verifier },
          { url: w2.url, verifier: w2.witness.verifier },
        ],
        { timeoutMs: 5000, fetch: (input, init) => (asked.push(String(input)), fetch(input, init)) },
      );
    let open: () => Promise<LogStorage>;
    let overwrite: (from: string, to: string) => Promise<void>;
    if (kind === 'SQLite') {
      const file = await tempFile('log.sqlite');
      open = async () => SqliteLog.open(file);
      overwrite = async (from, to) => {
        const db = new DatabaseSync(file);
        try {
          assert.equal(db.prepare('UPDATE checkpoints SET note = ? WHERE note = ?').run(to, from).changes, 1);
        } finally {
          db.close();
        }
      };
    } else {
      const url = await schemaUrl();
      open = () => PostgresLog.open(url);
      overwrite = async (from, to) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          assert.equal((await client.query('UPDATE checkpoints SET note = $1 WHERE note = $2', [to, from])).rowCount, 1);
        } finally {
          await client.end();
        }
      };
    }
    const first = await TransparencyLog.open({ storage: await open(), origin: ORIGIN, key, cosign: collector(), checkpointDelayMs: 10 });
    await first.append(entry(0));
    assert.equal(await first.waitForCheckpoint(0, 10_000), true);
    const good = (await first.checkpoint()).note;
    await first.close();
    assert.equal(parseNote(good).signatures.length, 3, 'the log and both witnesses signed');

    // w2's line damaged where the note is stored: same name and key ID, a signature that does not verify.
    const damaged = damagedLine(good, w2.witness.verifier.name, w2.witness.verifier.keyHash);
    await assert.rejects(verifyCosignatures(damaged, [w2.witness.verifier]), { code: 'ERR_LOG_COSIGNATURE_INVALID' });
    await overwrite(good, damaged);

    asked.length = 0;
    const log = await TransparencyLog.open({ storage: await open(), origin: ORIGIN, key, cosign: collector(), checkpointDelayMs: 10 });
    closers.push(() => log.close());
    const repaired = await until('the damaged line replaced', async () => {
      const note = (await log.checkpoint()).note;
      return note !== damaged ? note : undefined;
    }, 15_000);
    // The same text, the log's signature and w1's line as they were, w2's valid cosignature in place of the damaged line.
    const [logLine, w1Line, w2Line] = parseNote(repaired).signatures;
    assert.equal(parseNote(repaired).signatures.length, 3);
    assert.equal(parseNote(repaired).text, parseNote(good).text);
    assert.deepEqual(logLine, parseNote(good).signatures[0]);
    assert.deepEqual(w1Line, parseNote(good).signatures[1]);
    assert.equal(w2Line!.keyHash, w2.witness.verifier.keyHash);
    await verifyNote(repaired, [logKey]);
    assert.equal((await verifyCosignatures(repaired, [w1.witness.verifier, w2.witness.verifier])).length, 2);
    // Stored so: another process opening the log serves it.
    const storage = await open();
    try {
      assert.equal((await storage.latestCheckpoint())!.note, repaired);
    } finally {
      await storage.close();
    }
    // Only w2 was asked, and not again once its cosignature was in place (the next ask would come 2 s after the first).
    assert.ok(asked.length > 0 && asked.every((url) => url.startsWith(w2.url)), JSON.stringify(asked));
    const asks = asked.length;
    await sleep(2500);
    assert.equal(asked.length, asks, 'asked again after the repair');
    assert.equal((await log.checkpoint()).note, repaired);
  });
}
