/** The providers runprint knows, one folder each, by request format. */
import { anthropicMessagesProvider } from './anthropic-messages/index.ts';
import { openAIChatProvider } from './openai-chat/index.ts';
import { openAIResponsesProvider } from './openai-responses/index.ts';
import type { Provider } from './provider.ts';
import { isRequestFormat, type RequestFormat } from './request-format.ts';

const PROVIDERS: { readonly [F in RequestFormat]: Provider } = {
  'openai-chat': openAIChatProvider,
  'openai-responses': openAIResponsesProvider,
  'anthropic-messages': anthropicMessagesProvider,
};

/** The provider of one format; a name outside RequestFormat is a programmer error. */
export function providerFor(format: RequestFormat): Provider {
  if (!isRequestFormat(format)) throw new RangeError('unknown request format');
  return PROVIDERS[format];
}
