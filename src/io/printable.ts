/** A name from the command line or the file system as it may be echoed in a message: cut, and with no terminal escapes. */

/** C0 and C1 controls, DEL, and the characters that reorder or hide text on a terminal. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

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
  return text.replace(UNSAFE, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
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
