/** docs/SPEC.md section 4.6: where an OpenAI Chat Completions response reports what served it. */
import type { ServedPlan } from '../provider.ts';

export const openAIChatServed: ServedPlan = {
  // A streamed chunk carries the same three members, so a chunk is accepted too.
  discriminator: {
    member: 'object',
    values: ['chat.completion', 'chat.completion.chunk'],
    message: 'response "object" does not name a chat completion',
  },
  facts: [
    ['model', ['model']],
    ['systemFingerprint', ['system_fingerprint']],
    ['serviceTier', ['service_tier']],
  ],
};
