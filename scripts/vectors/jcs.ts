/**
 * Generates testdata/jcs/*.json (SPEC 3): hand-written cases, expected values written out here,
 * never computed by the code under test. Before a file is written, each case is run through
 * src/jcs and must give the canonical text, or the error code, path and byte offset, written here.
 */
import { JsonError } from '../../src/errors.ts';
import { canonicalize } from '../../src/jcs/canonicalize.ts';
import { parseJson } from '../../src/jcs/parse.ts';
import type { VectorFile } from '../generate-vectors.ts';

type Vector = Record<string, unknown>;

const encoder = new TextEncoder();
const hex = (text: string) => Array.from(encoder.encode(text), (byte) => byte.toString(16).padStart(2, '0')).join('');
// Only non-ASCII results get a hex form: for ASCII it would repeat wantCanonical.
const canonical = (text: string) => (/^[\x20-\x7e]*$/.test(text) ? { wantCanonical: text } : { wantCanonical: text, wantCanonicalHex: hex(text) });

/** JSON text in, canonical text out. */
const ok = (desc: string, spec: string, inputText: string, want: string): Vector => ({ desc, spec, inputText, ...canonical(want) });
/** JSON text in, rejected. `path` is the RFC 9535 normalized path the error must carry. */
const err = (desc: string, spec: string, inputText: string, wantErr: string, path?: string): Vector =>
  path === undefined ? { desc, spec, inputText, wantErr } : { desc, spec, inputText, wantErr, wantErrPath: path };
/** Exact bytes in (hex), rejected; `offset` is the byte offset ERR_JSON_INVALID_UTF8 must name. */
const bytesErr = (desc: string, inputHex: string, wantErr: string, offset?: number): Vector =>
  offset === undefined ? { desc, spec: '3.1', inputHex, wantErr } : { desc, spec: '3.1', inputHex, wantErr, wantErrOffset: offset };
/** An in-process JavaScript value, given as an expression, canonicalized directly. */
const js = (desc: string, jsSource: string, want: string | { err: string; path: string }): Vector =>
  typeof want === 'string'
    ? { desc, spec: '3.5', jsSource, ...canonical(want) }
    : { desc, spec: '3.5', jsSource, wantErr: want.err, wantErrPath: want.path };

const file = (path: string, desc: string, spec: string, vectors: Vector[]): VectorFile => {
  for (const vector of vectors) verify(vector);
  return { path: `jcs/${path}`, content: { desc, spec, generated: true, vectors } };
};

