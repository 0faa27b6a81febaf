/**
 * A store that does not open never holds the application's calls: runprintFetch waits for its
 * local run store to open for a bounded time (STORE_OPEN_WAIT_MS from its start; shortened here
 * through the test seam), then lets the answers go (sync durability holds each answer's end for
 * its run), reports the runs it cannot record (ERR_STORE_UNAVAILABLE, once) and counts each, and
 * flush and close return; a store that opens later records the calls made after. The opening that
 * never settles is real: the data directory's receipt-key.pem is a named pipe that no one writes,
 * whose opening waits for a writer. With a server (`url`), the outbox folder under /proc, where
 * Node's recursive mkdir looped for ever, fails at once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch, STORE_OPEN_WAIT_SEAM, type RunprintFetch } from '../src/capture-node/runprint-fetch.ts';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-capture-node-store-open-');
/** The seam's wait: how long calls wait for the store to open (ms). */
const WAIT = 1000;
/** Longer than any call here may take: a call still going then is held (the failure this file checks). */
const HELD = 10_000;
let upstream: FakeUpstream;
/** The named pipes made, each let go (opened for writing) after the test. */
const pipes: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  // A store still opening waits in the pipe's open (a thread of Node's pool): let it go.
  for (const pipe of pipes) letGo(pipe);
  await upstream.close();
  scratch.removeAll();
});

/** A data directory whose receipt-key.pem is a named pipe: opening the store waits for a writer. */
function pipedData(): { data: string; pipe: string } {
  const data = scratch.tempDir();
  const pipe = join(data, 'receipt-key.pem');
  execFileSync('mkfifo', ['-m', '600', pipe]);
  pipes.push(pipe);
  return { data, pipe };
}

/** Writes `text` to the pipe's reader waiting for it and closes it (nothing when no reader waits). */
function letGo(pipe: string, text = ''): void {
  let fd: number;
  try {
    fd = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return;
  }
  if (text !== '') writeSync(fd, text);
  closeSync(fd);
}

/** What `work` gives, or a failure when it is still going after HELD ms. */
async function within<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const held = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what} was still held after ${HELD / 1000} s` })), HELD);
  });
  try {
    return await Promise.race([work, held]);
  } finally {
    clearTimeout(timer);
  }
}

/** One chat call through `fetch`, its answer read to its end: the text. */
async function call(fetch: RunprintFetch): Promise<string> {
  const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi.' }] }) });
  assert.equal(response.status, 200);
  return response.text();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('sync durability, a store that does not open: the calls complete, their runs are reported and counted; one that opens later records the next calls', { skip: process.platform === 'win32' }, async () => {
  const { data, pipe } = pipedData();
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, onError: (error) => void errors.push(error), [STORE_OPEN_WAIT_SEAM]: WAIT } as Parameters<typeof runprintFetch>[0]);
  assert.match(await within('the first call', call(fetch)), /Hello from the fake upstream/);
  assert.deepEqual(errors.map((error) => error.code), ['ERR_STORE_UNAVAILABLE']);
  assert.equal(errors[0]!.message, `the run store of the data directory ${data} has not opened within ${WAIT / 1000} s (a file system that does not answer, or a file in the directory that blocks its reading, such as a named pipe): the runs of the calls made until it opens are not recorded`);
  assert.equal(fetch.counts.failures, 1, 'its run is counted');
  // Past the wait, a call does not wait at all; the failure is not reported again.
  const second = Date.now();
  await within('the second call', call(fetch));
  assert.ok(Date.now() - second < WAIT, 'no wait of its own');
  assert.equal(fetch.counts.failures, 2);
  assert.equal(errors.length, 1);
  await within('flush', fetch.flush());

  // The store opens late (the key comes through the pipe): the calls after it are recorded.
  letGo(pipe, (await generateKeyFiles('runprint-capture')).privateKeyPem);
  for (let i = 0; i < 250 && !existsSync(join(data, 'runs.sqlite')); i++) await sleep(20);
  await sleep(200);
  await within('a call once the store is open', call(fetch));
  await within('flush', fetch.flush());
  assert.equal(fetch.counts.recorder.recorded, 1, 'recorded');
  assert.equal(fetch.counts.recorder.signed, 1, 'and signed');
  assert.equal(fetch.counts.failures, 2);
  assert.equal(errors.length, 1);
  await within('close', fetch.close());
});

test('async durability: flush and close of a fetch whose store never opens return after the wait; a late failure of the opening is reported', { skip: process.platform === 'win32' }, async () => {
  const { data, pipe } = pipedData();
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, durability: 'async', onError: (error) => void errors.push(error), [STORE_OPEN_WAIT_SEAM]: WAIT } as Parameters<typeof runprintFetch>[0]);
  await within('the call', call(fetch));
  await within('flush', fetch.flush());
  await within('close', fetch.close());
  assert.deepEqual(errors.map((error) => error.code), ['ERR_STORE_UNAVAILABLE']);
  assert.match(errors[0]!.message, /has not opened within 1 s/);
  assert.equal(fetch.counts.failures, 1);
  // The opening ends, after close: an empty key file, reported with its path.
  letGo(pipe);
  for (let i = 0; i < 100 && errors.length < 2; i++) await sleep(20);
  assert.equal(errors[1]?.code, 'ERR_KEY_INVALID');
  assert.match(errors[1]!.message, /is empty/);
});

test('with a server: an outbox folder that cannot be made under /proc fails at once, the call completes', { skip: process.platform !== 'linux' || !existsSync('/proc/self') }, async () => {
  const errors: RunprintError[] = [];
  const data = '/proc/runprint-no-such-folder';
  const fetch = runprintFetch({ data, url: 'http://127.0.0.1:9', onError: (error) => void errors.push(error) });
  await within('the call', call(fetch));
  await within('close', fetch.close());
  assert.deepEqual(errors.map((error) => error.code), ['ERR_STORE_UNAVAILABLE']);
  assert.equal(errors[0]!.message, `the outbox folder ${join(data, 'outbox')} cannot be created (ENOENT)`);
  assert.equal(fetch.counts.failures, 1);
});
