/** docs/SPEC.md section 5, recomputed here from the text of the spec with node:crypto alone. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { computeIdentity } from '../src/identity/identity.ts';

const sha = (...parts: Array<Buffer | string>) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const tag = (purpose: string) => Buffer.from(`runprint/v1/${purpose}\0`, 'ascii');
const u64 = (n: number) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(n));
  return out;
};
const node = (l: Buffer, r: Buffer) => sha(Buffer.from([1]), l, r);

test('a composition hashes exactly as sections 5.1 to 5.5 say', () => {
  const composition = {
    version: 'runprint/v1',
    model: { name: 'm', api: 'x' },
    system: ['S'],
    input: [{ role: 'user', content: 'é' }, 'two', 3],
    context: [],
    tools: [{ b: 1, a: [true, null] }, {}],
    parameters: { temperature: 0.5 },
    configuration: {},
    served: { model: { source: 'reported', value: 'm-2025' } },
    excluded: { stream: true },
  };
  // Canonical forms written out by hand (RFC 8785: members sorted, no white space).
  // An element digest is the RFC 6962 leaf hash of tag("element") || JCS(element).
  const element = (canonical: string) => sha(Buffer.from([0]), tag('element'), canonical);
  const e = {
    system: [element('"S"')],
    input: [element('{"content":"é","role":"user"}'), element('"two"'), element('3')],
    tools: [element('{"a":[true,null],"b":1}'), element('{}')],
  };
  const listDigest = (name: string, root: Buffer, n: number) => sha(tag(`component/${name}`), u64(n), root);
  const d = {
    model: sha(tag('component/model'), '{"api":"x","name":"m"}'),
    system: listDigest('system', e.system[0]!, 1),
    // Three leaves: k = 2, so root = node(node(l0, l1), l2).
    input: listDigest('input', node(node(e.input[0]!, e.input[1]!), e.input[2]!), 3),
    context: listDigest('context', sha(), 0),
    tools: listDigest('tools', node(e.tools[0]!, e.tools[1]!), 2),
    parameters: sha(tag('component/parameters'), '{"temperature":0.5}'),
    configuration: sha(tag('component/configuration'), '{}'),
  };
  const request = sha(tag('request'), d.model, d.system, d.input, d.context, d.tools, d.parameters, d.configuration);
  const served = sha(tag('component/served'), '{"model":{"source":"reported","value":"m-2025"}}');
  const run = sha(tag('run'), request, served);

  const identity = computeIdentity(composition);
  assert.equal(identity.requestId, `rp-req-v1-sha256-${request.toString('hex')}`);
  assert.equal(identity.runId, `rp-run-v1-sha256-${run.toString('hex')}`);
  assert.equal(identity.components.input.digest.sha256, d.input.toString('hex'));
  assert.deepEqual(
    identity.components.input.kind === 'list' && identity.components.input.elements.map((x) => x.sha256),
    e.input.map((x) => x.toString('hex')),
  );
  assert.deepEqual(identity.excluded, ['stream']);
  assert.deepEqual(identity.served?.facts, { model: { source: 'reported', value: 'm-2025' } });
});

test('without served facts there is a request identity and no run identity', () => {
  const identity = computeIdentity({
    version: 'runprint/v1', model: { name: 'm' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {},
  });
  assert.match(identity.requestId, /^rp-req-v1-sha256-[0-9a-f]{64}$/);
  assert.equal(identity.runId, null);
  assert.equal(identity.served, null);
});

test('errors inside elements carry the absolute path into the composition', () => {
  const composition = {
    version: 'runprint/v1', model: { name: 'm' }, system: [], input: [{ content: 'a' }, { n: 2 ** 53 }],
    context: [], tools: [], parameters: {}, configuration: {},
  };
  assert.throws(() => computeIdentity(composition), { code: 'ERR_JSON_UNSAFE_INTEGER', path: "$['input'][1]['n']" });
  assert.throws(() => computeIdentity({ ...composition, input: [], parameters: { seed: 2n ** 64n } }), {
    code: 'ERR_JSON_UNSUPPORTED_VALUE',
    path: "$['parameters']['seed']",
  });
});

test('nesting deeper than 128 levels in total is rejected without a stack overflow', () => {
  let deep: unknown = 'x';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const composition = {
    version: 'runprint/v1', model: { name: 'm' }, system: [], input: [deep], context: [], tools: [], parameters: {}, configuration: {},
  };
  assert.throws(() => computeIdentity(composition), { code: 'ERR_JSON_TOO_DEEP' });
  // Exactly at the limit: composition (1) > input (2) > 126 nested arrays (3..128).
  let limit: unknown = 1;
  for (let i = 0; i < 126; i++) limit = [limit];
  assert.doesNotThrow(() => computeIdentity({ ...composition, input: [limit] }));
  assert.throws(() => computeIdentity({ ...composition, input: [[limit]] }), { code: 'ERR_JSON_TOO_DEEP' });
});

test('excluded is never hashed, but an in-process excluded value is read by SPEC 3.5 like the rest (SPEC 2.1 step 9)', () => {
  const composition = { version: 'runprint/v1', model: { name: 'm' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {} };
  const plain = computeIdentity(composition);
  assert.equal(computeIdentity({ ...composition, excluded: { stream: true, at: new Date(0) } }).requestId, plain.requestId);
  assert.throws(() => computeIdentity({ ...composition, excluded: { seed: 10n } }), { code: 'ERR_JSON_UNSUPPORTED_VALUE', path: "$['excluded']['seed']" });
  assert.throws(() => computeIdentity({ ...composition, excluded: { n: Number.NaN } }), { code: 'ERR_JSON_NON_FINITE', path: "$['excluded']['n']" });
  // A served fact whose value is undefined in memory is absent, as on the wire.
  assert.equal(computeIdentity({ ...composition, served: { model: undefined } }).runId, computeIdentity({ ...composition, served: {} }).runId);
});
