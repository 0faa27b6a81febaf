/**
 * The witness collector verifies each witness's line of a checkpoint once (docs/LOG.md 19.7),
 * however often the log reads the note (the answer, lacks() after storing, an ask again's lacks,
 * cosign and merge), and a line that does not verify still counts as missing. Three real witnesses
 * on loopback, a real SQLite log; each witness's configured verifier is wrapped to count the
 * checks the collector asks of it.
 */
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { verifyCosignatures } from '../src/log/cosignature.ts';
import { noteVerifier } from '../src/log/note-keys.ts';
import { formatNote, parseNote, type NoteVerifier } from '../src/log/note.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { witnessCollector } from '../src/store/witness-collector.ts';
import { newKey, removeFolders, startWitness, tempFile } from './helpers/witness-fixtures.ts';

const ORIGIN = 'example.test/verify-once';
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await removeFolders();
});

function entry(n: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }));
}

/** How many times each (witness, checkpoint text, signature) was checked, and by what answer. */
class Checks {
  readonly counts = new Map<string, { times: number; valid: boolean }>();
  of(verifier: NoteVerifier): NoteVerifier {
    return {
      name: verifier.name,
      keyHash: verifier.keyHash,
      verify: async (text, signature) => {
        const valid = await verifier.verify(text, signature);
        const key = `${verifier.keyHash} ${text} ${encodeBase64(signature)}`;
        this.counts.set(key, { times: (this.counts.get(key)?.times ?? 0) + 1, valid });
        return valid;
      },
    };
  }
}

test('each witness line of a checkpoint is verified once, new or asked again; a damaged line is verified once and still counts as missing', async () => {
  const key = await newKey(ORIGIN);
  const logKey = noteVerifier(ORIGIN, key.publicKey);
  const witnesses: Array<{ url: string; verifier: NoteVerifier }> = [];
  for (const name of ['w1', 'w2', 'w3']) {
    const witness = await startWitness([logKey], { key: await newKey(name) });
    closers.push(() => witness.close());
    const server = await listen(witness.app, { host: '127.0.0.1', port: 0 });
    closers.push(() => server.close());
    witnesses.push({ url: server.url, verifier: witness.verifier });
  }
  const file = await tempFile('log.sqlite');
  const open = (checks: Checks) => {
    const cosign = witnessCollector(
      witnesses.map((witness) => ({ url: witness.url, verifier: checks.of(witness.verifier) })),
      { timeoutMs: 5000 },
    );
    return { cosign, opening: openSqliteLog({ path: file, origin: ORIGIN, key, cosign, checkpointDelayMs: 10 }) };
  };

  // New checkpoints: each line checked when its witness answers, not again by lacks() once stored.
  const fresh = new Checks();
  const first = await open(fresh).opening;
  for (let n = 0; n < 3; n++) {
    const { index } = await first.append(entry(n));
    assert.equal(await first.waitForCheckpoint(index, 10_000), true);
    // Queued behind the publication in progress: resolves once its lacks() after storing is done.
    await first.publishCheckpoint();
  }
  const good = (await first.checkpoint()).note;
  await first.close();
  assert.equal((await verifyCosignatures(good, witnesses.map((witness) => witness.verifier))).length, 3);
  // The checkpoints of 0 (at open), 1, 2 and 3, three lines each.
  assert.ok(fresh.counts.size >= 12, `${fresh.counts.size} lines checked`);
  for (const [line, { times, valid }] of fresh.counts) {
    assert.equal(times, 1, `checked ${times} times: ${line}`);
    assert.equal(valid, true);
  }

  // w2's line damaged in storage: the log reopened asks w2 again and stores its valid line instead.
  const parsed = parseNote(good);
  const w2 = witnesses[1]!.verifier;
  const damaged = formatNote({
    text: parsed.text,
    signatures: parsed.signatures.map((signature) => {
      if (signature.keyHash !== w2.keyHash) return signature;
      const bytes = Uint8Array.from(signature.signature);
      bytes[bytes.length - 1]! ^= 1;
      return { ...signature, signature: bytes };
    }),
  });
  const db = new DatabaseSync(file);
  try {
    assert.equal(db.prepare('UPDATE checkpoints SET note = ? WHERE note = ?').run(damaged, good).changes, 1);
  } finally {
    db.close();
  }
  const again = new Checks();
  const reopened = open(again);
  const log = await reopened.opening;
  closers.push(() => log.close());
  const deadline = Date.now() + 15_000;
  while ((await log.checkpoint()).note === damaged) {
    assert.ok(Date.now() < deadline, 'the damaged line was not replaced within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // Queued behind the ask again: resolves once its last lacks() is done.
  await log.publishCheckpoint();
  const repaired = (await log.checkpoint()).note;
  assert.equal((await verifyCosignatures(repaired, witnesses.map((witness) => witness.verifier))).length, 3);
  // Read by lacks() at open, before the ask, and after it, and by cosign: each line checked once,
  // the three of the stored note (w2's not verifying) and w2's new one.
  assert.equal(again.counts.size, 4);
  for (const [line, { times }] of again.counts) assert.equal(times, 1, `checked ${times} times: ${line}`);
  assert.deepEqual([...again.counts.values()].map(({ valid }) => valid).sort(), [false, true, true, true]);
  // The damaged line, its answer kept, still counts as missing; the repaired note lacks nothing.
  assert.equal(await reopened.cosign.lacks!(damaged), true);
  assert.equal(await reopened.cosign.lacks!(repaired), false);
  assert.equal(again.counts.size, 4);
  for (const [line, { times }] of again.counts) assert.equal(times, 1, `checked ${times} times: ${line}`);
  // The same lines under another text are other lines: checked anew, none verifies, all missing.
  const moved = formatNote({ text: `${parseNote(repaired).text}moved\n`, signatures: parseNote(repaired).signatures });
  assert.equal(await reopened.cosign.lacks!(moved), true);
  assert.equal(again.counts.size, 5);
  assert.equal([...again.counts.values()].filter(({ valid }) => !valid).length, 2);
});
