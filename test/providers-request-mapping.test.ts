/** docs/SPEC.md sections 4.1-4.4: request mapping errors, messages and field tables. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProviderError } from '../src/errors.ts';
import type { Composition } from '../src/identity/composition.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import {
  REQUEST_FORMATS,
  compositionFromRequest,
  requestFromComposition,
  type RequestFormat,
} from '../src/providers/index.ts';
import { mappingFor } from '../src/providers/request-mapping.ts';

function rejects(run: () => unknown, code: string, message: string, path: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ProviderError);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    assert.equal(error.path, path);
    return true;
  });
}

const invalid = 'ERR_PROVIDER_INVALID_REQUEST';
const ask = { role: 'user', content: 'Hi' };

describe('compositionFromRequest errors', () => {
  it('rejects a request that is not an object', () => {
    for (const format of REQUEST_FORMATS) {
      for (const request of [null, 'x', 1, [], true]) {
        rejects(() => compositionFromRequest(format, request), invalid, 'request must be a JSON object', '$');
      }
    }
  });

  it('rejects a missing, empty or non-string model', () => {
    for (const model of [undefined, '', 4, null, ['gpt-4o']]) {
      const request = model === undefined ? { messages: [ask] } : { model, messages: [ask] };
      rejects(
        () => compositionFromRequest('openai-chat', request as JsonValue),
        invalid,
        'request "model" must be a non-empty string',
        "$['model']",
      );
    }
  });

  it('names the field and never echoes its content', () => {
    const secret = 'sk-live-SECRET-do-not-print';
    const cases: Array<[RequestFormat, JsonValue, string, string]> = [
      ['openai-chat', { model: 'm', messages: secret }, 'request "messages" must be an array or null', "$['messages']"],
      ['openai-chat', { model: 'm', messages: [ask, secret] }, 'each element of request "messages" must be a JSON object', "$['messages'][1]"],
      ['openai-chat', { model: 'm', tools: { secret } }, 'request "tools" must be an array or null', "$['tools']"],
      ['openai-responses', { model: 'm', instructions: [secret] }, 'request "instructions" must be a string or null', "$['instructions']"],
      ['openai-responses', { model: 'm', input: 42 }, 'request "input" must be a string, an array or null', "$['input']"],
      ['openai-responses', { model: 'm', input: [secret] }, 'each element of request "input" must be a JSON object', "$['input'][0]"],
      ['anthropic-messages', { model: 'm', system: { text: secret } }, 'request "system" must be a string, an array or null', "$['system']"],
      ['anthropic-messages', { model: 'm', system: [secret] }, 'each element of request "system" must be a JSON object', "$['system'][0]"],
      ['anthropic-messages', { model: 'm', messages: [ask], tools: [null] }, 'each element of request "tools" must be a JSON object', "$['tools'][0]"],
    ];
    for (const [format, request, message, path] of cases) {
      rejects(() => compositionFromRequest(format, request), invalid, message, path);
      try {
        compositionFromRequest(format, request);
      } catch (error) {
        assert.ok(!(error as Error).message.includes('SECRET'));
      }
    }
  });

  it('treats an unknown format name as a programmer error', () => {
    assert.throws(() => compositionFromRequest('gemini' as RequestFormat, { model: 'm' }), RangeError);
  });
});

describe('compositionFromRequest shape', () => {
  it('leaves "excluded" out when nothing is excluded', () => {
    const composition = compositionFromRequest('openai-chat', { model: 'm', messages: [ask] });
    assert.equal('excluded' in composition, false);
  });

  it('keeps a "__proto__" member as data, without touching any prototype', () => {
    const request = JSON.parse('{"model":"m","__proto__":{"polluted":true}}') as JsonValue;
    const composition = compositionFromRequest('openai-responses', request);
    assert.deepEqual(Object.keys(composition.configuration), ['__proto__']);
    assert.equal(Object.getPrototypeOf(composition.configuration), Object.prototype);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.hasOwn(requestFromComposition(composition), '__proto__'), true);
  });

  it('does not copy element values: system and input share them with the request', () => {
    const system = { role: 'system', content: 'S' };
    const composition = compositionFromRequest('openai-chat', { model: 'm', messages: [system, ask] });
    assert.equal(composition.system[0], system);
  });
});

describe('requestFromComposition errors', () => {
  const base = (format: RequestFormat): Composition =>
    compositionFromRequest(format, format === 'openai-responses' ? { model: 'm', input: 'Hi' } : { model: 'm', messages: [ask] });

  it('rejects a model "api" it does not map', () => {
    const composition = { ...base('openai-chat'), model: { api: 'gemini', name: 'm' } };
    rejects(
      () => requestFromComposition(composition),
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'composition model "api" names no request format this implementation maps',
      "$['model']['api']",
    );
  });

  it('rejects a context document', () => {
    const composition = { ...base('anthropic-messages'), context: [{ text: 'doc' }] };
    rejects(
      () => requestFromComposition(composition),
      invalid,
      'composition component "context" has no anthropic-messages request form',
      "$['context'][0]",
    );
  });

  it('rejects a field set twice', () => {
    const composition = { ...base('openai-chat'), parameters: { stream: true }, excluded: { stream: false } };
    rejects(
      () => requestFromComposition(composition),
      invalid,
      'composition sets the same request field in two components',
      "$['excluded']['stream']",
    );
  });

  it('rejects a component that would map back differently', () => {
    const composition = { ...base('openai-chat'), parameters: { tool_choice: 'auto' } };
    rejects(
      () => requestFromComposition(composition),
      invalid,
      'composition component "parameters" differs from what its openai-chat request maps back to',
      "$['parameters']",
    );
  });

  it('rejects a lifted field that a value component gives an invalid shape', () => {
    const composition = { ...base('openai-responses'), input: [], configuration: { input: 3 } };
    rejects(
      () => requestFromComposition(composition),
      invalid,
      'composition component "configuration" has no openai-responses request form',
      "$['configuration']['input']",
    );
  });

  it('ignores served facts, which no request carries', () => {
    const composition: Composition = { ...base('openai-chat'), served: { model: { source: 'reported', value: 'm-1' } } };
    assert.deepEqual(requestFromComposition(composition), { model: 'm', messages: [ask] });
  });
});

/** SPEC section 4 text, from docs/SPEC.md. */
function specSection4(): string {
  const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
  const spec = readFileSync(join(docs, 'SPEC.md'), 'utf8');
  return spec;
}

