/** RFC 4648 sections 4 and 5 as DSSE v1.0 uses them: standard or URL-safe base64, decoded strictly. */

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// Value of each ASCII character in either alphabet; -1 for every other character.
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUES[STANDARD.charCodeAt(i)] = i;
VALUES[0x2d] = 62; // '-' (URL-safe)
VALUES[0x5f] = 63; // '_' (URL-safe)

/** Standard base64 with padding (RFC 4648 section 4): what runprint writes. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += STANDARD[n >> 18]! + STANDARD[(n >> 12) & 63]! + STANDARD[(n >> 6) & 63]! + STANDARD[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${STANDARD[n >> 18]!}${STANDARD[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${STANDARD[n >> 18]!}${STANDARD[(n >> 12) & 63]!}${STANDARD[(n >> 6) & 63]!}=`;
  }
  return out;
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
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  let end = text.length;
  if (end % 4 === 0 && end > 0) {
    if (text.charCodeAt(end - 1) === 0x3d) end--;
    if (text.charCodeAt(end - 1) === 0x3d) end--;
  }
  const rest = end % 4;
  if (rest === 1) return undefined;
  // Padding is stripped only from a text of length 0 mod 4, so it always completes the last group;
  // an `=` anywhere else is outside the alphabet and rejected below.
  let standard = false;
  let urlSafe = false;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const value = c < 128 ? VALUES[c]! : -1;
    if (value < 0) return undefined;
    if (c === 0x2b || c === 0x2f) standard = true;
    else if (c === 0x2d || c === 0x5f) urlSafe = true;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  if (standard && urlSafe) return undefined;
  if (buffer !== 0) return undefined;
  return out;
}
