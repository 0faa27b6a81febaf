/** Selective disclosure (SPEC 17): create, verify, vectors, and that nothing unchosen is revealed. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { computeIdentity } from '../src/identity/identity.ts';
import { createDisclosure, formatDisclosure, type Disclosure } from '../src/receipt/disclosure.ts';
import { verifyDisclosure } from '../src/receipt/disclosure-verify.ts';
import { disclosureComposition, SALTS, statementOf } from './fixtures/disclosure-run.ts';
import { MINIMAL } from './fixtures/identity-compositions.ts';

type Vector = Record<string, any>;
const file = JSON.parse(readFileSync(new URL('../testdata/disclosure/disclosures.json', import.meta.url), 'utf8'));

const composition = disclosureComposition();
const statement = statementOf(composition);
const failure = (report: ReturnType<typeof verifyDisclosure>) => {
  const failed = report.checks.filter((check) => !check.ok);
  assert.equal(failed.length, 1, 'the first failing check ends verification');
  assert.equal(report.ok, false);
  assert.equal(report.runId, undefined);
  return failed[0]!;
};

test('testdata/disclosure/disclosures.json: every vector verifies or fails with its check, code and message or path', () => {
  assert.ok(file.vectors.length >= 30);
  for (const v of file.vectors as Vector[]) {
    const against = v['statement'] ?? v['predicate'] ?? file.statement;
    const report = verifyDisclosure(v['disclosureText'] ?? v['disclosure'], against);
    if (v['wantErr'] === undefined) {
      assert.equal(report.ok, true, v['desc']);
      assert.deepEqual(report.checks.map((check) => check.name), v['wantChecks'], v['desc']);
      assert.equal(report.runId, v['wantRunId']);
    } else {
      const failed = failure(report);
      assert.deepEqual([failed.name, failed.code], [v['wantCheck'], v['wantErr']], v['desc']);
      // The message, or for a malformed disclosure the path, tells apart failures of one check.
      if (v['wantMessage'] !== undefined) assert.equal(failed.message, v['wantMessage'], v['desc']);
      if (v['wantPath'] !== undefined) assert.equal(failed.path, v['wantPath'], v['desc']);
      assert.ok(v['wantMessage'] !== undefined || v['wantPath'] !== undefined, `${v['desc']}: no message or path expected`);
    }
  }
});

test('revealing element 2 of 5 shows that element, its own salt and its audit path, nothing else', () => {
  const disclosure = createDisclosure(composition, { reveal: [{ component: 'input', index: 2 }] });
  const text = formatDisclosure(disclosure);
  const input = composition['input'] as Array<{ content: string }>;
  for (const [index, message] of input.entries()) assert.equal(text.includes(message.content), index === 2, `message ${index}`);
  for (const salt of Object.values(SALTS)) assert.equal(text.includes(salt), false);
  const others = createDisclosure(composition, { reveal: [0, 1, 3, 4].map((index) => ({ component: 'input', index })) });
  for (const element of others.elements) assert.equal(text.includes(element.salt!), false, `salt of element ${element.index}`);
  assert.equal(disclosure.elements[0]!.proof.length, 3);
  assert.deepEqual(Object.keys(disclosure.components), []);
  const report = verifyDisclosure(text, statement);
  assert.equal(report.ok, true);
  assert.equal(report.runId, computeIdentity(composition).runId);
  assert.deepEqual(report.checks.at(-1), { name: 'element', ok: true, component: 'input', index: 2 });
});

test('mismatches name the part and never echo content', () => {
  const disclosure = createDisclosure(composition, { reveal: [{ component: 'system' }, { component: 'input', index: 2 }] }) as Disclosure;
  const changedElement = structuredClone(disclosure);
  changedElement.elements[0]!.element = { role: 'user', content: 'secret guess' };
  assert.deepEqual(failure(verifyDisclosure(changedElement, statement)), {
    name: 'element', ok: false, component: 'input', index: 2, code: 'ERR_DISCLOSURE_MISMATCH',
    message: 'revealed element input[2] is not proven part of its list in the receipt',
  });
  const resized = structuredClone(disclosure);
  resized.elements[0]!.size = 4;
  assert.equal(failure(verifyDisclosure(resized, statement)).message, 'element input[2]: "size" is not the number of elements in the receipt');
  const changedSystem = structuredClone(disclosure);
  changedSystem.components.system!.value = ['secret guess'];
  assert.deepEqual(failure(verifyDisclosure(changedSystem, statement)), {
    name: 'component', ok: false, component: 'system', code: 'ERR_DISCLOSURE_MISMATCH',
    message: 'revealed component "system" does not give its digest in the receipt',
  });
  const otherRun = structuredClone(disclosure);
  otherRun.runId = computeIdentity({ ...composition, served: {} }).runId!;
  assert.deepEqual(failure(verifyDisclosure(otherRun, statement)), {
    name: 'run-identity', ok: false, code: 'ERR_DISCLOSURE_MISMATCH', message: 'disclosure "runId" is not the receipt\'s run identity',
  });
});

test('a malformed disclosure is ERR_DISCLOSURE_INVALID with a message naming the member', () => {
  const disclosure = createDisclosure(composition, { reveal: [{ component: 'input', index: 2 }] }) as unknown as Record<string, any>;
  const cases: Array<[unknown, string, string]> = [
    ['{"version": 1', 'disclosure is not strict JSON (ERR_JSON_TRUNCATED)', '$'],
    [[], 'disclosure must be a JSON object', '$'],
    [{ ...disclosure, note: 1 }, 'unknown disclosure member "note"', "$['note']"],
    [{ ...disclosure, version: 'runprint.disclosure/v2' }, 'disclosure "version" must be "runprint.disclosure/v1"', "$['version']"],
    [{ ...disclosure, elements: [{ ...disclosure['elements'][0], salt: SALTS.input.toUpperCase() }] }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['elements'][0]['salt']"],
    [{ ...disclosure, elements: [{ ...disclosure['elements'][0], size: 0 }] }, '"size" must be a positive integer', "$['elements'][0]['size']"],
    [{ ...disclosure, elements: [] }, 'disclosure reveals nothing', '$'],
  ];
  for (const [input, message, path] of cases) {
    const failed = failure(verifyDisclosure(input, statement));
    assert.deepEqual([failed.name, failed.code, failed.message, failed.path], ['disclosure', 'ERR_DISCLOSURE_INVALID', message, path]);
    assert.equal(failed.message!.includes(SALTS.input), false);
  }
});

test('the receipt is given as its statement or predicate, never as an unverified envelope', () => {
  const disclosure = createDisclosure(composition, { reveal: [{ component: 'system' }] });
  assert.equal(verifyDisclosure(disclosure, JSON.stringify(statement)).ok, true, 'statement text');
  assert.equal(verifyDisclosure(disclosure, new TextEncoder().encode(JSON.stringify(statement))).ok, true, 'statement bytes');
  const envelope = { payload: Buffer.from(JSON.stringify(statement)).toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [] };
  assert.deepEqual(failure(verifyDisclosure(disclosure, envelope)), {
    name: 'receipt', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'give the statement of a verified envelope, not the envelope',
  });
  const wrongSubject = structuredClone(statement) as unknown as Record<string, any>;
  wrongSubject['subject'][0].digest.sha256 = '00'.repeat(32);
  assert.equal(failure(verifyDisclosure(disclosure, wrongSubject)).code, 'ERR_SUBJECT_INVALID');
});

test('createDisclosure refuses what it cannot reveal (RangeError, TypeError)', () => {
  const cases: Array<[Array<{ component: string; index?: number }>, string]> = [
    [[], 'reveal at least one component or element'],
    [[{ component: 'served' }], '"served" is not a request component'],
    [[{ component: 'model', index: 0 }], 'component "model" is not a list: it has no elements to reveal'],
    [[{ component: 'input', index: 5 }], 'component "input" has no element 5'],
    [[{ component: 'input', index: 1 }, { component: 'input', index: 1 }], 'element input[1] is revealed twice'],
    [[{ component: 'system' }, { component: 'system' }], 'component "system" is revealed twice'],
    [[{ component: 'input' }, { component: 'input', index: 1 }], 'component "input" is revealed whole and by element'],
  ];
  for (const [reveal, message] of cases) {
    assert.throws(() => createDisclosure(composition, { reveal }), { name: 'RangeError', message });
  }
  assert.throws(() => createDisclosure(MINIMAL, { reveal: [{ component: 'model' }] }), {
    name: 'TypeError', message: 'a disclosure needs a run identity: give the composition "served" facts',
  });
});

test('property: any element of any list, salted or not, verifies alone; a flipped proof bit or another index fails', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 40 }),
      fc.nat(),
      fc.boolean(),
      fc.nat(),
      (texts, seed, salted, bit) => {
        const run = { ...structuredClone(MINIMAL), context: texts.map((text, i) => ({ i, text })), served: {} } as Record<string, unknown>;
        if (salted) run['salts'] = { context: SALTS.input };
        const receipt = statementOf(run);
        const index = seed % texts.length;
        const disclosure = createDisclosure(run, { reveal: [{ component: 'context', index }] });
        assert.equal(verifyDisclosure(disclosure, receipt).ok, true);
        assert.equal('salt' in disclosure.elements[0]!, salted);
        const element = disclosure.elements[0]!;
        if (element.proof.length > 0) {
          const flipped = structuredClone(disclosure);
          const proof = flipped.elements[0]!.proof;
          const at = bit % (proof.length * 64);
          const hash = proof[Math.floor(at / 64)]!;
          const digit = at % 64;
          proof[Math.floor(at / 64)] = hash.slice(0, digit) + (Number.parseInt(hash[digit]!, 16) ^ 1).toString(16) + hash.slice(digit + 1);
          assert.equal(verifyDisclosure(flipped, receipt).ok, false);
          const moved = structuredClone(disclosure);
          moved.elements[0]!.index = (index + 1) % texts.length;
          assert.equal(verifyDisclosure(moved, receipt).ok, false);
        }
      },
    ),
    { numRuns: 150 },
  );
});
