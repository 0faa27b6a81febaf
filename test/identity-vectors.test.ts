/** Checks the implementation against testdata/identity/*.json, as another implementation would. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { toHex } from '../src/hash/sha256.ts';
import { diffCompositions } from '../src/identity/diff.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseIdentity } from '../src/identity/identity-string.ts';
import { domainTag, elementDigest, listComponentDigest, listRoot, requestDigest, runDigest, valueComponentDigest } from '../src/identity/digest.ts';

type Vector = Record<string, any>;
const load = (name: string): Vector[] =>
  JSON.parse(readFileSync(new URL(`../testdata/identity/${name}`, import.meta.url), 'utf8')).vectors;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

test('digest primitives (SPEC 5)', () => {
  const vectors = load('digest-primitives.json');
  assert.ok(vectors.length >= 15);
  for (const v of vectors) {
    if ('wantTagHex' in v) assert.equal(toHex(domainTag(v.purpose)), v.wantTagHex, v.desc);
    else if ('wantElementDigest' in v) {
      assert.equal(Buffer.from(v.canonical).toString('hex'), v.canonicalHex);
      assert.equal(toHex(elementDigest(v.canonical)), v.wantElementDigest, v.desc);
    } else if ('wantListRoot' in v) {
      const root = listRoot(v.elementDigests.map(bytes));
      assert.equal(toHex(root), v.wantListRoot, v.desc);
      assert.equal(toHex(listComponentDigest('input', v.elementDigests.length, root)), v.wantInputComponentDigest);
    } else if ('wantComponentDigest' in v) {
      assert.equal(toHex(valueComponentDigest(v.component, v.canonical)), v.wantComponentDigest, v.desc);
    } else {
      const request = requestDigest(v.componentDigests.map(bytes));
      assert.equal(toHex(request), v.wantRequestDigest);
      assert.equal(toHex(runDigest(request, bytes(v.servedComponentDigest))), v.wantRunDigest);
    }
  }
});

test('compositions and their identity documents (SPEC 7)', () => {
  const vectors = load('compositions.json');
  const byDesc = new Map<string, Vector>();
  for (const v of vectors) {
    assert.deepEqual(computeIdentity(v.composition), v.wantIdentity, v.desc);
    byDesc.set(v.desc, v);
  }
  // The vectors also say which changes move which identity (wantComparison).
  let compared = 0;
  for (const v of vectors) {
    if (v.wantComparison === undefined) continue;
    const other = byDesc.get(v.wantComparison.with)!.wantIdentity;
    const mine = v.wantIdentity;
    assert.equal(mine.requestId === other.requestId ? 'same' : 'different', v.wantComparison.requestId, v.desc);
    assert.equal(mine.runId === null ? 'absent' : mine.runId === other.runId ? 'same' : 'different', v.wantComparison.runId, v.desc);
    compared++;
  }
  assert.ok(compared >= 15);
});

test('rejected compositions (SPEC 2)', () => {
  for (const v of load('composition-errors.json')) {
    assert.throws(() => computeIdentity(v.composition), { code: v.wantErr, path: v.wantPath }, v.desc);
  }
});

test('identity strings (SPEC 6)', () => {
  for (const v of load('identity-strings.json')) {
    if (v.wantErr !== undefined) assert.throws(() => parseIdentity(v.text), { code: v.wantErr }, v.desc);
    else {
      const parsed = parseIdentity(v.text);
      assert.deepEqual({ ...parsed, digest: toHex(parsed.digest) }, v.want, v.desc);
    }
  }
});

test('structural diffs (SPEC 10)', () => {
  for (const v of load('diffs.json')) {
    const result = diffCompositions(v.a, v.b);
    assert.equal(result.equal, v.wantEqual, v.desc);
    assert.equal(result.compared, v.wantCompared, v.desc);
    assert.deepEqual(result.differences, v.wantDifferences, v.desc);
  }
});
