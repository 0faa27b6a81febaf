/** docs/SPEC.md sections 4.5 and 4.7: turn an input document (a composition or a provider request), and a response, into a composition. */
import { UsageError } from '../errors.ts';
import type { Composition } from '../identity/composition.ts';
import { parseComposition } from '../identity/composition.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { compositionFromRequest, detectFormat, type RequestFormat } from '../providers/index.ts';
import { runOutputFrom } from '../providers/run-output.ts';

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
  /**
   * The provider's response body exactly as received, a JSON response or an SSE stream (SPEC 4.7):
   * its served facts make the run identity computable. Only with a provider request.
   */
  response?: Uint8Array;
}

/** The composition an input document stands for, and the format it was read as. */
export function compositionFromDocument(
  document: JsonValue,
  options: ComposeOptions = {},
): { composition: Composition; format: 'composition' | RequestFormat } {
  const format = options.from === undefined || options.from === 'auto' ? detectFormat(document) : options.from;
  if (format === 'composition') {
    // SPEC 4.7: a composition states its own served facts (or none); it takes no response.
    if (options.response !== undefined) {
      throw new UsageError('ERR_CLI_USAGE', 'a response combines with a provider request, not with a composition (a composition states its own "served")');
    }
    return { composition: parseComposition(document), format };
  }
  const composition = compositionFromRequest(format, document);
  // SPEC 4.7: the body is read as SPEC 12.1 reads it (JSON or SSE); no fact gives `{}`.
  if (options.response !== undefined) composition.served = runOutputFrom(options.response, format).served;
  return { composition, format };
}