/** What src/jcs gives for a vector's input: the canonical text, or the error it reports. */
function outcome(vector: Vector): Vector {
  try {
    if (typeof vector['inputHex'] === 'string') {
      const bytes = Uint8Array.from((vector['inputHex'] as string).match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
      return { wantCanonical: canonicalize(parseJson(bytes)) };
    }
    if (typeof vector['inputText'] === 'string') return { wantCanonical: canonicalize(parseJson(vector['inputText'] as string)) };
    if (typeof vector['jsSource'] === 'string') {
      const make = new Function(`return (${vector['jsSource']});`) as () => unknown;
      return { wantCanonical: canonicalize(make()) };
    }
    return { wantCanonical: canonicalize(vector['input']) };
  } catch (error) {
    if (!(error instanceof JsonError)) throw error;
    const offset = /at byte (\d+) \(/.exec(error.message);
    return { wantErr: error.code, wantErrPath: error.path, wantErrOffset: offset === null ? undefined : Number(offset[1]) };
  }
}

/** Fails generation when src/jcs does not give a case the outcome written for it. */
function verify(vector: Vector): void {
  const actual = outcome(vector);
  for (const key of ['wantCanonical', 'wantErr', 'wantErrPath', 'wantErrOffset']) {
    if (key in vector && actual[key] !== vector[key]) {
      throw new Error(`vector "${String(vector['desc'])}": intended ${key} ${JSON.stringify(vector[key])}, got ${JSON.stringify(actual)}`);
    }
  }
  if (('wantErr' in vector) !== ('wantErr' in actual)) throw new Error(`vector "${String(vector['desc'])}": got ${JSON.stringify(actual)}`);
}

const nested = (open: string, close: string, depth: number, inner = '') => open.repeat(depth) + inner + close.repeat(depth);
const zeros = (count: number) => '[0]'.repeat(count);
const names = (name: string, count: number) => `['${name}']`.repeat(count);

function numbers(): Vector[] {
  const UNSAFE = 'ERR_JSON_UNSAFE_INTEGER';
  const NON_FINITE = 'ERR_JSON_NON_FINITE';
  return [
    ok('zero', '3.4', '0', '0'),
    ok('negative zero parses to -0 and is written 0 (RFC 8785 3.2.2.3)', '3.4', '-0', '0'),
    ok('negative zero with a fraction', '3.4', '-0.0', '0'),
    ok('zero with an exponent', '3.4', '0e10', '0'),
    ok('a trailing zero fraction is dropped', '3.4', '1.0', '1'),
    ok('exponent, capital E', '3.4', '1E2', '100'),
    ok('exponent with a plus sign', '3.4', '1e+2', '100'),
    ok('negative exponent giving an integer', '3.4', '100e-2', '1'),
    ok('a short fraction', '3.4', '0.1', '0.1'),
    ok('a negative fraction', '3.4', '-1.5', '-1.5'),
    ok('trailing zero in a fraction', '3.4', '4.50', '4.5'),
    ok('small number in plain notation', '3.4', '2e-3', '0.002'),
    ok('1e-6 is the smallest written without an exponent', '3.4', '1e-6', '0.000001'),
    ok('1e-7 is written with an exponent', '3.4', '1e-7', '1e-7'),
    ok('exponent form keeps all significant digits', '3.4', '0.0000001234', '1.234e-7'),
    ok('exponent normalized', '3.4', '123e-20', '1.23e-18'),
    ok('smallest subnormal', '3.4', '5e-324', '5e-324'),
    ok('4e-324 reads as the smallest subnormal', '3.4', '4e-324', '5e-324'),
    ok('underflow to zero is accepted (the value is 0)', '3.4', '1e-400', '0'),
    ok('negative underflow to -0 is written 0', '3.4', '-1e-400', '0'),
    ok('smallest normal', '3.4', '2.2250738585072014e-308', '2.2250738585072014e-308'),
    ok('more digits than a double holds: rounded when read', '3.4', '3.141592653589793238462643383279', '3.141592653589793'),
    ok('shortest round-trip digits', '3.4', '0.30000000000000004', '0.30000000000000004'),
    ok('digits beyond 17 significant are rounded', '3.4', '123456789.123456789', '123456789.12345679'),
    ok('largest safe integer', '3.2', '9007199254740991', '9007199254740991'),
    ok('smallest safe integer', '3.2', '-9007199254740991', '-9007199254740991'),
    ok('1e15 is written in full', '3.4', '1e15', '1000000000000000'),
    ok('a tie is rounded to even (RFC 8785 appendix B note 4)', '3.4', '1424953923781206.25', '1424953923781206.2'),
    ok('a 64-bit seed travels as a string', '3.2', '{"seed":"18446744073709551615"}', '{"seed":"18446744073709551615"}'),
    err('overflow to Infinity', '3.2', '1E400', NON_FINITE, '$'),
    err('overflow to -Infinity', '3.2', '-1e400', NON_FINITE, '$'),
    err('overflow inside an array', '3.2', '[1.8e308]', NON_FINITE, '$[0]'),
    err('2^53 is not a safe integer', '3.2', '9007199254740992', UNSAFE, '$'),
    err('-2^53 is not a safe integer', '3.2', '-9007199254740992', UNSAFE, '$'),
    err('2^53+1 reads as 2^53', '3.2', '9007199254740993', UNSAFE, '$'),
    err('a fraction that reads as 2^53', '3.2', '9007199254740991.5', UNSAFE, '$'),
    err('1e20 is an unsafe integer', '3.2', '1e20', UNSAFE, '$'),
    err('1e21 is an unsafe integer', '3.2', '1e21', UNSAFE, '$'),
    err('every double from 2^53 up is an integer: 1.5e300', '3.2', '1.5e300', UNSAFE, '$'),
    err('largest double', '3.2', '1.7976931348623157e308', UNSAFE, '$'),
    err('a 64-bit seed as a number is rejected: send it as a string', '3.2', '{"seed":18446744073709551615}', UNSAFE, "$['seed']"),
  ];
}

function strings(): Vector[] {
  return [
    ok('control characters without a short escape: lowercase \\u00xx', '3.4', '"\\u0000\\u001F\\u000B"', '"\\u0000\\u001f\\u000b"'),
    ok('control characters with a short escape', '3.4', '"\\u0008\\u0009\\u000a\\u000C\\u000d"', '"\\b\\t\\n\\f\\r"'),
    ok('escaped solidus is written plainly', '3.4', '"\\/"', '"/"'),
    ok('quote and backslash stay escaped', '3.4', '"\\u0022\\u005C"', '"\\"\\\\"'),
    ok('escaped non-ASCII is written as UTF-8', '3.4', '"\\u00e9"', '"é"'),
    ok('uppercase hex digits in an escape', '3.4', '"\\u00E9"', '"é"'),
    ok('raw non-ASCII is kept', '3.4', '"é"', '"é"'),
    ok('DEL (U+007F) is not escaped', '3.4', '"\\u007f"', '"\u007f"'),
    ok('U+2028 and U+2029 are not escaped', '3.4', '"\\u2028\\u2029"', '"\u2028\u2029"'),
    ok('an escaped surrogate pair is one character', '3.4', '"\\ud83d\\ude00"', '"😀"'),
    ok('an escaped surrogate pair, uppercase', '3.4', '"\\uD83D\\uDE00"', '"😀"'),
    ok('the highest code point', '3.4', '"\\udbff\\udfff"', '"\u{10ffff}"'),
    ok('NFC e-acute is kept as U+00E9', '3.1', '"\\u00e9"', '"\u00e9"'),
    ok('NFD e + combining acute is kept as two code points (never normalized)', '3.1', '"e\\u0301"', '"e\u0301"'),
    ok('Hangul jamo (NFD) are kept', '3.1', '"\\u1100\\u1161"', '"\u1100\u1161"'),
    ok('U+FEFF inside a string is data, not a byte order mark', '3.1', '"\\ufeff"', '"\ufeff"'),
    ok('a noncharacter (U+FFFF) is kept', '3.2', '"\\uffff"', '"\uffff"'),
    ok('a backslash followed by "ud" is ordinary text', '3.4', '"C:\\\\udir"', '"C:\\\\udir"'),
    ok('whitespace around the value is dropped', '3.1', ' {"a":[1,"b"]} ', '{"a":[1,"b"]}'),
    ok('all four whitespace characters between tokens', '3.1', '\n\t{ "a" :\r\n[ 1 , "b" ] }\r\n', '{"a":[1,"b"]}'),
    ok('escaped member name and string', '3.1', '{"\\u0061":[1,"\\u0062"]}', '{"a":[1,"b"]}'),
    ok('the number written 1.0', '3.1', '{"a":[1.0,"b"]}', '{"a":[1,"b"]}'),
    ok('the number written 10e-1', '3.1', '{"a":[10e-1,"b"]}', '{"a":[1,"b"]}'),
    ok('empty containers with whitespace', '3.1', '[ [ ] , { } ]', '[[],{}]'),
    ok('literals', '3.4', ' [true , false,null] ', '[true,false,null]'),
  ];
}

function keyOrder(): Vector[] {
  return [
    ok('names are sorted', '3.4', '{"b":1,"a":2}', '{"a":2,"b":1}'),
    ok('the empty name sorts first', '3.4', '{"a":1,"":2}', '{"":2,"a":1}'),
    ok('a prefix sorts before longer names', '3.4', '{"ab":1,"aa":2,"a":3}', '{"a":3,"aa":2,"ab":1}'),
    ok('code unit order is case-sensitive: B < _ < a', '3.4', '{"a":1,"_":2,"B":3}', '{"B":3,"_":2,"a":1}'),
    ok('integer-like names sort as strings: "-1" < "1" < "10" < "9"', '3.4', '{"9":1,"10":2,"1":3,"a":4,"-1":5}', '{"-1":5,"1":3,"10":2,"9":1,"a":4}'),
    ok('a surrogate pair (U+1F600) sorts before U+E000', '3.4', '{"\\ue000":1,"\\ud83d\\ude00":2}', '{"😀":2,"\ue000":1}'),
    ok('U+10000 sorts before U+FFFF', '3.4', '{"\\uffff":1,"\\ud800\\udc00":2}', '{"\u{10000}":2,"\uffff":1}'),
    ok('two emoji compare by their low surrogates', '3.4', '{"🚀":1,"😀":2}', '{"😀":2,"🚀":1}'),
    ok('NFC and NFD names are distinct and sort by code units', '3.4', '{"e\\u0301":1,"\\u00e9":2,"e":3,"f":4}', '{"e":3,"e\u0301":1,"f":4,"\u00e9":2}'),
    ok('non-ASCII after ASCII', '3.4', '{"\\u00f6":1,"z":2}', '{"z":2,"ö":1}'),
    ok('names compare after unescaping: tab < newline', '3.4', '{"\\n":1,"\\u0009":2}', '{"\\t":2,"\\n":1}'),
    ok('a NUL code unit makes a longer name', '3.4', '{"a\\u0000":1,"a":2}', '{"a":2,"a\\u0000":1}'),
    ok('sorting is recursive; arrays keep their order', '3.4', '{"z":[{"b":1,"a":2},{"d":3,"c":4}],"a":{"y":1,"x":2}}', '{"a":{"x":2,"y":1},"z":[{"a":2,"b":1},{"c":4,"d":3}]}'),
    ok('"__proto__" is an ordinary name', '3.4', '{"__proto__":{"b":1,"a":2},"a":2,"_":3}', '{"_":3,"__proto__":{"a":2,"b":1},"a":2}'),
    { desc: 'a parsed value: names sorted', spec: '3.4', input: { role: 'user', content: 'hi', name: 'x' }, ...canonical('{"content":"hi","name":"x","role":"user"}') },
  ];
}

function rejections(): Vector[] {
  const [SYNTAX, TRUNCATED, TRAILING, DUPLICATE, LONE] = [
    'ERR_JSON_SYNTAX',
    'ERR_JSON_TRUNCATED',
    'ERR_JSON_TRAILING_DATA',
    'ERR_JSON_DUPLICATE_KEY',
    'ERR_JSON_LONE_SURROGATE',
  ];
  const UTF8 = 'ERR_JSON_INVALID_UTF8';
  return [
    err('empty text', '3.1', '', TRUNCATED),
    err('only whitespace', '3.1', ' \n\t', TRUNCATED),
    err('array not closed', '3.1', '[1,2', TRUNCATED),
    err('member without a value', '3.1', '{"a":', TRUNCATED),
    err('member name without a colon', '3.1', '{"a"', TRUNCATED),
    err('string not closed', '3.1', '"abc', TRUNCATED),
    err('escape cut short', '3.1', '"\\u12', TRUNCATED),
    err('literal cut short', '3.1', 'tru', TRUNCATED),
    err('a lone minus sign', '3.1', '-', TRUNCATED),
    err('fraction without digits at the end', '3.1', '1.', TRUNCATED),
    err('exponent without digits at the end', '3.1', '1e+', TRUNCATED),
    err('trailing comma in an object', '3.1', '{"a":1,}', SYNTAX),
    err('trailing comma in an array', '3.1', '[1,]', SYNTAX),
    err('leading comma', '3.1', '[,1]', SYNTAX),
    err('unquoted member name', '3.1', '{a:1}', SYNTAX),
    err('single-quoted string', '3.1', "{'a':1}", SYNTAX),
    err('leading zero', '3.1', '[01]', SYNTAX),
    err('plus sign', '3.1', '[+1]', SYNTAX),
    err('fraction without integer part', '3.1', '[.5]', SYNTAX),
    err('decimal point without fraction digits', '3.1', '[1.e5]', SYNTAX),
    err('NaN is not JSON', '3.1', '[NaN]', SYNTAX),
    err('Infinity is not JSON', '3.1', '[Infinity]', SYNTAX),
    err('literals are lowercase', '3.1', '[True]', SYNTAX),
    err('unknown escape', '3.1', '"\\x41"', SYNTAX),
    err('escape letters are lowercase', '3.1', '"\\U0041"', SYNTAX),
    err('non-hex digit in \\u', '3.1', '"\\u00G0"', SYNTAX),
    err('raw tab inside a string', '3.1', '"a\tb"', SYNTAX),
    err('raw line feed inside a string', '3.1', '"a\nb"', SYNTAX),
    err('missing comma', '3.1', '[1 2]', SYNTAX),
    err('missing colon', '3.1', '{"a" 1}', SYNTAX),
    err('comments are not JSON', '3.1', '/*c*/1', SYNTAX),
    err('no-break space is not whitespace', '3.1', '\u00a01', SYNTAX),
    err('a second value', '3.1', '1 2', TRAILING, '$'),
    err('two objects', '3.1', '{}{}', TRAILING, '$'),
    err('an extra closing bracket', '3.1', '[1]]', TRAILING, '$'),
    err('letters after a literal', '3.1', 'nullx', TRAILING, '$'),
    err('vertical tab is not whitespace', '3.1', '[1]\u000b', TRAILING, '$'),
    bytesErr('NUL after the value', '3100', TRAILING),
    bytesErr('UTF-8 byte order mark before an object', 'efbbbf7b7d', 'ERR_JSON_BOM'),
    bytesErr('UTF-8 byte order mark alone', 'efbbbf', 'ERR_JSON_BOM'),
    bytesErr('overlong 2-byte form of "/"', '22c0af22', UTF8, 1),
    bytesErr('overlong 3-byte form', '22e080af22', UTF8, 1),
    bytesErr('overlong 4-byte form', '22f08080af22', UTF8, 1),
    bytesErr('UTF-8-encoded surrogate U+D800', '22eda08022', UTF8, 1),
    bytesErr('UTF-8-encoded surrogate U+DFFF', '22edbfbf22', UTF8, 1),
    bytesErr('code point above U+10FFFF', '22f490808022', UTF8, 1),
    bytesErr('F5 never starts a sequence', '22f580808022', UTF8, 1),
    bytesErr('FF never appears', '22ff22', UTF8, 1),
    bytesErr('stray continuation byte', '228022', UTF8, 1),
    bytesErr('3-byte sequence cut by the end of input', '22e282', UTF8, 1),
    bytesErr('3-byte sequence cut by a quote', '22e28222', UTF8, 1),
    bytesErr('2-byte sequence cut by a quote', '22c322', UTF8, 1),
    bytesErr('ill-formed after well-formed non-ASCII: offset counts bytes', '7b2261223a22c3a9c3227d', UTF8, 8),
    bytesErr('ill-formed outside a string is still a UTF-8 error', '5b312cff5d', UTF8, 3),
    bytesErr('offset on the third line', '0a0a22c122', UTF8, 3),
    err('duplicate member name', '3.2', '{"a":1,"a":2}', DUPLICATE, "$['a']"),
    err('duplicate after unescaping', '3.2', '{"a":1,"\\u0061":2}', DUPLICATE, "$['a']"),
    err('duplicate with an equal value is still a duplicate', '3.2', '{"x":{"b":1,"b":1}}', DUPLICATE, "$['x']['b']"),
    err('duplicate inside an array element', '3.2', '[{"a":1},{"a":1,"a":null}]', DUPLICATE, "$[1]['a']"),
    err('duplicate "__proto__"', '3.2', '{"__proto__":1,"__proto__":2}', DUPLICATE, "$['__proto__']"),
    err('duplicate: escaped pair and raw emoji', '3.2', '{"\\ud83d\\ude00":1,"😀":2}', DUPLICATE, "$['😀']"),
    err('lone high surrogate', '3.2', '"\\ud800"', LONE, '$'),
    err('lone low surrogate', '3.2', '"\\udc00"', LONE, '$'),
    err('high surrogate followed by a letter', '3.2', '"\\ud800x"', LONE, '$'),
    err('surrogates in the wrong order', '3.2', '"\\ude00\\ud83d"', LONE, '$'),
    err('high surrogate followed by an escaped non-surrogate', '3.2', '"\\ud83d\\u0041"', LONE, '$'),
    err('high surrogate followed by an escaped backslash', '3.2', '"\\ud83d\\\\ude00"', LONE, '$'),
    err('lone surrogate in an array element', '3.2', '["ok","\\udfff"]', LONE, '$[1]'),
    err('lone surrogate in a member name: the path is the object', '3.2', '{"\\ud800":1}', LONE, '$'),
    err('lone surrogate in a nested member name', '3.2', '{"a":{"b\\udc00":1}}', LONE, "$['a']"),
    ok('128 nested arrays: at the limit', '3.3', nested('[', ']', 128), nested('[', ']', 128)),
    err('129 nested arrays', '3.3', nested('[', ']', 129), 'ERR_JSON_TOO_DEEP', `$${zeros(128)}`),
    err('129 nested objects', '3.3', nested('{"a":', '}', 128, '{}'), 'ERR_JSON_TOO_DEEP', `$${names('a', 128)}`),
    err('10000 unclosed arrays: the depth limit comes first', '3.3', '['.repeat(10000), 'ERR_JSON_TOO_DEEP', `$${zeros(128)}`),
    err('several faults: a number that overflows is met before the text ends', '3.1', '[[[1e400', 'ERR_JSON_NON_FINITE', '$[0][0][0]'),
    err('several faults: a duplicate name is met before its value\'s lone surrogate', '3.1', '{"a":1,"a":"\\ud800"}', DUPLICATE, "$['a']"),
    err('several faults: a lone surrogate is met before a trailing comma', '3.1', '["\\ud800",]', LONE, '$[0]'),
    err('several faults: a syntax error is met before a later unsafe integer', '3.1', '[01, 9007199254740992]', SYNTAX),
  ];
}

function inProcess(): Vector[] {
  const [UNSUPPORTED, DEEP] = ['ERR_JSON_UNSUPPORTED_VALUE', 'ERR_JSON_TOO_DEEP'];
  return [
    js('undefined member omitted, -0 written 0, Date through toJSON', '({a: undefined, b: -0, d: new Date(0)})', '{"b":0,"d":"1970-01-01T00:00:00.000Z"}'),
    js('undefined at the top', 'undefined', { err: UNSUPPORTED, path: '$' }),
    js('undefined as an array element', '[1, undefined]', { err: UNSUPPORTED, path: '$[1]' }),
    js('an array hole', '[1, , 3]', { err: UNSUPPORTED, path: '$[1]' }),
    js('a function member (JSON.stringify would drop it)', '({f: function () {}})', { err: UNSUPPORTED, path: "$['f']" }),
    js('an arrow function element', '[1, () => 1]', { err: UNSUPPORTED, path: '$[1]' }),
    js('a symbol value', '[Symbol("s")]', { err: UNSUPPORTED, path: '$[0]' }),
    js('symbol-keyed members are ignored', '({[Symbol("s")]: 1, a: 1})', '{"a":1}'),
    js('non-enumerable members are ignored', 'Object.defineProperty({a: 1}, "hidden", {value: 2, enumerable: false})', '{"a":1}'),
    js('a BigInt: send 64-bit integers as strings', '({n: 1n})', { err: UNSUPPORTED, path: "$['n']" }),
    js('a boxed BigInt', '({n: Object(1n)})', { err: UNSUPPORTED, path: "$['n']" }),
    js('toJSON receives the member name', '({t: {toJSON(key) { return key + "!"; }}})', '{"t":"t!"}'),
    js('toJSON receives the array index as a string', '[{toJSON(key) { return typeof key + ":" + key; }}]', '["string:0"]'),
    js('toJSON at the top receives ""', '({toJSON(key) { return [key]; }})', '[""]'),
    js('toJSON result is processed: names sorted', '({toJSON() { return {b: 1, a: 2}; }})', '{"a":2,"b":1}'),
    js('toJSON returning undefined omits a member', '({a: {toJSON() { return undefined; }}, b: 1})', '{"b":1}'),
    js('toJSON returning undefined in an array', '[{toJSON() { return undefined; }}]', { err: UNSUPPORTED, path: '$[0]' }),
    js('boxed primitives are unwrapped', '[new Number(1.5), new String("s"), new Boolean(true)]', '[1.5,"s",true]'),
    js('NaN', '({x: NaN})', { err: 'ERR_JSON_NON_FINITE', path: "$['x']" }),
    js('Infinity', '[Infinity]', { err: 'ERR_JSON_NON_FINITE', path: '$[0]' }),
    js('-Infinity', '[1, -Infinity]', { err: 'ERR_JSON_NON_FINITE', path: '$[1]' }),
    js('2^53', '[2 ** 53]', { err: 'ERR_JSON_UNSAFE_INTEGER', path: '$[0]' }),
    js('a boxed unsafe integer', '({n: new Number(-(2 ** 53))})', { err: 'ERR_JSON_UNSAFE_INTEGER', path: "$['n']" }),
    js('safe numbers', '[2 ** 53 - 1, -0, 0.1 + 0.2, 1e-7]', '[9007199254740991,0,0.30000000000000004,1e-7]'),
    js('a Map', 'new Map([[1, 2]])', { err: UNSUPPORTED, path: '$' }),
    js('a Set member', '({s: new Set()})', { err: UNSUPPORTED, path: "$['s']" }),
    js('a typed array', 'new Uint8Array(2)', { err: UNSUPPORTED, path: '$' }),
    js('a RegExp', '({r: /x/})', { err: UNSUPPORTED, path: "$['r']" }),
    js('a class instance', 'new (class Point { constructor() { this.x = 1; } })()', { err: UNSUPPORTED, path: '$' }),
    js('a class instance with toJSON', 'new (class Point { constructor() { this.x = 1; } toJSON() { return {x: this.x}; } })()', '{"x":1}'),
    js('an object whose prototype is another object', 'Object.create({inherited: 1})', { err: UNSUPPORTED, path: '$' }),
    js('a null-prototype object', 'Object.assign(Object.create(null), {b: 1, a: 2})', '{"a":2,"b":1}'),
    js('an object that contains itself', '(() => { const a = {}; a.self = a; return a; })()', { err: 'ERR_JSON_CYCLE', path: "$['self']" }),
    js('an array cycle through an object', '(() => { const a = [1]; a.push({x: a}); return a; })()', { err: 'ERR_JSON_CYCLE', path: "$[1]['x']" }),
    js('a shared object that is not a cycle', '(() => { const s = {v: 1}; return {a: s, b: [s]}; })()', '{"a":{"v":1},"b":[{"v":1}]}'),
    js('129 nested arrays', '(() => { let v = 1; for (let i = 0; i < 129; i++) v = [v]; return v; })()', { err: DEEP, path: `$${zeros(128)}` }),
    js('a 100000-deep object chain', '(() => { let v = {}; for (let i = 0; i < 100000; i++) v = {a: v}; return v; })()', { err: DEEP, path: `$${names('a', 128)}` }),
    js('a lone surrogate in a string', '({s: "x\\uD800"})', { err: 'ERR_JSON_LONE_SURROGATE', path: "$['s']" }),
    js('a lone surrogate in a member name: the path is the object', '({a: {["k\\uDC00"]: 1}})', { err: 'ERR_JSON_LONE_SURROGATE', path: "$['a']" }),
    js('a boxed string with a lone surrogate', '[new String("\\uDFFF")]', { err: 'ERR_JSON_LONE_SURROGATE', path: '$[0]' }),
    js('"__proto__" as an own member', '({["__proto__"]: {b: 1, a: 2}, a: 1})', '{"__proto__":{"a":2,"b":1},"a":1}'),
    js('an invalid Date becomes null through toJSON', '({d: new Date(NaN)})', '{"d":null}'),
    js('integer-like names in UTF-16 order', '({10: "a", 9: "b", x: "c", 1: "d"})', '{"1":"d","10":"a","9":"b","x":"c"}'),
    js('undefined inside a nested member', '[{a: 1, b: undefined}]', '[{"a":1}]'),
    js('getters are read, as JSON.stringify reads them', '({get a() { return 2; }})', '{"a":2}'),
    js('strings are never normalized', '["\\u00e9", "e\\u0301"]', '["\u00e9","e\u0301"]'),
  ];
}

export function generate(): VectorFile[] {
  return [
    file('numbers.json', 'RFC 8785 number serialization and the I-JSON number rules: non-finite and unsafe integers rejected', '3.4', numbers()),
    file('strings.json', 'String serialization, no Unicode normalization, and whitespace or escape variants that canonicalize identically', '3.4', strings()),
    file('key-order.json', 'Member names sorted by UTF-16 code units (RFC 8785 section 3.2.3)', '3.4', keyOrder()),
    file(
      'rejections.json',
      'Input text runprint rejects: syntax, truncation, trailing data, byte order mark, ill-formed UTF-8 (wantErrOffset is the byte offset), duplicates, lone surrogates, depth (wantErrPath is the RFC 9535 normalized path)',
      '3.1',
      rejections(),
    ),
    file(
      'in-process.json',
      'In-process JavaScript values: jsSource is an expression the test evaluates and canonicalizes directly (JavaScript implementations only)',
      '3.5',
      inProcess(),
    ),
  ];
}
