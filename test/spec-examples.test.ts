/** The worked examples in the text of docs/SPEC.md (section 5.7, 1.3) equal what runprint computes, and what an outside Python computes. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { toHex, sha256 } from '../src/hash/sha256.ts';
import { elementSalt } from '../src/identity/digest.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { saltBytes } from '../src/identity/salt.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { compositionFromRequest, type RequestFormat } from '../src/providers/index.ts';

const specPath = new URL('../docs/SPEC.md', import.meta.url).pathname;
const spec = readFileSync(specPath, 'utf8');

/** Every ```text block of the spec that starts with a `format` line: name -> value, in order. */
function exampleBlocks(): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  for (const match of spec.matchAll(/```text\n(format .*?)\n```/gs)) {
    const block = new Map<string, string>();
    for (const line of match[1]!.split('\n')) {
      const [, name, value] = /^(\S+)\s+(.*)$/.exec(line)!;
      assert.ok(!block.has(name!), `a name twice in one example: ${name}`);
      block.set(name!, value!);
    }
    blocks.push(block);
  }
  return blocks;
}

/** What runprint gives for an example's request (and its salts and served facts). */
function recompute(block: Map<string, string>): Map<string, string> {
  const got = new Map<string, string>();
  const format = block.get('format') as RequestFormat;
  got.set('format', format);
  got.set('request', block.get('request')!);
  const composition = compositionFromRequest(format, parseJson(block.get('request')!)) as unknown as Record<string, unknown>;
  got.set('composition', canonicalize(composition));
  if (block.has('salts')) {
    got.set('salts', block.get('salts')!);
    composition['salts'] = JSON.parse(block.get('salts')!);
  }
  const identity = computeIdentity(composition);
  const salts = (composition['salts'] ?? {}) as Record<string, string>;
  for (const [name, entry] of Object.entries(identity.components)) {
    const value = composition[name];
    if (entry.kind === 'value') {
      got.set(`${name}.jcs`, canonicalize(value));
    } else {
      const list = value as unknown[];
      list.forEach((element, index) => {
        got.set(`${name}[${index}].jcs`, canonicalize(element));
        if (salts[name] !== undefined) got.set(`${name}[${index}].salt`, toHex(elementSalt(saltBytes(salts[name]), index)));
        got.set(`${name}[${index}].digest`, entry.elements[index]!.sha256);
      });
      if (list.length === 3) {
        const [d0, d1] = entry.elements.map((digest) => Buffer.from(digest.sha256, 'hex'));
        got.set(`${name}.node[0:2]`, toHex(sha256(new Uint8Array([1]), d0!, d1!)));
      }
      got.set(`${name}.root`, entry.root.sha256);
    }
    got.set(`${name}.digest`, entry.digest.sha256);
  }
  got.set('requestDigest', identity.requestId.slice('rp-req-v1-sha256-'.length));
  got.set('requestId', identity.requestId);
  if (block.has('served')) {
    const run = computeIdentity({ ...composition, served: JSON.parse(block.get('served')!) });
    got.set('served', canonicalize(run.served!.facts));
    got.set('served.digest', run.served!.digest.sha256);
    got.set('runDigest', run.runId!.slice('rp-run-v1-sha256-'.length));
    got.set('runId', run.runId!);
  }
  return got;
}

test('SPEC 5.7: every value of every worked example is what runprint computes', () => {
  const blocks = exampleBlocks();
  assert.ok(blocks.length >= 4, `${blocks.length} examples`);
  const formats = new Set(blocks.map((block) => block.get('format')));
  assert.deepEqual([...formats].sort(), ['anthropic-messages', 'openai-chat', 'openai-responses']);
  assert.ok(blocks.some((block) => block.has('salts')), 'a salted example');
  assert.ok(blocks.some((block) => block.has('runId')), 'an example with a run identity');
  for (const [index, block] of blocks.entries()) {
    assert.deepEqual(Object.fromEntries(block), Object.fromEntries(recompute(block)), `example ${index + 1}`);
  }
});

