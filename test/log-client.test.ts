/** `runprint log submit|proof|monitor` against real logs (SQLite, served on loopback), forked logs included. */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { verifyNote } from '../src/log/note.ts';
import { verifyTlogProof } from '../src/log/tlog-proof.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { decodeBase64, encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const TOKEN = 'test-token-0123456789';
const ORIGIN = 'example.test/runprint-log';
const folder = cliFolder('runprint-log-client-');
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(folder.folder, { recursive: true, force: true });
});

const vectors = JSON.parse(await readFile(new URL('../testdata/receipt/receipts.json', import.meta.url), 'utf8'));
const fixtureReceipt = JSON.stringify(vectors.vectors[0].envelope);

/** A well-formed envelope that is not a runprint receipt. */
function envelope(n: number, tag = 'entry'): string {
  return JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`${tag} ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
}

async function newKey(): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
}

/** `<name>+<key ID>` of a verifier key file: how signature lines and messages name a key. */
async function keyId(vkeyFile: string): Promise<string> {
  return (await readFile(vkeyFile, 'utf8')).split('+').slice(0, 2).join('+');
}

const GIVE_KEY = 'give the log\'s own verifier key as --key (the line its GET /v1/log/key serves, checked out of band)';

let logs = 0;
/** A real log on 127.0.0.1, port 0, holding `entries`, with a signed checkpoint covering them. */
async function startLog(key: SigningKey, entries: string[] = []) {
  const log = await openSqliteLog({ path: join(folder.folder, `log-${logs++}.sqlite`), origin: ORIGIN, key, checkpointDelayMs: 20 });
  const server = await listen(createApp({ log: { log, token: TOKEN } }), { host: '127.0.0.1', port: 0 });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    await log.close();
  };
  closers.push(close);
  const url = `http://127.0.0.1:${server.port}/`;
  const append = async (bodies: string[]) => {
    for (const body of bodies) {
      const response = await fetch(`${url}v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
      assert.equal(response.ok, true);
      await response.arrayBuffer();
    }
    await log.publishCheckpoint();
  };
  await append(entries);
  return { log, url, append, close, vkey: folder.file(`log-${logs}.vkey`, `${log.verifierKey}\n`) };
}

test('log submit posts the receipt bytes and prints the answer; errors keep the server code', async () => {
  const key = await newKey();
  const { url } = await startLog(key);
  const receipt = folder.file('receipt.json', fixtureReceipt);
  const result = await folder.cli(['log', 'submit', receipt, '--log', url, '--token', TOKEN]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  const answer = JSON.parse(result.stdout);
  assert.equal(answer.index, 0);
  assert.deepEqual(decodeBase64(answer.leafHash), hashLeaf(new TextEncoder().encode(fixtureReceipt)));
  assert.equal(typeof answer.runId, 'string');
  // Identical resubmission: the same index.
  assert.equal(JSON.parse((await folder.cli(['log', 'submit', receipt, '--log', url, '--token', TOKEN])).stdout).index, 0);

  // The token from the environment when --token is not given.
  process.env['RUNPRINT_LOG_TOKEN'] = TOKEN;
  try {
    assert.equal((await folder.cli(['log', 'submit', folder.file('e1.json', envelope(1)), '--log', url])).code, 0);
  } finally {
    delete process.env['RUNPRINT_LOG_TOKEN'];
  }
  const missing = await folder.cli(['log', 'submit', receipt, '--log', url]);
  assert.equal(missing.code, 3);
  assert.equal(missing.stderr, 'runprint: ERR_HTTP_UNAUTHORIZED: log answered 401: writes need Authorization: Bearer with the log token; no token was sent: give it with --token T or RUNPRINT_LOG_TOKEN\n');

  const wrong = await folder.cli(['log', 'submit', receipt, '--log', url, '--token', 'not-the-token']);
  assert.equal(wrong.code, 3);
  assert.equal(wrong.stderr, 'runprint: ERR_HTTP_UNAUTHORIZED: log answered 401: writes need Authorization: Bearer with the log token\n');

  const notEnvelope = await folder.cli(['log', 'submit', folder.file('plain.txt', 'hello'), '--log', url, '--token', TOKEN]);
  assert.equal(notEnvelope.code, 3);
  assert.match(notEnvelope.stderr, /^runprint: ERR_LOG_ENTRY_INVALID: log answered 400: entry is not a DSSE envelope/);

  const noLog = await folder.cli(['log', 'submit', receipt]);
  assert.equal(noLog.code, 2);
  assert.equal(noLog.stderr, 'runprint: ERR_CLI_USAGE: --log URL is required\n');

  // The log's own /v1/log/ path is not its prefix: said so, with the prefix to give instead.
  for (const command of [['log', 'submit', receipt], ['log', 'proof', receipt, '--key', 'unused.vkey'], ['log', 'monitor', '--key', 'unused.vkey']]) {
    const entriesPath = await folder.cli(command[1] === 'monitor' ? ['log', 'monitor', `${url}v1/log`, ...command.slice(2)] : [...command, '--log', `${url}v1/log/`]);
    assert.equal(entriesPath.code, 2, command.join(' '));
    assert.equal(entriesPath.stderr, `runprint: ERR_CLI_USAGE: the log URL is the prefix the log's /checkpoint is under (for runprint serve, ${url}), not its /v1/log/ path\n`, command.join(' '));
  }
});

test('log submit to a log that cannot be reached exits 4 with ERR_LOG_UNREACHABLE', async () => {
  const { url, close } = await startLog(await newKey());
  await close();
  const result = await folder.cli(['log', 'submit', folder.file('receipt.json', fixtureReceipt), '--log', url, '--token', TOKEN]);
  assert.equal(result.code, 4);
  assert.equal(result.stderr, `runprint: ERR_LOG_UNREACHABLE: cannot reach ${url}v1/log/entries\n`);
});

test('log proof proves inclusion from tiles; the tlog-proof verifies offline', async () => {
  const key = await newKey();
  const entries = [...Array.from({ length: 300 }, (_, n) => envelope(n)), fixtureReceipt, envelope(300)];
  const { url, vkey, log } = await startLog(key, entries);
  const receipt = folder.file('receipt.json', fixtureReceipt);
  const result = await folder.cli(['log', 'proof', receipt, '--log', url, '--key', vkey]);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^c2sp\.org\/tlog-proof@v1\nindex 300\n/);
  const logKey = await parseNoteVerifier(log.verifierKey);
  const verified = await verifyTlogProof(result.stdout, new TextEncoder().encode(fixtureReceipt), { logKey, witnesses: [], threshold: 0 });
  assert.equal(verified.index, 300);
  assert.equal(verified.checkpoint.size, 302);

  // By index, for an entry that names no run, as JSON.
  const other = folder.file('other.json', envelope(7));
  const json = await folder.cli(['log', 'proof', other, '--log', url, '--key', vkey, '--index', '7', '--json']);
  assert.equal(json.code, 0);
  const answer = JSON.parse(json.stdout);
  assert.equal(answer.index, 7);
  assert.equal(answer.size, 302);
  await verifyTlogProof(answer.tlogProof, new TextEncoder().encode(envelope(7)), { logKey, witnesses: [], threshold: 0 });
});

