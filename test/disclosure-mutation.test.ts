/** Hostile disclosures: random byte changes to valid disclosure files never verify a changed revelation and never throw. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { createDisclosure, formatDisclosure } from '../src/receipt/disclosure.ts';
import { verifyDisclosure } from '../src/receipt/disclosure-verify.ts';
import { disclosureComposition, statementOf } from './fixtures/disclosure-run.ts';

const composition = disclosureComposition();
const statement = statementOf(composition);
const texts = [
  formatDisclosure(createDisclosure(composition, { reveal: [{ component: 'input', index: 2 }] })),
  formatDisclosure(createDisclosure(composition, { reveal: [{ component: 'system' }, { component: 'parameters' }, { component: 'context', index: 1 }] })),
].map((text) => new TextEncoder().encode(text));

/** The revelation a text stands for: its canonical form, or undefined when it is not JSON. */
function meaning(bytes: Uint8Array): string | undefined {
  try {
    return canonicalize(parseJson(bytes, { maxDepth: 130 }));
  } catch {
    return undefined;
  }
}

test('3,000 random byte mutations: a disclosure verifies only when it still means exactly the original', () => {
  for (const text of texts) assert.equal(verifyDisclosure(text, statement).ok, true);
  let verified = 0;
  fc.assert(
    fc.property(fc.nat({ max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (which, changes) => {
      const original = texts[which]!;
      const mutated = original.slice();
      for (const [position, xor] of changes) mutated[position % mutated.length]! ^= xor;
      const report = verifyDisclosure(mutated, statement);
      if (report.ok) {
        verified++;
        // Only a change that leaves the JSON value as it was (white space, say) may still verify.
        assert.equal(meaning(mutated), meaning(original));
      } else {
        const failed = report.checks.find((check) => !check.ok)!;
        assert.ok(['ERR_DISCLOSURE_INVALID', 'ERR_DISCLOSURE_MISMATCH'].includes(failed.code!), failed.code);
      }
    }),
    { numRuns: 3000, seed: 20261126 },
  );
  assert.ok(verified < 3000);
});
