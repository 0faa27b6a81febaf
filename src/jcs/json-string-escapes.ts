/** RFC 8259 section 7: string literals with escapes, under RFC 7493 section 2.1 (no lone surrogates). */
import { ScanError, unexpected } from './scan-error.ts';

/** Where the reader leaves the index just after the closing quote. */
export interface Cursor {
  index: number;
}

/** The character each single-letter escape stands for, by the letter's code unit. */
const SHORT_ESCAPES: ReadonlyArray<string | undefined> = (() => {
  const table: Array<string | undefined> = [];
  table[0x22] = '"';
  table[0x5c] = '\\';
  table[0x2f] = '/';
  table[0x62] = '\b';
  table[0x66] = '\f';
  table[0x6e] = '\n';
  table[0x72] = '\r';
  table[0x74] = '\t';
  return table;
})();

/**
 * Reads the rest of a string literal that began at `start` (after its quote), where the code unit
 * at `index` is a backslash, a control character or the end of the text. Returns the decoded
 * string and leaves `cursor.index` after the closing quote, or returns the error to throw.
 * The decoded string is kept exactly: escapes are undone, nothing is normalized.
 */
export function readEscapedString(text: string, start: number, index: number, cursor: Cursor): string | ScanError {
  let value = '';
  let runStart = start;
  let surrogateEscape = false;
  for (;;) {
    const unit = text.charCodeAt(index);
    if (unit === 0x22) {
      value += text.slice(runStart, index);
      cursor.index = index + 1;
      // An escaped surrogate must pair with its neighbour, escaped or not.
      if (surrogateEscape && !value.isWellFormed()) {
        return new ScanError('ERR_JSON_LONE_SURROGATE', 'JSON string has a lone surrogate (not well-formed Unicode)', start - 1);
      }
      return value;
    }
    if (unit === 0x5c) {
      value += text.slice(runStart, index);
      const letter = text.charCodeAt(index + 1);
      if (letter === 0x75) {
        let code = 0;
        for (let k = 2; k < 6; k++) {
          const digit = hexValue(text.charCodeAt(index + k));
          if (digit < 0) return unexpected(text, index + k, 'expected four hexadecimal digits after \\u');
          code = code * 16 + digit;
        }
        if (code >= 0xd800 && code <= 0xdfff) surrogateEscape = true;
        value += String.fromCharCode(code);
        index += 6;
      } else {
        const replacement = SHORT_ESCAPES[letter];
        if (replacement === undefined) return unexpected(text, index + 1, 'invalid escape sequence in a string');
        value += replacement;
        index += 2;
      }
      runStart = index;
    } else if (unit < 0x20 || unit !== unit) {
      // A raw control character, or the end of the text (charCodeAt gives NaN).
      return unexpected(text, index, 'unescaped control character in a string');
    } else index++;
  }
}

function hexValue(unit: number): number {
  if (unit >= 0x30 && unit <= 0x39) return unit - 0x30;
  const lower = unit | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
