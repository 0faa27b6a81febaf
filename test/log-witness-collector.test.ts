/** A log collecting witness cosignatures over loopback HTTP: cosigned checkpoints served, and a log that still publishes when witnesses fail. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, test } from 'node:test';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { verifyCosignatures } from '../src/log/cosignature.ts';
import { noteVerifier } from '../src/log/note-keys.ts';
import { parseNote, verifyNote } from '../src/log/note.ts';
import { parseTlogProof } from '../src/log/tlog-proof.ts';
import type { RunprintError } from '../src/errors.ts';
import type { SigningKey } from '../src/keys/keys.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { createApp } from '../src/server/app.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { witnessCollector, type WitnessEndpoint, type WitnessCollectorOptions } from '../src/store/witness-collector.ts';
import { newKey, removeFolders, startWitness, tempFile, type TestWitness } from './helpers/witness-fixtures.ts';

const ORIGIN = 'example.test/collecting-log';
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await removeFolders();
});

function entry(n: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }));
}

async function serveWitness(witness: TestWitness): Promise<Listening> {
  const server = await listen(witness.app, { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  return server;
}

async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler!);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, server };
}

/** A loopback port with nothing listening on it. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function openLog(key: SigningKey, witnesses: WitnessEndpoint[], options: { file?: string; delay?: number; collector?: WitnessCollectorOptions } = {}) {
  const file = options.file ?? (await tempFile('log.sqlite'));
  const failures: Array<{ url: string; code: string }> = [];
  const cosign = witnessCollector(witnesses, { onFailure: (url, error: RunprintError) => failures.push({ url, code: error.code }), ...options.collector });
  const log = await openSqliteLog({ path: file, origin: ORIGIN, key, cosign, ...(options.delay === undefined ? {} : { checkpointDelayMs: options.delay }) });
  return { log, file, failures, app: createApp({ log: { log, anonymousWrites: true } }) };
}

/**
 * Appends one entry and returns how long until a checkpoint covering it was served with the
 * cosignatures collected (the log stores its checkpoint before asking witnesses, and serves it
 * from storage meanwhile), in ms.
 */
async function timeToCheckpoint(log: TransparencyLog, n: number): Promise<{ served: number; cosigned: number }> {
  const started = performance.now();
  const { index } = await log.append(entry(n));
  assert.equal(await log.waitForCheckpoint(index, 5000), true);
  const served = performance.now() - started;
  // Queued behind the publication in progress: resolves once it has its cosignatures.
  await log.publishCheckpoint();
  return { served, cosigned: performance.now() - started };
}

/**
 * The log's promise: a checkpoint at most the checkpoint delay (500 ms) plus the witness timeout
 * (400 ms, the witnesses asked in parallel) after an append, however the witnesses fail: measured
 * at ~910 ms on an idle machine (docs/LOG.md; each round prints its time). What this test asserts
 * is the property, not the speed: the hanging and dripping witnesses never answer, so a collector
 * that waited for a failing witness beyond its timeout would wait forever. The bound is 5 s so
 * that a loaded test run (three test files at a time beside other work: 1.5 s was seen) does not
 * fail it; a timed limit near 900 ms belongs in a benchmark.
 */
const BOUND_MS = 5_000;

function assertWithinBudget(time: { served: number; cosigned: number }): void {
  assert.ok(time.served < BOUND_MS, `checkpoint served after ${time.served.toFixed(0)} ms`);
  assert.ok(time.cosigned < BOUND_MS, `cosigned checkpoint after ${time.cosigned.toFixed(0)} ms`);
}

