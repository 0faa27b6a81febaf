/** docs/SPEC.md section 4.5: recognizing a composition or a provider request body (`--from auto`). */
import { FormatError, ProviderError, formatPath } from '../errors.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';
import { closestName } from '../io/closest-name.ts';
import { escapeUnsafe } from '../io/printable.ts';
import { mappingFor } from './request-mapping.ts';
import { REQUEST_FORMATS, knownFields, member, type RequestFormat } from './request-format.ts';

/*
 * The rules look only at top-level member names, never at values, model names or nested content:
 * a model name says nothing reliable about the API (proxies serve any model behind any API), and
 * nested shapes change faster than field names.
 *
 *   1. A JSON object whose "version" is a string starting with "runprint/" is a composition (an
 *      unsupported version is then reported by the composition reader, not mistaken for a request).
 *   2. Otherwise only member names that appear in at least one field table (SPEC 4.2-4.4) count;
 *      unknown names are ignored. With none left, the format is unknown.
 *   3. The candidates are the APIs whose field table holds every counted name. Exactly one
 *      candidate is the answer; none means the names mix APIs.
 *   4. When more than one candidate remains, a candidate whose API requires a field the document
 *      lacks is dropped (Anthropic Messages requires max_tokens, OpenAI Chat requires messages).
 *      Exactly one left is the answer; more is ambiguous (a bare {model, messages, max_tokens} is
 *      both an OpenAI Chat and an Anthropic Messages request).
 *   5. An answer of rule 4 is refused when the document also has a name no field table holds: no
 *      field only one API defines told the API, and the unknown name may be a misspelled one that
 *      would have ({model, mesages} is not an OpenAI Responses request). The error names those
 *      members with the nearest known name, and says that --from identifies the request anyway.
 */

/** Top-level fields each API requires (SPEC 4.5, rule 4). */
const REQUIRED: Record<RequestFormat, readonly string[]> = {
  'openai-chat': ['model', 'messages'],
  'openai-responses': ['model'],
  'anthropic-messages': ['model', 'messages', 'max_tokens'],
};

const KNOWN = new Map<RequestFormat, Set<string>>(
  REQUEST_FORMATS.map((format) => [format, knownFields(mappingFor(format))]),
);

const COMPOSITION_VERSION_PREFIX = 'runprint/';

/**
 * How the command line names the format, the remedy a FormatError carries from here; the HTTP API
 * gives its answers its own (FormatError.withRemedy, api-answers.ts).
 */
const REMEDY = 'pass --from';

/**
 * Rule 6's remedy: naming the format identifies the request anyway, and the command line then warns
 * about each unknown member with the nearest known name (cli/request-warnings.ts).
 */
const REMEDY_UNKNOWN_MEMBER = `pass --from ${REQUEST_FORMATS.join('|')} to identify it anyway, with a warning naming each unknown member`;

/** How many unknown members an error names before it says how many more there are. */
const NAMED_UNKNOWN = 3;

/**
 * The members no field table holds, for an error: each one's path (cut as error paths are, with no
 * character that moves or hides text) and the nearest name any supported API defines.
 */
function namedUnknown(unknown: readonly string[]): string {
  const known = [...new Set(REQUEST_FORMATS.flatMap((format) => [...(KNOWN.get(format) ?? [])]))];
  const named = unknown.slice(0, NAMED_UNKNOWN).map((name) => {
    // formatPath escapes C0 controls; what would reorder or hide text on a terminal is escaped too.
    const path = escapeUnsafe(formatPath([name]));
    const nearest = closestName(name, known);
    return nearest === undefined ? path : `${path} (did you mean "${nearest}"?)`;
  });
  const more = unknown.length > NAMED_UNKNOWN ? ` and ${unknown.length - NAMED_UNKNOWN} more` : '';
  return `${named.join(', ')}${more}`;
}

export function detectFormat(value: JsonValue): 'composition' | RequestFormat {
  if (!isJsonObject(value)) {
    throw new ProviderError(
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input is not a JSON object, so it is neither a composition nor a provider request',
      formatPath([]),
    );
  }
  const version = member(value, 'version');
  if (typeof version === 'string' && version.startsWith(COMPOSITION_VERSION_PREFIX)) return 'composition';

  const counted = Object.keys(value).filter((key) => REQUEST_FORMATS.some((f) => KNOWN.get(f)?.has(key)));
  if (counted.length === 0) {
    throw new FormatError(
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input has no field of a composition or of a supported provider request',
      REMEDY,
      formatPath([]),
    );
  }
  const unknown = Object.keys(value).filter((key) => !counted.includes(key));
  let candidates = REQUEST_FORMATS.filter((format) => counted.every((key) => KNOWN.get(format)?.has(key)));
  if (candidates.length > 1) {
    const complete = candidates.filter((format) => REQUIRED[format].every((key) => member(value, key) !== undefined));
    if (complete.length > 0) candidates = complete;
    if (candidates.length === 1 && unknown.length > 0) {
      throw new FormatError(
        'ERR_PROVIDER_UNKNOWN_FORMAT',
        `input has no field that only one API defines, and ${unknown.length === 1 ? 'a member' : 'members'} no supported API defines: ${namedUnknown(unknown)}`,
        REMEDY_UNKNOWN_MEMBER,
        formatPath([]),
      );
    }
  }
  const [only] = candidates;
  if (candidates.length === 1 && only !== undefined) return only;
  if (candidates.length === 0) {
    throw new FormatError(
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'input mixes fields of different provider APIs',
      REMEDY,
      formatPath([]),
    );
  }
  throw new FormatError(
    'ERR_PROVIDER_AMBIGUOUS_FORMAT',
    `input could be a request of more than one provider API (${candidates.join(', ')})${unknown.length === 0 ? '' : `, and ${unknown.length === 1 ? 'a member' : 'members'} none of them defines: ${namedUnknown(unknown)}`}`,
    REMEDY,
    formatPath([]),
  );
}
