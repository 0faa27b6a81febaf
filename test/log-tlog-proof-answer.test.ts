/** The submit answer's C2SP tlog-proof, the tlog-proof route, and two log processes sharing one SQLite file. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { verifyNote } from '../src/log/note.ts';
import { consistencyProofFromTiles } from '../src/log/tiles.ts';
import { verifyTlogProof } from '../src/log/tlog-proof.ts';
import { verifyConsistency } from '../src/merkle/consistency.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { LogError } from '../src/errors.ts';
import { openSqliteLog, TransparencyLog } from '../src/store/log-service.ts';
import type { LogStorage } from '../src/store/storage.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';

const TOKEN = 'answer-token-0123456789';
const ORIGIN = 'example.test/answer-log';
const folders: string[] = [];
after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

function envelope(n: number | string): string {
  return JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
}

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'runprint-answer-'));
  folders.push(path);
  return path;
}

const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);

test('POST ?wait=checkpoint answers with a tlog-proof of the exact bytes sent, which verifies offline', async () => {
  const log = await openSqliteLog({ path: join(await folder(), 'log.sqlite'), origin: ORIGIN, key, checkpointDelayMs: 30 });
  const app = createApp({ log: { log, token: TOKEN } });
  try {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    for (let n = 0; n < 3; n++) assert.equal((await app.request('/v1/log/entries', { method: 'POST', body: envelope(n), headers })).status, 201);
    const body = envelope('waited');
    const response = await app.request('/v1/log/entries?wait=checkpoint', { method: 'POST', body, headers });
    assert.equal(response.status, 201);
    const answer = await response.json();
    assert.equal(answer.index, 3);
    assert.equal(typeof answer.tlogProof, 'string');
    const logKey = await parseNoteVerifier(log.verifierKey);
    const verified = await verifyTlogProof(answer.tlogProof, new TextEncoder().encode(body), { logKey, witnesses: [], threshold: 0 });
    assert.equal(verified.index, 3);
    assert.ok(verified.checkpoint.size >= 4);
    assert.deepEqual(verified.leafHash, hashLeaf(new TextEncoder().encode(body)));
    // The proof is for these bytes only: another entry's bytes fail.
    await assert.rejects(verifyTlogProof(answer.tlogProof, new TextEncoder().encode(envelope(0)), { logKey, witnesses: [], threshold: 0 }), {
      code: 'ERR_LOG_PROOF_INVALID',
    });
    // The same proof from the route.
    const routed = await app.request('/v1/log/tlog-proof?index=3');
    assert.equal(routed.status, 200);
    assert.equal(routed.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await routed.text(), answer.tlogProof);

    const bad = await app.request('/v1/log/entries?wait=yes', { method: 'POST', body: envelope(9), headers });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'ERR_HTTP_BAD_REQUEST');
  } finally {
    await log.close();
  }
});

test('GET /v1/log/tlog-proof is 404 ERR_LOG_ENTRY_NOT_FOUND until a checkpoint covers the index, and 400 for a bad index', async () => {
  const log = await openSqliteLog({ path: join(await folder(), 'log.sqlite'), origin: ORIGIN, key, checkpointDelayMs: 1000 });
  const app = createApp({ log: { log, token: TOKEN } });
  try {
    const answer = await (await app.request('/v1/log/entries', { method: 'POST', body: envelope(1), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } })).json();
    assert.equal(answer.tlogProof, undefined);
    const early = await app.request(`/v1/log/tlog-proof?index=${answer.index}`);
    assert.equal(early.status, 404);
    assert.equal((await early.json()).error.code, 'ERR_LOG_ENTRY_NOT_FOUND');
    await log.publishCheckpoint();
    assert.equal((await app.request(`/v1/log/tlog-proof?index=${answer.index}`)).status, 200);
    for (const query of ['index=-1', 'index=01', 'index=x', '']) {
      const response = await app.request(`/v1/log/tlog-proof?${query}`);
      assert.equal(response.status, 400, query);
      assert.equal((await response.json()).error.code, 'ERR_HTTP_BAD_REQUEST');
    }
  } finally {
    await log.close();
  }
});

test('two log services on one SQLite file sequence one at a time and sign one consistent chain of checkpoints', async () => {
  const path = join(await folder(), 'shared.sqlite');
  const first = await openSqliteLog({ path, origin: ORIGIN, key, checkpointDelayMs: 5, refreshMs: 5 });
  const second = await openSqliteLog({ path, origin: ORIGIN, key, checkpointDelayMs: 5, refreshMs: 5 });
  const sent: string[] = [];
  try {
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      const batch = Array.from({ length: 40 }, (_, n) => envelope(`${round}-${n}`));
      sent.push(...batch);
      // Alternate the services entry by entry, all in flight at once, with checkpoints signed meanwhile.
      const results = await Promise.all(batch.map((body, n) => (n % 2 === 0 ? first : second).append(new TextEncoder().encode(body))));
      assert.ok(results.every((result) => result.created));
      if (round % 5 === 4) await Promise.all([first.publishCheckpoint(), second.publishCheckpoint()]);
    }
    // A resubmission to the other service finds the first index.
    const again = await second.append(new TextEncoder().encode(sent[0]!));
    assert.equal(again.created, false);
    assert.equal(again.index, 0);
    await Promise.all([first.publishCheckpoint(), second.publishCheckpoint()]);
  } finally {
    await first.close();
    await second.close();
  }

  const storage = SqliteLog.open(path);
  try {
    assert.equal(await storage.size(), sent.length);
    const entries = (await storage.entries(0, sent.length)).map((entry) => new TextDecoder().decode(entry));
    assert.deepEqual([...entries].sort(), [...sent].sort());
    const db = new DatabaseSync(path, { readOnly: true });
    const notes = db.prepare('SELECT size, note FROM checkpoints ORDER BY size').all() as Array<{ size: number; note: string }>;
    db.close();
    assert.ok(notes.length >= 2);
    const verifier = await parseNoteVerifier(noteVerifierKey(ORIGIN, key.publicKey));
    const checkpoints = await Promise.all(notes.map(async (row) => parseCheckpoint((await verifyNote(row.note, [verifier])).text)));
    assert.equal(checkpoints.at(-1)!.size, sent.length);
    const read = (tile: Parameters<typeof storage.tileData>[0]) => storage.tileData(tile);
    for (let i = 1; i < checkpoints.length; i++) {
      const [older, newer] = [checkpoints[i - 1]!, checkpoints[i]!];
      assert.ok(newer.size > older.size);
      const proof = await consistencyProofFromTiles(older.size, newer.size, read);
      assert.equal(verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash), true, `${older.size} -> ${newer.size}`);
    }
  } finally {
    await storage.close();
  }
});

test('of two processes with different keys starting on one empty storage, one signs and the other refuses with ERR_LOG_CONFIG_MISMATCH', async () => {
  const path = join(await folder(), 'contested.sqlite');
  const other = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const results = await Promise.allSettled([
    openSqliteLog({ path, origin: ORIGIN, key, checkpointDelayMs: 5 }),
    openSqliteLog({ path, origin: ORIGIN, key: other, checkpointDelayMs: 5 }),
  ]);
  const opened = results.filter((result) => result.status === 'fulfilled');
  const refused = results.filter((result) => result.status === 'rejected');
  assert.equal(opened.length, 1);
  assert.equal(refused.length, 1);
  assert.equal((refused[0] as PromiseRejectedResult).reason.code, 'ERR_LOG_CONFIG_MISMATCH');
  assert.match((refused[0] as PromiseRejectedResult).reason.message, /not signed by this log's key/);
  const log = (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openSqliteLog>>>).value;
  try {
    // The one that opened serves a checkpoint its own key signed.
    const verifier = await parseNoteVerifier(log.verifierKey);
    assert.equal(parseCheckpoint((await verifyNote((await log.checkpoint()).note, [verifier])).text).size, 0);
  } finally {
    await log.close();
  }
});

test('a process that only answers tlog-proofs still sees checkpoints another process signed on the same storage', async () => {
  const path = join(await folder(), 'two-readers.sqlite');
  const writer = await openSqliteLog({ path, origin: ORIGIN, key, checkpointDelayMs: 10, refreshMs: 50 });
  const reader = await openSqliteLog({ path, origin: ORIGIN, key, checkpointDelayMs: 10, refreshMs: 50 });
  try {
    const stored = await writer.append(new TextEncoder().encode(envelope('written elsewhere')));
    assert.equal(await writer.waitForCheckpoint(stored.index, 2000), true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const response = await createApp({ log: { log: reader } }).request(`/v1/log/tlog-proof?index=${stored.index}`);
    assert.equal(response.status, 200);
    const logKey = await parseNoteVerifier(reader.verifierKey);
    await verifyTlogProof(await response.text(), new TextEncoder().encode(envelope('written elsewhere')), { logKey, witnesses: [], threshold: 0 });
  } finally {
    await writer.close();
    await reader.close();
  }
});

test('a checkpoint write that fails once is tried again: an acknowledged entry is still covered', async () => {
  const inner = SqliteLog.open(join(await folder(), 'flaky.sqlite'));
  let failures = 0;
  const storage: LogStorage = Object.assign(Object.create(Object.getPrototypeOf(inner)) as LogStorage, {
    kind: inner.kind,
  });
  // Every method goes to the real storage; saveCheckpoint fails while `failures` is above zero.
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(inner))) {
    if (name === 'constructor') continue;
    (storage as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      if (name === 'saveCheckpoint' && failures > 0) {
        failures--;
        throw new LogError('ERR_STORE_UNAVAILABLE', 'the test made this write fail');
      }
      return (inner as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
    };
  }
  const log = await TransparencyLog.open({ storage, origin: ORIGIN, key, checkpointDelayMs: 20 });
  try {
    failures = 1;
    const stored = await log.append(new TextEncoder().encode(envelope('flaky')));
    assert.equal(await log.waitForCheckpoint(stored.index, 3000), true);
    assert.equal(failures, 0, 'the failing write was attempted');
    assert.equal((await log.checkpoint()).size, 1);
  } finally {
    await log.close();
  }
});

test('entries whose 8-byte leaf keys collide are all stored, and each resubmission finds its own entry', async () => {
  const path = join(await folder(), 'collisions.sqlite');
  // A 1-byte key for the test: 600 entries in 256 buckets collide often.
  const coarse = (leafHash: Uint8Array) => BigInt(leafHash[0]!);
  const storage = SqliteLog.open(path, { leafKey: coarse });
  const bodies = Array.from({ length: 600 }, (_, n) => new TextEncoder().encode(envelope(`collide ${n}`)));
  const item = (entry: Uint8Array) => ({ entry, leafHash: hashLeaf(entry) });
  const first = await storage.append(bodies.slice(0, 300).map(item));
  const second = await storage.append([...bodies.slice(300).map(item), ...bodies.slice(0, 300).map(item)]);
  assert.deepEqual(first.map((stored) => stored.index), bodies.slice(0, 300).map((_, n) => n));
  assert.deepEqual(second.slice(0, 300).map((stored) => [stored.index, stored.created]), bodies.slice(300).map((_, n) => [300 + n, true]));
  assert.deepEqual(second.slice(300).map((stored) => [stored.index, stored.created]), bodies.slice(0, 300).map((_, n) => [n, false]));
  assert.equal(await storage.size(), 600);
  await storage.checkHashes();
  await storage.close();
  // The same file read with the real key: its keys do not match, which the full check reports.
  const plain = SqliteLog.open(path);
  try {
    await assert.rejects(plain.checkHashes(), { code: 'ERR_STORE_CORRUPT', message: /stored leaf key of entry \d+ does not match its leaf hash/ });
  } finally {
    await plain.close();
  }
});
