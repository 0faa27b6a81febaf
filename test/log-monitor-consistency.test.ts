/**
 * SPEC 19.6: a monitor checks that each new checkpoint is consistent with the one it kept, using a
 * consistency proof it builds from the served tiles. Here checkLogProgress is called directly
 * against real logs served on loopback, with rewrites that only the consistency proof can reveal:
 * the monitor rehashes only the entries it has not seen, so a rewrite of an old entry passes every
 * other check.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkLogProgress, fetchCheckpoint } from '../src/log/client.ts';
import { parseNoteVerifier } from '../src/log/note-keys.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';

const ORIGIN = 'example.test/runprint-monitor';
const folder = await mkdtemp(join(tmpdir(), 'runprint-monitor-consistency-'));
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(folder, { recursive: true, force: true });
});

const key: SigningKey = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);

let logs = 0;
/** A log with this key on 127.0.0.1 holding `entries`, signed; returns its base URL and the log. */
async function serveLog(entries: readonly string[]): Promise<{ base: URL; log: TransparencyLog }> {
  const log = await openSqliteLog({ path: join(folder, `log-${logs++}.sqlite`), origin: ORIGIN, key, checkpointDelayMs: 1000 });
  const server = await listen(createApp({ log: { log, token: 'monitor-test-token-0123' } }), { host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    await server.close();
    await log.close();
  });
  await append(log, entries);
  return { base: new URL(`http://127.0.0.1:${server.port}/`), log };
}

async function append(log: TransparencyLog, entries: readonly string[]): Promise<void> {
  for (const entry of entries) await log.append(new TextEncoder().encode(entry));
  await log.publishCheckpoint();
}

const entries = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, n) => `entry ${from + n}`);

test('checkLogProgress accepts a log that grew from the kept checkpoint and rehashes only the new entries', async () => {
  const honest = await serveLog(entries(0, 300));
  const logKey = await parseNoteVerifier(honest.log.verifierKey);
  const kept = await fetchCheckpoint(honest.base, logKey);
  assert.equal(kept.checkpoint.size, 300);
  await append(honest.log, entries(300, 600));
  const latest = await fetchCheckpoint(honest.base, logKey);
  assert.deepEqual(await checkLogProgress(honest.base, kept.checkpoint, latest.checkpoint), { from: 300, to: 600, entriesChecked: 300 });
});

test('checkLogProgress rejects a log that rewrote an entry the kept checkpoint covers (ERR_LOG_REWRITE)', async () => {
  const honest = await serveLog(entries(0, 300));
  const logKey = await parseNoteVerifier(honest.log.verifierKey);
  const kept = await fetchCheckpoint(honest.base, logKey);
  // Entry 100 sits in a complete tile of the kept tree; entry 299 in its partial last tile, whose
  // bundle the monitor fetches again but whose old entries it does not rehash.
  for (const rewritten of [100, 299]) {
    const history = entries(0, 600);
    history[rewritten] = `rewritten ${rewritten}`;
    const forked = await serveLog(history);
    const latest = await fetchCheckpoint(forked.base, logKey);
    assert.equal(latest.checkpoint.size, 600);
    await assert.rejects(checkLogProgress(forked.base, kept.checkpoint, latest.checkpoint), {
      code: 'ERR_LOG_REWRITE',
      message: 'log checkpoint of size 600 is not consistent with the one of size 300',
    });
  }
});
