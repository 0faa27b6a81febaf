/** RFC 8259 sections 2-7 with RFC 7493 section 2.3: an iterative JSON text parser with an explicit stack. */
import { JsonError, formatPath } from '../errors.ts';
import type { JsonArray, JsonObject, JsonValue } from './json-value.ts';
import { createJsonObject } from './json-value.ts';
import { tooDeepMessage } from './limits.ts';
import { numberProblem, numberProblemMessage } from './number-rules.ts';
import { readEscapedString } from './json-string-escapes.ts';
import { ScanError, unexpected } from './scan-error.ts';
import { describePosition } from './text-position.ts';
import type { OffsetUnit } from './text-position.ts';

// Whitespace is exactly RFC 8259's: space, tab, line feed, carriage return.
function skipWhitespace(text: string, index: number): number {
  let unit = text.charCodeAt(index);
  while (unit === 0x20 || unit === 0x0a || unit === 0x0d || unit === 0x09) unit = text.charCodeAt(++index);
  return index;
}

export class JsonTextParser {
  private readonly text: string;
  private readonly unit: OffsetUnit;
  private readonly maxDepth: number;
  /** Set when a string input has lone surrogates somewhere: then every literal is checked raw. */
  private readonly checkRawSurrogates: boolean;
  /** Where scanning stands; helpers that read a token leave it just after the token. */
  index = 0;
  // The open containers, innermost last; for objects, the member name being read at each level.
  private readonly containers: Array<JsonArray | JsonObject> = [];
  private readonly names: Array<string | undefined> = [];

  constructor(text: string, unit: OffsetUnit, maxDepth: number, checkRawSurrogates: boolean) {
    this.text = text;
    this.unit = unit;
    this.maxDepth = maxDepth;
    this.checkRawSurrogates = checkRawSurrogates;
  }

  parseDocument(): JsonValue {
    try {
      const value = this.parseValues();
      const end = skipWhitespace(this.text, this.index);
      if (end < this.text.length) {
        throw new ScanError('ERR_JSON_TRAILING_DATA', 'JSON text has data after the value', end);
      }
      return value;
    } catch (error) {
      if (!(error instanceof ScanError)) throw error;
      const where = error.code === 'ERR_JSON_SYNTAX' || error.code === 'ERR_JSON_TRUNCATED' ||
        error.code === 'ERR_JSON_TRAILING_DATA'
        ? ` at ${describePosition(this.text, error.index, this.unit)}`
        : '';
      throw new JsonError(error.code, error.message + where, this.pathAt(error));
    }
  }

  /** Reads one complete value, descending into containers with the explicit stack. */
  private parseValues(): JsonValue {
    const text = this.text;
    const containers = this.containers;
    const names = this.names;
    let index = this.index;
    let value: JsonValue;
    for (;;) {
      // A value starts here.
      index = skipWhitespace(text, index);
      const unit = text.charCodeAt(index);
      this.index = index;
      if (unit === 0x7b || unit === 0x5b) {
        if (containers.length >= this.maxDepth) {
          throw new ScanError('ERR_JSON_TOO_DEEP', tooDeepMessage(this.maxDepth), index);
        }
        index = skipWhitespace(text, index + 1);
        if (unit === 0x5b) {
          const array: JsonArray = [];
          if (text.charCodeAt(index) === 0x5d) {
            index++;
            value = array;
          } else {
            containers.push(array);
            names.push(undefined);
            continue;
          }
        } else {
          const object = createJsonObject();
          if (text.charCodeAt(index) === 0x7d) {
            index++;
            value = object;
          } else {
            containers.push(object);
            names.push(undefined);
            index = this.readName(object, index);
            continue;
          }
        }
      } else if (unit === 0x22) {
        value = this.readString(index);
        index = this.index;
      } else if ((unit >= 0x30 && unit <= 0x39) || unit === 0x2d) {
        value = this.readNumber(index);
        index = this.index;
      } else if (unit === 0x74) {
        index = this.readLiteral(index, 'true');
        value = true;
      } else if (unit === 0x66) {
        index = this.readLiteral(index, 'false');
        value = false;
      } else if (unit === 0x6e) {
        index = this.readLiteral(index, 'null');
        value = null;
      } else {
        throw unexpected(text, index, 'expected a value');
      }
      // A value is complete: attach it to its container, closing containers as they end.
      for (;;) {
        const depth = containers.length;
        if (depth === 0) {
          this.index = index;
          return value;
        }
        const container = containers[depth - 1]!;
        index = skipWhitespace(text, index);
        const next = text.charCodeAt(index);
        this.index = index;
        if (Array.isArray(container)) {
          container.push(value);
          if (next === 0x2c) {
            index++;
            break;
          }
          if (next !== 0x5d) throw this.between(index, "expected ',' or ']' after an array element");
        } else {
          container[names[depth - 1]!] = value;
          if (next === 0x2c) {
            index = this.readName(container, skipWhitespace(text, index + 1));
            break;
          }
          if (next !== 0x7d) throw this.between(index, "expected ',' or '}' after an object member");
        }
        index++;
        // push grows an array's storage to at least 17 slots; a copy of a short array is exact,
        // which keeps large documents near the size JSON.parse would build.
        value = Array.isArray(container) && container.length < 64 ? container.slice() : container;
        containers.pop();
        names.pop();
      }
    }
  }