test('the served checkpoint carries a cosignature verifyCosignatures accepts; later ones extend it by consistency proof; a restarted log learns the size from 409', async () => {
  const key = await newKey(ORIGIN);
  const logKey = noteVerifier(ORIGIN, key.publicKey);
  const witness = await startWitness([logKey]);
  closers.push(() => witness.close());
  const server = await serveWitness(witness);
  const endpoint = { url: `http://127.0.0.1:${server.port}`, verifier: witness.verifier };
  const first = await openLog(key, [endpoint], { delay: 20 });

  for (let i = 0; i < 3; i++) await first.log.append(entry(i));
  assert.equal(await first.log.waitForCheckpoint(2, 5000), true);
  // The checkpoint is stored (and may be served from storage) before the witnesses answer; this waits for their answers.
  await first.log.publishCheckpoint();
  const served = await (await first.app.request('/checkpoint')).text();
  await verifyNote(served, [logKey]);
  const cosignatures = await verifyCosignatures(served, [witness.verifier]);
  assert.equal(cosignatures.length, 1);
  assert.ok(Math.abs(cosignatures[0]!.timestamp - Date.now() / 1000) < 60);
  assert.equal(parseCheckpoint(parseNote(served).text).size, 3);
  assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 3);

  // The next checkpoint goes out as old 3 with a consistency proof from 3.
  for (let i = 3; i < 8; i++) await first.log.append(entry(i));
  assert.equal(await first.log.waitForCheckpoint(7, 5000), true);
  await first.log.publishCheckpoint();
  const second = await (await first.app.request('/checkpoint')).text();
  assert.equal(parseCheckpoint(parseNote(second).text).size, 8);
  assert.equal((await verifyCosignatures(second, [witness.verifier])).length, 1);
  assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 8);
  // The tlog-proof of an entry carries the cosigned checkpoint.
  const tlogProof = await (await first.app.request('/v1/log/tlog-proof?index=4')).text();
  assert.equal((await verifyCosignatures(parseTlogProof(tlogProof).checkpoint, [witness.verifier])).length, 1);
  assert.deepEqual(first.failures, []);
  await first.log.close();

  // A new process knows nothing of the witness: it sends old 0, gets 409 "8", and retries with a proof from 8.
  const restarted = await openLog(key, [endpoint], { file: first.file, delay: 20 });
  closers.push(() => restarted.log.close());
  await restarted.log.append(entry(8));
  assert.equal(await restarted.log.waitForCheckpoint(8, 5000), true);
  await restarted.log.publishCheckpoint();
  const third = await (await restarted.app.request('/checkpoint')).text();
  assert.equal(parseCheckpoint(parseNote(third).text).size, 9);
  assert.equal((await verifyCosignatures(third, [witness.verifier])).length, 1);
  assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 9);
  assert.deepEqual(restarted.failures, []);
});

test('with witnesses down, hanging, answering garbage or signing with another key, a checkpoint is still published within the checkpoint delay and the witness timeout, without their lines', async () => {
  const key = await newKey(ORIGIN);
  const logKey = noteVerifier(ORIGIN, key.publicKey);
  const good = await startWitness([logKey]);
  closers.push(() => good.close());
  const goodServer = await serveWitness(good);
  // A witness whose answers are signed by a key other than the one the log was given for it.
  const impostor = await startWitness([logKey]);
  closers.push(() => impostor.close());
  const impostorServer = await serveWitness(impostor);
  const hanging = await rawServer(() => undefined);
  const garbage = await rawServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('\u2014 witness.example/w1 AAAA\nnot a line\n');
  });
  const slowDrip = await rawServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.write('\u2014 ');
  });
  const status500 = await rawServer((_request, response) => {
    response.writeHead(500);
    response.end();
  });
  const witnesses: WitnessEndpoint[] = [
    { url: await deadUrl(), verifier: good.verifier },
    { url: hanging.url, verifier: good.verifier },
    { url: garbage.url, verifier: good.verifier },
    { url: slowDrip.url, verifier: good.verifier },
    { url: status500.url, verifier: good.verifier },
    { url: `http://127.0.0.1:${impostorServer.port}`, verifier: good.verifier },
    { url: `http://127.0.0.1:${goodServer.port}/`, verifier: good.verifier },
  ];
  // The default checkpoint delay (500 ms) and the default witness timeout.
  const { log, app, failures } = await openLog(key, witnesses);
  closers.push(() => log.close());
  for (let n = 0; n < 3; n++) {
    const time = await timeToCheckpoint(log, n);
    console.log(`append to checkpoint with 6 failing witnesses: served ${time.served.toFixed(0)} ms, cosigned ${time.cosigned.toFixed(0)} ms`);
    assertWithinBudget(time);
  }

  const served = await (await app.request('/checkpoint')).text();
  const note = parseNote(served);
  // The log's signature and the one good witness's cosignature, nothing else.
  assert.equal(note.signatures.length, 2);
  await verifyNote(served, [logKey]);
  assert.equal((await verifyCosignatures(served, [good.verifier])).length, 1);
  const failed = new Set(failures.map((failure) => `${failure.url} ${failure.code}`));
  assert.ok(failed.has(`${witnesses[0]!.url} ERR_WITNESS_UNREACHABLE`));
  assert.ok(failed.has(`${hanging.url} ERR_WITNESS_UNREACHABLE`));
  assert.ok(failed.has(`${garbage.url} ERR_LOG_COSIGNATURE_INVALID`));
  assert.ok(failed.has(`${slowDrip.url} ERR_WITNESS_UNREACHABLE`));
  assert.ok(failed.has(`${status500.url} ERR_WITNESS_UNREACHABLE`));
  // The impostor's line names the same witness but does not verify under the configured key: dropped.
  assert.ok(failed.has(`${witnesses[5]!.url} ERR_LOG_COSIGNATURE_INVALID`));
  assert.ok(!failures.some((failure) => failure.url === witnesses[6]!.url));
});

