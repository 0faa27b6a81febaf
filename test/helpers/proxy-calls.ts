/** Calls through a real `runprint serve`'s proxy, and reading their answers as a client does. */
import assert from 'node:assert/strict';

/** POSTs a chat completions call of one user message (gpt-4o, `stream` if given, a test API key) to serve's OpenAI proxy route. */
export function chatCall(base: string, content: string, stream?: boolean): Promise<Response> {
  const body = { model: 'gpt-4o', ...(stream === undefined ? {} : { stream }), messages: [{ role: 'user', content }] };
  return fetch(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(body) });
}

/**
 * Reads a response body to its end as it comes, calling `onText` with all the text read so far
 * after each chunk: the text, and whether the body was cut (the error that ended it) instead of
 * ending.
 */
export async function readBody(response: Response, onText?: (text: string) => void): Promise<{ text: string; cut: boolean; error?: unknown }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, cut: false };
      text += decoder.decode(value, { stream: true });
      onText?.(text);
    }
  } catch (error) {
    return { text, cut: true, error };
  }
}

/**
 * One chat completions call (a system message and `text`, temperature 0) through serve's OpenAI
 * proxy route with `apiKey`, read to its end; its capture id (runprint-capture-id).
 */
export async function captureChat(base: string, apiKey: string, text: string): Promise<string> {
  const response = await fetch(`${base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You answer in one sentence.' }, { role: 'user', content: text }], temperature: 0 }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`the call through the proxy answered ${response.status}`);
  return response.headers.get('runprint-capture-id')!;
}

/** Waits until serve answers the run's tlog-proof: signed, logged, and covered by a checkpoint. */
export async function untilLogged(base: string, captureId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const response = await fetch(`${base}/v1/runs/${captureId}/tlog-proof`);
    await response.arrayBuffer();
    if (response.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the run was not logged in time');
}

/**
 * POSTs `body` as it is to serve's OpenAI chat completions route with `headers` (besides the JSON
 * content type), reads the answer to its end, asserts it is 200, and gives its capture id.
 */
export async function captureBody(base: string, body: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  return response.headers.get('runprint-capture-id')!;
}
