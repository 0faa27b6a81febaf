/** Reading a body stream into memory with a hard size limit, buffering no more than the limit. */

/**
 * Reads all of `body` (null reads as empty). Once more than `limit` bytes have arrived the stream
 * is cancelled and `tooLarge()` is thrown: a longer body is refused, never truncated.
 */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      // The refusal does not wait on the source: a cancel that fails changes nothing for the caller.
      void reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return joinBytes(chunks, total);
}

/** `chunks` in one array of `total` bytes (their lengths' sum). */
export function joinBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
