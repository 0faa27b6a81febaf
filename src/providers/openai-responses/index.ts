/** OpenAI Responses (`openai-responses`, POST /v1/responses): SPEC 4.3, 4.6 and 12.3. */
import type { Provider } from '../provider.ts';
import { responsesOutputFromResponse, responsesOutputFromStream } from './output.ts';
import { openAIResponses } from './request.ts';
import { openAIResponsesServed } from './served.ts';

export const openAIResponsesProvider: Provider = {
  format: 'openai-responses',
  request: openAIResponses,
  served: openAIResponsesServed,
  outputFromResponse: responsesOutputFromResponse,
  outputFromStream: responsesOutputFromStream,
  routes: [{ method: 'POST', path: '/v1/responses' }],
  requestIdHeader: 'x-request-id',
  upstream: { name: 'openai', url: 'https://api.openai.com' },
  // The terminal response event, or an error (response.failed, error).
  streamEndMarkers: ['\nevent: response.completed', '\nevent: response.incomplete', '\nevent: response.failed', '\nevent: error', '"type":"response.completed"', '"type":"response.incomplete"', '"type":"response.failed"', '"type":"error"'],
  headerMembers: [],
};
