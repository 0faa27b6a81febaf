/** docs/SPEC.md section 4.2: the OpenAI Chat Completions request mapping (POST /v1/chat/completions). */
import { isJsonObject, type JsonObject, type JsonValue } from '../../jcs/json-value.ts';
import { liftObjectList, lowerObjectList } from '../presence-rule.ts';
import { member, setMember, type Lists, type RequestMapping } from '../request-format.ts';

/*
 * The field table of docs/SPEC.md section 4.2, which defines it; drawn from `ChatCompletionCreateParamsBase` in openai/openai-node
 * (src/resources/chat/completions/completions.ts). docs/SPEC.md section 4 gives the reason for
 * every row.
 */

const PARAMETERS = new Set([
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'max_completion_tokens',
  'max_tokens',
  'n',
  'presence_penalty',
  'reasoning_effort',
  'seed',
  'stop',
  'temperature',
  'top_logprobs',
  'top_p',
  'verbosity',
]);

const CONFIGURATION = new Set([
  'audio',
  'function_call',
  'functions',
  'modalities',
  'parallel_tool_calls',
  'prediction',
  'response_format',
  'service_tier',
  'tool_choice',
  'web_search_options',
]);

const EXCLUDED = new Set([
  'metadata',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'store',
  'stream',
  'stream_options',
  'user',
]);

/** Roles whose messages form system instructions when they lead the conversation. */
function isInstructionMessage(message: JsonValue | undefined): boolean {
  if (!isJsonObject(message)) return false;
  const role = member(message, 'role');
  return role === 'system' || role === 'developer';
}

export const openAIChat: RequestMapping = {
  format: 'openai-chat',
  lifted: new Set(['messages', 'tools']),
  parameters: PARAMETERS,
  configuration: CONFIGURATION,
  excluded: EXCLUDED,
  messages: { field: 'messages', roles: new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']) },

  lift(request: JsonObject) {
    const consumed = new Set<string>();
    const messages = liftObjectList(request, 'messages');
    const tools = liftObjectList(request, 'tools');
    let system: JsonValue[] = [];
    let input: JsonValue[] = [];
    if (messages !== undefined) {
      consumed.add('messages');
      // Only the leading run: a later system message stays in input, at its place.
      let split = 0;
      while (split < messages.length && isInstructionMessage(messages[split])) split++;
      system = messages.slice(0, split);
      input = messages.slice(split);
    }
    if (tools !== undefined) consumed.add('tools');
    return { system, input, tools: tools ?? [], consumed };
  },

  lower(lists: Lists) {
    const fields: JsonObject = {};
    const messages = [
      ...lowerObjectList('openai-chat', 'system', lists.system),
      ...lowerObjectList('openai-chat', 'input', lists.input),
    ];
    if (messages.length > 0) setMember(fields, 'messages', messages);
    if (lists.tools.length > 0) {
      setMember(fields, 'tools', lowerObjectList('openai-chat', 'tools', lists.tools));
    }
    return fields;
  },
};
