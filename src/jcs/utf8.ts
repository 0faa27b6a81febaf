/** RFC 3629 section 4 (Unicode 15 table 3-7): strict UTF-8 decoding, with the offset of the first ill-formed byte. */

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes well-formed UTF-8 to a string. Returns the byte offset of the first ill-formed sequence
 * instead when there is one: overlong forms, UTF-8-encoded surrogates (ED A0 80), code points
 * above U+10FFFF, truncated sequences and stray continuation bytes all count.
 */
export function decodeUtf8(bytes: Uint8Array): string | number {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    // The native decoder only says that the input is ill-formed; find where, byte by byte.
    // Well-formed bytes it still refused (a shared buffer, say) keep the decoder's own error.
    const offset = findInvalidUtf8(bytes);
    if (offset < 0) throw error;
    return offset;
  }
}

/**
 * The offset of the first byte of the first ill-formed sequence, or -1 if `bytes` is well-formed.
 * Each lead byte admits one range for its second byte and 80..BF for the rest:
 *
 *   00..7F                      C2..DF 80..BF
 *   E0 A0..BF 80..BF            E1..EC 80..BF 80..BF
 *   ED 80..9F 80..BF            EE..EF 80..BF 80..BF
 *   F0 90..BF 80..BF 80..BF     F1..F3 80..BF 80..BF 80..BF
 *   F4 80..8F 80..BF 80..BF
 */
export function findInvalidUtf8(bytes: Uint8Array): number {
  const length = bytes.length;
  let index = 0;
  while (index < length) {
    const lead = bytes[index]!;
    if (lead < 0x80) {
      index++;
      continue;
    }
    let size: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) size = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      size = 3;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      size = 4;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return index; // 80..C1 (continuation or overlong lead) and F5..FF never start a sequence
    if (index + size > length) return index;
    const second = bytes[index + 1]!;
    if (second < low || second > high) return index;
    for (let k = 2; k < size; k++) {
      const next = bytes[index + k]!;
      if (next < 0x80 || next > 0xbf) return index;
    }
    index += size;
  }
  return -1;
}

/** The number of UTF-8 bytes that encode `text` from `start` to `end` (UTF-16 indices). */
export function utf8Length(text: string, start: number, end: number): number {
  let bytes = 0;
  for (let index = start; index < end; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        index++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
