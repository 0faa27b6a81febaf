/**
 * Reliability scenarios against a real `runprint serve` process (issue 4, section 6), shared by
 * test/log-reliability.test.ts and its heavier variant in test/slow/. Everything the log answers is
 * checked against what the test computes itself: leaf hashes with node:crypto, roots with the naive
 * RFC 9162 recursion of test/helpers/reference-tree.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpTileReader, logPrefix, verifyCheckpointNote } from '../../src/log/client.ts';
import { parseNoteVerifier } from '../../src/log/note-keys.ts';
import type { NoteVerifier } from '../../src/log/note.ts';
import { verifyTlogProof } from '../../src/log/tlog-proof.ts';
import { consistencyProofFromTiles } from '../../src/log/tiles.ts';
import { verifyConsistency } from '../../src/merkle/consistency.ts';
import { referenceRoot } from './reference-tree.ts';
import { runRunprint, startServe, type ServeProcess } from './serve-process.ts';

export const TOKEN = 'reliability-token-0123456789';

/** A well-formed DSSE envelope (the log checks only its shape), as the bytes the log stores. */
export function envelope(text: string): string {
  return JSON.stringify({ payload: Buffer.from(text).toString('base64'), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
}

/** RFC 6962 leaf hash, SHA-256(0x00 || entry), with node:crypto (independent of src/). */
export function leafHashOf(entry: string | Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.from([0])).update(entry).digest();
}

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A small deterministic PRNG (mulberry32), so a logged seed replays the same kill points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Answer {
  status: number;
  index: number;
  leafHash: string;
  /** The signed checkpoint note, when one covering the entry was there to answer with. */
  checkpoint?: string;
  /** The C2SP tlog-proof (asked for with `?wait=checkpoint`). */
  tlogProof?: string;
}

/**
 * POSTs one entry. Resolves with the log's answer when it is 201 or 200 (an acknowledgement), throws
 * an AssertionError on any other status, and rejects with the fetch error when the connection fails.
 */
export async function submit(base: string, body: string, token = TOKEN, wait = false): Promise<Answer> {
  const response = await fetch(`${base}/v1/log/entries${wait ? '?wait=checkpoint' : ''}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  assert.ok(response.status === 201 || response.status === 200, `POST /v1/log/entries answered ${response.status}: ${text}`);
  const answer = JSON.parse(text) as { index: unknown; leafHash: unknown; checkpoint?: unknown; tlogProof?: unknown };
  assert.ok(Number.isSafeInteger(answer.index) && (answer.index as number) >= 0, `answer has no index: ${text}`);
  assert.equal(answer.leafHash, b64(leafHashOf(body)), 'answered leafHash is SHA-256(0x00 || entry)');
  const result: Answer = { status: response.status, index: answer.index as number, leafHash: answer.leafHash as string };
  if (typeof answer.checkpoint === 'string') result.checkpoint = answer.checkpoint;
  if (typeof answer.tlogProof === 'string') result.tlogProof = answer.tlogProof;
  return result;
}

export interface SeenCheckpoint {
  size: number;
  rootHash: Uint8Array;
  note: string;
}

/** GET /checkpoint, verified with the log key and its origin. */
export async function fetchSignedCheckpoint(base: string, verifier: NoteVerifier): Promise<SeenCheckpoint> {
  const response = await fetch(`${base}/checkpoint`);
  const note = await response.text();
  assert.equal(response.status, 200, `GET /checkpoint answered ${response.status}: ${note}`);
  const { checkpoint } = await verifyCheckpointNote(note, verifier);
  return { size: checkpoint.size, rootHash: checkpoint.rootHash, note };
}

async function getBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(response.status, 200, `GET ${url} answered ${response.status}: ${bytes.toString('utf8').slice(0, 200)}`);
  return bytes;
}

/** N of a tile path as C2SP tlog-tiles spells it: 3-digit groups, all but the last prefixed with x. */
export function indexPath(index: number): string {
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = digits.match(/.../g)!;
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

/**
 * Every entry of the log up to `size`, read from its entry bundles (`tile/entries/N[.p/W]`) and split
 * here (big-endian uint16 length per entry), and the level-0 tiles compared with their leaf hashes.
 */
export async function readLog(base: string, size: number): Promise<{ entries: Buffer[]; leafHashes: Buffer[] }> {
  const entries: Buffer[] = [];
  const leafHashes: Buffer[] = [];
  for (let n = 0; n * 256 < size; n++) {
    const width = Math.min(256, size - n * 256);
    const suffix = width === 256 ? '' : `.p/${width}`;
    const bundle = await getBytes(`${base}/tile/entries/${indexPath(n)}${suffix}`);
    const tile = await getBytes(`${base}/tile/0/${indexPath(n)}${suffix}`);
    assert.equal(tile.length, width * 32, `level-0 tile ${n} holds ${width} hashes`);
    let offset = 0;
    for (let i = 0; i < width; i++) {
      assert.ok(offset + 2 <= bundle.length, `entry bundle ${n} ends inside entry ${i}`);
      const length = bundle.readUInt16BE(offset);
      assert.ok(offset + 2 + length <= bundle.length, `entry bundle ${n} ends inside entry ${i}`);
      const entry = bundle.subarray(offset + 2, offset + 2 + length);
      offset += 2 + length;
      const leafHash = leafHashOf(entry);
      assert.equal(b64(leafHash), b64(tile.subarray(i * 32, i * 32 + 32)), `entry ${n * 256 + i} hashes to its level-0 tile hash`);
      entries.push(entry);
      leafHashes.push(leafHash);
    }
    assert.equal(offset, bundle.length, `entry bundle ${n} has no trailing bytes`);
  }
  return { entries, leafHashes };
}

export interface KillScenario {
  /** The data directory of the log (kept across restarts). */
  data: string;
  /** A folder for the monitor's key and state files. */
  work: string;
  rounds: number;
  submitters: number;
  /** Each round is killed after a number of acknowledgements drawn from [minAcks, maxAcks]. */
  minAcks: number;
  maxAcks: number;
  seed: number;
  /**
   * Every other round (the 2nd, 4th, ...) is killed after 1 to 50 acknowledgements without waiting
   * for a checkpoint: acknowledged entries no checkpoint covers yet must be kept and signed at restart.
   */
  earlyKills?: boolean;
  /**
   * Runs after each kill, before the restart, with the indexes acknowledged so far: lets a test
   * damage the data directory to show the checks catch it.
   */
  afterKill?: (round: number, acknowledged: number[]) => void | Promise<void>;
  /** Called with one line per event worth keeping in the test output. */
  log: (line: string) => void;
}

/**
 * Kill -9 during a stream of submissions, `rounds` times on one data directory, then a last
 * restart. After each restart: every acknowledged entry is at its acknowledged index with its
 * leaf hash; every checkpoint seen before any kill is a prefix of the new tree (by the root
 * recomputed here, and by a consistency proof read from the served tiles); the log holds only
 * entries that were submitted, each once; a resubmission of an acknowledged entry gets its index
 * back; new entries are taken; and `runprint log monitor --once` accepts the log (exit 0).
 */
export async function killDuringSubmissions(scenario: KillScenario): Promise<{ acknowledged: number; answers: number; size: number }> {
  // Kill points from their own generator, so the seed replays them whatever the submitters draw.
  const killPoints = prng(scenario.seed);
  const random = prng(scenario.seed ^ 0x5bd1e995);
  scenario.log(`seed ${scenario.seed} (RUNPRINT_TEST_SEED=${scenario.seed} replays the kill points)`);
  /** Every acknowledged entry by its bytes, with the index the log answered. */
  const acked = new Map<string, Answer>();
  /** Every entry ever sent, acknowledged or not. */
  const sent = new Set<string>();
  /** Every signed checkpoint seen by size (one root per size, else the log forked). */
  const seen = new Map<number, SeenCheckpoint>();
  const vkeyFile = join(scenario.work, 'log.vkey');
  const stateFile = join(scenario.work, 'monitor.json');
  let logKey: string | undefined;
  let verifier: NoteVerifier | undefined;

  /**
   * Sizes first seen since the last restart was checked. A restart recomputes here the roots of
   * those and of the last restart's checkpoint (whose root was recomputed from the whole log then):
   * older ones are prefixes of that one, so of the new tree too.
   */
  const fresh = new Set<number>();
  let anchor: SeenCheckpoint | undefined;
  const remember = (checkpoint: SeenCheckpoint) => {
    const earlier = seen.get(checkpoint.size);
    if (earlier !== undefined) {
      assert.equal(b64(checkpoint.rootHash), b64(earlier.rootHash), `two signed root hashes for size ${checkpoint.size}: a fork`);
    } else {
      seen.set(checkpoint.size, checkpoint);
      fresh.add(checkpoint.size);
    }
  };

  const monitor = async (server: ServeProcess, when: string) => {
    const run = await runRunprint(['log', 'monitor', server.base, '--key', vkeyFile, '--once', '--state', stateFile]);
    assert.equal(run.code, 0, `runprint log monitor ${when} refused the log (exit ${run.code}):\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /^checkpoint \S+ size \d+ verified: (first checkpoint|consistent with size \d+|no new entries), \d+ entries checked\n$/);
    scenario.log(`monitor ${when}: ${run.stdout.trim()}`);
  };

  /** Everything the log must still be after a restart. */
  const checkRestarted = async (server: ServeProcess) => {
    const latest = await fetchSignedCheckpoint(server.base, verifier!);
    remember(latest);
    const maxAcked = Math.max(-1, ...[...acked.values()].map((answer) => answer.index));
    assert.ok(latest.size > maxAcked, `the checkpoint after a restart (size ${latest.size}) covers every acknowledged index (up to ${maxAcked})`);
    const { entries, leafHashes } = await readLog(server.base, latest.size);
    // Only submitted entries, each once.
    const texts = entries.map((entry) => entry.toString('utf8'));
    assert.equal(new Set(texts).size, texts.length, 'no entry is in the log twice');
    for (const [index, text] of texts.entries()) assert.ok(sent.has(text), `entry ${index} was never submitted: ${text.slice(0, 80)}`);
    // Every acknowledged entry at its index.
    for (const [body, answer] of acked) {
      assert.equal(texts[answer.index], body, `acknowledged entry is at its acknowledged index ${answer.index}`);
      assert.equal(b64(leafHashes[answer.index]!), answer.leafHash, `leaf hash at index ${answer.index} is the acknowledged one`);
    }
    // The new tree: its root here, and every earlier checkpoint a prefix of it.
    assert.equal(b64(referenceRoot(leafHashes)), b64(latest.rootHash), 'the checkpoint root is the root of the entries it serves');
    const readTile = httpTileReader(logPrefix(server.base));
    for (const old of [...seen.values()].sort((a, b) => a.size - b.size)) {
      if (old.size > latest.size) assert.fail(`a checkpoint of size ${old.size} was signed, the log now has ${latest.size}: entries dropped`);
      if (fresh.has(old.size) || old.size === anchor?.size) {
        assert.equal(b64(referenceRoot(leafHashes.slice(0, old.size))), b64(old.rootHash), `the checkpoint of size ${old.size} is a prefix of the restarted log`);
      }
      // From the served tiles, as a client checks it: every checkpoint seen so far.
      if (old.size === 0 || old.size === latest.size) continue;
      const proof = await consistencyProofFromTiles(old.size, latest.size, readTile);
      assert.ok(verifyConsistency(old.size, latest.size, proof, old.rootHash, latest.rootHash), `consistency proof from tiles, ${old.size} -> ${latest.size}`);
    }
    fresh.clear();
    anchor = latest;
    // An acknowledged entry resubmitted gets its index back.
    const someAcked = [...acked.entries()];
    if (someAcked.length > 0) {
      const [body, answer] = someAcked[Math.floor(random() * someAcked.length)]!;
      const again = await submit(server.base, body);
      assert.deepEqual([again.status, again.index], [200, answer.index], 'a resubmission after the restart gets the acknowledged index');
    }
    return latest;
  };

  /** Every 201 or 200 answer of the streams, and those with a verified tlog-proof. */
  let answers = 0;
  let tlogProofs = 0;
  let server: ServeProcess | undefined;
  try {
    for (let round = 0; round <= scenario.rounds; round++) {
      server = await startServe({ data: scenario.data, token: TOKEN });
      if (logKey === undefined) {
        logKey = server.key;
        verifier = await parseNoteVerifier(logKey);
        await writeFile(vkeyFile, `${logKey}\n`);
        assert.equal(await (await fetch(`${server.base}/v1/log/key`)).text(), `${logKey}\n`);
      }
      assert.equal(server.key, logKey, 'the log key is the same after a restart');
      const start = round === 0 ? await fetchSignedCheckpoint(server.base, verifier!) : await checkRestarted(server);
      remember(start);
      if (round > 0) await monitor(server, `after restart ${round}`);
      if (round === scenario.rounds) {
        // The last restart: the log takes new entries at the next index.
        const body = envelope(`after the last restart ${scenario.seed}`);
        sent.add(body);
        const answer = await submit(server.base, body);
        assert.deepEqual([answer.status, answer.index], [201, start.size], 'a new entry after the restart is appended at the next index');
        acked.set(body, answer);
        let covered = await fetchSignedCheckpoint(server.base, verifier!);
        for (let wait = 0; covered.size <= answer.index && wait < 100; wait++) {
          await sleep(50);
          covered = await fetchSignedCheckpoint(server.base, verifier!);
        }
        assert.ok(covered.size > answer.index, 'a checkpoint covers the new entry');
        remember(covered);
        await monitor(server, 'at the end');
        assert.equal(await server.stop(), 0, 'serve stops cleanly on SIGTERM');
        return { acknowledged: acked.size, answers, size: covered.size };
      }

      // The stream, killed at a random number of acknowledgements once a new checkpoint was seen.
      const early = scenario.earlyKills === true && round % 2 === 1;
      const draw = killPoints();
      const target = early ? 1 + Math.floor(draw * 50) : scenario.minAcks + Math.floor(draw * (scenario.maxAcks - scenario.minAcks + 1));
      const current = server;
      let acks = 0;
      let killed = false;
      let inFlight = 0;
      let failedInFlight = 0;
      let last = start;
      const poller = (async () => {
        while (!killed) {
          try {
            const checkpoint = await fetchSignedCheckpoint(current.base, verifier!);
            if (killed) break;
            remember(checkpoint);
            if (checkpoint.size > last.size) last = checkpoint;
          } catch (error) {
            if (!killed) throw error;
          }
          await sleep(20);
        }
      })();
      const pool = [...acked.keys()];
      const submitter = async (id: number) => {
        for (let i = 0; !killed; i++) {
          // One in eight is a resubmission of an entry acknowledged earlier (any round).
          const resubmit = pool.length > 0 && random() < 0.125;
          const body = resubmit ? pool[Math.floor(random() * pool.length)]! : envelope(`round ${round} submitter ${id} entry ${i} seed ${scenario.seed}`);
          // One in eight waits for its checkpoint and gets a tlog-proof.
          const wait = random() < 0.125;
          sent.add(body);
          inFlight++;
          let answer: Answer;
          try {
            answer = await submit(current.base, body, TOKEN, wait);
          } catch (error) {
            if (killed && error instanceof TypeError) {
              failedInFlight++;
              return;
            }
            throw error;
          } finally {
            inFlight--;
          }
          if (answer.checkpoint !== undefined) {
            const { checkpoint } = await verifyCheckpointNote(answer.checkpoint, verifier!);
            assert.ok(checkpoint.size > answer.index, 'the checkpoint of an answer covers its entry');
            remember({ size: checkpoint.size, rootHash: checkpoint.rootHash, note: answer.checkpoint });
          }
          if (wait) {
            assert.ok(answer.tlogProof !== undefined, `?wait=checkpoint answered with a tlog-proof (index ${answer.index})`);
            const proved = await verifyTlogProof(answer.tlogProof, Buffer.from(body), { logKey: verifier!, witnesses: [], threshold: 0 });
            assert.equal(proved.index, answer.index, 'the tlog-proof is for the answered index');
            tlogProofs++;
          }
          const earlier = acked.get(body);
          if (earlier !== undefined) {
            assert.deepEqual([answer.status, answer.index], [200, earlier.index], 'a resubmission gets its original index');
          } else {
            assert.equal(answer.status, 201, 'a new entry is answered 201');
            acked.set(body, answer);
            pool.push(body);
          }
          acks++;
          answers++;
        }
      };
      const submitters = Array.from({ length: scenario.submitters }, (_, id) => submitter(id));
      const monitorBefore = round === 0 ? (async () => {
        while (last.size === 0) await sleep(10);
        await monitor(current, 'before the first kill');
      })() : Promise.resolve();
      let failure: unknown;
      const failed = Promise.race([...submitters, poller]).then(
        () => undefined,
        (error: unknown) => (failure ??= error),
      );
      for (;;) {
        if (failure !== undefined) throw failure;
        if (acks >= target && (early || last.size > start.size) && (await Promise.race([monitorBefore.then(() => true), sleep(0).then(() => false)]))) break;
        await sleep(2);
      }
      const atKill = { acks, inFlight, lastSize: last.size };
      killed = true;
      await current.kill();
      await Promise.all([...submitters, poller, monitorBefore, failed]);
      if (failure !== undefined) throw failure;
      await scenario.afterKill?.(round, [...acked.values()].map((answer) => answer.index));
      scenario.log(
        `round ${round + 1}${early ? ' (early)' : ''}: SIGKILL pid ${current.pid} after ${atKill.acks} acks (target ${target}), ${atKill.inFlight} in flight (${failedInFlight} lost their answer), last checkpoint seen ${atKill.lastSize}, ${acked.size} acknowledged in all, ${tlogProofs} tlog-proofs verified`,
      );
    }
    throw new Error('unreachable');
  } finally {
    await server?.kill();
  }
}
