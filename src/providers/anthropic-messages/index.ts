/** Anthropic Messages (`anthropic-messages`, POST /v1/messages): SPEC 4.4, 4.6 and 12.4. */
import type { Provider } from '../provider.ts';
import { anthropicOutputFromResponse, anthropicOutputFromStream } from './output.ts';
import { anthropicMessages } from './request.ts';
import { anthropicMessagesServed } from './served.ts';

export const anthropicMessagesProvider: Provider = {
  format: 'anthropic-messages',
  request: anthropicMessages,
  served: anthropicMessagesServed,
  outputFromResponse: anthropicOutputFromResponse,
  outputFromStream: anthropicOutputFromStream,
  routes: [{ method: 'POST', path: '/v1/messages' }],
  requestIdHeader: 'request-id',
  upstream: { name: 'anthropic', url: 'https://api.anthropic.com' },
  // message_stop, or an error event (the stream's last).
  streamEndMarkers: ['\nevent: message_stop', '"type":"message_stop"', '\nevent: error', '"type":"error"'],
  headerMembers: [{ header: 'anthropic-beta', member: 'betas' }],
};
