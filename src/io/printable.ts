/** A name from the command line or the file system as it may be echoed in a message: cut, and with no terminal escapes. */

/**
 * The characters that reorder or hide text when drawn, on a terminal or a page: the bidirectional
 * controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the zero-width and invisible
 * ones (U+00AD soft hyphen, U+180E, U+200B-U+200D, U+2060 word joiner, U+2061-U+2064 invisible
 * operators, U+3164, U+FEFF), the line and paragraph separators, and the tag characters U+E0000-U+E007F (invisible, the usual way to
 * hide text in a prompt). As a character class body for a `u` regular expression.
 */
const HIDING = '\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\u3164\\ufeff\\u{e0000}-\\u{e007f}';

/** C0 and C1 controls, DEL, and the characters that reorder or hide text. */
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${HIDING}]`, 'gu');

/** As UNSAFE, but tab, line feed and carriage return are kept: text shown in lines (the explorer's visible()). */
const UNSAFE_IN_LINES = new RegExp(`[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f${HIDING}]`, 'gu');

/** UNSAFE for one character. */
const UNSAFE_ONE = new RegExp(`^[\\u0000-\\u001f\\u007f-\\u009f${HIDING}]$`, 'u');

/** Whether `character` (one code point) is a control or a character that reorders or hides text (UNSAFE). */
export function isUnsafeCharacter(character: string): boolean {
  return UNSAFE_ONE.test(character);
}

/** One character as `\uXXXX`, or `\u{XXXXX}` beyond U+FFFF. */
function escaped(character: string): string {
  const code = character.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `word` with every control or reordering character written as `\uXXXX` (a quote and a backslash
 * escaped too, so the result reads unambiguously inside quotes), cut to `max` characters with `…`.
 * An attacker may choose file names and URLs: they must never move the cursor or recolour the terminal.
 */
export function printable(word: string, max = 60): string {
  const characters = [...word];
  const cut = characters.slice(0, max).join('');
  return escapeUnsafe(cut.replace(/["\\]/g, (character) => `\\${character}`)) + (characters.length > max ? '…' : '');
}

/** `text` with every control or reordering character written as `\uXXXX`, nothing else changed (a JSON path already quoted and cut). */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/**
 * `text` with every character that reorders or hides it written as `\uXXXX` (`\u{XXXXX}` beyond
 * U+FFFF), its tabs and line breaks kept: how the explorer draws every text (explorer/common.js visible).
 */
export function escapeHiddenKeepingLines(text: string): string {
  return text.replace(UNSAFE_IN_LINES, escaped);
}

/**
 * A served fact's value as a person reads it: a string as `printable` gives it; a digest fact (the
 * weights: `{"digest": {"sha256"}, "serialization": {"method", …}}`) as `sha256:HEX (method
 * files)`, the rest of it in `--json`; any other value as its JSON text, quotes as they are, not
 * escaped, with terminal escapes written as `\uXXXX` and cut to `max` characters with `…`.
 */
export function printableValue(value: unknown, max = 200): string {
  if (typeof value === 'string') return printable(value);
  const digest = isObject(value) && isObject(value['digest']) ? value['digest']['sha256'] : undefined;
  if (isObject(value) && typeof digest === 'string' && /^[0-9a-f]{64}$/.test(digest)) {
    const method = isObject(value['serialization']) ? value['serialization']['method'] : undefined;
    return `sha256:${digest}${typeof method === 'string' ? ` (method ${printable(method, 20)})` : ''}`;
  }
  const characters = [...(JSON.stringify(value) ?? String(value))];
  return escapeUnsafe(characters.slice(0, max).join('')) + (characters.length > max ? '…' : '');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
