/** C2SP tlog-witness as a witness: `POST /add-checkpoint` on a real SQLite state, every refusal with its status and code. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { verifyCosignatures } from '../src/log/cosignature.ts';
import { noteSigner } from '../src/log/note-keys.ts';
import { formatNote, parseNote, verifyNote } from '../src/log/note.ts';
import { formatAddCheckpoint, parseAddCheckpoint, parseCosignatureLines } from '../src/log/witness.ts';
import { decodeBase64, encodeBase64 } from '../src/keys/base64.ts';
import type { App } from '../src/server/app.ts';
import type { WitnessState } from '../src/server/witness-routes.ts';
import { newKey, removeFolders, startWitness, TestLog, WITNESS_NAME } from './helpers/witness-fixtures.ts';

after(removeFolders);

const ORIGIN = 'example.test/log-a';
const NOW = 1_760_000_000;

function post(app: App, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'text/plain' }): Promise<Response> {
  return app.request('/add-checkpoint', { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
}

async function add(app: App, log: TestLog, oldSize: number, size: number, proof = oldSize === 0 ? [] : log.proof(oldSize, size)): Promise<Response> {
  return post(app, formatAddCheckpoint({ oldSize, proof, note: await log.note(size) }));
}

async function errorCode(response: Response): Promise<string> {
  assert.equal(response.headers.get('content-type'), 'application/json');
  return ((await response.json()) as { error: { code: string } }).error.code;
}

test('the request body is formatted and parsed byte for byte (old line, proof lines, blank line, signed checkpoint)', async () => {
  const log = await TestLog.create(ORIGIN, 9);
  const note = await log.note(9);
  const proof = log.proof(5, 9);
  const body = formatAddCheckpoint({ oldSize: 5, proof, note });
  assert.equal(body, `old 5\n${proof.map((hash) => `${encodeBase64(hash)}\n`).join('')}\n${note}`);
  const parsed = parseAddCheckpoint(new TextEncoder().encode(body));
  assert.equal(parsed.oldSize, 5);
  assert.deepEqual(parsed.proof.map(encodeBase64), proof.map(encodeBase64));
  assert.equal(parsed.checkpoint.size, 9);
  assert.equal(parsed.checkpoint.origin, ORIGIN);
  assert.deepEqual(parsed.note, parseNote(note));
  // The first checkpoint: old 0, no proof lines.
  assert.equal(formatAddCheckpoint({ oldSize: 0, proof: [], note }), `old 0\n\n${note}`);
  assert.throws(() => formatAddCheckpoint({ oldSize: 0, proof, note }), RangeError);
});

test('a first checkpoint (old 0) is cosigned with cosignature/v1 and persisted before the answer', async () => {
  const log = await TestLog.create(ORIGIN, 7);
  const witness = await startWitness([log.verifier], { now: () => NOW });
  try {
    const response = await add(witness.app, log, 0, 7);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    const lines = await response.text();
    assert.match(lines, new RegExp(`^\u2014 ${WITNESS_NAME.replace('.', '\\.')} [A-Za-z0-9+/]+=*\n$`));
    // The lines appended to the checkpoint make a note whose cosignature verifies, timestamped by the witness clock.
    const cosigned = `${await log.note(7)}${lines}`;
    const [cosignature] = await verifyCosignatures(cosigned, [witness.verifier]);
    assert.equal(cosignature?.timestamp, NOW);
    assert.equal(cosignature?.name, WITNESS_NAME);
    const stored = await witness.storage.witnessed(ORIGIN);
    assert.equal(stored?.size, 7);
    await verifyNote(stored!.note, [log.verifier]);
    assert.deepEqual(parseCosignatureLines(log.checkpointText(7), lines).signatures.length, 1);
  } finally {
    await witness.close();
  }
});

test('later checkpoints need the stored size as old size and a consistency proof from it; equal size and root is cosigned again', async () => {
  const log = await TestLog.create(ORIGIN, 3);
  const witness = await startWitness([log.verifier]);
  try {
    assert.equal((await add(witness.app, log, 0, 3)).status, 200);
    log.grow(10);
    const next = await add(witness.app, log, 3, 13);
    assert.equal(next.status, 200);
    await verifyCosignatures(`${await log.note(13)}${await next.text()}`, [witness.verifier]);
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 13);
    const again = await add(witness.app, log, 13, 13);
    assert.equal(again.status, 200);
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 13);
  } finally {
    await witness.close();
  }
});

test('a stale or unknown old size is 409 text/x.tlog.size with the size the witness holds (0 when none)', async () => {
  const log = await TestLog.create(ORIGIN, 20);
  const witness = await startWitness([log.verifier]);
  try {
    const none = await add(witness.app, log, 5, 20);
    assert.equal(none.status, 409);
    assert.equal(none.headers.get('content-type'), 'text/x.tlog.size');
    assert.equal(await none.text(), '0\n');
    assert.equal(await witness.storage.witnessed(ORIGIN), undefined);
    assert.equal((await add(witness.app, log, 0, 10)).status, 200);
    for (const old of [0, 5, 12]) {
      const stale = await add(witness.app, log, old, 20, old === 0 ? [] : log.proof(old, 20));
      assert.equal(stale.status, 409, `old ${old}`);
      assert.equal(stale.headers.get('content-type'), 'text/x.tlog.size');
      assert.equal(await stale.text(), '10\n');
    }
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 10);
  } finally {
    await witness.close();
  }
});

test('a consistency proof that fails is 422 ERR_WITNESS_PROOF and nothing is stored', async () => {
  const log = await TestLog.create(ORIGIN, 6);
  const witness = await startWitness([log.verifier]);
  try {
    assert.equal((await add(witness.app, log, 0, 6)).status, 200);
    log.grow(5);
    const good = log.proof(6, 11);
    const tampered = good.map((hash, i) => (i === 0 ? Uint8Array.from(hash, (byte, j) => (j === 0 ? byte ^ 1 : byte)) : hash));
    const cases: Array<[string, Uint8Array[]]> = [
      ['a changed hash', tampered],
      ['a missing hash', good.slice(1)],
      ['an extra hash', [...good, good[0]!]],
      ['no proof', []],
    ];
    for (const [what, proof] of cases) {
      const response = await add(witness.app, log, 6, 11, proof);
      assert.equal(response.status, 422, what);
      assert.equal(await errorCode(response), 'ERR_WITNESS_PROOF');
    }
    // A tree of 11 leaves that does not extend the 6 cosigned: the log's proof for it fails.
    const other = await TestLog.create('other', 11);
    const forked = formatAddCheckpoint({ oldSize: 6, proof: other.proof(6, 11), note: await log.note(11, { rootHash: other.root(11) }) });
    assert.equal((await post(witness.app, forked)).status, 422);
    // An equal size and root with proof lines is no proof either.
    assert.equal((await add(witness.app, log, 6, 6, [log.root(1)])).status, 422);
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 6);
    assert.equal((await add(witness.app, log, 6, 11)).status, 200);
  } finally {
    await witness.close();
  }
});

test('a fork at the stored size (same size, another root) is 409 ERR_WITNESS_CONFLICT; a smaller checkpoint is 400', async () => {
  const log = await TestLog.create(ORIGIN, 8);
  const witness = await startWitness([log.verifier]);
  try {
    assert.equal((await add(witness.app, log, 0, 8)).status, 200);
    const fork = formatAddCheckpoint({ oldSize: 8, proof: [], note: await log.note(8, { rootHash: new Uint8Array(32).fill(7) }) });
    const response = await post(witness.app, fork);
    assert.equal(response.status, 409);
    assert.equal(await errorCode(response), 'ERR_WITNESS_CONFLICT');
    // Rolling back: a checkpoint smaller than the old size is a bad request (tlog-witness).
    const smaller = formatAddCheckpoint({ oldSize: 8, proof: [], note: await log.note(4) });
    const refused = await post(witness.app, smaller);
    assert.equal(refused.status, 400);
    assert.equal(await errorCode(refused), 'ERR_WITNESS_REQUEST_INVALID');
    // Rolling back with the old size of the smaller one: 409 with the stored size.
    const stale = await add(witness.app, log, 0, 4);
    assert.equal(stale.status, 409);
    assert.equal(await stale.text(), '8\n');
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 8);
  } finally {
    await witness.close();
  }
});

test('an unknown origin is 404 and a checkpoint with no valid signature from the configured log key is 403', async () => {
  const log = await TestLog.create(ORIGIN, 4);
  const witness = await startWitness([log.verifier]);
  try {
    const stranger = await TestLog.create('example.test/unknown', 4);
    const unknown = await add(witness.app, stranger, 0, 4);
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'ERR_WITNESS_UNKNOWN_LOG');

    // The right origin, signed by another key of the same name: that key is unknown, so no trusted signature.
    const impostor = noteSigner(ORIGIN, await newKey());
    const wrongKey = formatAddCheckpoint({ oldSize: 0, proof: [], note: await log.note(4, { signers: [impostor] }) });
    const forbidden = await post(witness.app, wrongKey);
    assert.equal(forbidden.status, 403);
    assert.equal(await errorCode(forbidden), 'ERR_WITNESS_SIGNATURE');

    // The log's key ID with signature bytes that do not verify.
    const good = parseNote(await log.note(4));
    const broken = { ...good.signatures[0]!, signature: Uint8Array.from(good.signatures[0]!.signature, (byte, i) => (i === 5 ? byte ^ 0x80 : byte)) };
    const badSignature = formatAddCheckpoint({ oldSize: 0, proof: [], note: formatNote({ text: good.text, signatures: [broken] }) });
    assert.equal((await post(witness.app, badSignature)).status, 403);
    // A signature over another text (size 3) moved onto this one.
    const moved = parseNote(await log.note(3)).signatures;
    assert.equal((await post(witness.app, formatAddCheckpoint({ oldSize: 0, proof: [], note: formatNote({ text: good.text, signatures: moved }) }))).status, 403);
    // Signatures from unknown keys are ignored next to a valid one.
    const both = formatAddCheckpoint({ oldSize: 0, proof: [], note: await log.note(4, { signers: [impostor, log.signer] }) });
    assert.equal((await post(witness.app, both)).status, 200);
    // What is stored keeps only the trusted log's signature.
    assert.equal(parseNote((await witness.storage.witnessed(ORIGIN))!.note).signatures.length, 1);
  } finally {
    await witness.close();
  }
});

test('malformed bodies are 400 ERR_WITNESS_REQUEST_INVALID, an oversized one 413, other methods 405', async () => {
  const log = await TestLog.create(ORIGIN, 5);
  const witness = await startWitness([log.verifier]);
  try {
    const note = await log.note(5);
    const hash = encodeBase64(log.root(2));
    const bodies: Array<[string, string | Uint8Array]> = [
      ['empty', ''],
      ['no old line', `\n${note}`],
      ['"old" with no size', `old\n\n${note}`],
      ['two spaces', `old  0\n\n${note}`],
      ['leading zero', `old 00\n\n${note}`],
      ['sign', `old +1\n${hash}\n\n${note}`],
      ['negative', `old -1\n\n${note}`],
      ['hex size', `old 0x1\n\n${note}`],
      ['above 2^53', `old 9007199254740993\n${hash}\n\n${note}`],
      ['carriage return', `old 0\r\n\r\n${note}`],
      ['uppercase', `OLD 0\n\n${note}`],
      ['no blank line', `old 0\n${note}`],
      ['no newline at all', 'old 0'],
      ['proof with old 0', `old 0\n${hash}\n\n${note}`],
      ['proof hash unpadded', `old 2\n${hash.replace(/=$/, '')}\n\n${note}`],
      ['proof hash of 31 bytes', `old 2\n${encodeBase64(new Uint8Array(31))}\n\n${note}`],
      ['proof hash in URL-safe base64', `old 2\n${encodeBase64(new Uint8Array(32).fill(0xfb)).replaceAll('+', '-').replaceAll('/', '_')}\n\n${note}`],
      ['proof line with a space', `old 2\n ${hash}\n\n${note}`],
      ['64 proof lines', `old 2\n${`${hash}\n`.repeat(64)}\n${note}`],
      ['old size above the checkpoint size', `old 6\n${hash}\n\n${note}`],
      ['no checkpoint', 'old 0\n\n'],
      ['checkpoint without signatures', `old 0\n\n${log.checkpointText(5)}`],
      ['not a checkpoint', `old 0\n\nhello\n\n${note.slice(note.lastIndexOf('\u2014'))}`],
      ['checkpoint size with a leading zero', `old 0\n\n${note.replace('\n5\n', '\n05\n')}`],
      ['invalid UTF-8', Uint8Array.of(...new TextEncoder().encode('old 0\n\n'), 0xff, 0xfe, 0x0a)],
      ['a NUL byte', `old 0\n\n${note.replace(ORIGIN, `${ORIGIN}\u0000`)}`],
    ];
    for (const [what, body] of bodies) {
      const response = await post(witness.app, body);
      assert.equal(response.status, 400, what);
      assert.equal(await errorCode(response), 'ERR_WITNESS_REQUEST_INVALID', what);
    }
    // 63 proof lines is the most a client may send: parsed, then refused as a proof (not as a request).
    const longest = await post(witness.app, `old 2\n${`${hash}\n`.repeat(63)}\n${note}`);
    assert.equal(longest.status, 409);
    const huge = await post(witness.app, `old 0\n\n${'x'.repeat(70 * 1024)}`);
    assert.equal(huge.status, 413);
    assert.equal(await errorCode(huge), 'ERR_HTTP_BODY_TOO_LARGE');
    const get = await witness.app.request('/add-checkpoint');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(await witness.storage.witnessed(ORIGIN), undefined);
    // The body is read whatever its declared media type (tlog-witness names none).
    assert.equal((await post(witness.app, `old 0\n\n${note}`, {})).status, 200);
  } finally {
    await witness.close();
  }
});

test('the route exists only when the app is a witness', async () => {
  const { createApp } = await import('../src/server/app.ts');
  const response = await createApp().request('/add-checkpoint', { method: 'POST', body: 'old 0\n\n' });
  assert.equal(response.status, 404);
});

test('the witness persists before answering: restarted on the same SQLite file it knows the size', async () => {
  const log = await TestLog.create(ORIGIN, 12);
  const first = await startWitness([log.verifier]);
  assert.equal((await add(first.app, log, 0, 12)).status, 200);
  await first.close();
  const second = await startWitness([log.verifier], { file: first.file, key: first.key });
  try {
    const conflict = await add(second.app, log, 0, 12);
    assert.equal(conflict.status, 409);
    assert.equal(await conflict.text(), '12\n');
    log.grow(3);
    assert.equal((await add(second.app, log, 12, 15)).status, 200);
  } finally {
    await second.close();
  }
});

test('two concurrent add-checkpoint requests from one old size: exactly one is cosigned, the other gets 409 and the winner size', async () => {
  const log = await TestLog.create(ORIGIN, 30);
  // Both requests read the state before either writes: the compare-and-swap alone must decide.
  let reads = 0;
  let release!: () => void;
  const bothRead = new Promise<void>((resolve) => (release = resolve));
  const barrier = (state: WitnessState): WitnessState => ({
    async witnessed(origin) {
      const value = await state.witnessed(origin);
      if (++reads === 2) release();
      if (reads <= 2) await bothRead;
      return value;
    },
    saveWitnessed: (origin, previous, checkpoint) => state.saveWitnessed(origin, previous, checkpoint),
  });
  const witness = await startWitness([log.verifier], { wrapState: barrier });
  try {
    const [a, b] = await Promise.all([add(witness.app, log, 0, 20), add(witness.app, log, 0, 30)]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 409]);
    const stored = (await witness.storage.witnessed(ORIGIN))!.size;
    const loser = a.status === 409 ? a : b;
    const winnerSize = a.status === 200 ? 20 : 30;
    assert.equal(stored, winnerSize);
    assert.equal(loser.headers.get('content-type'), 'text/x.tlog.size');
    assert.equal(await loser.text(), `${winnerSize}\n`);
  } finally {
    await witness.close();
  }

  // Two witness processes' worth of connections to one SQLite file, racing without a barrier: one wins each round.
  const shared = await startWitness([log.verifier]);
  const other = await startWitness([log.verifier], { file: shared.file, key: shared.key });
  try {
    let held = 0;
    for (let round = 0; round < 5; round++) {
      const target = 2 + round * 5;
      const proofFrom = held === 0 ? [] : log.proof(held, target);
      const [a, b] = await Promise.all([
        add(shared.app, log, held, target, proofFrom),
        add(other.app, log, held, target + 1, held === 0 ? [] : log.proof(held, target + 1)),
      ]);
      const ok = [a, b].filter((response) => response.status === 200);
      assert.equal(ok.length, 1, `round ${round}`);
      held = (await shared.storage.witnessed(ORIGIN))!.size;
      assert.ok(held === target || held === target + 1);
    }
  } finally {
    await shared.close();
    await other.close();
  }
});

test('the cosignature answer checks out as the spec tells a client: appended to the checkpoint, verified with the witness key', async () => {
  const log = await TestLog.create(ORIGIN, 2);
  const witness = await startWitness([log.verifier]);
  try {
    const lines = await (await add(witness.app, log, 0, 2)).text();
    const note = parseCosignatureLines(log.checkpointText(2), lines);
    assert.equal(note.signatures[0]!.name, WITNESS_NAME);
    assert.equal(note.signatures[0]!.keyHash, witness.signer.keyHash);
    // 8-byte timestamp and 64-byte Ed25519 signature after the 4-byte key ID.
    assert.equal(decodeBase64(lines.trim().split(' ')[2]!)!.length, 4 + 72);
    // Against another checkpoint the cosignature fails.
    await assert.rejects(verifyCosignatures(`${await log.note(1)}${lines}`, [witness.verifier]), { code: 'ERR_LOG_COSIGNATURE_INVALID' });
  } finally {
    await witness.close();
  }
});

test('the example request and answer bodies of C2SP tlog-witness parse as the spec describes them', () => {
  // From c2sp.org/tlog-witness, "add-checkpoint" (signatures by keys this test does not have).
  const request = [
    'old 20852014',
    'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=',
    'jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=',
    '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=',
    '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=',
    '',
    'example.com/behind-the-sofa',
    '20852163',
    'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
    '',
    '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
    '\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=',
    '',
  ].join('\n');
  const parsed = parseAddCheckpoint(request);
  assert.equal(parsed.oldSize, 20852014);
  assert.equal(parsed.proof.length, 4);
  assert.equal(encodeBase64(parsed.proof[3]!), '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=');
  assert.equal(parsed.checkpoint.origin, 'example.com/behind-the-sofa');
  assert.equal(parsed.checkpoint.size, 20852163);
  assert.equal(parsed.note.signatures.length, 2);
  // Formatting what was parsed gives the same bytes back.
  assert.equal(formatAddCheckpoint({ oldSize: parsed.oldSize, proof: parsed.proof, note: formatNote(parsed.note) }), request);
  const answer = [
    '\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==',
    '\u2014 witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==',
    '\u2014 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==',
    '',
  ].join('\n');
  const lines = parseCosignatureLines(parsed.note.text, answer);
  assert.deepEqual(
    lines.signatures.map((signature) => [signature.name, signature.signature.length]),
    [
      ['witness.example/w1', 72],
      ['witness.example/w1', 72],
      ['witness.example/w2', 72],
    ],
  );
  assert.throws(() => parseCosignatureLines(parsed.note.text, 'hello\n'), { code: 'ERR_LOG_NOTE_INVALID' });
  assert.throws(() => parseCosignatureLines(parsed.note.text, ''), { code: 'ERR_LOG_NOTE_INVALID' });
});

test('random damage to a valid request never gets past the checks unnoticed and never fails with 500', async () => {
  const fc = (await import('fast-check')).default;
  const log = await TestLog.create(ORIGIN, 10);
  const witness = await startWitness([log.verifier]);
  try {
    assert.equal((await add(witness.app, log, 0, 4)).status, 200);
    const valid = new TextEncoder().encode(formatAddCheckpoint({ oldSize: 4, proof: log.proof(4, 10), note: await log.note(10) }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(valid.length)),
        async (flips, cut) => {
          const body = Uint8Array.from(valid);
          for (const [at, mask] of flips) body[at]! ^= mask;
          const response = await post(witness.app, cut === null ? body : body.subarray(0, cut));
          // Nothing damaged is cosigned; every refusal is one of the protocol's answers with a stable code.
          assert.notEqual(response.status, 200);
          assert.ok([400, 403, 404, 409, 422].includes(response.status), `status ${response.status}`);
          if (response.headers.get('content-type') === 'text/x.tlog.size') assert.equal(await response.text(), '4\n');
          else assert.match(await errorCode(response), /^ERR_WITNESS_/);
        },
      ),
      { numRuns: 300 },
    );
    assert.equal((await witness.storage.witnessed(ORIGIN))?.size, 4);
  } finally {
    await witness.close();
  }
});