test('log proof fails with a wrong key, a receipt not in the log, or no way to find it', async () => {
  const key = await newKey();
  const { url, vkey } = await startLog(key, [envelope(0), envelope(1), envelope(2)]);
  // Another key with the same name: the checkpoint is not signed by it.
  const stranger = await startLog(await newKey());
  const wrongKey = await folder.cli(['log', 'proof', folder.file('e1.json', envelope(1)), '--log', url, '--key', stranger.vkey, '--index', '1']);
  assert.equal(wrongKey.code, 3);
  assert.equal(
    wrongKey.stderr,
    `runprint: ERR_LOG_NOTE_SIGNATURE: the proof's checkpoint (the latest of log "${ORIGIN}") is signed by ${await keyId(vkey)}; ` +
      `--key is ${await keyId(stranger.vkey)} (another key with the same name): ${GIVE_KEY}\n`,
  );
  // Another log's key (another name): the names say so.
  const otherName = folder.file('other-log.vkey', `${noteVerifierKey('example.com/log', (await newKey()).publicKey)}\n`);
  const otherLog = await folder.cli(['log', 'proof', folder.file('e1.json', envelope(1)), '--log', url, '--key', otherName, '--index', '1']);
  assert.equal(otherLog.code, 3);
  assert.equal(
    otherLog.stderr,
    `runprint: ERR_LOG_NOTE_SIGNATURE: the proof's checkpoint (the latest of log "${ORIGIN}") is signed by ${await keyId(vkey)}; ` +
      `--key is ${await keyId(otherName)} (a key for another name): ${GIVE_KEY}\n`,
  );

  const notThere = await folder.cli(['log', 'proof', folder.file('e9.json', envelope(9)), '--log', url, '--key', vkey, '--index', '1']);
  assert.equal(notThere.code, 1);
  assert.equal(notThere.stderr, 'runprint: ERR_LOG_ENTRY_NOT_FOUND: receipt is not in the log at its latest checkpoint\n');

  const receiptNotThere = await folder.cli(['log', 'proof', folder.file('receipt.json', fixtureReceipt), '--log', url, '--key', vkey]);
  assert.equal(receiptNotThere.code, 1);
  assert.equal(receiptNotThere.stderr, 'runprint: ERR_LOG_ENTRY_NOT_FOUND: receipt is not in the log at its latest checkpoint\n');

  const noRun = await folder.cli(['log', 'proof', folder.file('e1.json', envelope(1)), '--log', url, '--key', vkey]);
  assert.equal(noRun.code, 2);
  assert.equal(noRun.stderr, 'runprint: ERR_CLI_USAGE: the receipt names no run identity; give --index N\n');
});

