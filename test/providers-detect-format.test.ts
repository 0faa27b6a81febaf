/** docs/SPEC.md section 4.5: format detection for `--from auto`, messages and marker coverage. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProviderError } from '../src/errors.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import { REQUEST_FORMATS, detectFormat } from '../src/providers/index.ts';
import { knownFields } from '../src/providers/request-format.ts';
import { mappingFor } from '../src/providers/request-mapping.ts';

function rejects(value: JsonValue, code: string, message: string): void {
  assert.throws(
    () => detectFormat(value),
    (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, code);
      assert.equal(error.message, message);
      assert.equal(error.path, '$');
      return true;
    },
  );
}

const ask = { role: 'user', content: 'Hi' };

/** The fields SPEC 4.5 lists as defined by one API only (docs/SPEC.md). */
function specMarkers(format: string): string[] {
  const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
  const spec = readFileSync(join(docs, 'SPEC.md'), 'utf8');
  const text = spec;
  const row = text.split('\n').find((line) => line.startsWith(`| \`${format}\` | \``)) ?? '';
  return [...(row.split('|')[2] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] as string).sort();
}

describe('detectFormat', () => {
  it('asks for --from when a body fits two APIs, naming them', () => {
    rejects(
      { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [ask] },
      'ERR_PROVIDER_AMBIGUOUS_FORMAT',
      'input could be a request of more than one provider API (openai-chat, anthropic-messages); pass --from',
    );
  });

  it('reports a body of no known API, a body mixing APIs, and a non-object', () => {
    rejects(
      { prompt_text: 'Hi' },
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input has no field of a composition or of a supported provider request; pass --from',
    );
    rejects(
      { model: 'm', system: 'x', input: 'y' },
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input mixes fields of different provider APIs; pass --from',
    );
    for (const value of [null, 'x', 3, [ask]]) {
      rejects(
        value,
        'ERR_PROVIDER_UNKNOWN_FORMAT',
        'input is not a JSON object, so it is neither a composition nor a provider request',
      );
    }
  });

  it('names the unknown members that stopped it, each with the nearest known name of any API (rule 6)', () => {
    rejects({ model: 'gpt-4o', messages: [ask], temprature: 0 }, 'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input has no field that only one API defines, and a member no supported API defines: $[\'temprature\'] (did you mean "temperature"?); '
      + 'pass --from openai-chat|openai-responses|anthropic-messages to identify it anyway, with a warning naming each unknown member');
    // Printable and bounded: a reordering character is escaped, a long name cut, at most three named.
    rejects({ model: 'm', messages: [ask], 'a\u202eb': 1, ['x'.repeat(100)]: 1, stream_option: 1, d: 1, e: 1 }, 'ERR_PROVIDER_UNKNOWN_FORMAT',
      `input has no field that only one API defines, and members no supported API defines: $['a\\u202eb'], $['${'x'.repeat(64)}'\u2026], `
      + '$[\'stream_option\'] (did you mean "stream_options"?) and 2 more; '
      + 'pass --from openai-chat|openai-responses|anthropic-messages to identify it anyway, with a warning naming each unknown member');
    // Ambiguous as well: the unknown members are named beside the candidates.
    rejects({ model: 'gpt-4o', mesages: [ask], max_tokens: 5 }, 'ERR_PROVIDER_AMBIGUOUS_FORMAT',
      'input could be a request of more than one provider API (openai-chat, anthropic-messages), and a member none of them defines: $[\'mesages\'] (did you mean "messages"?); pass --from');
  });

  it('ignores values: the model name never decides', () => {
    rejects({ model: 'gpt-4o', messages: [ask], max_tokens: 5 }, 'ERR_PROVIDER_AMBIGUOUS_FORMAT',
      'input could be a request of more than one provider API (openai-chat, anthropic-messages); pass --from');
    assert.equal(detectFormat({ model: 'claude-sonnet-4-5', messages: [ask] }), 'openai-chat');
    assert.equal(detectFormat({ model: 'claude-sonnet-4-5', messages: [ask], n: 1 }), 'openai-chat');
  });

  it('has, for each API, fields that only it defines, and each of them alone decides', () => {
    for (const format of REQUEST_FORMATS) {
      const others = REQUEST_FORMATS.filter((other) => other !== format).map((other) => knownFields(mappingFor(other)));
      const own = [...knownFields(mappingFor(format))].filter((field) => others.every((set) => !set.has(field)));
      assert.ok(own.length >= 5, `${format} has ${own.length} exclusive fields`);
      assert.deepEqual(own.sort(), specMarkers(format), 'the SPEC 4.5 marker table');
      for (const field of own) {
        assert.equal(detectFormat({ model: 'm', [field]: null }), format, field);
      }
    }
  });

  it('recognizes a composition by its runprint version, supported or not', () => {
    assert.equal(detectFormat({ version: 'runprint/v1' }), 'composition');
    assert.equal(detectFormat({ version: 'runprint/v2', messages: [] }), 'composition');
    assert.equal(detectFormat({ version: 'v1', model: 'm', input: 'x' }), 'openai-responses');
  });
});
