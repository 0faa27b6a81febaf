/** runprint/providers: provider request mappings, format detection and served facts (SPEC section 4). */
export { REQUEST_FORMATS, isRequestFormat, type RequestFormat } from './request-format.ts';
export { compositionFromRequest, requestFromComposition } from './request-mapping.ts';
export { detectFormat } from './detect-format.ts';
export { servedFromResponse } from './served-from-response.ts';
export { outputDigest, rawDigest, runOutputFrom, type RunOutput } from './run-output.ts';
export { SseParser, parseEventStream, type SseEvent } from './output-sse.ts';
