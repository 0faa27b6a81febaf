/** RFC 4648 sections 4 and 5 as DSSE v1.0 uses them: standard or URL-safe base64, decoded strictly. */

const STANDARD_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_TEXT = /^[A-Za-z0-9_-]*={0,2}$/;
const VALUE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Bytes as a binary string (one UTF-16 code unit per byte), in chunks small enough for apply. */
function binaryString(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x2000) as unknown as number[]);
  }
  return out;
}

interface NodeBuffer {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
  from(text: string, encoding: 'base64'): Uint8Array;
}

// The pure core imports no node:* module; on Node the global Buffer encodes natively, about 20x
// faster than btoa over a binary string built in JavaScript (a receipt's payload is ~10 KB).
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Standard base64 with padding (RFC 4648 section 4): what runprint writes. */
export function encodeBase64(bytes: Uint8Array): string {
  if (nodeBuffer !== undefined) return nodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  // btoa is native in browsers and in Node; it takes a binary string.
  return btoa(binaryString(bytes));
}

/** The 6-bit value of one base64 character of either alphabet. */
function valueOf(code: number): number {
  if (code === 0x2b || code === 0x2d) return 62;
  if (code === 0x2f || code === 0x5f) return 63;
  return VALUE.indexOf(String.fromCharCode(code));
}

/**
 * Decodes base64 in the standard (section 4) or the URL-safe (section 5) alphabet: DSSE lets a
 * signer use either and requires a verifier to accept both. Returns undefined for anything else.
 * The text is attacker-controlled, so only one spelling of each byte string is accepted:
 *
 * - one alphabet per text: `+`/`/` and `-`/`_` never mixed;
 * - no white space, no characters outside the alphabet;
 * - padding `=` either absent or exactly what the length needs, and only at the end;
 * - the unused low bits of the last character are zero (RFC 4648 section 3.5 lets a decoder
 *   reject them; accepting them would give one signature several encodings).
 *
 * The checks are made here; the native decoder (Buffer or atob, lenient on their own) only decodes.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const urlSafe = !STANDARD_TEXT.test(text);
  if (urlSafe && !URL_SAFE_TEXT.test(text)) return undefined;
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  const padding = text.length - end;
  const rest = end % 4;
  if (rest === 1) return undefined;
  if (padding > 0 && (text.length % 4 !== 0 || padding !== 4 - rest)) return undefined;
  if (rest > 0) {
    const last = valueOf(text.charCodeAt(end - 1));
    if ((rest === 2 ? last & 0x0f : last & 0x03) !== 0) return undefined;
  }
  const standard = urlSafe ? text.slice(0, end).replace(/-/g, '+').replace(/_/g, '/') : text.slice(0, end);
  // A plain Uint8Array of its own (a Buffer may be a view into a shared pool).
  if (nodeBuffer !== undefined) return new Uint8Array(nodeBuffer.from(standard, 'base64'));
  const binary = atob(standard);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
