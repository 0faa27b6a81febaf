/** OpenAI Chat Completions (`openai-chat`, POST /v1/chat/completions): SPEC 4.2, 4.6 and 12.2. */
import type { Provider } from '../provider.ts';
import { chatOutputFromResponse, chatOutputFromStream } from './output.ts';
import { openAIChat } from './request.ts';
import { openAIChatServed } from './served.ts';

export const openAIChatProvider: Provider = {
  format: 'openai-chat',
  request: openAIChat,
  served: openAIChatServed,
  outputFromResponse: chatOutputFromResponse,
  outputFromStream: chatOutputFromStream,
  // Also without the version: OpenAI-compatible servers that take the format at another base path
  // (DeepSeek's `/chat/completions`, Gemini's `/v1beta/openai/chat/completions`, Azure's
  // `/openai/deployments/NAME/chat/completions`).
  routes: [
    { method: 'POST', path: '/v1/chat/completions' },
    { method: 'POST', path: '/chat/completions' },
  ],
  requestIdHeader: 'x-request-id',
  upstream: { name: 'openai', url: 'https://api.openai.com' },
  // [DONE], or an error event (OpenAI sends a mid-stream error as a data event, without [DONE]).
  streamEndMarkers: ['\ndata: [DONE]', '\ndata:[DONE]', '\ndata: {"error"', '\ndata:{"error"'],
  headerMembers: [],
};