  /** Reads `"name" :` at `index`; returns the index after the colon. */
  private readName(object: JsonObject, index: number): number {
    const text = this.text;
    const depth = this.names.length;
    this.index = index;
    this.names[depth - 1] = undefined;
    if (text.charCodeAt(index) !== 0x22) throw this.between(index, 'expected a member name (a string)');
    const name = this.readString(index, true);
    // Compared after unescaping, so "a" and "\u0061" are the same name (RFC 7493 section 2.3).
    if (object[name] !== undefined) {
      this.names[depth - 1] = name;
      throw new ScanError('ERR_JSON_DUPLICATE_KEY', 'JSON object has a duplicate member name', index);
    }
    this.names[depth - 1] = name;
    index = skipWhitespace(text, this.index);
    if (text.charCodeAt(index) !== 0x3a) throw unexpected(text, index, "expected ':' after a member name");
    return index + 1;
  }

  /** Reads the string literal whose opening quote is at `index`; leaves this.index after it. */
  private readString(index: number, isName = false): string {
    const text = this.text;
    const start = index + 1;
    let end = start;
    let unit = text.charCodeAt(end);
    // Fast path: no escapes. Stops at the quote, a backslash, a control character or the end.
    while (unit !== 0x22 && unit !== 0x5c && unit >= 0x20) unit = text.charCodeAt(++end);
    let value: string;
    if (unit === 0x22) {
      value = text.slice(start, end);
      this.index = end + 1;
    } else {
      // Escapes or an error: the slower reader leaves this.index after the closing quote.
      const result = readEscapedString(text, start, end, this);
      if (typeof result !== 'string') {
        throw result.code === 'ERR_JSON_LONE_SURROGATE' && isName ? loneSurrogateInName(index) : result;
      }
      value = result;
      end = this.index - 1;
    }
    if (this.checkRawSurrogates && !text.slice(start, end).isWellFormed()) {
      throw isName ? loneSurrogateInName(index) : loneSurrogate(index);
    }
    return value;
  }

  /** Reads a number at `index` (RFC 8259 section 6 grammar) and applies the I-JSON rules. */
  private readNumber(index: number): number {
    const text = this.text;
    const start = index;
    let unit = text.charCodeAt(index);
    if (unit === 0x2d) unit = text.charCodeAt(++index);
    if (unit === 0x30) {
      unit = text.charCodeAt(++index);
      if (unit >= 0x30 && unit <= 0x39) throw unexpected(text, index, 'number has a leading zero');
    } else if (unit >= 0x31 && unit <= 0x39) {
      do unit = text.charCodeAt(++index);
      while (unit >= 0x30 && unit <= 0x39);
    } else throw unexpected(text, index, 'expected a digit in a number');
    let integer = true;
    if (unit === 0x2e) {
      integer = false;
      unit = text.charCodeAt(++index);
      if (!(unit >= 0x30 && unit <= 0x39)) throw unexpected(text, index, 'expected a digit after a decimal point');
      do unit = text.charCodeAt(++index);
      while (unit >= 0x30 && unit <= 0x39);
    }
    if (unit === 0x65 || unit === 0x45) {
      integer = false;
      unit = text.charCodeAt(++index);
      if (unit === 0x2b || unit === 0x2d) unit = text.charCodeAt(++index);
      if (!(unit >= 0x30 && unit <= 0x39)) throw unexpected(text, index, 'expected a digit in an exponent');
      do unit = text.charCodeAt(++index);
      while (unit >= 0x30 && unit <= 0x39);
    }
    this.index = index;
    let value: number;
    if (integer && index - start <= 15) {
      // Up to 15 digits is exact in a double; this skips allocating the slice.
      const negative = text.charCodeAt(start) === 0x2d;
      value = 0;
      for (let at = negative ? start + 1 : start; at < index; at++) value = value * 10 + (text.charCodeAt(at) - 0x30);
      if (negative) value = -value;
    } else value = Number(text.slice(start, index));
    const problem = numberProblem(value);
    if (problem !== undefined) throw new ScanError(problem, numberProblemMessage(problem), start);
    return value;
  }

  /** Checks that `word` is at `index`; returns the index after it. */
  private readLiteral(index: number, word: string): number {
    const text = this.text;
    for (let k = 1; k < word.length; k++) {
      if (text.charCodeAt(index + k) !== word.charCodeAt(k)) throw unexpected(text, index + k, 'invalid literal');
    }
    return index + word.length;
  }

  /** An error between values: its path is the container's, not a member's. */
  private between(index: number, expected: string): ScanError {
    return unexpected(this.text, index, expected, true);
  }

  /** The RFC 9535 normalized path of the place being read when `error` happened. */
  private pathAt(error: ScanError): string | undefined {
    if (error.code === 'ERR_JSON_TRAILING_DATA') return '$';
    const segments: Array<string | number> = [];
    const depth = this.containers.length;
    for (let level = 0; level < depth; level++) {
      if (level === depth - 1 && error.between) break;
      const container = this.containers[level]!;
      if (Array.isArray(container)) segments.push(container.length);
      else {
        const name = this.names[level];
        if (name === undefined) break;
        segments.push(name);
      }
    }
    return formatPath(segments);
  }
}

function loneSurrogate(index: number): ScanError {
  return new ScanError('ERR_JSON_LONE_SURROGATE', 'JSON string has a lone surrogate (not well-formed Unicode)', index);
}

function loneSurrogateInName(index: number): ScanError {
  return new ScanError(
    'ERR_JSON_LONE_SURROGATE',
    'JSON member name has a lone surrogate (not well-formed Unicode)',
    index,
    true,
  );
}
