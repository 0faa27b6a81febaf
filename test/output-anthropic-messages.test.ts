/** docs/SPEC.md section 12.4: Anthropic Messages output, the same from a message and from its event stream. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputFormat, plain } from './helpers/output-format.ts';

const { read, run, rejects } = outputFormat('anthropic-messages');
const event = (type: string, data: string): string => `event: ${type}\ndata: {"type":"${type}"${data}}\n\n`;
const start = event('message_start', ',"message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}');
const stop = event('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}') + event('message_stop', '');

describe('a stream and a message of the same content have the same output (SPEC 12.4)', () => {
  for (const name of ['text', 'tool-use', 'thinking', 'stop-sequence']) {
    it(name, () => {
      const response = run(read(`${name}.json`));
      const stream = run(read(`${name}.sse`));
      assert.deepEqual(stream.output, response.output);
      assert.deepEqual(stream.digest, response.digest);
      assert.equal(stream.finishReason, response.finishReason);
      assert.deepEqual(stream.served, response.served);
      assert.equal(stream.stream, true);
    });
  }
});

describe('the output value', () => {
  it('tool input is parsed from the concatenated partial_json; the tool_use id is left out', () => {
    const { output, finishReason } = run(read('tool-use.sse'));
    assert.deepEqual(plain(output), {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Ich sehe mir das Wetter in Zürich an.' },
        { type: 'tool_use', name: 'get_weather', input: { city: 'Zürich', unit: 'celsius', days: [1, 2] } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
    });
    assert.equal(finishReason, 'tool_use');
  });

  it('thinking keeps its text and signature, redacted thinking its data', () => {
    const { output } = run(read('thinking.sse'));
    const content = (plain(output) as { content: Array<{ type: string; thinking?: string; signature?: string }> }).content;
    assert.deepEqual(content.map((block) => block.type), ['thinking', 'redacted_thinking', 'text']);
    assert.equal(content[0]?.thinking, 'The user asks for 27 * 453. 27 * 453 = 27 * 400 + 27 * 53 = 10800 + 1431 = 12231.');
    assert.match(content[0]?.signature ?? '', /^EqQB/);
  });

  it('stop_sequence is output; usage merges message_start and message_delta', () => {
    const result = run(read('stop-sequence.sse'));
    assert.equal((result.output as { stop_sequence: string }).stop_sequence, '3.');
    assert.deepEqual(plain(result.usage), { input_tokens: 18, output_tokens: 16 });
  });

  it('a tool_use with no input_json_delta keeps the input of content_block_start', () => {
    const text = start + event('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}') +
      event('content_block_stop', ',"index":0') + stop;
    assert.deepEqual(plain(run(text).output), {
      role: 'assistant', content: [{ type: 'tool_use', name: 'now', input: {} }], stop_reason: 'end_turn', stop_sequence: null,
    });
  });

  it('citations: null or [] are left out, a list is kept', () => {
    const text = start + event('content_block_start', ',"index":0,"content_block":{"type":"text","text":"","citations":null}') +
      event('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"Ja."}') + event('content_block_stop', ',"index":0') + stop;
    assert.deepEqual(plain(run(text).output), { role: 'assistant', content: [{ type: 'text', text: 'Ja.' }], stop_reason: 'end_turn', stop_sequence: null });
  });
});

describe('broken or ambiguous input is rejected', () => {
  it('a stream without message_stop', () => {
    rejects(read('text.sse').replace('event: message_stop\ndata: {"type":"message_stop"}\n\n', ''),
      'ERR_OUTPUT_INCOMPLETE_STREAM', 'stream ends without message_stop');
  });
  it('an event that is not JSON', () => {
    rejects(start + 'event: content_block_start\ndata: {"type":"content_block_start","index":0,\n\n', 'ERR_OUTPUT_INCOMPLETE_STREAM',
      'stream event 2 is not valid JSON (ERR_JSON_TRUNCATED)');
  });
  it('a delta for a content block never started', () => {
    rejects(start + event('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"x"}') + stop,
      'ERR_OUTPUT_EVENT_ORDER', 'stream event 2: content_block_delta for content block 0 that was never started');
  });
  it('a content block that is never stopped', () => {
    rejects(start + event('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}') + stop,
      'ERR_OUTPUT_INCOMPLETE_STREAM', 'content block 0 has no content_block_stop');
  });
  it('an event before message_start', () => {
    rejects(event('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}'),
      'ERR_OUTPUT_EVENT_ORDER', 'stream event 1: content_block_start before message_start');
  });
  it('an error event', () => {
    rejects(start + 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
      'ERR_OUTPUT_PROVIDER_ERROR', 'stream event 2 is an error event');
  });
  it('an error body', () => {
    rejects('{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}',
      'ERR_OUTPUT_PROVIDER_ERROR', 'response is an error object');
  });
  it('tool input that is not JSON once assembled', () => {
    rejects(start + event('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}') +
      event('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": "}') +
      event('content_block_stop', ',"index":0') + stop, 'ERR_OUTPUT_INVALID', 'tool input of content block 0 is not valid JSON (ERR_JSON_TRUNCATED)');
  });
  it('a delta of the wrong kind for its block', () => {
    rejects(start + event('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}') +
      event('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"x"}'),
    'ERR_OUTPUT_INVALID', 'stream event 3: a text_delta for a block that is not text');
  });
  it('an event name that differs from its data type', () => {
    rejects(start + 'event: message_stop\ndata: {"type":"ping"}\n\n', 'ERR_OUTPUT_INVALID', 'stream event 2 has an "event" name that differs from its "type"');
  });
  it('a block started out of order, and a delta after its block stopped', () => {
    rejects(start + event('content_block_start', ',"index":1,"content_block":{"type":"text","text":""}'),
      'ERR_OUTPUT_EVENT_ORDER', 'stream event 2: content block 1 is not the next block');
    rejects(start + event('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}') + event('content_block_stop', ',"index":0') +
      event('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"x"}'),
    'ERR_OUTPUT_EVENT_ORDER', 'stream event 4: content_block_delta for content block 0 after its content_block_stop');
  });
  it('an event after message_stop', () => {
    rejects(read('text.sse') + event('ping', ''), 'ERR_OUTPUT_EVENT_ORDER', 'stream event 10 follows message_stop');
  });
});
