/** The log in `runprint serve`: receipts appended to a real SQLite file, read back through C2SP tlog-tiles and JSON routes. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { parseCheckpoint, type Checkpoint } from '../src/log/checkpoint.ts';
import { parseEntryBundle } from '../src/log/entry-bundle.ts';
import { parseNoteVerifier } from '../src/log/note-keys.ts';
import { verifyNote } from '../src/log/note.ts';
import { computeTiles, consistencyProofFromTiles, inclusionProofFromTiles, rootFromTiles, tilePath, tilesForSize, entriesPath } from '../src/log/tiles.ts';
import { verifyConsistency } from '../src/merkle/consistency.ts';
import { verifyInclusion } from '../src/merkle/inclusion.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { decodeBase64, encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { createApp, type App } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';

const TOKEN = 'test-token-0123456789';
const ORIGIN = 'example.test/runprint-log';
const folders: string[] = [];
after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

const vectors = JSON.parse(await readFile(new URL('../testdata/receipt/receipts.json', import.meta.url), 'utf8'));
const fixtureReceipt = JSON.stringify(vectors.vectors[0].envelope);
const fixtureRunId: string = JSON.parse(Buffer.from(vectors.vectors[0].envelope.payload, 'base64').toString('utf8')).subject.find(
  (subject: { name: string }) => subject.name === 'run',
).annotations.runId;

/** A well-formed envelope that is not a runprint receipt: the log takes it, with no run identity. */
function envelope(n: number): string {
  return JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
}

async function newKey(): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
}

async function setup(key?: SigningKey, path?: string) {
  const folder = path === undefined ? await mkdtemp(join(tmpdir(), 'runprint-log-')) : undefined;
  if (folder !== undefined) folders.push(folder);
  const file = path ?? join(folder!, 'log.sqlite');
  const signingKey = key ?? (await newKey());
  const log = await openSqliteLog({ path: file, origin: ORIGIN, key: signingKey, checkpointDelayMs: 20 });
  const app = createApp({ log: { log, token: TOKEN } });
  return { app, log, file, key: signingKey };
}

const submit = (app: App, body: string, token = TOKEN) =>
  app.request('/v1/log/entries', { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });

async function signedCheckpoint(app: App): Promise<Checkpoint> {
  const response = await app.request('/checkpoint');
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  const verifier = await parseNoteVerifier((await (await app.request('/v1/log/key')).text()).trim());
  const { text } = await verifyNote(await response.text(), [verifier]);
  return parseCheckpoint(text);
}

