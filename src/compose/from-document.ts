/** docs/SPEC.md section 4.5: turn an input document (a composition or a provider request) into a composition. */
import { ProviderError, formatPath } from '../errors.ts';
import type { Composition } from '../identity/composition.ts';
import { parseComposition } from '../identity/composition.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import {
  compositionFromRequest,
  detectFormat,
  servedFromResponse,
  type RequestFormat,
} from '../providers/index.ts';

/** What `--from` accepts. */
export type InputFormat = 'auto' | 'composition' | RequestFormat;

export const INPUT_FORMATS: readonly InputFormat[] = [
  'auto',
  'composition',
  'openai-chat',
  'openai-responses',
  'anthropic-messages',
];

export function isInputFormat(value: string): value is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(value);
}

export interface ComposeOptions {
  from?: InputFormat;
  /** A provider response; its served facts (SPEC 4.6) make the run identity computable. */
  response?: JsonValue;
}

/** The composition an input document stands for, and the format it was read as. */
export function compositionFromDocument(
  document: JsonValue,
  options: ComposeOptions = {},
): { composition: Composition; format: 'composition' | RequestFormat } {
  const format = options.from === undefined || options.from === 'auto' ? detectFormat(document) : options.from;
  if (format === 'composition') {
    const composition = parseComposition(document);
    if (options.response !== undefined) {
      throw new ProviderError(
        'ERR_PROVIDER_INVALID_RESPONSE',
        'a response can only be combined with a provider request, not with a composition',
        formatPath([]),
      );
    }
    return { composition, format };
  }
  const composition = compositionFromRequest(format, document);
  if (options.response !== undefined) {
    composition.served = servedFromResponse(format, options.response);
  }
  return { composition, format };
}
