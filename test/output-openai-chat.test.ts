/** docs/SPEC.md section 12.2: OpenAI Chat Completions output, the same from a response and from its chunk stream. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputFormat, plain } from './helpers/output-format.ts';

const { read, run, rejects } = outputFormat('openai-chat');
const chunk = (choices: string, extra = ''): string =>
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o"${extra},"choices":${choices}}\n\n`;

describe('a stream and a response of the same content have the same output (SPEC 12.2)', () => {
  for (const name of ['text', 'tool-calls', 'two-choices', 'unicode', 'refusal']) {
    it(name, () => {
      const response = run(read(`${name}.json`));
      const stream = run(read(`${name}.sse`));
      assert.deepEqual(stream.output, response.output);
      assert.deepEqual(stream.digest, response.digest);
      assert.equal(stream.finishReason, response.finishReason);
      assert.deepEqual(stream.served, response.served);
      assert.equal(stream.stream, true);
      assert.equal(response.stream, false);
      assert.notDeepEqual(stream.rawDigest, response.rawDigest);
    });
  }
});

describe('the output value', () => {
  it('tool calls: role, null content and refusal, calls without ids, arguments as the concatenated string', () => {
    const { output, finishReason, usage } = run(read('tool-calls.sse'));
    assert.deepEqual(plain(output), {
      choices: [{
        index: 0,
        message: {
          role: 'assistant', content: null, refusal: null,
          tool_calls: [
            { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich","unit":"celsius"}' } },
            { type: 'function', function: { name: 'get_weather', arguments: '{"city":"東京"}' } },
          ],
        },
        finish_reason: 'tool_calls',
      }],
    });
    assert.equal(finishReason, 'tool_calls');
    assert.equal(usage, null);
  });

  it('n = 2: choices by index, each with its own finish_reason; finishReason is the first choice\'s', () => {
    const { output, finishReason } = run(read('two-choices.sse'));
    assert.deepEqual(plain(output), {
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Ja.', refusal: null }, finish_reason: 'stop' },
        { index: 1, message: { role: 'assistant', content: 'Vermutlich ja, aber', refusal: null }, finish_reason: 'length' },
      ],
    });
    assert.equal(finishReason, 'stop');
  });

  it('usage is the usage chunk, verbatim; served facts come from the first chunk', () => {
    const result = run(read('text.sse'));
    assert.deepEqual((result.usage as { total_tokens: number }).total_tokens, 45);
    assert.deepEqual(result.served, {
      model: { source: 'reported', value: 'gpt-4o-2024-08-06' },
      systemFingerprint: { source: 'reported', value: 'fp_07871e2ad8' },
      serviceTier: { source: 'reported', value: 'default' },
    });
  });

  it('an empty content string is null, in both forms', () => {
    const stream = chunk('[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]') + 'data: [DONE]\n\n';
    const response = '{"object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}';
    assert.deepEqual(run(stream).output, run(response).output);
  });

  it('a stream with no event but [DONE] has no choice and no served fact', () => {
    const result = run('data: [DONE]\n\n');
    assert.deepEqual(plain(result.output), { choices: [] });
    assert.deepEqual(result.served, {});
    assert.equal(result.finishReason, null);
  });
});

describe('broken or ambiguous input is rejected', () => {
  it('a stream without data: [DONE]', () => {
    rejects(read('text.sse').replace('data: [DONE]\n\n', ''), 'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream ends without data: [DONE]');
  });
  it('a stream whose last event is not ended by an empty line', () => {
    rejects(read('text.sse').replace('data: [DONE]\n\n', 'data: [DONE]'), 'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream ends without data: [DONE]');
  });
  it('an event that is not JSON', () => {
    rejects('data: {"id":"chatcmpl-1","object":\n\ndata: [DONE]\n\n', 'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream event 1 is not valid JSON (ERR_JSON_TRUNCATED)');
  });
  it('a tool call delta for an index never started', () => {
    const text = chunk('[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]') +
      chunk('[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"finish_reason":null}]');
    rejects(text + 'data: [DONE]\n\n', 'ERR_OUTPUT_EVENT_ORDER',
      'stream event 2 choices[0].delta.tool_calls[0]: delta for tool call index 1 that was never started');
  });
  it('a choice that never gets a finish_reason, or a role', () => {
    rejects(chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') + 'data: [DONE]\n\n',
      'ERR_OUTPUT_INCOMPLETE_STREAM', 'choice index 0 ends without a finish_reason');
    rejects(chunk('[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]') + 'data: [DONE]\n\n',
      'ERR_OUTPUT_INCOMPLETE_STREAM', 'choice index 0 has no role');
  });
  it('an error object in the stream', () => {
    const text = read('text.sse').split('\n\n').slice(0, 2).join('\n\n') +
      '\n\ndata: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n';
    rejects(text, 'ERR_OUTPUT_PROVIDER_ERROR', 'stream event 3 is an error object');
  });
  it('an error body instead of a completion', () => {
    rejects('{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
      'ERR_OUTPUT_PROVIDER_ERROR', 'response is an error object');
  });
  it('a body of another object type', () => {
    rejects('{"object":"response","choices":[]}', 'ERR_OUTPUT_INVALID', 'response "object" is not "chat.completion"');
  });
  it('an event after data: [DONE]', () => {
    rejects(read('text.sse') + chunk('[]'), 'ERR_OUTPUT_EVENT_ORDER', 'stream event 8 follows data: [DONE]');
  });
  it('content after the choice finished, or two finish reasons', () => {
    rejects(chunk('[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":"stop"}]') +
      chunk('[{"index":0,"delta":{"content":"b"},"finish_reason":null}]') + 'data: [DONE]\n\n',
    'ERR_OUTPUT_EVENT_ORDER', 'stream event 2 choices[0]: delta for choice index 0 after its finish_reason');
    rejects(chunk('[{"index":0,"delta":{"role":"assistant"},"finish_reason":"stop"}]') +
      chunk('[{"index":0,"delta":{},"finish_reason":"length"}]') + 'data: [DONE]\n\n',
    'ERR_OUTPUT_CONTRADICTION', 'stream event 2 choices[0]: choice index 0 has two finish reasons');
  });
  it('a response whose body is not strict JSON', () => {
    rejects('{"object":"chat.completion","choices":[]', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at byte 40 (line 1, column 41)');
  });
  it('a repeated choice index in a response', () => {
    rejects('{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},' +
      '{"index":0,"message":{"role":"assistant","content":"b"},"finish_reason":"stop"}]}', 'ERR_OUTPUT_INVALID', 'choices[1] repeats choice index 0');
  });
});
