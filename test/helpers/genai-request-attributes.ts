/**
 * Calls whose spans carry gen_ai.request.stop_sequences, top_k, frequency_penalty,
 * presence_penalty, openai.request.service_tier and
 * gen_ai.usage.reasoning.output_tokens: OpenAI Chat Completions, Responses and Anthropic Messages,
 * each as JSON and streamed, with the answer a loopback upstream gives each (scripted, in order),
 * and the attributes each span must carry (absent keys: no attribute). For the proxy's OTLP export
 * and the in-process spans alike.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The attributes of these calls that a test compares, by key. */
export const REQUEST_ATTRIBUTE_KEYS = /^(gen_ai\.request\.(stop_sequences|top_k|frequency_penalty|presence_penalty)|openai\.(request|response)\.service_tier|gen_ai\.usage\.(reasoning\.)?output_tokens)$/;

export interface GenaiCall {
  name: string;
  provider: 'openai' | 'anthropic';
  /** The path under the provider's base (`/v1/...`). */
  path: string;
  body: object;
  reply: { json: unknown } | { sse: string[] };
  /** The answer's id (gen_ai.response.id): which span is this call's. */
  responseId: string;
  /** The span's attributes matching REQUEST_ATTRIBUTE_KEYS, as plain values. */
  expected: Record<string, string | number | string[]>;
}

const sse = (type: string | null, data: unknown) => `${type === null ? '' : `event: ${type}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const messages = [{ role: 'user', content: 'Hi' }];

const chatCompletion = (id: string, tier: string, usage: object) => ({ id, object: 'chat.completion', created: 1, model: 'gpt-5-2025-08-07', service_tier: tier, choices: [{ index: 0, message: { role: 'assistant', content: 'Done.' }, finish_reason: 'stop' }], usage });
const chatChunk = (tier: string, choices: unknown[], extra: object = {}) => sse(null, { id: 'chatcmpl-stream', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-2025-08-07', service_tier: tier, choices, ...extra });

const responseMessage = { id: 'msg_r1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Done.', annotations: [] }] };
const response = (id: string, tier: string, usage: object | null, status = 'completed', output: unknown[] = [responseMessage]) => ({ id, object: 'response', status, model: 'gpt-5-2025-08-07', service_tier: tier, output, usage });
const responseEvent = (type: string, data: object) => sse(type, { type, ...data });

