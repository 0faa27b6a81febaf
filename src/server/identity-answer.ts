/** The answer of `POST /v1/identity`: request bytes in, identity document bytes out, with the service's bound on its size. */
import type { DeclaredDocument } from '../capture/run-record.ts';
import { compositionFromDocument, type ComposeOptions, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import { LIST_COMPONENTS, type Composition } from '../identity/composition.ts';
import { computeIdentity } from '../identity/identity.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { bytesMember, inputFormat } from './body-members.ts';

/**
 * Most list elements (all list components together) the service computes an identity for. The
 * answer lists one digest per element (about 80 bytes each), so this bounds both the work and the
 * answer at a few MB. A service limit, not an identity rule: the CLI has none.
 */
export const MAX_IDENTITY_ELEMENTS = 100_000;

/**
 * What the service computes off its event loop (README, "Service"); `run-identity`, `run-receipt`
 * and `run-diff` are no route's: serve's verification and comparison of large stored runs (api-answers.ts).
 */
export type Operation = 'identity' | 'explain' | 'diff' | 'verify' | 'sign-facts' | 'run-identity' | 'run-receipt' | 'run-diff';

/**
 * Computes the answer off the caller's thread or in it; the Node server injects a worker pool,
 * which may take over (detach) `body`. `operation` defaults to `identity`; `from` is the query's
 * (the other operations read theirs from the body). `declared`, for `sign-facts` only: the
 * documents a `/v1/sign` request declares in `runprint-retrieval` headers (given when it has
 * such a header, even one that declares none), checked with the facts (signFactsAnswer).
 */
export type IdentityCompute = (body: Uint8Array, from: InputFormat, maxElements: number, operation?: Operation, declared?: readonly DeclaredDocument[]) => Promise<Uint8Array>;

const encoder = new TextEncoder();

/** Refuses a composition with more list elements than the service answers for. */
export function checkElements(composition: Composition, maxElements: number): void {
  let elements = 0;
  for (const name of LIST_COMPONENTS) {
    const list = composition[name];
    if (Array.isArray(list)) elements += list.length;
  }
  if (elements > maxElements) {
    throw new UsageError('ERR_HTTP_TOO_MANY_ELEMENTS', `the request has more than ${maxElements} list elements, the most this service answers for`);
  }
}

/** Members of the named form of `POST /v1/identity` and `POST /v1/explain`. */
export const REQUEST_MEMBERS = ['request', 'response', 'responseBase64', 'from'] as const;

/**
 * The named form: `{"request": ..., "response": ...}`, an object with a `request` member and no
 * member but these. No composition (it needs `version` and `model`) and no provider request (it
 * needs `model`) has that shape, so the two forms never compete.
 */
function isNamedForm(document: JsonValue): document is { [name: string]: JsonValue } {
  return isJsonObject(document) && Object.hasOwn(document, 'request') && Object.keys(document).every((name) => (REQUEST_MEMBERS as readonly string[]).includes(name));
}

/**
 * A request and its options from a body: the plain form (the body is the composition or provider
 * request, `from` from the query) or the named form (`from` a member, the response beside it, as
 * a string exactly as received, JSON or SSE, or as a JSON object).
 */
export function readRequestBody(body: Uint8Array, from: InputFormat): { document: JsonValue; options: ComposeOptions } {
  const document = parseJson(body);
  if (!isNamedForm(document)) return { document, options: { from } };
  const named = inputFormat(document);
  if (named !== undefined && from !== 'auto' && named !== from) {
    throw new UsageError('ERR_HTTP_BAD_REQUEST', 'the query\'s "from" and the member "from" differ; give one', "$['from']");
  }
  const options: ComposeOptions = { from: named ?? from };
  const response = bytesMember(document, 'response', { objects: true });
  if (response !== undefined) options.response = response;
  return { document: document['request']!, options };
}

/** The identity document of `body` (a provider request or a composition, plain or named form) as JSON bytes. */
export function identityAnswer(body: Uint8Array, from: InputFormat, maxElements: number): Uint8Array {
  const { document, options } = readRequestBody(body, from);
  const { composition } = compositionFromDocument(document, options);
  checkElements(composition, maxElements);
  return encoder.encode(JSON.stringify(computeIdentity(composition)));
}
