/** The answer of `POST /v1/identity`: request bytes in, identity document bytes out, with the service's bound on its size. */
import { compositionFromDocument, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import { LIST_COMPONENTS } from '../identity/composition.ts';
import { computeIdentity } from '../identity/identity.ts';
import { parseJson } from '../jcs/parse.ts';

/**
 * Most list elements (all list components together) the service computes an identity for. The
 * answer lists one digest per element (about 80 bytes each), so this bounds both the work and the
 * answer at a few MB. A service limit, not an identity rule: the CLI has none.
 */
export const MAX_IDENTITY_ELEMENTS = 100_000;

/** Computes the answer off the caller's thread or in it; the Node server injects a worker pool, which may take over (detach) `body`. */
export type IdentityCompute = (body: Uint8Array, from: InputFormat, maxElements: number) => Promise<Uint8Array>;

const encoder = new TextEncoder();

/** The identity document of `body` (a provider request or a composition) as JSON bytes. */
export function identityAnswer(body: Uint8Array, from: InputFormat, maxElements: number): Uint8Array {
  const { composition } = compositionFromDocument(parseJson(body), { from });
  let elements = 0;
  for (const name of LIST_COMPONENTS) {
    const list = composition[name];
    if (Array.isArray(list)) elements += list.length;
  }
  if (elements > maxElements) {
    throw new UsageError('ERR_HTTP_TOO_MANY_ELEMENTS', `the request has more than ${maxElements} list elements, the most this service answers for`);
  }
  return encoder.encode(JSON.stringify(computeIdentity(composition)));
}

/** The in-process compute: for `createApp()` with no pool (tests, embedding). */
export const computeInProcess: IdentityCompute = async (body, from, maxElements) => identityAnswer(body, from, maxElements);