const anthropicMessage = (id: string, usage: object) => ({ id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Done.' }], stop_reason: 'stop_sequence', stop_sequence: 'STOP', usage });

export const GENAI_CALLS: readonly GenaiCall[] = [
  {
    name: 'chat', responseId: 'chatcmpl-json', provider: 'openai', path: '/v1/chat/completions',
    body: { model: 'gpt-5', stop: 'END', service_tier: 'flex', frequency_penalty: 0.5, presence_penalty: -1, messages },
    reply: { json: chatCompletion('chatcmpl-json', 'flex', { prompt_tokens: 20, completion_tokens: 150, total_tokens: 170, completion_tokens_details: { reasoning_tokens: 128, audio_tokens: 0 } }) },
    expected: { 'gen_ai.request.stop_sequences': ['END'], 'gen_ai.request.frequency_penalty': 0.5, 'gen_ai.request.presence_penalty': -1, 'openai.request.service_tier': 'flex', 'openai.response.service_tier': 'flex', 'gen_ai.usage.output_tokens': 150, 'gen_ai.usage.reasoning.output_tokens': 128 },
  },
  {
    name: 'chatStream', responseId: 'chatcmpl-stream', provider: 'openai', path: '/v1/chat/completions',
    body: { model: 'gpt-5', stream: true, stream_options: { include_usage: true }, stop: ['END', '\n\n'], service_tier: 'priority', messages },
    reply: { sse: [
      chatChunk('priority', [{ index: 0, delta: { role: 'assistant', content: 'Done.' }, finish_reason: null }]),
      chatChunk('priority', [{ index: 0, delta: {}, finish_reason: 'stop' }]),
      chatChunk('priority', [], { usage: { prompt_tokens: 20, completion_tokens: 80, total_tokens: 100, completion_tokens_details: { reasoning_tokens: 64 } } }),
      sse(null, '[DONE]'),
    ] },
    expected: { 'gen_ai.request.stop_sequences': ['END', '\n\n'], 'openai.request.service_tier': 'priority', 'openai.response.service_tier': 'priority', 'gen_ai.usage.output_tokens': 80, 'gen_ai.usage.reasoning.output_tokens': 64 },
  },
  {
    // `auto` is no requested tier (openai.md: only when it is not auto); an empty stop list is no stop sequence.
    name: 'chatAuto', responseId: 'chatcmpl-auto', provider: 'openai', path: '/v1/chat/completions',
    body: { model: 'gpt-5', stop: [], service_tier: 'auto', messages },
    reply: { json: chatCompletion('chatcmpl-auto', 'default', { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 }) },
    expected: { 'openai.response.service_tier': 'default', 'gen_ai.usage.output_tokens': 5 },
  },
  {
    name: 'responses', responseId: 'resp_json', provider: 'openai', path: '/v1/responses',
    body: { model: 'gpt-5', service_tier: 'default', input: 'Hi' },
    reply: { json: response('resp_json', 'default', { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 90, output_tokens_details: { reasoning_tokens: 70 }, total_tokens: 102 }) },
    expected: { 'openai.request.service_tier': 'default', 'openai.response.service_tier': 'default', 'gen_ai.usage.output_tokens': 90, 'gen_ai.usage.reasoning.output_tokens': 70 },
  },
  {
    name: 'responsesStream', responseId: 'resp_stream', provider: 'openai', path: '/v1/responses',
    body: { model: 'gpt-5', stream: true, service_tier: 'flex', input: 'Hi' },
    reply: { sse: [
      responseEvent('response.created', { sequence_number: 0, response: response('resp_stream', 'flex', null, 'in_progress', []) }),
      responseEvent('response.output_item.added', { sequence_number: 1, output_index: 0, item: { ...responseMessage, status: 'in_progress', content: [] } }),
      responseEvent('response.output_text.delta', { sequence_number: 2, item_id: 'msg_r1', output_index: 0, content_index: 0, delta: 'Done.' }),
      responseEvent('response.output_item.done', { sequence_number: 3, output_index: 0, item: responseMessage }),
      responseEvent('response.completed', { sequence_number: 4, response: response('resp_stream', 'flex', { input_tokens: 12, output_tokens: 45, output_tokens_details: { reasoning_tokens: 33 }, total_tokens: 57 }) }),
    ] },
    expected: { 'openai.request.service_tier': 'flex', 'openai.response.service_tier': 'flex', 'gen_ai.usage.output_tokens': 45, 'gen_ai.usage.reasoning.output_tokens': 33 },
  },
  {
    // Anthropic's usage counts thinking in output_tokens and reports no reasoning count apart; its service_tier is no openai.* attribute.
    name: 'anthropic', responseId: 'msg_json', provider: 'anthropic', path: '/v1/messages',
    body: { model: 'claude-sonnet-4-5', max_tokens: 64, top_k: 40, stop_sequences: ['\n\nHuman:', 'STOP'], service_tier: 'auto', messages },
    reply: { json: anthropicMessage('msg_json', { input_tokens: 10, output_tokens: 7 }) },
    expected: { 'gen_ai.request.stop_sequences': ['\n\nHuman:', 'STOP'], 'gen_ai.request.top_k': 40, 'gen_ai.usage.output_tokens': 7 },
  },
  {
    name: 'anthropicStream', responseId: 'msg_stream', provider: 'anthropic', path: '/v1/messages',
    body: { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, stop_sequences: ['STOP'], messages },
    reply: { sse: [
      sse('message_start', { type: 'message_start', message: { ...anthropicMessage('msg_stream', { input_tokens: 10, output_tokens: 1 }), content: [], stop_reason: null, stop_sequence: null } }),
      sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Done.' } }),
      sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'STOP' }, usage: { output_tokens: 9 } }),
      sse('message_stop', { type: 'message_stop' }),
    ] },
    expected: { 'gen_ai.request.stop_sequences': ['STOP'], 'gen_ai.usage.output_tokens': 9 },
  },
];

/** A loopback upstream answering each request with the next call's reply, in GENAI_CALLS order. */
export async function startGenaiUpstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const replies = GENAI_CALLS.map((call) => call.reply);
  const server = createServer((request, answer) => {
    request.resume();
    request.on('end', () => {
      const reply = replies.shift();
      if (reply === undefined) return void answer.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"nothing scripted"}}');
      if ('json' in reply) return void answer.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
      answer.writeHead(200, { 'content-type': 'text/event-stream' }).end(reply.sse.join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
