/** docs/SPEC.md sections 12.1 and 12.5: runOutputFrom, the output digest, the raw digest and output without a format. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OutputError } from '../src/errors.ts';
import { canonicalize } from '../src/jcs/index.ts';
import { outputDigest, runOutputFrom, type RequestFormat } from '../src/providers/index.ts';

const encoder = new TextEncoder();
const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
const folder = new URL('./fixtures/output/', import.meta.url);
const formats: RequestFormat[] = ['openai-chat', 'openai-responses', 'anthropic-messages'];

/** The digest as SPEC 12.1 writes it, computed here with node:crypto and nothing of src/providers. */
function referenceDigest(output: unknown): string {
  return sha256(Buffer.concat([Buffer.from('runprint/v1/output\u0000', 'latin1'), Buffer.from(canonicalize(output), 'utf8')]));
}

describe('digests (SPEC 12.1)', () => {
  it('the raw digest is SHA-256 of the bytes as received, for every fixture', () => {
    for (const format of formats) {
      for (const name of readdirSync(new URL(`${format}/`, folder))) {
        const body = readFileSync(new URL(`${format}/${name}`, folder));
        assert.equal(runOutputFrom(body, format).rawDigest.sha256, sha256(body), `${format}/${name}`);
      }
    }
  });

  it('the output digest is SHA-256("runprint/v1/output" 0x00 || JCS(output))', () => {
    for (const format of formats) {
      for (const name of readdirSync(new URL(`${format}/`, folder))) {
        const result = runOutputFrom(readFileSync(new URL(`${format}/${name}`, folder)), format);
        assert.equal(result.digest?.sha256, referenceDigest(result.output), `${format}/${name}`);
      }
    }
  });

  it('the tag is 18 ASCII bytes and one 0x00: a worked value', () => {
    assert.equal(outputDigest({ a: 1 }).sha256, sha256('runprint/v1/output\u0000{"a":1}'));
    assert.equal(outputDigest(null).sha256, sha256('runprint/v1/output\u0000null'));
  });

  it('white space and member order in the body change the raw digest only', () => {
    const a = runOutputFrom(encoder.encode('{"type":"message","role":"assistant","content":[],"stop_reason":"end_turn","model":"m"}'), 'anthropic-messages');
    const b = runOutputFrom(encoder.encode('{ "model": "m", "stop_reason": "end_turn", "content": [ ], "role": "assistant", "type": "message" }'), 'anthropic-messages');
    assert.deepEqual(a.digest, b.digest);
    assert.notDeepEqual(a.rawDigest, b.rawDigest);
  });
});

describe('output without a format (SPEC 12.5)', () => {
  it('a JSON body is its own output', () => {
    const result = runOutputFrom(encoder.encode('{"answer": 42, "unit": "°C"}'));
    assert.deepEqual(JSON.parse(JSON.stringify(result.output)), { answer: 42, unit: '°C' });
    assert.equal(result.digest?.sha256, sha256('runprint/v1/output\u0000{"answer":42,"unit":"°C"}'));
    assert.equal(result.finishReason, null);
    assert.equal(result.usage, null);
    assert.deepEqual(result.served, {});
    assert.equal(result.stream, false);
  });

  it('a body that is not strict JSON has only a raw digest, and is no error', () => {
    for (const text of ['plain text answer', '{"a":1,"a":2}', '', 'data: {"x":1}\n\n']) {
      const result = runOutputFrom(encoder.encode(text));
      assert.equal(result.output, null);
      assert.equal(result.digest, null);
      assert.equal(result.rawDigest.sha256, sha256(text));
    }
  });

  it('the JSON text null has output null and a digest', () => {
    const result = runOutputFrom(encoder.encode('null'));
    assert.equal(result.output, null);
    assert.equal(result.digest?.sha256, sha256('runprint/v1/output\u0000null'));
  });
});

describe('bodies with a format', () => {
  it('an empty body, or one that holds no event, is an incomplete stream', () => {
    for (const text of ['', '   \n', 'Internal Server Error']) {
      assert.throws(() => runOutputFrom(encoder.encode(text), 'openai-chat'), (error: unknown) => {
        assert.ok(error instanceof OutputError);
        assert.equal(error.code, 'ERR_OUTPUT_INCOMPLETE_STREAM');
        assert.equal(error.message, 'event stream has no event');
        return true;
      });
    }
  });

  it('a body that starts with [ is no response: it is read as a stream, and holds no event', () => {
    assert.throws(() => runOutputFrom(encoder.encode('["chat.completion"]'), 'openai-chat'), {
      code: 'ERR_OUTPUT_INCOMPLETE_STREAM',
      message: 'event stream has no event',
    });
  });

  it('a served fact of the wrong type is an output failure', () => {
    assert.throws(() => runOutputFrom(encoder.encode(' {"type":"message","role":"assistant","content":[],"model":5}'), 'anthropic-messages'), {
      code: 'ERR_OUTPUT_INVALID',
      message: 'response "model" must be a string or null',
    });
  });

  it('a body that reports no served fact gives none', () => {
    const result = runOutputFrom(encoder.encode('{"type":"message","role":"assistant","content":[],"stop_reason":"end_turn"}'), 'anthropic-messages');
    assert.deepEqual(result.served, {});
    assert.equal(result.finishReason, 'end_turn');
  });

  it('programmer errors are TypeError and RangeError', () => {
    assert.throws(() => runOutputFrom('text' as unknown as Uint8Array), TypeError);
    assert.throws(() => runOutputFrom(encoder.encode('{}'), 'openai-completions' as RequestFormat), RangeError);
  });
});