async function bytes(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

test('append, dedupe, look up by run identity and prove inclusion against the signed checkpoint', async () => {
  const { app, log } = await setup();
  try {
    const first = await submit(app, fixtureReceipt);
    assert.equal(first.status, 201);
    const answer = await first.json();
    assert.equal(answer.index, 0);
    assert.equal(answer.runId, fixtureRunId);
    assert.deepEqual(decodeBase64(answer.leafHash), hashLeaf(new TextEncoder().encode(fixtureReceipt)));
    for (let n = 1; n < 5; n++) assert.equal((await (await submit(app, envelope(n))).json()).index, n);
    await log.publishCheckpoint();
    const again = await submit(app, fixtureReceipt);
    assert.equal(again.status, 200);
    const repeated = await again.json();
    assert.equal(repeated.index, 0);
    assert.equal(typeof repeated.checkpoint, 'string');

    const lookup = await (await app.request(`/v1/log/entries?runId=${fixtureRunId}`)).json();
    assert.deepEqual(lookup, { runId: fixtureRunId, indexes: [0] });

    const checkpoint = await signedCheckpoint(app);
    assert.equal(checkpoint.origin, ORIGIN);
    assert.equal(checkpoint.size, 5);
    const proof = await (await app.request('/v1/log/proof?index=3&size=5')).json();
    assert.equal(proof.size, 5);
    assert.equal(verifyInclusion(decodeBase64(proof.leafHash)!, 3, 5, proof.proof.map(decodeBase64), checkpoint.rootHash), true);
    assert.deepEqual(decodeBase64(proof.leafHash), hashLeaf(new TextEncoder().encode(envelope(3))));

    const beyond = await app.request('/v1/log/proof?index=1&size=9');
    assert.equal(beyond.status, 400);
    assert.equal((await beyond.json()).error.message, 'query parameter "size" must be at most the latest checkpoint size');
  } finally {
    await log.close();
  }
});

test('tiles and entry bundles equal computeTiles of the same leaves and verify against the signed checkpoint', async () => {
  const { app, log } = await setup();
  try {
    const submitted = Array.from({ length: 600 }, (_, n) => envelope(n));
    // Submitted concurrently: batched into few transactions, each body gets one distinct index.
    const answers = await Promise.all(submitted.map((body) => submit(app, body)));
    const indexes: number[] = await Promise.all(answers.map(async (response) => (await response.json()).index));
    assert.deepEqual([...indexes].sort((a, b) => a - b), submitted.map((_, n) => n));
    const bodies: string[] = [];
    indexes.forEach((index, n) => (bodies[index] = submitted[n]!));
    await log.publishCheckpoint();
    const checkpoint = await signedCheckpoint(app);
    assert.equal(checkpoint.size, 600);

    const leaves = bodies.map((body) => hashLeaf(new TextEncoder().encode(body)));
    const expected = computeTiles(leaves);
    assert.deepEqual(tilesForSize(600), expected.map(({ tile }) => tile));
    for (const { tile, data } of expected) {
      const response = await app.request(`/${tilePath(tile)}`);
      assert.equal(response.status, 200, tilePath(tile));
      assert.equal(response.headers.get('content-type'), 'application/octet-stream');
      assert.equal(response.headers.get('cache-control'), tile.width === 256 ? 'public, max-age=31536000, immutable' : 'public, max-age=60');
      assert.deepEqual(await bytes(response), data);
    }
    const readTile = async (tile: Parameters<typeof tilePath>[0]) => bytes(await app.request(`/${tilePath(tile)}`));
    assert.deepEqual(Uint8Array.from(await rootFromTiles(600, readTile)), checkpoint.rootHash);
    const proof = await inclusionProofFromTiles(300, 600, readTile);
    assert.equal(verifyInclusion(leaves[300]!, 300, 600, proof, checkpoint.rootHash), true);

    const bundle = await app.request(`/${entriesPath({ index: 2, width: 88 })}`);
    assert.equal(bundle.status, 200);
    const entries = parseEntryBundle(await bytes(bundle), 88);
    assert.deepEqual(entries.map((entry) => new TextDecoder().decode(entry)), bodies.slice(512));
    assert.equal((await app.request(`/${entriesPath({ index: 0, width: 256 })}`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');

    // Wider than the checkpoint publishes, or not a tile path at all.
    for (const path of ['/tile/0/002.p/89', '/tile/0/003', '/tile/entries/002', '/tile/0/2', '/tile/x']) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      assert.equal((await response.json()).error.code, 'ERR_HTTP_NOT_FOUND');
    }
  } finally {
    await log.close();
  }
});

test('a checkpoint follows new entries within the delay', async () => {
  const { app, log } = await setup();
  try {
    await submit(app, envelope(1));
    const started = Date.now();
    while ((await signedCheckpoint(app)).size < 1) {
      assert.ok(Date.now() - started < 1000, 'no checkpoint within 1 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await log.close();
  }
});

test('a restart keeps every acknowledged entry and the next checkpoint is consistent with the last', async () => {
  const first = await setup();
  for (let n = 0; n < 300; n++) await submit(first.app, envelope(n));
  await first.log.publishCheckpoint();
  const old = await signedCheckpoint(first.app);
  // Acknowledged after the last checkpoint, then closed: they must still be there after the restart.
  const late = await Promise.all([300, 301, 302].map((n) => submit(first.app, envelope(n))));
  assert.deepEqual(late.map((response) => response.status), [201, 201, 201]);
  await first.log.close();

  const second = await setup(first.key, first.file);
  try {
    const now = await signedCheckpoint(second.app);
    assert.equal(now.size, 303);
    const readTile = async (tile: Parameters<typeof tilePath>[0]) => bytes(await second.app.request(`/${tilePath(tile)}`));
    const proof = await consistencyProofFromTiles(old.size, now.size, readTile);
    assert.equal(verifyConsistency(old.size, now.size, proof, old.rootHash, now.rootHash), true);
    assert.equal((await submit(second.app, envelope(5))).status, 200);
    assert.equal((await (await submit(second.app, envelope(303))).json()).index, 303);
  } finally {
    await second.log.close();
  }
});

test('a corrupted or truncated store is refused at open with ERR_STORE_CORRUPT; a whole one signed by another key of its name with ERR_LOG_CONFIG_MISMATCH', async () => {
  const first = await setup();
  for (let n = 0; n < 10; n++) await submit(first.app, envelope(n));
  await first.log.close();

  const db = new DatabaseSync(first.file);
  const row = db.prepare('SELECT leaf_hash FROM entries WHERE idx = 4').get() as { leaf_hash: Uint8Array };
  const flipped = new Uint8Array(row.leaf_hash);
  flipped[0]! ^= 1;
  db.prepare('UPDATE entries SET leaf_hash = ? WHERE idx = 4').run(flipped);
  db.close();
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored leaf hash of entry 4 does not match its entry',
  });

  const db2 = new DatabaseSync(first.file);
  db2.prepare('UPDATE entries SET leaf_hash = ? WHERE idx = 4').run(row.leaf_hash);
  db2.prepare('DELETE FROM entries WHERE idx = 9').run();
  db2.close();
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'log database is truncated: it holds 9 entries, its last checkpoint 10',
  });
  // Another key of this log's name signed it: the server was given another log key than the one
  // that wrote the store. A configuration mismatch, not damage: its own code, never "corrupt".
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: await newKey() }), {
    code: 'ERR_LOG_CONFIG_MISMATCH',
    message: /^last stored checkpoint is not signed by this log's key: it is signed by another key of this log's name \(key ID [0-9a-f]{8}, this key's [0-9a-f]{8}\); every server sharing a log database needs the same log key \(serve --log-key, docs\/LOG\.md 19\.5\)$/,
  });
});

