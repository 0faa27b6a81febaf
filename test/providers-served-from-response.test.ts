/** docs/SPEC.md section 4.6: served facts from provider responses, errors and what is never a fact. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProviderError } from '../src/errors.ts';
import { parseComposition } from '../src/identity/composition.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import {
  compositionFromRequest,
  servedFromResponse,
  type RequestFormat,
} from '../src/providers/index.ts';

function rejects(format: RequestFormat, response: JsonValue, message: string, path: string): void {
  assert.throws(
    () => servedFromResponse(format, response),
    (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'ERR_PROVIDER_INVALID_RESPONSE');
      assert.equal(error.message, message);
      assert.equal(error.path, path);
      return true;
    },
  );
}

describe('servedFromResponse', () => {
  it('reports only what served the run: no id, content, usage counts or timestamps', () => {
    const served = servedFromResponse('openai-chat', {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1741569952,
      model: 'gpt-4o-2024-08-06',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hallo' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      system_fingerprint: 'fp_1',
    });
    assert.deepEqual(served, {
      model: { source: 'reported', value: 'gpt-4o-2024-08-06' },
      systemFingerprint: { source: 'reported', value: 'fp_1' },
    });
  });

  it('gives facts a composition accepts as its "served" member', () => {
    const composition = compositionFromRequest('anthropic-messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    composition.served = servedFromResponse('anthropic-messages', {
      type: 'message',
      model: 'claude-sonnet-4-5-20250929',
      usage: { input_tokens: 1, output_tokens: 1, service_tier: 'priority', inference_geo: 'eu' },
    });
    assert.equal(parseComposition(composition as unknown as JsonValue).served?.['inferenceGeo']?.value, 'eu');
  });

  it('rejects wrong types with a message naming the member', () => {
    rejects('openai-chat', 'ok', 'response must be a JSON object', '$');
    rejects('openai-chat', { model: 1 }, 'response "model" must be a string or null', "$['model']");
    rejects('openai-chat', { model: 'm', service_tier: ['x'] }, 'response "service_tier" must be a string or null', "$['service_tier']");
    rejects('anthropic-messages', { model: 'm', usage: [] }, 'response "usage" must be an object or null', "$['usage']");
    rejects('anthropic-messages', { model: 'm', usage: { inference_geo: 5 } }, 'response "usage.inference_geo" must be a string or null', "$['usage']['inference_geo']");
  });

  it('rejects the body of another API or an error body', () => {
    rejects('openai-chat', { object: 'response', model: 'm' }, 'response "object" does not name a chat completion', "$['object']");
    rejects('openai-responses', { object: 'chat.completion', model: 'm' }, 'response "object" does not name a response', "$['object']");
    rejects('anthropic-messages', { type: 'error', error: { type: 'api_error' } }, 'response "type" does not name a message', "$['type']");
    rejects('openai-responses', { error: { message: 'quota' } }, 'response is an error body', '$');
    rejects('openai-chat', { object: 'chat.completion', model: 'gpt-4o', error: { message: 'x' } }, 'response is an error body', '$');
  });

  it('a response that reports no fact gives none: {} (SPEC 4.6), not an error', () => {
    assert.deepEqual(servedFromResponse('openai-chat', { object: 'chat.completion', choices: [] }), {});
    assert.deepEqual(servedFromResponse('openai-responses', { object: 'response', model: null, error: null }), {});
    assert.deepEqual(servedFromResponse('anthropic-messages', { type: 'message', usage: { input_tokens: 1 } }), {});
  });

  it('treats null and absent members alike: no fact', () => {
    assert.deepEqual(servedFromResponse('openai-responses', { object: 'response', model: 'gpt-5', service_tier: null }), {
      model: { source: 'reported', value: 'gpt-5' },
    });
    assert.deepEqual(servedFromResponse('anthropic-messages', { model: 'claude-haiku-4-5', usage: null }), {
      model: { source: 'reported', value: 'claude-haiku-4-5' },
    });
  });

  it('treats an unknown format name as a programmer error', () => {
    assert.throws(() => servedFromResponse('gemini' as RequestFormat, { model: 'm' }), RangeError);
  });
});