async function stateSize(path: string): Promise<{ size: number; text: string }> {
  const text = await readFile(path, 'utf8');
  const state = JSON.parse(text);
  return { size: state.size, text };
}

test('log monitor --once follows a growing log and keeps its last verified checkpoint', async () => {
  const key = await newKey();
  const first = Array.from({ length: 3 }, (_, n) => envelope(n));
  const { url, vkey, append } = await startLog(key, first);
  const state = join(folder.folder, 'monitor-grow.json');
  const once = await folder.cli(['log', 'monitor', url, '--key', vkey, '--state', state, '--once']);
  assert.equal(once.stderr, '');
  assert.equal(once.code, 0);
  assert.equal(once.stdout, `checkpoint ${ORIGIN} size 3 verified: first checkpoint, 3 entries checked\n`);
  assert.equal((await stateSize(state)).size, 3);
  const kept = JSON.parse(await readFile(state, 'utf8')).checkpoint;
  const logKey = await parseNoteVerifier(await readFile(vkey, 'utf8').then((text) => text.trim()));
  assert.equal(parseCheckpoint((await verifyNote(kept, [logKey])).text).size, 3);

  const same = await folder.cli(['log', 'monitor', url, '--key', vkey, '--state', state, '--once']);
  assert.equal(same.code, 0);
  assert.equal(same.stdout, `checkpoint ${ORIGIN} size 3 verified: no new entries, 0 entries checked\n`);

  // Across a tile boundary: 3 -> 300 entries.
  await append(Array.from({ length: 297 }, (_, n) => envelope(n + 3)));
  const grown = await folder.cli(['log', 'monitor', url, '--key', vkey, '--state', state, '--once']);
  assert.equal(grown.stderr, '');
  assert.equal(grown.code, 0);
  assert.equal(grown.stdout, `checkpoint ${ORIGIN} size 300 verified: consistent with size 3, 297 entries checked\n`);
  assert.equal((await stateSize(state)).size, 300);
});