test('with its only witness down the log publishes its own signed checkpoint, the note unchanged', async () => {
  const key = await newKey(ORIGIN);
  const witnessKey = await newKey('w');
  const { cosignatureVerifier } = await import('../src/log/cosignature.ts');
  const { log, app, failures } = await openLog(key, [{ url: await deadUrl(), verifier: cosignatureVerifier('witness.example/w1', witnessKey.publicKey) }]);
  closers.push(() => log.close());
  assertWithinBudget(await timeToCheckpoint(log, 0));
  const note = parseNote(await (await app.request('/checkpoint')).text());
  assert.equal(note.signatures.length, 1);
  assert.equal(note.signatures[0]!.name, ORIGIN);
  assert.ok(failures.length >= 1);
  assert.ok(failures.every((failure) => failure.code === 'ERR_WITNESS_UNREACHABLE'));
});

test('a witness that refuses the log (unknown log 404, 403) adds nothing and the collector reports the code', async () => {
  const key = await newKey(ORIGIN);
  // This witness witnesses another log only.
  const elsewhere = await startWitness([noteVerifier('example.test/other', (await newKey()).publicKey)]);
  closers.push(() => elsewhere.close());
  const server = await serveWitness(elsewhere);
  // This one trusts another key for this origin.
  const distrust = await startWitness([noteVerifier(ORIGIN, (await newKey()).publicKey)]);
  closers.push(() => distrust.close());
  const distrustServer = await serveWitness(distrust);
  const { log, app, failures } = await openLog(
    key,
    [
      { url: `http://127.0.0.1:${server.port}`, verifier: elsewhere.verifier },
      { url: `http://127.0.0.1:${distrustServer.port}`, verifier: distrust.verifier },
    ],
    { delay: 10 },
  );
  closers.push(() => log.close());
  await timeToCheckpoint(log, 0);
  assert.equal(parseNote(await (await app.request('/checkpoint')).text()).signatures.length, 1);
  assert.ok(failures.some((failure) => failure.code === 'ERR_WITNESS_UNKNOWN_LOG'));
  assert.ok(failures.some((failure) => failure.code === 'ERR_WITNESS_SIGNATURE'));
});

test('the collector never rejects: when the consistency proof cannot be read, the note comes back as it was', async () => {
  const key = await newKey(ORIGIN);
  const logKey = noteVerifier(ORIGIN, key.publicKey);
  const witness = await startWitness([logKey]);
  closers.push(() => witness.close());
  const server = await serveWitness(witness);
  const { TestLog } = await import('./helpers/witness-fixtures.ts');
  const testLog = new TestLog(ORIGIN, key);
  testLog.grow(4);
  const failures: string[] = [];
  const cosign = witnessCollector([{ url: `http://127.0.0.1:${server.port}`, verifier: witness.verifier }], { onFailure: (_url, error) => failures.push(error.code) });
  // First contact: old 0 is accepted (no proof needed).
  const note4 = await testLog.note(4);
  const cosigned = await cosign({ checkpoint: parseCheckpoint(testLog.checkpointText(4)), note: note4 }, async () => assert.fail('no proof for old 0'));
  assert.equal((await verifyCosignatures(cosigned, [witness.verifier])).length, 1);
  // Next: the proof source fails; the log-signed note comes back unchanged.
  testLog.grow(2);
  const note6 = await testLog.note(6);
  const unchanged = await cosign({ checkpoint: parseCheckpoint(testLog.checkpointText(6)), note: note6 }, async () => {
    throw new Error('storage went away');
  });
  assert.equal(unchanged, note6);
  assert.equal(failures.length, 1);
  assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 4);
});
