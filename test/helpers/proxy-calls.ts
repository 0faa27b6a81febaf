/** Calls through a real `runprint serve`'s proxy, and reading their answers as a client does. */

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