test('log monitor --once detects a fork, a rewrite and a dropped entry, exits 1 and keeps its state', async () => {
  const key = await newKey();
  const entries = Array.from({ length: 5 }, (_, n) => envelope(n));
  const honest = await startLog(key, entries);
  const state = join(folder.folder, 'monitor-fork.json');
  assert.equal((await folder.cli(['log', 'monitor', honest.url, '--key', honest.vkey, '--state', state, '--once'])).code, 0);
  const before = await stateSize(state);
  assert.equal(before.size, 5);

  // Same key and name, other entries, the same size: two roots for size 5.
  const forked = await startLog(key, [...entries.slice(0, 4), envelope(4, 'forked')]);
  const fork = await folder.cli(['log', 'monitor', forked.url, '--key', honest.vkey, '--state', state, '--once']);
  assert.equal(fork.code, 1);
  assert.equal(fork.stderr, 'runprint: ERR_LOG_FORK: log signed two root hashes for size 5\n');
  assert.equal((await stateSize(state)).text, before.text);

  // Same key and name, a history that does not extend the one seen.
  const rewritten = await startLog(key, [envelope(0, 'rewritten'), ...entries.slice(1), envelope(5), envelope(6)]);
  const rewrite = await folder.cli(['log', 'monitor', rewritten.url, '--key', honest.vkey, '--state', state, '--once']);
  assert.equal(rewrite.code, 1);
  assert.equal(rewrite.stderr, 'runprint: ERR_LOG_REWRITE: log checkpoint of size 7 is not consistent with the one of size 5\n');
  assert.equal((await stateSize(state)).text, before.text);

  // Same key and name, fewer entries than were seen.
  const shrunk = await startLog(key, entries.slice(0, 2));
  const dropped = await folder.cli(['log', 'monitor', shrunk.url, '--key', honest.vkey, '--state', state, '--once']);
  assert.equal(dropped.code, 1);
  assert.equal(dropped.stderr, 'runprint: ERR_LOG_DROPPED: log checkpoint shrank from 5 to 2 entries\n');
  assert.equal((await stateSize(state)).text, before.text);

  // The honest log still checks out against the kept state.
  assert.equal((await folder.cli(['log', 'monitor', honest.url, '--key', honest.vkey, '--state', state, '--once'])).code, 0);
});

test('log monitor refuses a state file the log key did not sign', async () => {
  const honest = await startLog(await newKey(), [envelope(0)]);
  const other = await startLog(await newKey(), [envelope(0)]);
  const state = join(folder.folder, 'monitor-other.json');
  assert.equal((await folder.cli(['log', 'monitor', other.url, '--key', other.vkey, '--state', state, '--once'])).code, 0);
  const result = await folder.cli(['log', 'monitor', honest.url, '--key', honest.vkey, '--state', state, '--once']);
  assert.equal(result.code, 3);
  // The state file's checkpoint is the one that fails (before the log is asked), and it says so.
  assert.equal(
    result.stderr,
    `runprint: ERR_LOG_NOTE_SIGNATURE: the checkpoint kept in the state file ${state} (log "${ORIGIN}") is signed by ${await keyId(other.vkey)}; ` +
      `--key is ${await keyId(honest.vkey)} (another key with the same name): give the key of the log this state file follows, or another --state file\n`,
  );
});

test('log monitor with a wrong key names the log\'s latest checkpoint, its signer and the key given', async () => {
  const log = await startLog(await newKey(), [envelope(0)]);
  const otherName = folder.file('monitor-other-log.vkey', `${noteVerifierKey('example.com/log', (await newKey()).publicKey)}\n`);
  const state = join(folder.folder, 'monitor-none.json');
  const result = await folder.cli(['log', 'monitor', log.url, '--key', otherName, '--state', state, '--once']);
  assert.equal(result.code, 3);
  assert.equal(
    result.stderr,
    `runprint: ERR_LOG_NOTE_SIGNATURE: the log's latest checkpoint (log "${ORIGIN}") is signed by ${await keyId(log.vkey)}; ` +
      `--key is ${await keyId(otherName)} (a key for another name): ${GIVE_KEY}\n`,
  );
  await assert.rejects(readFile(state), { code: 'ENOENT' });
  // With a state file the right key signed, a log now signing with another key of the same name:
  // the kept checkpoint verifies, the log's latest is the one named.
  assert.equal((await folder.cli(['log', 'monitor', log.url, '--key', log.vkey, '--state', state, '--once'])).code, 0);
  const rekeyed = await startLog(await newKey(), [envelope(0), envelope(1)]);
  const moved = await folder.cli(['log', 'monitor', rekeyed.url, '--key', log.vkey, '--state', state, '--once']);
  assert.equal(moved.code, 3);
  assert.equal(
    moved.stderr,
    `runprint: ERR_LOG_NOTE_SIGNATURE: the log's latest checkpoint (log "${ORIGIN}") is signed by ${await keyId(rekeyed.vkey)}; ` +
      `--key is ${await keyId(log.vkey)} (another key with the same name): ${GIVE_KEY}\n`,
  );
});