test('a stored tile hash that does not match the level below is refused at open', async () => {
  const first = await setup();
  await Promise.all(Array.from({ length: 256 }, (_, n) => submit(first.app, envelope(n))));
  await first.log.close();
  const db = new DatabaseSync(first.file);
  db.prepare('UPDATE tile_hashes SET hash = ? WHERE level = 1 AND idx = 0').run(new Uint8Array(32));
  db.close();
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored tile hash 0 at level 1 does not match the level below',
  });
  // A log of another name: the options are wrong, not the store (checked before the hashes).
  await assert.rejects(openSqliteLog({ path: first.file, origin: 'another.test/log', key: first.key }), {
    code: 'ERR_LOG_CONFIG_MISMATCH',
    message: `the log database belongs to the log "${ORIGIN}", and this server's log name is "another.test/log": give serve the log's name (--log-name or RUNPRINT_LOG_NAME; without either it is localhost/runprint), or another log database; every server sharing a log database needs the same log name (docs/LOG.md 19.5)`,
  });
});

test('stored subtree hashes inside a tile are checked at open; proofs from them verify', async () => {
  const first = await setup();
  await Promise.all(Array.from({ length: 300 }, (_, n) => submit(first.app, envelope(n))));
  await first.log.publishCheckpoint();
  const checkpoint = await signedCheckpoint(first.app);
  for (const index of [0, 77, 255, 256, 299]) {
    const { leafHash, proof } = await first.log.inclusionProof(index, checkpoint.size);
    assert.ok(verifyInclusion(leafHash, index, checkpoint.size, proof, checkpoint.rootHash), `proof of ${index}`);
  }
  await first.log.close();
  const db = new DatabaseSync(first.file);
  const row = db.prepare('SELECT nodes FROM tile_nodes WHERE level = 0 AND idx = 0').get() as { nodes: Uint8Array };
  assert.equal(row.nodes.length, 255 * 32);
  const damaged = new Uint8Array(row.nodes);
  damaged[40]! ^= 1;
  db.prepare('UPDATE tile_nodes SET nodes = ? WHERE level = 0 AND idx = 0').run(damaged);
  db.close();
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored subtree hashes of tile 0 at level 0 do not match the tile',
  });
});

