/** docs/SPEC.md section 4.6: where an Anthropic Messages response reports what served it. */
import type { ServedPlan } from '../provider.ts';

export const anthropicMessagesServed: ServedPlan = {
  discriminator: {
    member: 'type',
    values: ['message'],
    message: 'response "type" does not name a message',
  },
  facts: [
    ['model', ['model']],
    ['serviceTier', ['usage', 'service_tier']],
    ['inferenceGeo', ['usage', 'inference_geo']],
    ['speed', ['usage', 'speed']],
  ],
};
