/**
 * Anthropic Messages, `POST /v1/messages`: a `message` JSON body, or with `stream: true` typed
 * events: message_start, then per content block content_block_start, its deltas
 * (text_delta, input_json_delta) and content_block_stop, with a ping after the first block
 * start as the real service sends it, then message_delta (stop reason, output tokens) and
 * message_stop. Errors use `{"type": "error", "error": {"type", "message"}, "request_id"}`.
 */
import {
  failAfter,
  inputTokens,
  outputTokens,
  servedModel,
  splitInPieces,
  textPieces,
  typedEvent,
  type AnswerContext,
  type ErrorScenario,
  type Reply,
  type TextScenario,
  type ToolCallsScenario,
} from './scenario.ts';

type Body = { [key: string]: unknown };

const ANTHROPIC_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request.' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'The requested resource could not be found.' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit.' },
  500: { type: 'api_error', message: 'Internal server error' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

export function anthropicHeaders(context: AnswerContext): Record<string, string> {
  return { 'request-id': context.id('req_'), 'anthropic-organization-id': '00000000-0000-4000-8000-000000000000' };
}

export function anthropicError(status: number, message: string | undefined, context: AnswerContext): Reply {
  const known = ANTHROPIC_ERRORS[status] ?? ANTHROPIC_ERRORS[status >= 500 ? 500 : 400]!;
  const headers = anthropicHeaders(context);
  return {
    type: 'json', status, headers,
    body: { type: 'error', error: { type: known.type, message: message ?? known.message }, request_id: headers['request-id'] },
  };
}

export function answerAnthropicMessages(request: Body, scenario: TextScenario | ToolCallsScenario | ErrorScenario, context: AnswerContext): Reply {
  if (scenario.kind === 'error') return anthropicError(scenario.status, scenario.message, context);
  const model = servedModel(scenario, request['model']);
  const id = context.id('msg_');
  const text = scenario.kind === 'text' ? scenario.text + context.variation : (scenario.text ?? '');
  const blocks: Body[] = [];
  if (text !== '') blocks.push({ type: 'text', text });
  const argumentTexts: string[] = [];
  if (scenario.kind === 'tool-calls') {
    for (const call of scenario.calls) {
      blocks.push({ type: 'tool_use', id: context.id('toolu_'), name: call.name, input: JSON.parse(call.arguments) as unknown });
      argumentTexts.push(call.arguments);
    }
  }
  const stopReason = scenario.kind === 'tool-calls' ? 'tool_use' : 'end_turn';
  const input = inputTokens(context);
  const output = outputTokens(scenario);
  const usage = (outputCount: number) => ({
    input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputCount, service_tier: 'standard',
  });
  const headers = anthropicHeaders(context);
  if (request['stream'] !== true) {
    const body = { id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: null, usage: usage(output) };
    return { type: 'json', status: 200, headers, body };
  }

  const events: string[] = [];
  const emit = (type: string, data: Body) => events.push(typedEvent(type, { type, ...data }));
  emit('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) },
  });
  const pieces = scenario.kind === 'tool-calls' ? (scenario.argumentPieces ?? 3) : 0;
  let toolIndex = 0;
  blocks.forEach((block, index) => {
    if (block['type'] === 'text') {
      emit('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) emit('ping', {});
      for (const piece of textPieces(text)) emit('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    } else {
      emit('content_block_start', { index, content_block: { type: 'tool_use', id: block['id'], name: block['name'], input: {} } });
      if (index === 0) emit('ping', {});
      emit('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of splitInPieces(argumentTexts[toolIndex++] ?? '', pieces)) {
        emit('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    }
    emit('content_block_stop', { index });
  });
  emit('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: output } });
  emit('message_stop', {});
  const error = () => typedEvent('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: headers['request-id'] });
  return { type: 'sse', status: 200, headers, events: failAfter(events, scenario.errorAfterEvents, error) };
}
