// Surviving mutants that no test can kill because they do not change behaviour, each with the
// reason. A mutant is matched by its file, its mutator, the trimmed source line where it starts and
// its replacement, so the list survives edits elsewhere in the file. TESTING.md lists the same.

export interface EquivalentMutant {
  readonly file: string;
  readonly mutator: string;
  /** The trimmed source line on which the mutated code starts. */
  readonly line: string;
  readonly replacement: string;
  readonly reason: string;
}

const NODE_HASH_UPDATE =
  "node:crypto's Hash.update reads a string as UTF-8 when no encoding (or an empty one) is given and ignores the encoding for byte arrays, so which branch passes 'utf8' changes nothing";


const JCS_SURROGATES =
  'utf8Length is only called by describePosition on text decoded from well-formed UTF-8 (byte offsets are given only for byte input), up to an error position, which never falls inside a surrogate pair: every high surrogate there is followed by a low one and no low surrogate stands alone, so these surrogate tests cannot be told apart';

const JCS_FAST_STRING =
  "the fast path for strings without escapes: where it stops early or is skipped, readEscapedString reads the same string from that point under the same rules, giving the same value and errors, only slower";

export const EQUIVALENT: readonly EquivalentMutant[] = [
  {
    file: 'src/hash/sha256.ts',
    mutator: 'ConditionalExpression',
    line: 'if (nodeCrypto !== undefined) {',
    replacement: 'false',
    reason: 'createSha256 then uses @noble/hashes on Node too: the same digests (checked against node:crypto by test/fips180-sha256.test.ts), only slower',
  },
  {
    file: 'src/hash/sha256.ts',
    mutator: 'BlockStatement',
    line: 'if (nodeCrypto !== undefined) {',
    replacement: '{}',
    reason: 'as above: the empty block falls through to the @noble/hashes incremental hash, same digests',
  },
  ...[
    ['ConditionalExpression', 'true'],
    ['ConditionalExpression', 'false'],
    ['EqualityOperator', "typeof data !== 'string'"],
    ['StringLiteral', 'typeof data === ""'],
    ['StringLiteral', '""'],
  ].map(([mutator, replacement]) => ({
    file: 'src/hash/sha256.ts',
    mutator: mutator!,
    line: "if (typeof data === 'string') hash.update(data, 'utf8');",
    replacement: replacement!,
    reason: NODE_HASH_UPDATE,
  })),
  {
    file: 'src/hash/sha256.ts',
    mutator: 'EqualityOperator',
    line: 'for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);',
    replacement: 'i <= out.length',
    reason: 'the extra write is to out[out.length], past the end of a Uint8Array, which is ignored',
  },
  {
    file: 'src/hash/sha256.ts',
    mutator: 'EqualityOperator',
    line: 'for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;',
    replacement: 'i <= a.length',
    reason: 'the lengths are equal here; the extra step XORs undefined with undefined, which is 0',
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "AssignmentOperator",
    line: "} else bytes += 3;",
    replacement: "bytes -= 3",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "LogicalOperator",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "unit >= 0xd800 && unit <= 0xdbff || index + 1 < end",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "LogicalOperator",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "unit >= 0xd800 || unit <= 0xdbff",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "EqualityOperator",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "index + 1 <= end",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ArithmeticOperator",
    line: "else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < end) {",
    replacement: "index - 1",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "if (next >= 0xdc00 && next <= 0xdfff) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "if (next >= 0xdc00 && next <= 0xdfff) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "LogicalOperator",
    line: "if (next >= 0xdc00 && next <= 0xdfff) {",
    replacement: "next >= 0xdc00 || next <= 0xdfff",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/utf8.ts",
    mutator: "ConditionalExpression",
    line: "if (next >= 0xdc00 && next <= 0xdfff) {",
    replacement: "true",
    reason: JCS_SURROGATES,
  },
  {
    file: "src/jcs/canonicalize.ts",
    mutator: "ConditionalExpression",
    line: "normalized.digitNames || prototypesHaveToJSON() ? writeSorted(tree) : JSON.stringify(tree);",
    replacement: "true",
    reason: "writeSorted gives the same text as JSON.stringify for a normalized tree; choosing it always only skips the faster path",
  },
  {
    file: "src/jcs/canonicalize.ts",
    mutator: "ConditionalExpression",
    line: "typeof (Object.prototype as { toJSON?: unknown }).toJSON === 'function' ||",
    replacement: "true",
    reason: "writeSorted gives the same text as JSON.stringify for a normalized tree; choosing it always only skips the faster path",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "ConditionalExpression",
    line: "value = Array.isArray(container) && container.length < 64 ? container.slice() : container;",
    replacement: "false",
    reason: "the copy of a short array holds the same elements; it only trims the storage push over-allocated (memory, not values)",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "ConditionalExpression",
    line: "value = Array.isArray(container) && container.length < 64 ? container.slice() : container;",
    replacement: "true",
    reason: "the copy of a short array holds the same elements; it only trims the storage push over-allocated (memory, not values)",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "EqualityOperator",
    line: "value = Array.isArray(container) && container.length < 64 ? container.slice() : container;",
    replacement: "container.length <= 64",
    reason: "the copy of a short array holds the same elements; it only trims the storage push over-allocated (memory, not values)",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "EqualityOperator",
    line: "value = Array.isArray(container) && container.length < 64 ? container.slice() : container;",
    replacement: "container.length >= 64",
    reason: "the copy of a short array holds the same elements; it only trims the storage push over-allocated (memory, not values)",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "MethodExpression",
    line: "value = Array.isArray(container) && container.length < 64 ? container.slice() : container;",
    replacement: "container",
    reason: "the copy of a short array holds the same elements; it only trims the storage push over-allocated (memory, not values)",
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "ConditionalExpression",
    line: "while (unit !== 0x22 && unit !== 0x5c && unit >= 0x20) unit = text.charCodeAt(++end);",
    replacement: "false",
    reason: JCS_FAST_STRING,
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "EqualityOperator",
    line: "while (unit !== 0x22 && unit !== 0x5c && unit >= 0x20) unit = text.charCodeAt(++end);",
    replacement: "unit > 0x20",
    reason: JCS_FAST_STRING,
  },
  {
    file: "src/jcs/json-text-parser.ts",
    mutator: "ConditionalExpression",
    line: "if (unit === 0x22) {",
    replacement: "false",
    reason: JCS_FAST_STRING,
  },
  {
    file: "src/jcs/lone-surrogates.ts",
    mutator: "EqualityOperator",
    line: "for (let index = 0; index < value.length; index++) {",
    replacement: "index <= value.length",
    reason: "value[value.length] is undefined, which check() accepts: the extra step changes nothing",
  },
  {
    file: "src/jcs/normalize.ts",
    mutator: "ArrowFunction",
    line: "scratch.names.forEach((names) => (names.length = 0));",
    replacement: "() => undefined",
    reason: "after a failed walk the names slots are overwritten before they are read again; clearing them only drops references to the failed value (no output differs; only heap inspection could tell)",
  },
  {
    file: "src/jcs/normalize.ts",
    mutator: "BlockStatement",
    line: "} finally {",
    replacement: "{}",
    reason: "the scratch pool is then not given back (or a nested call's emptied scratch is), so later calls allocate their own arrays: the same output, only slower",
  },
  {
    file: "src/jcs/normalize.ts",
    mutator: "ConditionalExpression",
    line: "if (pooled) pool = scratch;",
    replacement: "true",
    reason: "the scratch pool is then not given back (or a nested call's emptied scratch is), so later calls allocate their own arrays: the same output, only slower",
  },
  {
    file: "src/jcs/normalize.ts",
    mutator: "ConditionalExpression",
    line: "if (pooled) pool = scratch;",
    replacement: "false",
    reason: "the scratch pool is then not given back (or a nested call's emptied scratch is), so later calls allocate their own arrays: the same output, only slower",
  },
  {
    file: "src/jcs/normalize.ts",
    mutator: "ConditionalExpression",
    line: "for (const name in OBJECT_PROTOTYPE) if (name !== undefined) return true;",
    replacement: "true",
    reason: "for...in never yields undefined, so the condition is always true already",
  },
];
