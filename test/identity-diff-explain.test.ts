/**
 * SPEC 10 diffs and `explain --json` in process: list alignment by longest common subsequence (the
 * ties, insertions, moves, lists past 4,000,000 compared pairs), value diffs inside arrays
 * and objects, which identity is compared, and the explanation's digests, sizes and tags.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffCompositions } from '../src/identity/diff.ts';
import { explainComposition } from '../src/identity/explain.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseComposition } from '../src/identity/composition.ts';

const BASE = {
  version: 'runprint/v1',
  model: { name: 'm' },
  system: [] as unknown[],
  input: [] as unknown[],
  context: [] as unknown[],
  tools: [] as unknown[],
  parameters: {} as Record<string, unknown>,
  configuration: {} as Record<string, unknown>,
};
const withInput = (input: unknown[]) => ({ ...BASE, input });
const diffInputs = (a: unknown[], b: unknown[]) => diffCompositions(withInput(a), withInput(b)).differences;
const at = (index: number) => `$['input'][${index}]`;

test('list alignment: insertions, removals, moves and changes, by longest common subsequence', () => {
  // An element inserted in front: the rest stays aligned.
  assert.deepEqual(diffInputs(['x', 'y'], ['z', 'x', 'y']), [{ component: 'input', change: 'added', path: at(0), to: 0 }]);
  assert.deepEqual(diffInputs(['x', 'y', 'q'], ['z', 'x', 'y', 'q']), [{ component: 'input', change: 'added', path: at(0), to: 0 }]);
  // Removed in the middle, added at the end.
  assert.deepEqual(diffInputs(['p', 'q', 'r'], ['p', 'r', 's']), [
    { component: 'input', change: 'removed', path: at(1), from: 1 },
    { component: 'input', change: 'added', path: at(2), to: 2 },
  ]);
  // The first element moved to the end: three stay aligned, one moved.
  assert.deepEqual(diffInputs(['a', 'b', 'c', 'd'], ['b', 'c', 'd', 'a']), [{ component: 'input', change: 'moved', path: at(3), from: 0, to: 3 }]);
  // The last element moved to the front.
  assert.deepEqual(diffInputs(['a', 'b', 'c', 'd'], ['d', 'a', 'b', 'c']), [{ component: 'input', change: 'moved', path: at(0), from: 3, to: 0 }]);
  // A tie between two alignments of the same length: the later element of A is kept aligned.
  assert.deepEqual(diffInputs(['a', 'b'], ['b', 'a']), [{ component: 'input', change: 'moved', path: at(1), from: 0, to: 1 }]);
  // Changed in place, with aligned neighbours on both sides; the inner path is exact.
  assert.deepEqual(diffInputs(['x', { role: 'user', content: 'hi' }, 'y'], ['x', { role: 'user', content: 'ho' }, 'y']), [
    { component: 'input', change: 'changed', path: `${at(1)}['content']`, from: 1, to: 1 },
  ]);
  // Two gaps: each pairs its own elements.
  assert.deepEqual(diffInputs(['a', 'b', 'c', 'd', 'e'], ['a', 'B', 'c', 'D', 'E', 'e']), [
    { component: 'input', change: 'changed', path: at(1), from: 1, to: 1 },
    { component: 'input', change: 'changed', path: at(3), from: 3, to: 3 },
    { component: 'input', change: 'added', path: at(4), to: 4 },
  ]);
  // Two of the same element: each copy is aligned once.
  assert.deepEqual(diffInputs(['a', 'a', 'b'], ['a', 'b', 'a']), [{ component: 'input', change: 'moved', path: at(2), from: 1, to: 2 }]);
  // The last aligned pair ends the walk; what follows in either list is unaligned.
  assert.deepEqual(diffInputs(['x', 'y', 'z'], ['x', 'y', 'w']), [{ component: 'input', change: 'changed', path: at(2), from: 2, to: 2 }]);
  assert.deepEqual(diffInputs(['x', 'y', 'z'], ['x']), [
    { component: 'input', change: 'removed', path: at(1), from: 1 },
    { component: 'input', change: 'removed', path: at(2), from: 2 },
  ]);
  assert.deepEqual(diffInputs(['x'], ['w', 'x', 'y', 'z']), [
    { component: 'input', change: 'added', path: at(0), to: 0 },
    { component: 'input', change: 'added', path: at(2), to: 2 },
    { component: 'input', change: 'added', path: at(3), to: 3 },
  ]);
  // Alignments the table must get right: an element kept late in A, and one found late in B.
  assert.deepEqual(diffInputs(['b', 'a', 'a', 'a', 'c'], ['c', 'b', 'c']), [
    { component: 'input', change: 'added', path: at(0), to: 0 },
    { component: 'input', change: 'removed', path: at(1), from: 1 },
    { component: 'input', change: 'removed', path: at(2), from: 2 },
    { component: 'input', change: 'removed', path: at(3), from: 3 },
  ]);
  assert.deepEqual(diffInputs(['a'], ['c', 'c', 'd', 'a', 'b']), [
    { component: 'input', change: 'added', path: at(0), to: 0 },
    { component: 'input', change: 'added', path: at(1), to: 1 },
    { component: 'input', change: 'added', path: at(2), to: 2 },
    { component: 'input', change: 'added', path: at(4), to: 4 },
  ]);
  // B used up while A has an element equal to an aligned one: the walk ends there.
  assert.deepEqual(diffInputs(['x', 'y', 'x'], ['x']), [
    { component: 'input', change: 'removed', path: at(1), from: 1 },
    { component: 'input', change: 'removed', path: at(2), from: 2 },
  ]);
  // A longer alignment wins over an earlier match.
  assert.deepEqual(diffInputs(['k', 'a', 'b', 'c'], ['a', 'b', 'c', 'k']), [{ component: 'input', change: 'moved', path: at(3), from: 0, to: 3 }]);
  assert.deepEqual(diffInputs(['a', 'b', 'c', 'k'], ['k', 'a', 'b', 'c']), [{ component: 'input', change: 'moved', path: at(0), from: 3, to: 0 }]);
});

test('lists are aligned past 4,000,000 compared pairs too (test/identity-diff-long.test.ts has the bounds)', () => {
  const list = Array.from({ length: 2000 }, (_, i) => `element ${i}`);
  const changed = [...list];
  changed[1000] = 'changed';
  // 2000 x 2000 = 4,000,000 pairs: aligned, so exactly the one change.
  assert.deepEqual(diffInputs(list, changed), [{ component: 'input', change: 'changed', path: at(1000), from: 1000, to: 1000 }]);
  // 2001 x 2000: aligned as well (it was not, and every other element was reported moved to its own index).
  const longer = [...list, 'extra'];
  assert.deepEqual(diffInputs(longer, changed), [
    { component: 'input', change: 'changed', path: at(1000), from: 1000, to: 1000 },
    { component: 'input', change: 'removed', path: at(2000), from: 2000 },
  ]);
  assert.deepEqual(diffInputs(changed, longer), [
    { component: 'input', change: 'changed', path: at(1000), from: 1000, to: 1000 },
    { component: 'input', change: 'added', path: at(2000), to: 2000 },
  ]);
});

test('value diffs: arrays element by element, members in sorted order, types, nulls and absent members', () => {
  const diffParameters = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    diffCompositions({ ...BASE, parameters: a }, { ...BASE, parameters: b }).differences;
  const p = (...path: Array<string | number>) => `$['parameters']${path.map((s) => (typeof s === 'number' ? `[${s}]` : `['${s}']`)).join('')}`;
  assert.deepEqual(diffParameters({ stop: ['a', 'b'] }, { stop: ['a', 'c', 'd'] }), [
    { component: 'parameters', change: 'changed', path: p('stop', 1) },
    { component: 'parameters', change: 'added', path: p('stop', 2) },
  ]);
  assert.deepEqual(diffParameters({ stop: ['a', 'c', 'd'] }, { stop: ['a'] }), [
    { component: 'parameters', change: 'removed', path: p('stop', 1) },
    { component: 'parameters', change: 'removed', path: p('stop', 2) },
  ]);
  assert.deepEqual(diffParameters({ stop: [['x', 1]] }, { stop: [['x', 2]] }), [{ component: 'parameters', change: 'changed', path: p('stop', 0, 1) }]);
  // Members in sorted order, whatever order they were written in.
  assert.deepEqual(diffParameters({ b: 1, a: 1 }, { b: 2, a: 2 }), [
    { component: 'parameters', change: 'changed', path: p('a') },
    { component: 'parameters', change: 'changed', path: p('b') },
  ]);
  assert.deepEqual(diffParameters({ a: 1, b: 2 }, { a: 1 }), [{ component: 'parameters', change: 'removed', path: p('b') }]);
  assert.deepEqual(diffParameters({ a: 1 }, { a: 1, b: 2 }), [{ component: 'parameters', change: 'added', path: p('b') }]);
  // An object against an array, and null against an object: changed at that member.
  assert.deepEqual(diffParameters({ x: { a: 1 } }, { x: [1] }), [{ component: 'parameters', change: 'changed', path: p('x') }]);
  assert.deepEqual(diffParameters({ x: [1] }, { x: { 0: 1 } }), [{ component: 'parameters', change: 'changed', path: p('x') }]);
  assert.deepEqual(diffParameters({ x: null }, { x: { a: 1 } }), [{ component: 'parameters', change: 'changed', path: p('x') }]);
  assert.deepEqual(diffParameters({ x: { a: 1 } }, { x: null }), [{ component: 'parameters', change: 'changed', path: p('x') }]);
  // An in-process member whose value is undefined is absent, on either side.
  assert.deepEqual(diffParameters({ t: 1, u: undefined }, { t: 2 }), [{ component: 'parameters', change: 'changed', path: p('t') }]);
  assert.deepEqual(diffParameters({ t: 1 }, { t: 2, u: undefined }), [{ component: 'parameters', change: 'changed', path: p('t') }]);
  // A model difference in a value component other than parameters.
  assert.deepEqual(diffCompositions(BASE, { ...BASE, model: { name: 'n' } }).differences, [{ component: 'model', change: 'changed', path: "$['model']['name']" }]);
});

test('which identity is compared: run identities when both have one, else request identities', () => {
  const served = { ...BASE, served: { model: { source: 'reported', value: 'm-1' } } };
  const otherServed = { ...BASE, served: { model: { source: 'reported', value: 'm-2' } } };
  const one = diffCompositions(served, BASE);
  assert.equal(one.compared, 'requestId');
  assert.equal(one.equal, true);
  assert.deepEqual(one.differences, [{ component: 'served', change: 'removed', path: "$['served']" }]);
  const other = diffCompositions(BASE, served);
  assert.equal(other.compared, 'requestId');
  assert.equal(other.equal, true);
  assert.deepEqual(other.differences, [{ component: 'served', change: 'added', path: "$['served']" }]);
  const both = diffCompositions(served, otherServed);
  assert.equal(both.compared, 'runId');
  assert.equal(both.equal, false);
  assert.deepEqual(both.differences, [{ component: 'served', change: 'changed', path: "$['served']['model']['value']" }]);
  const same = diffCompositions(served, { ...served });
  assert.equal(same.compared, 'runId');
  assert.equal(same.equal, true);
  assert.deepEqual(same.differences, []);
  const neither = diffCompositions(BASE, { ...BASE, parameters: { t: 1 } });
  assert.equal(neither.compared, 'requestId');
  assert.equal(neither.equal, false);
  assert.equal(neither.a.requestId, computeIdentity(BASE).requestId);
});

test('explainComposition: digests, counts, sizes, tags and member names, never content', () => {
  const composition = parseComposition({
    ...BASE,
    model: { api: 'openai-chat', name: 'gpt', extra: 'x' },
    system: ['Be brief.'],
    input: [{ role: 'user', content: 'secret', name: 'n\u0007' }, 42, null, [1], { type: 'tool', function: { name: 'f' } }],
    tools: [{ type: 'function', function: { name: 'x'.repeat(70) } }],
    parameters: { temperature: 0, seed: 1, gone: undefined },
    served: { model: { source: 'reported', value: 'gpt-1' }, ['a\u001b']: { source: 'derived', value: 1 } },
    excluded: { stream: true, ['e\n']: 1 },
    salts: { context: 'ab'.repeat(32) },
  });
  const identity = computeIdentity(composition);
  const explained = explainComposition(composition, identity, 'composition');
  assert.equal(explained.format, 'composition');
  assert.equal(explained.requestId, identity.requestId);
  assert.equal(explained.runId, identity.runId);
  assert.deepEqual(explained.excluded, ['e\\u000a', 'stream']);
  const byName = Object.fromEntries(explained.components.map((c) => [c.name, c]));
  assert.deepEqual(explained.components.map((c) => [c.name, c.kind]), [
    ['model', 'value'],
    ['system', 'list'],
    ['input', 'list'],
    ['context', 'list'],
    ['tools', 'list'],
    ['parameters', 'value'],
    ['configuration', 'value'],
    ['served', 'served'],
  ]);
  assert.deepEqual(byName['model'], { name: 'model', kind: 'value', digest: `sha256:${identity.components.model.digest.sha256}`, members: ['openai-chat', 'gpt'] });
  assert.deepEqual(byName['parameters'], { name: 'parameters', kind: 'value', digest: `sha256:${identity.components.parameters.digest.sha256}`, members: ['seed', 'temperature'] });
  assert.deepEqual(byName['configuration']!.members, []);
  const input = identity.components.input;
  assert.equal(input.kind, 'list');
  assert.deepEqual(byName['input'], {
    name: 'input',
    kind: 'list',
    digest: `sha256:${input.digest.sha256}`,
    count: 5,
    elements: [
      { index: 0, digest: `sha256:${input.kind === 'list' ? input.elements[0]!.sha256 : ''}`, bytes: 51, tags: { role: 'user', name: 'n\\u0007' } },
      { index: 1, digest: `sha256:${input.kind === 'list' ? input.elements[1]!.sha256 : ''}`, bytes: 2, tags: {} },
      { index: 2, digest: `sha256:${input.kind === 'list' ? input.elements[2]!.sha256 : ''}`, bytes: 4, tags: {} },
      { index: 3, digest: `sha256:${input.kind === 'list' ? input.elements[3]!.sha256 : ''}`, bytes: 3, tags: {} },
      { index: 4, digest: `sha256:${input.kind === 'list' ? input.elements[4]!.sha256 : ''}`, bytes: 39, tags: { type: 'tool', function: 'f' } },
    ],
  });
  assert.deepEqual(byName['system']!.elements, [
    { index: 0, digest: `sha256:${identity.components.system.kind === 'list' ? identity.components.system.elements[0]!.sha256 : ''}`, bytes: 11, text: true, tags: {} },
  ]);
  // A name of 70 code points is cut at 64 with an ellipsis, as error paths are.
  assert.deepEqual(byName['tools']!.elements![0]!.tags, { type: 'function', function: `${'x'.repeat(64)}\u2026` });
  assert.equal(byName['context']!.salted, true);
  assert.equal(byName['context']!.count, 0);
  assert.equal('salted' in byName['input']!, false);
  assert.equal('salted' in byName['model']!, false);
  assert.deepEqual(byName['served'], {
    name: 'served',
    kind: 'served',
    digest: `sha256:${identity.served!.digest.sha256}`,
    facts: { 'a\\u001b': 'derived', model: 'reported' },
  });
  // No content anywhere: the message text and the served value are not shown.
  const text = JSON.stringify(explained);
  assert.equal(text.includes('secret'), false);
  assert.equal(text.includes('Be brief'), false);
  assert.equal(text.includes('gpt-1'), false);
  // Without served facts there is no served component; a salted value component says so.
  const plain = parseComposition({ ...BASE, salts: { parameters: 'cd'.repeat(32) } });
  const plainExplained = explainComposition(plain, computeIdentity(plain), 'openai-chat');
  assert.deepEqual(plainExplained.components.map((c) => c.name), ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']);
  assert.equal(plainExplained.runId, null);
  assert.equal(plainExplained.components[5]!.salted, true);
  assert.deepEqual(plainExplained.components[0]!.members, ['m']);
  assert.deepEqual(plainExplained.excluded, []);
  // Control characters from U+007F to U+009F are escaped too; U+00A0 is not.
  const c1 = parseComposition({ ...BASE, input: [{ role: '\u007f\u009f\u00a0' }] });
  assert.deepEqual(explainComposition(c1, computeIdentity(c1), 'x').components[2]!.elements![0]!.tags, { role: '\\u007f\\u009f\u00a0' });
});
