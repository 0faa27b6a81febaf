/**
 * OpenAI Responses, `POST /v1/responses`: a `response` JSON body, or with `stream: true` typed
 * events (`event:` and `data:` lines, each data object with its `type` and a `sequence_number`):
 * response.created, response.in_progress, then per output item output_item.added, the content
 * part or arguments deltas and their `*.done` events, output_item.done, and response.completed.
 */
import { openaiError, openaiHeaders } from './openai-chat.ts';
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

function responseObject(request: Body, model: string, context: AnswerContext, id: string, status: string, output: Body[], usage: Body | null): Body {
  const text = request['text'];
  return {
    id, object: 'response', created_at: context.created, status, background: false, error: null,
    incomplete_details: null, instructions: request['instructions'] ?? null,
    max_output_tokens: request['max_output_tokens'] ?? null, model, output,
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null },
    service_tier: status === 'completed' ? 'default' : 'auto', store: request['store'] ?? true,
    temperature: request['temperature'] ?? 1, text: typeof text === 'object' && text !== null ? text : { format: { type: 'text' } },
    tool_choice: request['tool_choice'] ?? 'auto', tools: request['tools'] ?? [], top_p: request['top_p'] ?? 1,
    truncation: 'disabled', usage, user: null, metadata: request['metadata'] ?? {},
  };
}

export function answerOpenAIResponses(request: Body, scenario: TextScenario | ToolCallsScenario | ErrorScenario, context: AnswerContext): Reply {
  if (scenario.kind === 'error') return openaiError(scenario.status, scenario.message, context);
  const model = servedModel(scenario, request['model']);
  const id = context.id('resp_');
  const text = scenario.kind === 'text' ? scenario.text + context.variation : (scenario.text ?? '');
  const items: Body[] = [];
  if (text !== '') {
    items.push({
      id: context.id('msg_'), type: 'message', status: 'completed',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text }], role: 'assistant',
    });
  }
  if (scenario.kind === 'tool-calls') {
    for (const call of scenario.calls) {
      items.push({ id: context.id('fc_'), type: 'function_call', status: 'completed', arguments: call.arguments, call_id: context.id('call_'), name: call.name });
    }
  }
  const input = inputTokens(context);
  const output = outputTokens(scenario);
  const usage = {
    input_tokens: input, input_tokens_details: { cached_tokens: 0 },
    output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + output,
  };
  const final = responseObject(request, model, context, id, 'completed', items, usage);
  const headers = openaiHeaders(context);
  if (request['stream'] !== true) return { type: 'json', status: 200, headers, body: final };

  let sequence = 0;
  const events: string[] = [];
  const emit = (type: string, data: Body) => events.push(typedEvent(type, { type, sequence_number: sequence++, ...data }));
  const started = responseObject(request, model, context, id, 'in_progress', [], null);
  emit('response.created', { response: started });
  emit('response.in_progress', { response: started });
  const pieces = scenario.kind === 'tool-calls' ? (scenario.argumentPieces ?? 3) : 0;
  items.forEach((item, outputIndex) => {
    const itemId = item['id'];
    if (item['type'] === 'message') {
      emit('response.output_item.added', { output_index: outputIndex, item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
      const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
      emit('response.content_part.added', { item_id: itemId, output_index: outputIndex, content_index: 0, part });
      for (const piece of textPieces(text)) {
        emit('response.output_text.delta', { item_id: itemId, output_index: outputIndex, content_index: 0, delta: piece, logprobs: [] });
      }
      emit('response.output_text.done', { item_id: itemId, output_index: outputIndex, content_index: 0, text, logprobs: [] });
      emit('response.content_part.done', { item_id: itemId, output_index: outputIndex, content_index: 0, part: { ...part, text } });
    } else {
      const args = String(item['arguments']);
      emit('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const piece of splitInPieces(args, pieces)) {
        emit('response.function_call_arguments.delta', { item_id: itemId, output_index: outputIndex, delta: piece });
      }
      emit('response.function_call_arguments.done', { item_id: itemId, output_index: outputIndex, arguments: args });
    }
    emit('response.output_item.done', { output_index: outputIndex, item });
  });
  emit('response.completed', { response: final });
  const error = (sequence: number) => typedEvent('error', {
    type: 'error', sequence_number: sequence, code: 'server_error', message: 'The server had an error while processing your request.', param: null,
  });
  return { type: 'sse', status: 200, headers, events: failAfter(events, scenario.errorAfterEvents, error) };
}
