/** RFC 8259 sections 2-8 under RFC 7493 section 2 (I-JSON): the strict parser of docs/SPEC.md sections 3.1-3.3. */
import { JsonError } from '../errors.ts';
import type { JsonValue } from './json-value.ts';
import { readMaxBytes, readMaxDepth } from './limits.ts';
import { JsonTextParser } from './json-text-parser.ts';
import { describeByteOffset } from './text-position.ts';
import { decodeUtf8 } from './utf8.ts';

export interface ParseOptions {
  /** Deepest nesting accepted; the root array or object is depth 1. Default 128, at most 1000. */
  maxDepth?: number;
  /** Longest input accepted, in bytes (UTF-16 code units for a string). Default 256 MiB. */
  maxBytes?: number;
}

/**
 * Parses strict I-JSON text. Input is attacker-controlled: it is checked in this order, and the
 * first failure is reported.
 *
 * 1. size: longer than `maxBytes` -> ERR_JSON_TOO_LARGE, before anything else is read;
 * 2. a leading byte order mark (EF BB BF, or U+FEFF in a string) -> ERR_JSON_BOM;
 * 3. bytes that are not well-formed UTF-8 -> ERR_JSON_INVALID_UTF8 with the byte offset;
 * 4. the text itself, front to back (RFC 8259 grammar, I-JSON rules, nesting depth).
 *
 * The parser keeps its own stack, so nesting of any depth ends in ERR_JSON_TOO_DEEP, never in
 * a stack overflow. Objects it builds have a null prototype, so `__proto__` is an ordinary member
 * name. Strings are kept exactly as written: no Unicode normalization. `-0` parses to -0.
 */
export function parseJson(input: Uint8Array | string, options?: ParseOptions): JsonValue {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError('parseJson options must be an object such as { maxBytes, maxDepth }');
  }
  const maxDepth = readMaxDepth(options?.maxDepth);
  const maxBytes = readMaxBytes(options?.maxBytes);
  if (typeof input === 'string') {
    if (input.length > maxBytes) {
      throw new JsonError('ERR_JSON_TOO_LARGE', `JSON text is longer than the limit of ${maxBytes} UTF-16 code units`);
    }
    if (input.charCodeAt(0) === 0xfeff) throw bomError();
    // Well-formed UTF-16 is the usual case; only otherwise does each string literal get checked.
    return new JsonTextParser(input, 'character', maxDepth, !input.isWellFormed()).parseDocument();
  }
  if (!(input instanceof Uint8Array)) throw new TypeError('parseJson input must be a Uint8Array or a string');
  if (input.length > maxBytes) {
    throw new JsonError('ERR_JSON_TOO_LARGE', `JSON text is longer than the limit of ${maxBytes} bytes`);
  }
  if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) throw bomError();
  const text = decodeUtf8(input);
  if (typeof text === 'number') {
    throw new JsonError('ERR_JSON_INVALID_UTF8', `JSON text is not well-formed UTF-8 at ${describeByteOffset(input, text)}`);
  }
  return new JsonTextParser(text, 'byte', maxDepth, false).parseDocument();
}

function bomError(): JsonError {
  return new JsonError('ERR_JSON_BOM', 'JSON text starts with a byte order mark (U+FEFF), which I-JSON forbids');
}