/** The field table rows of one SPEC subsection: field name -> place. */
function tableOf(text: string, heading: string): Map<string, string> {
  const start = text.indexOf(`### ${heading} `);
  const end = text.indexOf('\n### ', start + 1);
  const rows = new Map<string, string>();
  for (const line of text.slice(start, end === -1 ? undefined : end).split('\n')) {
    const row = /^\| `([^`]+)` \| ([^|]+?) \|/.exec(line);
    if (row === null) continue;
    const place = row[2]!.startsWith('lifted') ? 'lifted' : row[2]!;
    rows.set(row[1]!, place);
  }
  return rows;
}

describe('field tables', () => {
  const headings: { [F in RequestFormat]: string } = {
    'openai-chat': '4.2',
    'openai-responses': '4.3',
    'anthropic-messages': '4.4',
  };
  for (const format of REQUEST_FORMATS) {
    it(`${format}: the SPEC table and the implementation place every field alike`, () => {
      const mapping = mappingFor(format);
      const want = new Map<string, string>([['model', 'model']]);
      for (const field of mapping.lifted) want.set(field, 'lifted');
      for (const field of mapping.parameters) want.set(field, 'parameters');
      for (const field of mapping.configuration) want.set(field, 'configuration');
      for (const field of mapping.excluded) want.set(field, 'excluded');
      const table = tableOf(specSection4(), headings[format]);
      assert.deepEqual(new Map([...table].sort()), new Map([...want].sort()));
    });
  }

  for (const format of REQUEST_FORMATS) {
    it(`${format}: every named field has exactly one place, and "model" none of them`, () => {
      const mapping = mappingFor(format);
      const all = [...mapping.lifted, ...mapping.parameters, ...mapping.configuration, ...mapping.excluded];
      assert.equal(new Set(all).size, all.length);
      assert.equal(all.includes('model'), false);
    });
  }
});