test('SPEC 5.7 and 4: an outside Python computation from the spec text alone agrees (scripts/check-spec-examples.py)', async () => {
  // It reads the field tables of SPEC 4.2-4.4 from the text, maps requests, serializes and digests
  // without runprint's code, then checks every example value and every provider mapping vector.
  const script = new URL('../scripts/check-spec-examples.py', import.meta.url).pathname;
  const providers = new URL('../testdata/providers', import.meta.url).pathname;
  const result = await promisify(execFile)('python3', [script, specPath, providers]).catch((error) => error);
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  assert.match(output, /^4 examples, \d+ values checked, 0 differ\n/m, output);
  assert.match(output, /^\d+ provider mapping vectors, 0 differ\n/m, output);
  assert.equal(result.code ?? 0, 0, output);
});

test('SPEC 2.2 and 2.4: the inline identities of a reordered and of a differently excluded request', () => {
  const responses = '{"model":"gpt-5","instructions":"Be brief.","input":[{"role":"assistant","content":"Hello!"},{"role":"user","content":"Hi"},{"role":"user","content":"Bye"}],"tools":[],"max_output_tokens":50,"store":false}';
  const swapped = computeIdentity(compositionFromRequest('openai-responses', parseJson(responses))).requestId;
  assert.ok(spec.includes(`it has\n\`${swapped}\``), swapped);
  const chat = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"temperature":0,"stream":false,"user":"u-9"}';
  const unchanged = computeIdentity(compositionFromRequest('openai-chat', parseJson(chat))).requestId;
  assert.ok(spec.includes(`of \`"stream":true\` has the same\n\`${unchanged}\``), unchanged);
  assert.equal(unchanged, exampleBlocks()[0]!.get('requestId'));
});

test('SPEC 10: the inline diff example is what runprint reports', async () => {
  const { diffCompositions } = await import('../src/identity/diff.ts');
  const a = exampleBlocks()[0]!.get('request')!;
  const b = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi!"},{"role":"user","content":"Bye"}],"temperature":0.7,"stream":false}';
  const result = diffCompositions(compositionFromRequest('openai-chat', parseJson(a)), compositionFromRequest('openai-chat', parseJson(b)));
  assert.equal(result.equal, false);
  assert.equal(result.compared, 'requestId');
  const lines = result.differences.map((d) => `    ${d.change.padEnd(8)} ${d.component.padEnd(14)} ${d.path}`).join('\n');
  assert.ok(spec.includes(`lists exactly\n\n${lines}\n\n`), lines);
});

test('SPEC 5.6 and 1.3: the inline salt example and path examples are what runprint computes', async () => {
  const { formatPath } = await import('../src/errors.ts');
  const { saltedElementDigest, saltedValueComponentDigest } = await import('../src/identity/digest.ts');
  const saltA = '3b7d0a7c2f4e9b1d6a8c5e0f2b4d6f8a1c3e5a7b9d0f2a4c6e8b0d2f4a6c8e0b';
  assert.ok(spec.includes(`\`S = ${saltA}\``));
  const s0 = toHex(elementSalt(saltBytes(saltA), 0));
  assert.ok(spec.includes(`\`s_0 = ${s0}\``));
  assert.ok(spec.includes(toHex(saltedElementDigest(saltBytes(s0), '"hello"'))));
  assert.ok(spec.includes(toHex(saltedValueComponentDigest('parameters', saltBytes(saltA), '{"temperature":0.7}'))));
  for (const [segments, written] of [
    [['input', 0, "it's"], "$['input'][0]['it\\'s']"],
    [['a\u000b'], "$['a\\u000b']"],
  ] as const) {
    assert.equal(formatPath(segments), written);
    assert.ok(spec.includes(`\`${written}\``), written);
  }
});
