/** docs/SPEC.md section 4.3: the OpenAI Responses request mapping (POST /v1/responses). */
import type { JsonObject } from '../../jcs/json-value.ts';
import {
  liftObjectList,
  liftTextOrObjectList,
  lowerObjectList,
  lowerTextOrObjectList,
} from '../presence-rule.ts';
import { setMember, type Lists, type RequestMapping } from '../request-format.ts';

/*
 * The field table of docs/SPEC.md section 4.3, which defines it; drawn from `ResponseCreateParamsBase` in openai/openai-node
 * (src/resources/responses/responses.ts), plus `max_tool_calls` from the Responses API reference.
 * docs/SPEC.md section 4 gives the reason for every row.
 */

const PARAMETERS = new Set([
  'max_output_tokens',
  'max_tool_calls',
  'reasoning',
  'temperature',
  'top_logprobs',
  'top_p',
]);

const CONFIGURATION = new Set([
  'context_management',
  'conversation',
  'include',
  'moderation',
  'parallel_tool_calls',
  'previous_response_id',
  'prompt',
  'service_tier',
  'text',
  'tool_choice',
  'truncation',
]);

const EXCLUDED = new Set([
  'background',
  'metadata',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'store',
  'stream',
  'stream_options',
  'user',
]);

export const openAIResponses: RequestMapping = {
  format: 'openai-responses',
  lifted: new Set(['instructions', 'input', 'tools']),
  messages: { field: 'input', roles: new Set(['user', 'assistant', 'system', 'developer']) },
  parameters: PARAMETERS,
  configuration: CONFIGURATION,
  excluded: EXCLUDED,

  lift(request: JsonObject) {
    const consumed = new Set<string>();
    // `instructions` is a string or null; only a string lifts.
    const system = liftTextOrObjectList(request, 'instructions', false);
    // `input` is a string or an array of items; input items stay in input whatever their role.
    const input = liftTextOrObjectList(request, 'input', true);
    const tools = liftObjectList(request, 'tools');
    if (system !== undefined) consumed.add('instructions');
    if (input !== undefined) consumed.add('input');
    if (tools !== undefined) consumed.add('tools');
    return { system: system ?? [], input: input ?? [], tools: tools ?? [], consumed };
  },

  lower(lists: Lists) {
    const fields: JsonObject = {};
    const instructions = lowerTextOrObjectList('openai-responses', 'system', lists.system, false);
    const input = lowerTextOrObjectList('openai-responses', 'input', lists.input, true);
    if (instructions !== undefined) setMember(fields, 'instructions', instructions);
    if (input !== undefined) setMember(fields, 'input', input);
    if (lists.tools.length > 0) {
      setMember(fields, 'tools', lowerObjectList('openai-responses', 'tools', lists.tools));
    }
    return fields;
  },
};
