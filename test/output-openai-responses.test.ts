/** docs/SPEC.md section 12.3: OpenAI Responses output, the same from a response and from its event stream. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputFormat, plain } from './helpers/output-format.ts';

const { read, run, rejects } = outputFormat('openai-responses');
/** The events of a fixture stream, to be edited into broken streams. */
const events = (name: string): string[] => read(name).split('\n\n').filter((part) => part !== '');
const join = (parts: string[]): string => parts.map((part) => `${part}\n\n`).join('');

describe('a stream and a response of the same content have the same output (SPEC 12.3)', () => {
  for (const name of ['text', 'function-call', 'reasoning-incomplete', 'refusal']) {
    it(name, () => {
      const response = run(read(`${name}.json`));
      const stream = run(read(`${name}.sse`));
      assert.deepEqual(stream.output, response.output);
      assert.deepEqual(stream.digest, response.digest);
      assert.equal(stream.finishReason, response.finishReason);
      assert.deepEqual(stream.served, response.served);
      assert.deepEqual(stream.usage, response.usage);
    });
  }
});

describe('the output value', () => {
  it('status, incomplete_details and the output items without id and call_id', () => {
    assert.deepEqual(plain(run(read('function-call.sse')).output), {
      status: 'completed',
      incomplete_details: null,
      output: [{ type: 'function_call', status: 'completed', arguments: '{"city":"Zürich","unit":"celsius"}', name: 'get_weather' }],
    });
  });

  it('an incomplete response: finishReason is incomplete_details.reason', () => {
    const result = run(read('reasoning-incomplete.sse'));
    assert.equal(result.finishReason, 'max_output_tokens');
    assert.deepEqual(plain(result.output), {
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output: [
        { type: 'reasoning', summary: [] },
        { type: 'message', status: 'incomplete', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Die Antwort beginnt mit' }], role: 'assistant' },
      ],
    });
  });

  it('served facts come from the terminal event, not from response.created', () => {
    assert.deepEqual(run(read('text.sse')).served['serviceTier'], { source: 'reported', value: 'default' });
  });
});

describe('broken or ambiguous input is rejected', () => {
  it('a stream without its terminal event', () => {
    rejects(join(events('text.sse').slice(0, -1)), 'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream ends without response.completed or response.incomplete');
  });
  it('an event that is not JSON', () => {
    const parts = events('text.sse');
    parts[4] = 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":4,';
    rejects(join(parts), 'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream event 5 is not valid JSON (ERR_JSON_TRUNCATED)');
  });
  it('a delta for an output item never started', () => {
    const parts = events('text.sse');
    rejects(join([parts[0]!, parts[4]!]), 'ERR_OUTPUT_EVENT_ORDER',
      'stream event 2: response.output_text.delta for output item 0 that was never started');
  });
  it('an output item without response.output_item.done', () => {
    const parts = events('function-call.sse');
    rejects(join(parts.filter((part) => !part.startsWith('event: response.output_item.done'))), 'ERR_OUTPUT_INCOMPLETE_STREAM',
      'output item 0 has no response.output_item.done');
  });
  it('deltas that differ from the terminal event', () => {
    rejects(read('text.sse').replace('"delta":" 21:04 Uhr."', '"delta":" 21:05 Uhr."'), 'ERR_OUTPUT_CONTRADICTION',
      'output item 0 content 0: the deltas differ from the terminal event');
    rejects(read('function-call.sse').replace('"delta":"\\"celsius\\"}"', '"delta":"\\"kelvin\\"}"'), 'ERR_OUTPUT_CONTRADICTION',
      'output item 0: the arguments deltas differ from the terminal event');
  });
  it('an error event, and a failed response', () => {
    const parts = events('text.sse');
    rejects(join([parts[0]!, 'event: error\ndata: {"type":"error","code":"server_error","message":"The server had an error.","param":null,"sequence_number":1}']),
      'ERR_OUTPUT_PROVIDER_ERROR', 'stream event 2 is an error object');
    rejects(join([parts[0]!, 'event: response.failed\ndata: {"type":"response.failed","sequence_number":1,"response":{"object":"response","status":"failed","error":{"code":"server_error","message":"x"},"output":[]}}']),
      'ERR_OUTPUT_PROVIDER_ERROR', 'stream event 2: the response failed');
  });
  it('an error body, and a response that has not finished', () => {
    rejects('{"error":{"message":"Invalid model","type":"invalid_request_error","param":"model","code":"model_not_found"}}',
      'ERR_OUTPUT_PROVIDER_ERROR', 'response is an error object');
    rejects('{"id":"resp_1","object":"response","status":"in_progress","error":null,"output":[]}',
      'ERR_OUTPUT_INVALID', 'response "status" is not "completed" or "incomplete"');
  });
  it('an event after the terminal event', () => {
    const parts = events('refusal.sse');
    rejects(join([...parts, parts[0]!]), 'ERR_OUTPUT_EVENT_ORDER', 'stream event 9 follows the terminal event');
  });
});