/** Serves `upstream` on loopback, passing each answer through `alter` (a log serving what it did not sign). */
async function tamperingProxy(upstream: string, alter: (path: string, body: Uint8Array) => Uint8Array) {
  const app = {
    async fetch(request: Request): Promise<Response> {
      const path = new URL(request.url).pathname;
      const response = await fetch(new URL(path.slice(1), upstream));
      const body = alter(path, new Uint8Array(await response.arrayBuffer()));
      return new Response(Uint8Array.from(body), { status: response.status, headers: response.headers });
    },
    request(): Promise<Response> {
      throw new Error('not used');
    },
  };
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  return `http://127.0.0.1:${server.port}/`;
}

test('log monitor --once refuses an entry bundle that does not hash to the tiles, and tiles that do not give the root', async () => {
  const { url, vkey } = await startLog(await newKey(), [envelope(0), envelope(1), envelope(2)]);
  const swapEntry = await tamperingProxy(url, (path, body) => {
    if (path !== '/tile/entries/000.p/3') return body;
    const text = new TextDecoder().decode(body).replace(encodeBase64(new TextEncoder().encode('entry 1')), encodeBase64(new TextEncoder().encode('entry 9')));
    return new TextEncoder().encode(text);
  });
  const state = join(folder.folder, 'monitor-tamper.json');
  const swapped = await folder.cli(['log', 'monitor', swapEntry, '--key', vkey, '--state', state, '--once']);
  assert.equal(swapped.code, 1);
  assert.equal(swapped.stderr, 'runprint: ERR_LOG_REWRITE: entry 1 does not hash to its level-0 tile hash\n');

  const flipTile = await tamperingProxy(url, (path, body) => {
    if (path !== '/tile/0/000.p/3') return body;
    const copy = Uint8Array.from(body);
    copy[40]! ^= 1;
    return copy;
  });
  const flipped = await folder.cli(['log', 'monitor', flipTile, '--key', vkey, '--state', state, '--once']);
  assert.equal(flipped.code, 3);
  assert.equal(flipped.stderr, 'runprint: ERR_LOG_TILE_INVALID: tiles do not reproduce the checkpoint root hash\n');
  // Neither run kept a state.
  await assert.rejects(readFile(state), { code: 'ENOENT' });
});

test('log monitor --once starts from an empty log; log takes submit, proof or monitor', async () => {
  const { url, vkey, append } = await startLog(await newKey());
  const state = join(folder.folder, 'monitor-empty.json');
  const empty = await folder.cli(['log', 'monitor', url, '--key', vkey, '--state', state, '--once']);
  assert.equal(empty.stderr, '');
  assert.equal(empty.code, 0);
  await append([envelope(0), envelope(1)]);
  const grown = await folder.cli(['log', 'monitor', url, '--key', vkey, '--state', state, '--once']);
  assert.equal(grown.code, 0);
  assert.equal(grown.stdout, `checkpoint ${ORIGIN} size 2 verified: consistent with size 0, 2 entries checked\n`);

  const unknown = await folder.cli(['log', 'tail']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'runprint: ERR_CLI_USAGE: log takes submit, proof or monitor; run "runprint log --help"\n');
  const help = await folder.cli(['log', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: runprint log submit RECEIPT /);
});
