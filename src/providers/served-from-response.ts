/** docs/SPEC.md section 4.6: facts a provider response reports about what served the run. */
import { ProviderError, formatPath } from '../errors.ts';
import type { ServedFact } from '../identity/composition.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { providerFor } from './registry.ts';
import { member, type RequestFormat } from './request-format.ts';

/*
 * Only facts about what served the run: the resolved model snapshot, backend fingerprint, service
 * tier, region and speed mode. Never output content, ids, usage counts or timestamps: those differ
 * on every run and would make the run identity useless for comparing runs. Every fact is
 * `source: "reported"`: runprint cannot check it, it repeats what the provider says.
 */

function invalid(message: string, path: readonly string[]): never {
  throw new ProviderError('ERR_PROVIDER_INVALID_RESPONSE', message, formatPath(path));
}

/** The value at `path`, `undefined` when it or an enclosing member is absent or null. */
function read(response: JsonObject, path: readonly string[]): JsonValue | undefined {
  let value: JsonValue | undefined = response;
  for (let depth = 0; depth < path.length; depth++) {
    if (value === undefined || value === null) return undefined;
    if (!isJsonObject(value)) {
      const enclosing = path.slice(0, depth);
      invalid(`response "${enclosing.join('.')}" must be an object or null`, enclosing);
    }
    value = member(value, path[depth] as string);
  }
  return value;
}

/**
 * The served facts a non-streamed provider response (or, for OpenAI Chat, a stream chunk) reports.
 * A fact member that is absent or null gives no fact; one of another type than string is rejected,
 * as is an error body (a non-null `error` member) or the body of another API. A response that
 * reports no fact gives none: `{}`, which as `served` means "served, no fact known" (SPEC 2.3).
 */
export function servedFromResponse(
  format: RequestFormat,
  response: JsonValue,
): { [name: string]: ServedFact } {
  const plan = providerFor(format).served;
  if (!isJsonObject(response)) invalid('response must be a JSON object', []);
  const kind = member(response, plan.discriminator.member);
  if (kind !== undefined && (typeof kind !== 'string' || !plan.discriminator.values.includes(kind))) {
    invalid(plan.discriminator.message, [plan.discriminator.member]);
  }
  const error = member(response, 'error');
  if (error !== undefined && error !== null) invalid('response is an error body', []);
  const served: { [name: string]: ServedFact } = {};
  for (const [name, path] of plan.facts) {
    const value = read(response, path);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') invalid(`response "${path.join('.')}" must be a string or null`, path);
    served[name] = { source: 'reported', value };
  }
  return served;
}
