/**
 * Issue 4, section 6: the log in a real `runprint serve` process on SQLite survives kill -9 in the
 * middle of a stream of submissions with nothing acknowledged lost, no signed checkpoint
 * contradicted and no monitor alarmed; and many concurrent submitters get one index per distinct
 * entry, 0 .. n-1, under a checkpoint whose root the test recomputes from the bytes it sent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { parseNoteVerifier } from '../src/log/note-keys.ts';
import { verifyInclusion } from '../src/merkle/inclusion.ts';
import { b64, envelope, fetchSignedCheckpoint, killDuringSubmissions, leafHashOf, readLog, submit, TOKEN, type Answer } from './helpers/log-reliability.ts';
import { referenceRoot } from './helpers/reference-tree.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  folders.push(path);
  return path;
}

const seed = Number(process.env['RUNPRINT_TEST_SEED'] ?? Date.now() % 2 ** 31);

test('kill -9 during concurrent submissions, 3 rounds (one before any checkpoint covers the new entries): acknowledged entries kept at their index, checkpoints consistent, runprint log monitor accepts every restart, new entries taken', { timeout: 60_000 }, async (t) => {
  const work = await folder('runprint-reliability-');
  const data = join(work, 'data');
  const result = await killDuringSubmissions({
    data,
    work,
    rounds: 3,
    submitters: 8,
    minAcks: 50,
    maxAcks: 400,
    seed,
    earlyKills: true,
    log: (line) => t.diagnostic(line),
  });
  assert.ok(result.answers >= 2 * 50 + 1, `at least 50 answers in each of two rounds, 1 in the early one (${result.answers})`);
  assert.ok(result.size >= result.acknowledged && result.acknowledged > 50, `${result.acknowledged} distinct entries acknowledged, ${result.size} in the log`);
});

test('the kill -9 checks fail when the restarted log lost an acknowledged entry (the last ones deleted from the SQLite file)', { timeout: 60_000 }, async (t) => {
  const work = await folder('runprint-reliability-loss-');
  const data = join(work, 'data');
  let deleted = 0;
  const run = killDuringSubmissions({
    data,
    work,
    rounds: 1,
    submitters: 4,
    minAcks: 20,
    maxAcks: 60,
    seed,
    log: (line) => t.diagnostic(line),
    afterKill: (_round, acknowledged) => {
      // Drop the highest acknowledged entry and every one after it, with their tile hashes, as a
      // log that acknowledged before its commit was durable would after a crash.
      const db = new DatabaseSync(join(data, 'log.sqlite'));
      try {
        const signed = (db.prepare('SELECT COALESCE(MAX(size), 0) AS size FROM checkpoints').get() as { size: number }).size;
        const from = Math.min(signed, Math.max(...acknowledged));
        deleted = Number(db.prepare('DELETE FROM entries WHERE idx >= ?').run(from).changes);
        const nodes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tile_nodes'").get() !== undefined;
        for (let level = 1; level <= 4; level++) {
          db.prepare('DELETE FROM tile_hashes WHERE level = ? AND idx >= ?').run(level, Math.floor(from / 256 ** level));
          // Where the storage also keeps the subtree hashes inside each complete tile.
          if (nodes) db.prepare('DELETE FROM tile_nodes WHERE level = ? AND idx >= ?').run(level - 1, Math.floor(from / 256 ** level));
        }
      } finally {
        db.close();
      }
    },
  });
  // Either the restarted log no longer covers an acknowledged index, or (when a checkpoint had
  // covered the deleted entries) it refuses to start on a truncated database.
  await assert.rejects(run, (error: Error) => {
    t.diagnostic(`${deleted} entries deleted; caught: ${error.message.split('\n')[0]}`);
    return /covers every acknowledged index|ERR_STORE_CORRUPT/.test(error.message);
  });
  assert.ok(deleted > 0);
});

test('32 concurrent submitters x 100 entries with resubmissions: one index per entry, 0 .. n-1, the checkpoint root recomputed from the bytes sent', { timeout: 60_000 }, async (t) => {
  const data = await folder('runprint-concurrent-');
  const server = await startServe({ data, token: TOKEN });
  try {
    const verifier = await parseNoteVerifier(server.key);
    const CLIENTS = 32;
    const PER_CLIENT = 100;
    // Ten entries every client submits at once, and resubmissions of entries others already sent.
    const hot = Array.from({ length: 10 }, (_, i) => envelope(`hot entry ${i}`));
    const sentSoFar: string[] = [];
    const answers: Array<{ body: string } & Answer> = [];
    const random = (() => {
      let a = seed >>> 0;
      return () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32);
    })();
    const client = async (id: number) => {
      for (let i = 0; i < PER_CLIENT; i++) {
        const bodies = [envelope(`client ${id} entry ${i}`)];
        if (i === 50) bodies.push(hot[id % hot.length]!, hot[(id + 3) % hot.length]!);
        if (i % 5 === 4 && sentSoFar.length > 0) bodies.push(sentSoFar[Math.floor(random() * sentSoFar.length)]!);
        for (const body of bodies) {
          sentSoFar.push(body);
          answers.push({ body, ...(await submit(server.base, body)) });
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
    t.diagnostic(`${answers.length} submissions by ${CLIENTS} clients in ${Math.round(performance.now() - started)} ms`);

    // Every distinct entry: one index, one leaf hash, exactly one 201.
    const byBody = new Map<string, Array<Answer>>();
    for (const { body, ...answer } of answers) byBody.set(body, [...(byBody.get(body) ?? []), answer]);
    const n = CLIENTS * PER_CLIENT + hot.length;
    assert.equal(byBody.size, n);
    assert.ok(answers.length > n + 600, 'resubmissions were mixed in');
    const order: string[] = new Array(n);
    for (const [body, list] of byBody) {
      assert.equal(list.filter((answer) => answer.status === 201).length, 1, `exactly one submission of an entry is answered 201 (${list.map((a) => a.status)})`);
      assert.ok(list.every((answer) => answer.index === list[0]!.index && answer.leafHash === list[0]!.leafHash), 'resubmissions get the original index');
      assert.equal(list[0]!.leafHash, b64(leafHashOf(body)));
      assert.equal(order[list[0]!.index], undefined, `index ${list[0]!.index} given to two entries`);
      order[list[0]!.index] = body;
    }
    assert.ok(Array.from({ length: n }, (_, i) => order[i] !== undefined).every(Boolean), 'the indexes are exactly 0 .. n-1');

    // The checkpoint covering all of them: its root from the bytes sent, in the answered order.
    let checkpoint = await fetchSignedCheckpoint(server.base, verifier);
    for (let wait = 0; checkpoint.size < n && wait < 200; wait++) {
      await sleep(25);
      checkpoint = await fetchSignedCheckpoint(server.base, verifier);
    }
    assert.equal(checkpoint.size, n, 'the latest checkpoint covers every entry, and no more');
    const leafHashes = order.map((body) => leafHashOf(body));
    assert.equal(b64(checkpoint.rootHash), b64(referenceRoot(leafHashes)), 'checkpoint root = RFC 6962 root of SHA-256(0x00 || entry) in index order');
    const stored = await readLog(server.base, n);
    assert.deepEqual(stored.entries.map((entry) => entry.toString('utf8')), order, 'the entry bundles hold the bytes sent, at their indexes');
    for (const index of [0, 1, 255, 256, n - 1, Math.floor(random() * n)]) {
      const proof = (await (await fetch(`${server.base}/v1/log/proof?index=${index}&size=${n}`)).json()) as { leafHash: string; proof: string[] };
      assert.equal(proof.leafHash, b64(leafHashes[index]!));
      assert.ok(verifyInclusion(leafHashes[index]!, index, n, proof.proof.map((hash) => Buffer.from(hash, 'base64')), checkpoint.rootHash), `inclusion of ${index}`);
    }
    assert.equal(await server.stop(), 0);
  } finally {
    await server.kill();
  }
});
