/**
 * The routes that do what the CLI does (README, "Service"): `POST /v1/explain`, `/v1/diff`,
 * `/v1/verify` and, with a server-held key, `/v1/sign`. Each reads one JSON object; the work is
 * done by the injected compute (the worker pool in `runprint serve`), except the Ed25519
 * signature itself, which stays with the key on this thread. A retrieval declared to `/v1/sign`
 * in `runprint-retrieval` headers is read here, before the body, and checked by the compute with
 * the sign facts (signFactsAnswer, api-answers.ts), against the request it reads once.
 */
import { MAX_RETRIEVAL_HEADER_BYTES, readRetrievalHeader, RETRIEVAL_HEADER } from '../capture/declared.ts';
import type { DeclaredDocument } from '../capture/run-record.ts';
import { RunprintError, UsageError } from '../errors.ts';
import { requireOptions, requireSigningKey, requireString } from '../keys/key-arguments.ts';
import type { SigningKey } from '../keys/keys.ts';
import { formatEnvelope } from '../receipt/envelope.ts';
import type { ReceiptFacts } from '../receipt/predicate.ts';
import { signReceipt } from '../receipt/sign.ts';
import { formatBundle } from '../receipt/sigstore-bundle.ts';
import { nothingSigned } from './api-answers.ts';
import { checkBearer } from './bearer.ts';
import type { IdentityCompute, Operation } from './identity-answer.ts';
import { knownParameters } from './query.ts';
import { readBody, requireJson } from './read-body.ts';

export interface SignRouteOptions {
  /** The service's receipt key (never the log's). */
  key: SigningKey;
  /** Bearer token every sign request must present: a receipt under this key is a claim the key holder makes. */
  token: string;
  /** Recorded in each receipt as the runprint version that captured the run. */
  runprintVersion: string;
}

type Handler = (request: Request, url: URL) => Promise<Response>;

const decoder = new TextDecoder();

function jsonAnswer(answer: Uint8Array): Response {
  // A stream of the one array, so a large answer is not copied again.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(answer);
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/json', 'content-length': String(answer.length) } });
}

/**
 * The sign options as createApp takes them, checked when the app is made: a key given as PEM text
 * would otherwise fail only at the first signing, and a missing or empty token would leave a sign
 * route that no request can use.
 */
function checkSignOptions(sign: SignRouteOptions): void {
  requireOptions(sign, 'createApp options.sign');
  requireSigningKey(sign.key, 'createApp options.sign.key');
  requireString(sign.token, 'createApp options.sign.token');
  if (sign.token === '') throw new TypeError('createApp options.sign.token must not be empty');
  requireString(sign.runprintVersion, 'createApp options.sign.runprintVersion');
}

/**
 * The documents a `/v1/sign` request declares in `runprint-retrieval` headers, read as the proxy
 * reads them (declared.ts readRetrievalHeader: the same encoding, shape and codes); none without.
 */
function declaredIn(request: Request): DeclaredDocument[] {
  const value = request.headers.get(RETRIEVAL_HEADER);
  if (value !== null && value.length > MAX_RETRIEVAL_HEADER_BYTES) {
    throw new RunprintError('ERR_CAPTURE_RETRIEVAL_TOO_LARGE', `${RETRIEVAL_HEADER} holds ${value.length} bytes, more than the ${MAX_RETRIEVAL_HEADER_BYTES} POST /v1/sign reads; nothing is signed`);
  }
  try {
    return readRetrievalHeader(value, MAX_RETRIEVAL_HEADER_BYTES);
  } catch (error) {
    if (error instanceof RunprintError && error.code === 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE') throw nothingSigned(error);
    throw error;
  }
}

/** The refusal of a `POST /v1/sign` request without `Authorization: Bearer` and the sign token, else undefined. */
export async function signTokenRefusal(request: Request, sign: SignRouteOptions): Promise<RunprintError | undefined> {
  if (await checkBearer(request.headers.get('authorization'), sign.token)) return undefined;
  return new RunprintError('ERR_HTTP_UNAUTHORIZED', 'signing needs Authorization: Bearer with the sign token');
}

/** The routes, by path; `maxBodyBytes` is each one's body limit (the app declares it to the server). */
export function apiRoutes(options: { compute: IdentityCompute; maxBodyBytes: number; maxElements: number; sign?: SignRouteOptions }): Record<string, Record<string, Handler>> {
  const { compute, maxBodyBytes, maxElements } = options;
  const answer = (operation: Operation, path: string): Handler => async (request, url) => {
    requireJson(request);
    knownParameters(url, path, []);
    return jsonAnswer(await compute(await readBody(request, maxBodyBytes), 'auto', maxElements, operation));
  };
  const routes: Record<string, Record<string, Handler>> = {
    '/v1/explain': { POST: answer('explain', '/v1/explain') },
    '/v1/diff': { POST: answer('diff', '/v1/diff') },
    '/v1/verify': { POST: answer('verify', '/v1/verify') },
  };
  const sign = options.sign;
  if (sign !== undefined) {
    checkSignOptions(sign);
    routes['/v1/sign'] = {
      POST: async (request, url) => {
        // The token is checked before the body is read or anything is computed (listen.ts asks
        // signTokenRefusal before it reads the body from the socket).
        const refused = await signTokenRefusal(request, sign);
        if (refused !== undefined) throw refused;
        knownParameters(url, '/v1/sign', ['form']);
        const form = url.searchParams.get('form') ?? 'envelope';
        if (form !== 'envelope' && form !== 'bundle') throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "form" must be envelope or bundle');
        requireJson(request);
        // Declared retrieval, in the proxy's header and read as the proxy reads it, before the body;
        // checked with the facts, where the body is read (a header that declares none is still a
        // declaration: with the member "retrieval" it is refused).
        const declared = request.headers.has(RETRIEVAL_HEADER) ? declaredIn(request) : undefined;
        const body = await readBody(request, maxBodyBytes);
        const facts = JSON.parse(decoder.decode(await compute(body, 'auto', maxElements, 'sign-facts', declared))) as ReceiptFacts;
        facts.runprintVersion = sign.runprintVersion;
        const envelope = await signReceipt(facts, sign.key);
        // form=bundle: the Sigstore bundle runprint sign --bundle writes (docs/RECEIPTS.md section 16).
        const text = form === 'bundle' ? `${JSON.stringify(formatBundle(envelope, { publicKeyHint: sign.key.keyId }), null, 2)}\n` : formatEnvelope(envelope);
        return new Response(text, { headers: { 'content-type': 'application/json' } });
      },
    };
  }
  return routes;
}
