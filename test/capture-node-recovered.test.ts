/**
 * runprintFetch into a local run store that fails for a while (another connection holds its write
 * lock past the 5 s busy wait; a full disk takes the same path): the calls go on, their runs are
 * held and counted as failures, and once the store works again the held runs are committed, counted
 * in `counts.recovered`, and the default reporter says so as serve does ("the run store works
 * again (N held records committed)").
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/index.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { lockRunStore } from './helpers/run-store-lock.ts';

let upstream: FakeUpstream;
const scratch: string[] = [];
before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

test('runs held while the store failed and committed once it works again are counted recovered, and the default reporter says so', async () => {
  const data = mkdtempSync(join(tmpdir(), 'runprint-recovered-'));
  scratch.push(data);
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  const fetch = runprintFetch({ data });
  const call = async (text: string) => {
    const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }) });
    assert.equal(response.status, 200);
    await response.text();
  };
  let lock: ReturnType<typeof lockRunStore> | undefined;
  try {
    await call('Before.');
    await fetch.flush();
    assert.equal(fetch.counts.recorder.recorded, 1);
    lock = lockRunStore(data);
    await call('Held one.');
    await call('Held two.');
    assert.equal(fetch.counts.failures, 2, 'each run not durable at its answer is counted');
    assert.equal(fetch.counts.recovered, 0);
    assert.ok(lines.some((line) => line.startsWith('runprint: capture: ERR_STORE_LOCKED')), lines.join(''));
    lock.close();
    lock = undefined;
    for (let i = 0; i < 400 && fetch.counts.recovered < 2; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(fetch.counts.recovered, 2, 'both held runs committed once the store worked again');
    assert.equal(fetch.counts.failures, 2, 'failures stay counted: failures - recovered is what was lost');
    assert.equal(fetch.counts.recorder.recorded, 3);
    assert.ok(lines.includes('runprint: capture: the run store works again (2 held records committed)\n'), lines.join(''));
  } finally {
    process.stderr.write = write;
    lock?.close();
    await fetch.close();
  }
});
