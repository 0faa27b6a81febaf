/** Exchanges (the body of `POST /v1/exchanges`) for tests that send them to a real `runprint serve`. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EXCHANGE_VERSION } from '../../src/capture/exchange.ts';

/** A chat completions request, and an answer to it (the openai-chat text fixture), to send in exchanges. */
export const HELLO_REQUEST = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }] });
export const HELLO_ANSWER = readFileSync(new URL('../fixtures/output/openai-chat/text.json', import.meta.url));

/**
 * The exchange of one complete chat completions call, as runprintFetch sends it: `request` and a
 * 200 JSON answer of `body` (text as UTF-8, or bytes), a fresh capture id, fixed times, no
 * parents; `change` replaces or adds members.
 */
export function chatExchange(request: string | Uint8Array, body: string | Uint8Array, change: Record<string, unknown> = {}): Record<string, unknown> & { captureId: string } {
  return {
    version: EXCHANGE_VERSION,
    captureId: randomUUID(),
    method: 'POST',
    path: '/v1/chat/completions',
    request: Buffer.from(request).toString('base64'),
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body).toString('base64') },
    outcome: 'complete',
    times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 },
    parents: [],
    ...change,
  };
}

/** POSTs `body` as JSON to the exchanges endpoint of the serve at `base`. */
export function postExchange(base: string, body: unknown): Promise<Response> {
  return fetch(`${base}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
