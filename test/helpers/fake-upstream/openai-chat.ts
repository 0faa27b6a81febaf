/**
 * OpenAI Chat Completions, `POST /v1/chat/completions`: a `chat.completion` JSON body, or with
 * `stream: true` `data:` events of `chat.completion.chunk` objects ended by `data: [DONE]`, and
 * the usage chunk (empty `choices`) when `stream_options.include_usage` is true. Errors use
 * OpenAI's `{"error": {"message", "type", "param", "code"}}` body.
 */
import {
  dataEvent,
  failAfter,
  inputTokens,
  outputTokens,
  servedModel,
  splitInPieces,
  SYSTEM_FINGERPRINT,
  textPieces,
  type AnswerContext,
  type ErrorScenario,
  type Reply,
  type TextScenario,
  type ToolCallsScenario,
} from './scenario.ts';

type Body = { [key: string]: unknown };

const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden.' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request.' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded.' },
};

export function openaiHeaders(context: AnswerContext): Record<string, string> {
  return { 'x-request-id': context.id('req_'), 'openai-processing-ms': '7', 'openai-version': '2020-10-01' };
}

export function openaiError(status: number, message: string | undefined, context: AnswerContext): Reply {
  const known = OPENAI_ERRORS[status] ?? OPENAI_ERRORS[status >= 500 ? 500 : 400]!;
  return {
    type: 'json',
    status,
    headers: openaiHeaders(context),
    body: { error: { message: message ?? known.message, type: known.type, param: null, code: known.code } },
  };
}

function usage(scenario: TextScenario | ToolCallsScenario, context: AnswerContext) {
  const prompt = inputTokens(context);
  const completion = outputTokens(scenario);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function answerOpenAIChat(request: Body, scenario: TextScenario | ToolCallsScenario | ErrorScenario, context: AnswerContext): Reply {
  if (scenario.kind === 'error') return openaiError(scenario.status, scenario.message, context);
  const model = servedModel(scenario, request['model']);
  const id = context.id('chatcmpl-');
  const text = scenario.kind === 'text' ? scenario.text + context.variation : scenario.text;
  const calls = scenario.kind === 'tool-calls'
    ? scenario.calls.map((call) => ({ id: context.id('call_'), name: call.name, arguments: call.arguments }))
    : [];
  const finish = calls.length > 0 ? 'tool_calls' : 'stop';
  const headers = openaiHeaders(context);

  if (request['stream'] !== true) {
    const message: Body = { role: 'assistant', content: text === undefined || text === '' ? null : text, refusal: null, annotations: [] };
    if (calls.length > 0) {
      message['tool_calls'] = calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
    }
    const body = {
      id, object: 'chat.completion', created: context.created, model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage: usage(scenario, context), service_tier: 'default', system_fingerprint: SYSTEM_FINGERPRINT,
    };
    return { type: 'json', status: 200, headers, body };
  }

  const streamOptions = request['stream_options'];
  const includeUsage = typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as Body)['include_usage'] === true;
  const chunk = (choices: unknown[], extra: Body = {}) =>
    dataEvent({
      id, object: 'chat.completion.chunk', created: context.created, model, service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT, choices, ...(includeUsage ? { usage: null } : {}), ...extra });
  const delta = (value: Body, finishReason: string | null = null) => chunk([{ index: 0, delta: value, logprobs: null, finish_reason: finishReason }]);

  const events = [delta({ role: 'assistant', content: '', refusal: null })];
  for (const piece of textPieces(text ?? '')) events.push(delta({ content: piece }));
  const pieces = scenario.kind === 'tool-calls' ? (scenario.argumentPieces ?? 3) : 0;
  calls.forEach((call, index) => {
    events.push(delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
    for (const piece of splitInPieces(call.arguments, pieces)) {
      events.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  events.push(delta({}, finish));
  if (includeUsage) events.push(chunk([], { usage: usage(scenario, context) }));
  events.push('data: [DONE]\n\n');
  // Mid-stream, OpenAI sends the error object as a data event, without [DONE].
  const error = () => dataEvent({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
  return { type: 'sse', status: 200, headers, events: failAfter(events, scenario.errorAfterEvents, error) };
}
