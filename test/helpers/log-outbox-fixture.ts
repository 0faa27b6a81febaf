/**
 * What the log outbox's tests share: a log key, runprint logs in files of their own behind an HTTP
 * front on loopback that can swap one log for another (a log replaced, restored or forked with the
 * same key), run stores holding receipts with no log index, and an outbox (one serve process) with
 * the log key whose failures are kept. Everything made is closed and removed after the file's tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { captureRunWith } from '../../src/capture/capture-run.ts';
import type { RunprintError } from '../../src/errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../../src/keys/keys.ts';
import { noteVerifierKey, parseNoteVerifier } from '../../src/log/note-keys.ts';
import type { NoteVerifier } from '../../src/log/note.ts';
import { parseTilePath } from '../../src/log/tiles.ts';
import { LogOutbox, type LogOutboxOptions, type OutboxOutcome } from '../../src/store/log-outbox.ts';
import { openSqliteLog, type TransparencyLog } from '../../src/store/log-service.ts';
import { RunRecorder } from '../../src/store/run-recorder.ts';
import { defaultContentPolicy, type RunStorage } from '../../src/store/run-storage.ts';
import { SqliteRuns } from '../../src/store/sqlite-runs.ts';

export interface Front {
  url: URL;
  /** The log answering now (swap it: the log was replaced). */
  log: TransparencyLog;
  /** Served for the next checkpoint reads instead of the log's own, while any are left. */
  stale: string[];
  posts: number;
}

export type Failure = [string, OutboxOutcome, string];

/** What the outbox reads and writes of a run store. */
export type OutboxStorage = LogOutboxOptions['storage'];

/** `store` as the outbox sees it, with some of its methods replaced (a store that pauses, fails once, or counts). */
export function outboxStorage(store: OutboxStorage, replaced: Partial<OutboxStorage> = {}): OutboxStorage {
  return {
    unlogged: (limit, after) => store.unlogged(limit, after),
    unloggedCount: (atMost) => store.unloggedCount(atMost),
    setLogIndexes: (items, checkpoint) => store.setLogIndexes(items, checkpoint),
    lastLogged: () => store.lastLogged(),
    logCheckpoint: (origin) => store.logCheckpoint(origin),
    ...replaced,
  };
}

/** The outbox tests' fixtures, their scratch folders named `prefix`...; call once at a test file's top level. */
export function outboxFixture(prefix: string) {
  const ORIGIN = 'outbox.example';
  const folders: string[] = [];
  const closing: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closing.reverse()) await close();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  const encoder = new TextEncoder();

  function folder(): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    folders.push(dir);
    return dir;
  }

  /** The log key, and its verifier. */
  async function logKey(): Promise<{ key: SigningKey; verifier: NoteVerifier }> {
    const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
    return { key, verifier: await parseNoteVerifier(noteVerifierKey(ORIGIN, key.publicKey)) };
  }

  /** A runprint log with this key in a file of its own (a log serve's log.sqlite): `entries` foreign entries appended and checkpointed. */
  async function newLog(key: SigningKey, entries = 0): Promise<TransparencyLog> {
    const log = await openSqliteLog({ path: join(folder(), 'log.sqlite'), origin: ORIGIN, key, checkpointDelayMs: 10 });
    closing.push(() => log.close());
    for (let i = 0; i < entries; i++) await log.append(encoder.encode(JSON.stringify({ foreign: i, nonce: Math.random() })));
    if (entries > 0) await log.publishCheckpoint();
    return log;
  }

  /** An HTTP front on loopback for `log`: submissions, /checkpoint and hash tiles, as a log serve answers them. */
  async function front(log: TransparencyLog): Promise<Front> {
    const state: Front = { url: new URL('http://127.0.0.1/'), log, stale: [], posts: 0 };
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void (async () => {
          if (request.method === 'POST') {
            state.posts++;
            const stored = await state.log.append(Buffer.concat(chunks));
            response.writeHead(stored.created ? 201 : 200, { 'content-type': 'application/json' });
            return response.end(JSON.stringify({ index: stored.index, leafHash: Buffer.from(stored.leafHash).toString('base64') }));
          }
          if (request.url === '/checkpoint') return response.end(state.stale.shift() ?? (await state.log.checkpoint()).note);
          const path = parseTilePath(request.url!.slice(1));
          const data = path.kind === 'hashes' ? await state.log.tile(path.tile) : undefined;
          if (data === undefined) return response.writeHead(404).end();
          return response.end(Buffer.from(data));
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    closing.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return state;
  }

  let made = 0;
  /** Stores `count` more runs with a receipt each and no log index (what a capturing serve commits before delivery). */
  async function addReceipts(store: RunStorage, count: number): Promise<void> {
    const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy() });
    for (let i = 0; i < count; i++) {
      const n = made++;
      const started = Date.now();
      const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `history ${n}` }] }));
      const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${n}.` } }] }));
      const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
      await recorder.record(run, { requestBytes, responseBytes }, 'sdk');
    }
    await recorder.close();
    const unsigned = (await store.list({ limit: 10_000 })).filter((run) => run.receipt === null);
    await store.setReceipts(unsigned.map((run) => ({ recordDigest: run.recordDigest, receipt: JSON.stringify({ receipt: run.recordDigest }), logIndex: null })));
  }

  async function newStore(receipts: number): Promise<SqliteRuns> {
    const store = SqliteRuns.open(join(folder(), 'runs.sqlite'));
    closing.push(() => store.close());
    await addReceipts(store, receipts);
    return store;
  }

  /** The stored log indexes, in the order the runs were stored. */
  async function indexes(store: RunStorage): Promise<(number | null)[]> {
    return (await store.list({ limit: 10_000 })).reverse().map((run) => run.logIndex);
  }


  /** An outbox (one serve process) on `storage` to the front, with the log key; its failures as reported. */
  function outbox(storage: OutboxStorage, to: Front, verifier: NoteVerifier): { box: LogOutbox; failures: Failure[] } {
    const failures: Failure[] = [];
    const box = new LogOutbox({ storage, url: to.url, logKey: verifier, retryMinMs: 20, retryMaxMs: 50, pollMs: 50, checkpointWaitMs: 3_000, onFailure: (error: RunprintError, outcome) => failures.push([error.code, outcome, error.message]) });
    box.start();
    closing.push(() => box.close());
    return { box, failures };
  }

  async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 8_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await condition())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** No two runs hold one log index. */
  async function noSharedIndex(store: RunStorage): Promise<void> {
    const held = (await indexes(store)).filter((index) => index !== null);
    assert.equal(new Set(held).size, held.length, `no two runs share a log index: ${JSON.stringify(held)}`);
  }

  return { ORIGIN, encoder, closing, folder, logKey, newLog, front, addReceipts, newStore, indexes, outbox, until, noSharedIndex };
}