test('check "tiles" opens without rehashing the signed tree but rehashes what was stored after the checkpoint', async () => {
  const first = await setup();
  await Promise.all(Array.from({ length: 300 }, (_, n) => submit(first.app, envelope(n))));
  await first.log.close();
  const db = new DatabaseSync(first.file);
  const flip = (index: number) => {
    const row = db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?').get(index) as { leaf_hash: Uint8Array };
    const flipped = new Uint8Array(row.leaf_hash);
    flipped[0]! ^= 1;
    db.prepare('UPDATE entries SET leaf_hash = ? WHERE idx = ?').run(flipped, index);
  };
  // Inside the first complete tile of the signed tree (the root reads its level-1 hash): only the full check sees it.
  flip(1);
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored leaf hash of entry 1 does not match its entry',
  });
  const opened = await openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key, check: 'tiles' });
  await opened.close();
  // An entry acknowledged after the last checkpoint (never signed) is always rehashed.
  const row = db.prepare('SELECT entry FROM entries WHERE idx = 299').get() as { entry: Uint8Array };
  db.prepare('INSERT INTO entries (idx, entry, leaf_hash) VALUES (300, ?, ?)').run(new Uint8Array([...row.entry, 0x20]), new Uint8Array(32));
  db.close();
  await assert.rejects(openSqliteLog({ path: first.file, origin: ORIGIN, key: first.key, check: 'tiles' }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored leaf hash of entry 300 does not match its entry',
  });
});

test('the log refuses to sign a tree that does not extend its last checkpoint', async () => {
  const { app, log, file } = await setup();
  try {
    for (let n = 0; n < 8; n++) await submit(app, envelope(n));
    await log.publishCheckpoint();
    const before = await (await app.request('/checkpoint')).text();
    // Rewrite history under the running log: a leaf already covered by the signed checkpoint.
    const db = new DatabaseSync(file);
    db.prepare('UPDATE entries SET leaf_hash = ? WHERE idx = 2').run(new Uint8Array(32));
    db.close();
    await submit(app, envelope(8));
    await assert.rejects(log.publishCheckpoint(), {
      code: 'ERR_LOG_INCONSISTENT',
      message: 'new tree does not extend the last signed checkpoint; not signing',
    });
    assert.equal(await (await app.request('/checkpoint')).text(), before);
    const refused = await submit(app, envelope(9));
    assert.equal(refused.status, 500);
    // The log's own consistency message names no file of the server: HTTP answers it as it is.
    const corrupt = { code: 'ERR_STORE_CORRUPT', message: 'stored tree does not extend the last signed checkpoint; the log takes no entries' };
    assert.deepEqual((await refused.json()).error, corrupt);
    await assert.rejects(log.append(new TextEncoder().encode(envelope(10))), corrupt);
  } finally {
    await log.close();
  }
});

