/** RFC 8259 + RFC 7493 (I-JSON) parsing, docs/SPEC.md sections 3.1-3.3: every rejection with its code, message and path. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonError } from '../src/errors.ts';
import { parseJson } from '../src/jcs/parse.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function rejects(run: () => unknown, code: string, message: string, path: string | undefined): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof JsonError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    assert.equal(error.path, path);
    return true;
  });
}

describe('accepted input', () => {
  test('builds the same value as JSON.parse', () => {
    const text = '{"a":[1,2.5,-3e2,{"b":null}],"c":"x\\u0041\\n\\/","d":true,"e":false,"f":{}}';
    assert.deepEqual(JSON.parse(JSON.stringify(parseJson(text))), JSON.parse(text));
  });

  test('objects have a null prototype, so "__proto__" is an ordinary member', () => {
    const value = parseJson('{"__proto__":{"polluted":true},"toString":1}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), null);
    assert.deepEqual(Object.keys(value), ['__proto__', 'toString']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(value.__proto__), null);
  });

  test('-0 parses to -0', () => {
    assert.ok(Object.is(parseJson('-0'), -0));
    assert.ok(Object.is(parseJson('-0.0e5'), -0));
  });

  test('strings are kept exactly: NFC and NFD stay different, U+FEFF inside a string is data', () => {
    assert.equal(parseJson('"\u00e9"'), '\u00e9');
    assert.equal(parseJson('"e\u0301"'), 'e\u0301');
    assert.deepEqual(parseJson(utf8('["\ufeff"]')), ['\ufeff']);
  });

  test('bytes and string input give the same value', () => {
    const text = '{"名前":"東京 😀","n":[0.5,-7]}';
    assert.deepEqual(parseJson(utf8(text)), parseJson(text));
  });

  test('nesting exactly at maxDepth is accepted; the root container is depth 1', () => {
    assert.deepEqual(parseJson('[[1]]', { maxDepth: 2 }), [[1]]);
    assert.deepEqual(parseJson('5', { maxDepth: 1 }), 5);
    const deep = '['.repeat(1000) + ']'.repeat(1000);
    assert.ok(Array.isArray(parseJson(deep, { maxDepth: 1000 })));
  });
});

describe('rejections: code, message and path', () => {
  const cases: Array<[string, string, string, string, string]> = [
    ['empty text', '', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 0 (line 1, column 1)', '$'],
    ['unclosed array', '[1,2', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 4 (line 1, column 5)', '$'],
    ['unclosed string in a member', '{"a":"abc', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 9 (line 1, column 10)', "$['a']"],
    ['literal cut short', '[tr', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 3 (line 1, column 4)', '$[0]'],
    ['exponent cut short', '[1e', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 3 (line 1, column 4)', '$[0]'],
    ['after a member name', '{"a"', 'ERR_JSON_TRUNCATED', 'JSON text ends before the value is complete at character 4 (line 1, column 5)', "$['a']"],
    ['missing value', '[1,]', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a value at character 3 (line 1, column 4)', '$[1]'],
    ['missing comma', '[1 2]', 'ERR_JSON_SYNTAX', "JSON syntax error: expected ',' or ']' after an array element at character 3 (line 1, column 4)", '$'],
    ['missing member separator', '{"a":1 "b":2}', 'ERR_JSON_SYNTAX', "JSON syntax error: expected ',' or '}' after an object member at character 7 (line 1, column 8)", '$'],
    ['unquoted name', '{"x":{a:1}}', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a member name (a string) at character 6 (line 1, column 7)', "$['x']"],
    ['missing colon', '{"a" 1}', 'ERR_JSON_SYNTAX', "JSON syntax error: expected ':' after a member name at character 5 (line 1, column 6)", "$['a']"],
    ['leading zero', '[01]', 'ERR_JSON_SYNTAX', 'JSON syntax error: number has a leading zero at character 2 (line 1, column 3)', '$[0]'],
    ['bare minus', '[-x]', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a digit in a number at character 2 (line 1, column 3)', '$[0]'],
    ['empty fraction', '[1.e5]', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a digit after a decimal point at character 3 (line 1, column 4)', '$[0]'],
    ['empty exponent', '[1e+]', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a digit in an exponent at character 4 (line 1, column 5)', '$[0]'],
    ['bad literal', '{"a":nul}', 'ERR_JSON_SYNTAX', 'JSON syntax error: invalid literal at character 8 (line 1, column 9)', "$['a']"],
    ['bad escape', '["\\x"]', 'ERR_JSON_SYNTAX', 'JSON syntax error: invalid escape sequence in a string at character 3 (line 1, column 4)', '$[0]'],
    ['bad \\u escape', '["\\u00zz"]', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected four hexadecimal digits after \\u at character 6 (line 1, column 7)', '$[0]'],
    ['raw control character', '["a\u0001"]', 'ERR_JSON_SYNTAX', 'JSON syntax error: unescaped control character in a string at character 3 (line 1, column 4)', '$[0]'],
    ['not a value', '@', 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a value at character 0 (line 1, column 1)', '$'],
    ['trailing data', '{} x', 'ERR_JSON_TRAILING_DATA', 'JSON text has data after the value at character 3 (line 1, column 4)', '$'],
    ['duplicate name', '{"a":{"b":1,"b":2}}', 'ERR_JSON_DUPLICATE_KEY', 'JSON object has a duplicate member name', "$['a']['b']"],
    ['duplicate after unescaping', '[{"a":1,"\\u0061":2}]', 'ERR_JSON_DUPLICATE_KEY', 'JSON object has a duplicate member name', "$[0]['a']"],
    ['escaped lone surrogate', '{"a":["\\ud800"]}', 'ERR_JSON_LONE_SURROGATE', 'JSON string has a lone surrogate (not well-formed Unicode)', "$['a'][0]"],
    ['lone surrogate in a name', '{"a":{"\\udc00":1}}', 'ERR_JSON_LONE_SURROGATE', 'JSON member name has a lone surrogate (not well-formed Unicode)', "$['a']"],
    ['overflow', '{"x":1e400}', 'ERR_JSON_NON_FINITE', 'JSON number is not finite (NaN, Infinity, or beyond the range of a 64-bit float)', "$['x']"],
    ['unsafe integer', '{"seed":9007199254740993}', 'ERR_JSON_UNSAFE_INTEGER', 'JSON number is an integer outside -(2^53-1)..2^53-1; send 64-bit integers as strings', "$['seed']"],
    ['too deep', '[[[1]]]', 'ERR_JSON_TOO_DEEP', 'JSON value is nested deeper than the limit of 2 levels', '$[0][0]'],
  ];
  for (const [name, text, code, message, path] of cases) {
    test(name, () => {
      const options = code === 'ERR_JSON_TOO_DEEP' ? { maxDepth: 2 } : {};
      rejects(() => parseJson(text, options), code, message, path);
      // The same text as UTF-8 bytes: offsets are in bytes, equal here since the text is ASCII.
      rejects(() => parseJson(utf8(text), options), code, message.replace('at character', 'at byte'), path);
    });
  }
});

describe('offsets, lines and columns', () => {
  test('bytes count UTF-8 bytes, strings count UTF-16 code units', () => {
    const text = '{"é😀":\n  [1,,2]}';
    rejects(() => parseJson(text), 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a value at character 13 (line 2, column 6)', "$['é😀'][1]");
    rejects(() => parseJson(utf8(text)), 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a value at byte 16 (line 2, column 6)', "$['é😀'][1]");
  });

  test('messages name the place but never echo the content', () => {
    assert.throws(() => parseJson('{"prompt":"my secret sk-live-123'), (error: unknown) => {
      assert.ok(error instanceof JsonError);
      assert.doesNotMatch(error.message, /secret|sk-live/);
      return true;
    });
  });
});

describe('the text before parsing: size, byte order mark, UTF-8', () => {
  test('maxBytes is checked before anything else is read', () => {
    rejects(() => parseJson(utf8('not json'), { maxBytes: 7 }), 'ERR_JSON_TOO_LARGE', 'JSON text is longer than the limit of 7 bytes', undefined);
    assert.equal(parseJson(utf8('"seven"'), { maxBytes: 7 }), 'seven');
  });

  test('for a string, maxBytes counts UTF-16 code units', () => {
    assert.equal(parseJson('"😀"', { maxBytes: 4 }), '😀');
    rejects(() => parseJson('"😀"', { maxBytes: 3 }), 'ERR_JSON_TOO_LARGE', 'JSON text is longer than the limit of 3 UTF-16 code units', undefined);
  });

  test('a byte order mark is rejected, as bytes or as U+FEFF at the start of a string', () => {
    const message = 'JSON text starts with a byte order mark (U+FEFF), which I-JSON forbids';
    rejects(() => parseJson(new Uint8Array([0xef, 0xbb, 0xbf, 0x31])), 'ERR_JSON_BOM', message, undefined);
    rejects(() => parseJson('\ufeff1'), 'ERR_JSON_BOM', message, undefined);
  });

  test('ill-formed UTF-8 is reported with its byte offset, line and column', () => {
    rejects(
      () => parseJson(new Uint8Array([0x5b, 0x0a, 0x22, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0x22, 0x5d])),
      'ERR_JSON_INVALID_UTF8',
      'JSON text is not well-formed UTF-8 at byte 5 (line 2, column 4)',
      undefined,
    );
  });

  test('a string input with raw lone surrogates is rejected where they are', () => {
    const message = 'JSON string has a lone surrogate (not well-formed Unicode)';
    rejects(() => parseJson('"\ud800"'), 'ERR_JSON_LONE_SURROGATE', message, '$');
    rejects(() => parseJson('{"a":["x\udc00y"]}'), 'ERR_JSON_LONE_SURROGATE', message, "$['a'][0]");
    // A raw high surrogate followed by an escaped low one is not well-formed text either.
    rejects(() => parseJson('["\ud83d\\ude00"]'), 'ERR_JSON_LONE_SURROGATE', message, '$[0]');
    rejects(() => parseJson('{"\ud800":1}'), 'ERR_JSON_LONE_SURROGATE', 'JSON member name has a lone surrogate (not well-formed Unicode)', '$');
    rejects(() => parseJson('[\ud800]'), 'ERR_JSON_SYNTAX', 'JSON syntax error: expected a value at character 1 (line 1, column 2)', '$[0]');
    // Well-formed pairs elsewhere in the same text do not hide it.
    rejects(() => parseJson('["😀","\udfff"]'), 'ERR_JSON_LONE_SURROGATE', message, '$[1]');
  });
});

describe('options and arguments', () => {
  test('a maxDepth or maxBytes out of range is a RangeError', () => {
    for (const maxDepth of [0, -1, 1.5, 1001, Number.NaN]) {
      assert.throws(() => parseJson('1', { maxDepth }), { name: 'RangeError', message: 'maxDepth must be an integer from 1 to 1000' });
    }
    for (const maxBytes of [-1, 0.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => parseJson('1', { maxBytes }), { name: 'RangeError', message: 'maxBytes must be a non-negative integer' });
    }
  });

  test('input that is neither bytes nor a string is a TypeError', () => {
    assert.throws(() => parseJson(42 as unknown as string), { name: 'TypeError', message: 'parseJson input must be a Uint8Array or a string' });
  });

  test('a Buffer is accepted as bytes', () => {
    assert.deepEqual(parseJson(Buffer.from('{"a":1}')), parseJson('{"a":1}'));
  });
});
