/** Reading a request body with a hard size limit, without buffering more than the limit. */
import { UsageError } from '../errors.ts';
import { readLimited } from '../io/read-limited.ts';

// Bodies a server read itself (listen.ts), handed over with their request without a copy.
const attached = new WeakMap<Request, Uint8Array>();

/** Hands `body`, already read from the socket, to the route that reads `request`. */
export function attachBody(request: Request, body: Uint8Array): Request {
  attached.set(request, body);
  return request;
}

export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const body = attached.get(request);
  if (body !== undefined) {
    if (body.length > limit) throw tooLarge(limit);
    return body;
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  return readLimited(request.body, limit, () => tooLarge(limit));
}

function tooLarge(limit: number): UsageError {
  return new UsageError('ERR_HTTP_BODY_TOO_LARGE', `request body is larger than ${limit} bytes`);
}

/** A JSON body route takes `application/json` (parameters such as charset aside); no Content-Type reads as JSON. */
export function requireJson(request: Request): void {
  const mediaType = (request.headers.get('content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UsageError('ERR_HTTP_MEDIA_TYPE', 'request body must be application/json');
  }
}
