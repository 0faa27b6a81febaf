/**
 * Work in steps (src/io/steps.ts): a large text's UTF-8 made a slice at a time, and chunks joined a
 * slice at a time, give what doing it in one go gives, pausing as often as they say; atOnce and
 * inTurns run such work to the same end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { atOnce, inTurns, joinBytesSteps, utf8Steps } from '../src/io/steps.ts';

/** The pauses a generator made before its answer. */
function pausesOf<T>(steps: Generator<unknown, T>): { value: T; pauses: number } {
  for (let pauses = 0; ; pauses++) {
    const step = steps.next();
    if (step.done === true) return { value: step.value, pauses };
  }
}

const concat = (pieces: readonly Uint8Array[]) => Buffer.concat(pieces.map((piece) => Buffer.from(piece)));

test('utf8Steps: its pieces joined are TextEncoder\'s UTF-8 of the whole text for any step, surrogate pairs and lone surrogates too', () => {
  // Code units around the surrogates' range, so that pairs and lone ones fall on every boundary.
  const unit = fc.oneof(fc.constantFrom('a', 'é', '\u{1f600}', '\ud83d', '\ude00', '\u20ac'), fc.string({ unit: 'binary', maxLength: 1 }));
  fc.assert(fc.property(fc.array(unit, { maxLength: 60 }).map((parts) => parts.join('')), fc.integer({ min: 1, max: 9 }), (text, step) => {
    const { value: pieces, pauses } = pausesOf(utf8Steps(text, step));
    assert.deepEqual(concat(pieces), Buffer.from(new TextEncoder().encode(text)), JSON.stringify(text));
    assert.equal(pauses, pieces.length);
    for (const piece of pieces) assert.ok(piece.length > 0);
  }), { numRuns: 5000 });
  assert.deepEqual(atOnce(utf8Steps('', 4)), []);
});

test('joinBytesSteps: the chunks one after the other, copied at most step bytes between pauses', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), fc.integer({ min: 1, max: 50 }), (chunks, step) => {
    const { value, pauses } = pausesOf(joinBytesSteps(chunks, step));
    const whole = concat(chunks);
    assert.deepEqual(Buffer.from(value), whole);
    assert.equal(pauses, Math.floor(whole.length / step));
  }), { numRuns: 3000 });
});

test('inTurns gives what atOnce gives, awaiting its pause at each of the generator\'s', async () => {
  const text = 'x\u{1f600}'.repeat(5000);
  let paused = 0;
  const pieces = await inTurns(utf8Steps(text, 1000), async () => void paused++);
  assert.deepEqual(concat(pieces), concat(atOnce(utf8Steps(text, 1000))));
  assert.equal(paused, pieces.length);
  assert.ok(paused >= 15, `${paused} pauses`);
});