test('writes need the token; bodies are bounded and must be DSSE envelopes', async () => {
  const { app, log } = await setup();
  try {
    const cases: Array<[Promise<Response>, number, string, string]> = [
      [submit(app, envelope(1), 'wrong'), 401, 'ERR_HTTP_UNAUTHORIZED', 'writes need Authorization: Bearer with the log token'],
      [app.request('/v1/log/entries', { method: 'POST', body: envelope(1), headers: { 'content-type': 'application/json' } }), 401, 'ERR_HTTP_UNAUTHORIZED', 'writes need Authorization: Bearer with the log token'],
      [submit(app, 'x'.repeat(64 * 1024 + 1)), 413, 'ERR_HTTP_BODY_TOO_LARGE', 'request body is larger than 65536 bytes'],
      [submit(app, '{"payload":"", "payloadType":"t"}'), 400, 'ERR_LOG_ENTRY_INVALID', 'entry is not a DSSE envelope (ERR_ENVELOPE_INVALID)'],
      [submit(app, 'not json'), 400, 'ERR_LOG_ENTRY_INVALID', 'entry is not a DSSE envelope (ERR_ENVELOPE_INVALID)'],
      [app.request('/v1/log/proof?index=01'), 400, 'ERR_HTTP_BAD_REQUEST', 'query parameter "index" must be a decimal integer without leading zeros'],
      [app.request('/v1/log/proof?index=99999999999999999999999'), 400, 'ERR_HTTP_BAD_REQUEST', 'query parameter "index" must be at most 9007199254740991'],
      [app.request('/v1/log/proof?index=1.5'), 400, 'ERR_HTTP_BAD_REQUEST', 'query parameter "index" must be a decimal integer'],
    ];
    for (const [pending, status, code, message] of cases) {
      const response = await pending;
      assert.equal(response.status, status, code);
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.deepEqual((await response.json()).error, { code, message });
    }
    // Within the 64 KiB body limit, one byte over the 65535 an entry bundle can hold.
    const unpadded = JSON.stringify({ payload: encodeBase64(new Uint8Array(48_000)), payloadType: 't', signatures: [{ sig: 'AAAA' }] });
    const padded = unpadded + ' '.repeat(64 * 1024 - unpadded.length);
    const tooLarge = await submit(app, padded);
    assert.equal(tooLarge.status, 413);
    assert.deepEqual((await tooLarge.json()).error, { code: 'ERR_LOG_ENTRY_TOO_LARGE', message: 'entry is larger than 65535 bytes' });

    const closed = createApp({ log: { log } });
    const refused = await closed.request('/v1/log/entries', { method: 'POST', body: envelope(1), headers: { 'content-type': 'application/json' } });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.code, 'ERR_LOG_WRITES_DISABLED');
    const open = createApp({ log: { log, anonymousWrites: true } });
    assert.equal((await open.request('/v1/log/entries', { method: 'POST', body: envelope(1), headers: { 'content-type': 'application/json' } })).status, 201);
    assert.equal((await createApp().request('/checkpoint')).status, 404);
  } finally {
    await log.close();
  }
});

test('serves the log over a real socket', async () => {
  const { app, log } = await setup();
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const response = await fetch(`${base}/v1/log/entries`, { method: 'POST', body: fixtureReceipt, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 201);
    await log.publishCheckpoint();
    const note = await (await fetch(`${base}/checkpoint`)).text();
    assert.match(note, new RegExp(`^${ORIGIN}\\n1\\n`));
    const tile = await fetch(`${base}/tile/0/000.p/1`);
    assert.deepEqual(new Uint8Array(await tile.arrayBuffer()), hashLeaf(new TextEncoder().encode(fixtureReceipt)));
  } finally {
    await server.close();
    await log.close();
  }
});

test('a log database whose tables have another shape (an older runprint schema) is refused with ERR_STORE_CORRUPT', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-log-old-'));
  folders.push(folder);
  const file = join(folder, 'log.sqlite');
  const db = new DatabaseSync(file);
  db.exec('CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, content_hash BLOB NOT NULL UNIQUE, run_id TEXT) STRICT');
  db.close();
  await assert.rejects(openSqliteLog({ path: file, origin: ORIGIN, key: await newKey() }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'log database has tables of another shape than this version of runprint writes',
  });
});
