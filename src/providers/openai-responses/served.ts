/** docs/SPEC.md section 4.6: where an OpenAI Responses response reports what served it. */
import type { ServedPlan } from '../provider.ts';

export const openAIResponsesServed: ServedPlan = {
  discriminator: {
    member: 'object',
    values: ['response'],
    message: 'response "object" does not name a response',
  },
  facts: [
    ['model', ['model']],
    ['serviceTier', ['service_tier']],
  ],
};
