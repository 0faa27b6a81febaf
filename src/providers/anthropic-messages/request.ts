/** docs/SPEC.md section 4.4: the Anthropic Messages request mapping (POST /v1/messages). */
import type { JsonObject } from '../../jcs/json-value.ts';
import {
  liftObjectList,
  liftTextOrObjectList,
  lowerObjectList,
  lowerTextOrObjectList,
} from '../presence-rule.ts';
import { setMember, type Lists, type RequestMapping } from '../request-format.ts';

/*
 * The field table of docs/SPEC.md section 4.4, which defines it; drawn from `MessageCreateParamsBase` in anthropics/anthropic-sdk-typescript
 * (src/resources/messages/messages.ts) and the beta Messages params
 * (src/resources/beta/messages/messages.ts). docs/SPEC.md section 4 gives the reason for every row.
 */

const PARAMETERS = new Set([
  'max_tokens',
  'stop_sequences',
  'temperature',
  'thinking',
  'top_k',
  'top_p',
]);

const CONFIGURATION = new Set([
  'betas',
  'container',
  'context_management',
  'inference_geo',
  'mcp_servers',
  'output_config',
  'output_format',
  'service_tier',
  'speed',
  'tool_choice',
]);

const EXCLUDED = new Set(['cache_control', 'metadata', 'stream', 'user_profile_id']);

export const anthropicMessages: RequestMapping = {
  format: 'anthropic-messages',
  lifted: new Set(['system', 'messages', 'tools']),
  messages: { field: 'messages', roles: new Set(['user', 'assistant']) },
  parameters: PARAMETERS,
  configuration: CONFIGURATION,
  excluded: EXCLUDED,

  lift(request: JsonObject) {
    const consumed = new Set<string>();
    // `system` is a string or an array of text blocks; the blocks are kept exactly as sent.
    const system = liftTextOrObjectList(request, 'system', true);
    // Every message is input, whatever its role: the top-level `system` is the only system field.
    const input = liftObjectList(request, 'messages');
    const tools = liftObjectList(request, 'tools');
    if (system !== undefined) consumed.add('system');
    if (input !== undefined) consumed.add('messages');
    if (tools !== undefined) consumed.add('tools');
    return { system: system ?? [], input: input ?? [], tools: tools ?? [], consumed };
  },

  lower(lists: Lists) {
    const fields: JsonObject = {};
    const system = lowerTextOrObjectList('anthropic-messages', 'system', lists.system, true);
    if (system !== undefined) setMember(fields, 'system', system);
    if (lists.input.length > 0) {
      setMember(fields, 'messages', lowerObjectList('anthropic-messages', 'input', lists.input));
    }
    if (lists.tools.length > 0) {
      setMember(fields, 'tools', lowerObjectList('anthropic-messages', 'tools', lists.tools));
    }
    return fields;
  },
};
