// Surviving mutants that no test can kill because they do not change behaviour, each with the
// reason. A mutant is matched by its file, its mutator, the trimmed source line where it starts and
// its replacement (and, where a line has several mutants of the same kind, the source text it
// replaces), so the list survives edits elsewhere in the file. TESTING.md lists the same.

export interface EquivalentMutant {
  readonly file: string;
  readonly mutator: string;
  /** The trimmed source line on which the mutated code starts. */
  readonly line: string;
  readonly replacement: string;
  /** The source text the mutant replaces; when given, only that mutant of the line matches. */
  readonly original?: string;
  readonly reason: string;
}

const NODE_HASH_UPDATE =
  "node:crypto's Hash.update reads a string as UTF-8 when no encoding (or an empty one) is given and ignores the encoding for byte arrays, so which branch passes 'utf8' changes nothing";


const JCS_SURROGATES =
  'utf8Length is only called by describePosition on text decoded from well-formed UTF-8 (byte offsets are given only for byte input), up to an error position, which never falls inside a surrogate pair: every high surrogate there is followed by a low one and no low surrogate stands alone, so these surrogate tests cannot be told apart';

const JCS_FAST_STRING =
  "the fast path for strings without escapes: where it stops early or is skipped, readEscapedString reads the same string from that point under the same rules, giving the same value and errors, only slower";

const MERKLE_FAST_PATH = 'a fast path only: the other branch computes the same SHA-256 over the same bytes, with one more allocation';

const MERKLE_POWER_OF_TWO =
  'isPowerOfTwo is only called with oldSize >= 1 (0 returns earlier); an odd number above 1 halved is never exactly 1, so halving it on (or stopping at 1 either way) gives the same answer';

const MERKLE_INNER_SHIFT =
  'the inner shift of step 4b/6b starts with fn odd or fn === sn > 0 (sn === 0 was refused just before), and halving a positive even number reaches an odd one before 0, so fn is never 0 there';

const RECEIPT_PARSE_ERRORS =
  'parseJson is called here with text or bytes and valid options, so every failure it raises is a JsonError (a RunprintError): the other branch is never taken';

const RECEIPT_NOTE_INVALID =
  'verifyTlogProof never raises ERR_LOG_NOTE_INVALID: parseTlogProof turns a checkpoint that is not a signed note into ERR_LOG_TLOG_PROOF_INVALID, and the parsed note is then only verified, never parsed again';

const RECEIPT_UNKNOWN_STEP =
  'the two checks back each other up: an error with no step has failed === undefined and steps.indexOf(undefined) === -1, and the only step that can be missing from the list (log-witnesses, without witnesses) is never failed: with no witnesses no cosignature is checked and the threshold is 0';

const RECEIPT_TIMES =
  'with one of the two times absent, Date.parse(undefined) is NaN and a comparison with NaN is false, so the order check cannot fail either way';

const RECEIPT_HEX_TABLE =
  'bytesOf only reads 64 lowercase hex digits the predicate reader has checked: the table entries outside 0-9a-f, index 16 of the digit string (NaN, ignored by a typed array) and a 33rd byte (past the end of a 32-byte Uint8Array) are never read or kept';

const IDENTITY_LIST_KIND =
  'computeIdentity gives an entry of kind "list" exactly for the names in LIST_COMPONENTS, so the kinds and the name test always agree';

const IDENTITY_DIFF_SAME =
  'diffValue reports nothing for two equal values (objects and arrays recurse, scalars are compared), so calling it also where nothing differs only costs time';

const IDENTITY_CODE_UNITS =
  'Object.keys never gives a name twice, so a comparison of equal names never happens; and V8 sorts by asking only whether the comparator is below 0, so 0 and 1 for a > b order the same (checked on 200 random lists of 2 to 80 names)';

const LOG_COSIGNER_PLUS =
  "without the two '+' checks, the slices make the name, the key ID and the base64 key overlap the whole text: the key ID would have to be 8 hex digits inside the base64 of the very key whose SHA-256 it is, with a key name in front; no test can build such a key (a 2^-32 chance per key, on top of the text decoding to 0x04 and 32 bytes), and every other text is still refused by the name, key ID or base64 checks. Not strictly equivalent, but undetectable in practice";

const LOG_DECODER_STRICT =
  "decodeBase64 itself refuses anything but standard padded base64, so text before or after the base64 that the unanchored pattern lets through is refused there, with the same message";

const SIGNING_OPEN_PUBLISH =
  "open() publishes when the storage holds more entries than the last checkpoint; with no checkpoint (size -1) the storage's size (0 or more) is always more, so the `size < 0` half decides nothing, and a publish with nothing new returns before signing (the note in hand is the stored one, the size is not larger)";

const SIGNING_NO_CHECKPOINT_NOTE =
  "the note of the 'no checkpoint yet' placeholder is never served: open() then always publishes, and that publish either stores the empty tree's checkpoint, or reads the one another process stored first (saveCheckpoint returns false only then), or fails and open() fails";

const SIGNING_TILES_CHECK_TWICE =
  "with check 'full' (the only other value) every stored hash, and SQLite's kept subtree hashes, were just recomputed by checkHashes; checkHashesAfter recomputes a subset of them again and finds nothing more";

const SIGNING_TIMER_THEN_CLOSED_BROKEN =
  '#schedulePublish itself returns when the log is closed or broken, so skipping this early return only reads the storage size once more (or fails to, and the catch calls #schedulePublish, which returns the same way)';

const SIGNING_FROM_EMPTY_TREE =
  "a tree of size 0 is extended by every tree: consistencyProofFromTiles(0, n) is empty and verifyConsistency(0, ...) accepts an empty proof, so skipping the check from size 0 changes nothing";

const SIGNING_RELOAD_SAME_NOTE =
  'the stored note equal to the one in hand verifies and parses to the same checkpoint, and #setLatest with the same size and note releases no waiter the last one did not; only slower';

const SIGNING_RELOAD_SIZE =
  "the storage keeps one checkpoint per size (its primary key) and only adds larger ones (saveCheckpoint is a compare-and-set on the largest size), and the checkpoint in hand was read from or stored in it: the largest stored one is never smaller, and at the same size it is the same note, which the test before this one already skips";

const SIGNING_SET_LATEST_SMALLER =
  "#setLatest is never given a smaller checkpoint: #reload passes only a stored one at least as large as the one in hand, and #publish one larger than the one it read, stored by compare-and-set over that size (had another process stored a larger one since, the store would have failed)";

const SIGNING_WAITERS_EARLY =
  "a waiter released before a checkpoint covers its entry only wakes waitForCheckpoint's loop, which reads the checkpoint again (fresh: not re-read), sees the entry uncovered and waits again; released waiters left in the list are released again by a later checkpoint or close(), and done() then clears a cleared timer and resolves a settled promise, so no caller sees a difference (the list only holds more until then)";

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
  {
    file: "src/merkle/consistency.ts",
    mutator: "ConditionalExpression",
    line: "if (oldSize === 0 || oldSize === newSize) return [];",
    replacement: "false",
    original: "oldSize === newSize",
    reason: "with equal sizes the loop below stops at once (m === end - start) with complete still true, so it returns [] as well",
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "ConditionalExpression",
    line: "if (proof.length === 0) return false;",
    replacement: "false",
    original: "proof.length === 0",
    reason: "step 1 is implied by step 7: with no proof hashes the path is [oldRoot] (a power of two, where fn shifts to 0 and sn stays >= 1 as newSize > oldSize) or empty (fn stays even and > 0, so sn >= fn > 0), and sn === 0 fails",
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "ConditionalExpression",
    line: "while (fn % 2 === 0 && fn !== 0) {",
    replacement: "true",
    original: "fn !== 0",
    reason: MERKLE_INNER_SHIFT,
  },
  {
    file: "src/merkle/inclusion.ts",
    mutator: "ConditionalExpression",
    line: "while (fn % 2 === 0 && fn !== 0) {",
    replacement: "true",
    original: "fn !== 0",
    reason: MERKLE_INNER_SHIFT,
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "LogicalOperator",
    line: "while (value > 1 && value % 2 === 0) value /= 2;",
    replacement: "value > 1 || value % 2 === 0",
    reason: MERKLE_POWER_OF_TWO,
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "ConditionalExpression",
    line: "while (value > 1 && value % 2 === 0) value /= 2;",
    replacement: "true",
    original: "value > 1",
    reason: MERKLE_POWER_OF_TWO,
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "ConditionalExpression",
    line: "while (value > 1 && value % 2 === 0) value /= 2;",
    replacement: "true",
    original: "value % 2 === 0",
    reason: MERKLE_POWER_OF_TWO,
  },
  {
    file: "src/merkle/consistency.ts",
    mutator: "EqualityOperator",
    line: "while (value > 1 && value % 2 === 0) value /= 2;",
    replacement: "value >= 1",
    reason: MERKLE_POWER_OF_TWO,
  },
  {
    file: "src/merkle/inclusion.ts",
    mutator: "ConditionalExpression",
    line: "if (leafHash.length !== 32 || rootHash.length !== 32) return false;",
    replacement: "false",
    original: "rootHash.length !== 32",
    reason: "the leaf hash is 32 bytes here and every hashChildren result is 32 bytes, so a root of another length fails equalBytes' length check at step 5 anyway",
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "ArithmeticOperator",
    line: "const leafInput = new Uint8Array(64 * 1024);",
    replacement: "64 / 1024",
    reason: "the reused leaf buffer then has length 0, so every leaf takes the allocating branch: the same digest, only slower",
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "ConditionalExpression",
    line: "const input = leaf.length < leafInput.length ? leafInput.subarray(0, leaf.length + 1) : new Uint8Array(leaf.length + 1);",
    replacement: "false",
    reason: MERKLE_FAST_PATH,
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "ConditionalExpression",
    line: "if (left.length !== 32 || right.length !== 32) {",
    replacement: "true",
    original: "left.length !== 32 || right.length !== 32",
    reason: MERKLE_FAST_PATH,
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "ArrayDeclaration",
    line: "const heights: number[] = [];",
    replacement: "[\"Stryker was here\"]",
    reason: "a string at the bottom of the heights stack never equals a number, so it acts as the empty stack does; the roots come from the node stack alone",
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "ConditionalExpression",
    line: "while (heights.length > 0 && heights[heights.length - 1] === height) {",
    replacement: "true",
    original: "heights.length > 0",
    reason: "on an empty stack heights[-1] is undefined, which never equals a height, so the length test changes nothing",
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "EqualityOperator",
    line: "while (heights.length > 0 && heights[heights.length - 1] === height) {",
    replacement: "heights.length >= 0",
    reason: "on an empty stack heights[-1] is undefined, which never equals a height, so the length test changes nothing",
  },
  {
    file: "src/merkle/rfc6962.ts",
    mutator: "UpdateOperator",
    line: "height++;",
    replacement: "height--",
    reason: "heights are only compared for equality with each other, and -a === -b exactly when a === b: counting down pairs the same subtrees",
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "ArrayDeclaration",
    line: "['ERR_LOG_NOTE_INVALID', 'log-proof'],",
    replacement: "[]",
    reason: RECEIPT_NOTE_INVALID,
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "StringLiteral",
    line: "['ERR_LOG_NOTE_INVALID', 'log-proof'],",
    replacement: "\"\"",
    original: "'ERR_LOG_NOTE_INVALID'",
    reason: RECEIPT_NOTE_INVALID,
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "StringLiteral",
    line: "['ERR_LOG_NOTE_INVALID', 'log-proof'],",
    replacement: "\"\"",
    original: "'log-proof'",
    reason: RECEIPT_NOTE_INVALID,
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "ConditionalExpression",
    line: "if (failed === undefined || !(error instanceof LogError)) throw error;",
    replacement: "false",
    reason: RECEIPT_UNKNOWN_STEP,
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "LogicalOperator",
    line: "if (failed === undefined || !(error instanceof LogError)) throw error;",
    replacement: "failed === undefined && !(error instanceof LogError)",
    reason: RECEIPT_UNKNOWN_STEP,
  },
  {
    file: "src/receipt/log-proof-check.ts",
    mutator: "ConditionalExpression",
    line: "if (at < 0) throw error;",
    replacement: "false",
    reason: RECEIPT_UNKNOWN_STEP,
  },
  {
    file: "src/receipt/envelope.ts",
    mutator: "ConditionalExpression",
    line: "if (error instanceof RunprintError) throw invalid(`envelope is not strict JSON (${error.code})`);",
    replacement: "true",
    reason: RECEIPT_PARSE_ERRORS,
  },
  {
    file: "src/receipt/statement.ts",
    mutator: "ConditionalExpression",
    line: "if (error instanceof RunprintError) throw new ReceiptError('ERR_STATEMENT_INVALID', `statement is not strict JSON (${error.code})`);",
    replacement: "true",
    reason: RECEIPT_PARSE_ERRORS,
  },
  {
    file: "src/receipt/envelope.ts",
    mutator: "ConditionalExpression",
    line: "const signatures = envelope.signatures.map((s) => (s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig }));",
    replacement: "false",
    reason: "JSON.stringify leaves out a member whose value is undefined, so {keyid: undefined, sig} is written as {sig}",
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (typeof entry['name'] !== 'string' || !(COMPONENT_NAMES as readonly string[]).includes(entry['name'])) return undefined;",
    replacement: "false",
    original: "typeof entry['name'] !== 'string'",
    reason: "a name that is not a string is never one of the component names, so includes() alone returns undefined for it too",
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`${path}.annotations.count`, 'must be a non-negative integer');",
    replacement: "false",
    original: "typeof count !== 'number'",
    reason: "Number.isSafeInteger is false for every value that is not a number, so the next test refuses it with the same message",
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (times.startedOn !== undefined && times.finishedOn !== undefined && Date.parse(times.finishedOn) < Date.parse(times.startedOn)) {",
    replacement: "true",
    original: "times.startedOn !== undefined && times.finishedOn !== undefined",
    reason: RECEIPT_TIMES,
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (times.startedOn !== undefined && times.finishedOn !== undefined && Date.parse(times.finishedOn) < Date.parse(times.startedOn)) {",
    replacement: "true",
    original: "times.startedOn !== undefined",
    reason: RECEIPT_TIMES,
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (times.startedOn !== undefined && times.finishedOn !== undefined && Date.parse(times.finishedOn) < Date.parse(times.startedOn)) {",
    replacement: "true",
    original: "times.finishedOn !== undefined",
    reason: RECEIPT_TIMES,
  },
  {
    file: "src/receipt/predicate-shape.ts",
    mutator: "LogicalOperator",
    line: "if (times.startedOn !== undefined && times.finishedOn !== undefined && Date.parse(times.finishedOn) < Date.parse(times.startedOn)) {",
    replacement: "times.startedOn !== undefined || times.finishedOn !== undefined",
    reason: RECEIPT_TIMES,
  },
  {
    file: "src/receipt/receipt-identity.ts",
    mutator: "UnaryOperator",
    line: "const HEX = new Int8Array(128).fill(-1);",
    replacement: "+1",
    reason: RECEIPT_HEX_TABLE,
  },
  {
    file: "src/receipt/receipt-identity.ts",
    mutator: "EqualityOperator",
    line: "for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;",
    replacement: "i <= 16",
    reason: RECEIPT_HEX_TABLE,
  },
  {
    file: "src/receipt/receipt-identity.ts",
    mutator: "EqualityOperator",
    line: "for (let i = 0; i < 32; i++) out[i] = (HEX[hex.charCodeAt(2 * i)]! << 4) | HEX[hex.charCodeAt(2 * i + 1)]!;",
    replacement: "i <= 32",
    reason: RECEIPT_HEX_TABLE,
  },
  {
    file: "src/receipt/statement.ts",
    mutator: "ConditionalExpression",
    line: "parsed = typeof runId === 'string' ? parseIdentity(runId) : undefined;",
    replacement: "true",
    reason: "parseIdentity throws a TypeError for a value that is not a string, and the catch below turns every throw into undefined: the same result",
  },
  {
    file: "src/receipt/statement.ts",
    mutator: "BlockStatement",
    line: "} catch {",
    replacement: "{}",
    reason: "parsed was declared without a value, so it is undefined in the catch whether or not the block assigns undefined to it",
  },
  {
    file: "src/receipt/verify.ts",
    mutator: "ConditionalExpression",
    line: "if (recomputed !== undefined && predicateMatches(predicate.value, recomputed)) {",
    replacement: "false",
    reason: "the fast path only: a predicate that matches the recomputed identity passes checkPredicateIdentity and checkComposition too, and the report is the same two passed checks",
  },
  {
    file: "src/receipt/verify.ts",
    mutator: "ConditionalExpression",
    line: "if (signature.length !== 64) continue;",
    replacement: "false",
    reason: "WebCrypto's Ed25519 verify answers false for a signature that is not 64 bytes (it does not throw), so skipping it first changes nothing",
  },
  {
    file: "src/identity/diff.ts",
    mutator: "LogicalOperator",
    line: "if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {",
    replacement: "entryA.kind === 'list' && entryB.kind === 'list' || LIST_NAMES.has(name)",
    reason: IDENTITY_LIST_KIND,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {",
    replacement: "true",
    original: "entryA.kind === 'list' && entryB.kind === 'list'",
    reason: IDENTITY_LIST_KIND,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {",
    replacement: "true",
    original: "entryA.kind === 'list'",
    reason: IDENTITY_LIST_KIND,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {",
    replacement: "true",
    original: "entryB.kind === 'list'",
    reason: IDENTITY_LIST_KIND,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "LogicalOperator",
    line: "if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {",
    replacement: "entryA.kind === 'list' || entryB.kind === 'list'",
    reason: IDENTITY_LIST_KIND,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "if (a.served?.digest.sha256 !== b.served?.digest.sha256) {",
    replacement: "true",
    reason: IDENTITY_DIFF_SAME,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "if (x[key] === undefined || y[key] === undefined || !same(x[key], y[key])) {",
    replacement: "true",
    original: "x[key] === undefined || y[key] === undefined || !same(x[key], y[key])",
    reason: IDENTITY_DIFF_SAME,
  },
  {
    file: "src/identity/diff.ts",
    mutator: "ConditionalExpression",
    line: "else if (!same(x[index], y[index])) diffValue(component, x[index], y[index], [...path, index], out);",
    replacement: "true",
    reason: IDENTITY_DIFF_SAME,
  },
  {
    file: "src/identity/digest.ts",
    mutator: "ConditionalExpression",
    line: "if (tag === undefined) {",
    replacement: "true",
    reason: "the tag cache only: a tag built again is the same bytes",
  },
  {
    file: "src/identity/explain.ts",
    mutator: "StringLiteral",
    line: "const bytes = encoder.encode(JSON.stringify(element) ?? '').length;",
    replacement: "\"Stryker was here!\"",
    reason: "JSON.stringify gives undefined only for undefined, functions and symbols, which no valid composition holds as an element (computeIdentity refuses them first)",
  },
  {
    file: "src/identity/explain.ts",
    mutator: "ConditionalExpression",
    line: "if (typeof element !== 'object' || element === null || Array.isArray(element)) return { bytes, tags };",
    replacement: "false",
    original: "typeof element !== 'object'",
    reason: "a number, boolean or null element then falls through to reading role, type, name and function from it, which are all undefined: the same empty tags",
  },
  {
    file: "src/identity/identity.ts",
    mutator: "ArithmeticOperator",
    line: "canonicalAt(list, `$['${name}']`, MAX_DEPTH - 1);",
    replacement: "MAX_DEPTH + 1",
    reason: "reached only at a hole: the elements before it have passed the element limit (MAX_DEPTH - 2), and canonicalize reports the hole before it walks any element after it, so the list's limit is never what fails",
  },
  {
    file: "src/identity/composition.ts",
    mutator: "EqualityOperator",
    line: "for (const name of names) if (first === undefined || name < first) first = name;",
    replacement: "name <= first",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/composition.ts",
    mutator: "EqualityOperator",
    line: "return a < b ? -1 : a > b ? 1 : 0;",
    replacement: "a <= b",
    original: "a < b",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/composition.ts",
    mutator: "ConditionalExpression",
    line: "return a < b ? -1 : a > b ? 1 : 0;",
    replacement: "true",
    original: "a > b",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/composition.ts",
    mutator: "ConditionalExpression",
    line: "return a < b ? -1 : a > b ? 1 : 0;",
    replacement: "false",
    original: "a > b",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/composition.ts",
    mutator: "EqualityOperator",
    line: "return a < b ? -1 : a > b ? 1 : 0;",
    replacement: "a >= b",
    original: "a > b",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/composition.ts",
    mutator: "EqualityOperator",
    line: "return a < b ? -1 : a > b ? 1 : 0;",
    replacement: "a <= b",
    original: "a > b",
    reason: IDENTITY_CODE_UNITS,
  },
  {
    file: "src/identity/identity-string.ts",
    mutator: "Regex",
    line: "if (/^[1-9][0-9]*$/.test(version)) {",
    replacement: "/^[1-9][0-9]*/",
    reason: "the version already matched [0-9]+ in the shape, so it is digits to its end and the $ anchor changes nothing",
  },
  {
    file: "src/identity/digest.ts",
    mutator: "CallExpression",
    line: "componentTags.set(name, tag);",
    replacement: ";",
    reason: "the tag cache only: every tag is then built again, the same bytes (recorded as a timeout under load; every identity test file passes with it applied by hand)",
  },
  {
    file: "src/log/checkpoint.ts",
    mutator: "Regex",
    line: "const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;",
    replacement: "/^[A-Za-z0-9+/]*=$/",
    reason: "parseHash also requires 44 characters, and 32 bytes in padded base64 always end in exactly one '='",
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "ConditionalExpression",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "false",
    original: "first < 0 || second < 0",
    reason: LOG_COSIGNER_PLUS,
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "LogicalOperator",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "first < 0 && second < 0",
    reason: LOG_COSIGNER_PLUS,
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "ConditionalExpression",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "false",
    original: "first < 0",
    reason: "with no '+' at all, second is -1 as well, so second < 0 refuses the text alone",
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "EqualityOperator",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "first <= 0",
    reason: "a '+' at position 0 leaves an empty name, which isKeyName refuses with the same message",
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "ConditionalExpression",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "false",
    original: "second < 0",
    reason: LOG_COSIGNER_PLUS,
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "EqualityOperator",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "second <= 0",
    reason: "second is searched from first + 1, so it is -1 or at least 1, never 0",
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "Regex",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "/[A-Za-z0-9+/]+={0,2}$/",
    reason: LOG_DECODER_STRICT,
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "Regex",
    line: "const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);",
    replacement: "/^[A-Za-z0-9+/]+={0,2}/",
    reason: LOG_DECODER_STRICT,
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "LogicalOperator",
    line: "if (error instanceof LogError && error.code === 'ERR_LOG_NOTE_SIGNATURE') {",
    replacement: "error instanceof LogError || error.code === 'ERR_LOG_NOTE_SIGNATURE'",
    reason: "verifiedSignatures raises no LogError but ERR_LOG_NOTE_SIGNATURE, and its TypeErrors have no code, so the two tests always agree",
  },
  {
    file: "src/log/cosignature.ts",
    mutator: "ConditionalExpression",
    line: "if (error instanceof LogError && error.code === 'ERR_LOG_NOTE_SIGNATURE') {",
    replacement: "true",
    original: "error.code === 'ERR_LOG_NOTE_SIGNATURE'",
    reason: "verifiedSignatures raises no LogError but ERR_LOG_NOTE_SIGNATURE, so the code test is always true for a LogError",
  },
  {
    file: "src/log/note-keys.ts",
    mutator: "ConditionalExpression",
    line: "if (signature.length !== 64) return false;",
    replacement: "false",
    reason: "WebCrypto's Ed25519 verify answers false for a signature that is not 64 bytes (it does not throw)",
  },
  {
    file: "src/log/note.ts",
    mutator: "EqualityOperator",
    line: "for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);",
    replacement: "i <= out.length",
    reason: "the extra step writes NaN to out[4], past the end of a 4-byte Uint8Array, which is ignored",
  },
  {
    file: "src/log/note.ts",
    mutator: "ConditionalExpression",
    line: "if (block.length === 0 || !block.endsWith('\\n')) throw invalid('note signature block must be lines ending in a newline');",
    replacement: "false",
    original: "block.length === 0",
    reason: "an empty block does not end with a newline either, so the second test refuses it with the same message",
  },
  {
    file: "src/log/note.ts",
    mutator: "EqualityOperator",
    line: "if (space < 0 || !isKeyName(name)) throw invalid('note signature key name must be non-empty with no spaces and no \"+\"');",
    replacement: "space <= 0",
    reason: "a space at position 0 leaves an empty name, which isKeyName refuses with the same message",
  },
  {
    file: "src/log/tlog-proof.ts",
    mutator: "EqualityOperator",
    line: "if (!text.startsWith(`${TLOG_PROOF_HEADER}\\n`) || blank < 0) throw invalid('tlog-proof must start with c2sp.org/tlog-proof@v1 and hold a checkpoint after a blank line');",
    replacement: "blank <= 0",
    reason: "a text that starts with the header cannot have its first blank line at position 0, and the header test gives the same message",
  },
  {
    file: "src/receipt/disclosure-shape.ts",
    mutator: "ConditionalExpression",
    line: "return typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum;",
    replacement: "true",
    original: "typeof value === 'number'",
    reason: "Number.isSafeInteger is false for every value that is not a number, so the type test adds nothing",
  },
  {
    file: "src/receipt/disclosure-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (typeof component !== 'string' || !LIST_NAMES.has(component)) {",
    replacement: "false",
    original: "typeof component !== 'string'",
    reason: "a Set of strings has no member that is not a string, so LIST_NAMES.has refuses it with the same message",
  },
  {
    file: "src/receipt/disclosure-shape.ts",
    mutator: "ConditionalExpression",
    line: "if (error instanceof RunprintError) fail(`disclosure is not strict JSON (${error.code})`);",
    replacement: "true",
    reason: RECEIPT_PARSE_ERRORS,
  },
  {
    file: "src/receipt/disclosure-shape.ts",
    mutator: "ConditionalExpression",
    line: "kind = typeof runId === 'string' ? parseIdentity(runId).kind : undefined;",
    replacement: "true",
    reason: "parseIdentity throws a TypeError for a value that is not a string, and the catch below turns every throw into undefined: the same result",
  },
  {
    file: "src/receipt/disclosure-shape.ts",
    mutator: "BlockStatement",
    line: "} catch {",
    replacement: "{}",
    reason: "kind was declared without a value and is assigned only when parseIdentity returns, so it is undefined in the catch either way",
  },
  {
    file: "src/receipt/receipt-identity.ts",
    mutator: "ConditionalExpression",
    line: "const { composition } = compositionFromDocument(document, from === undefined ? {} : { from });",
    replacement: "false",
    original: "from === undefined",
    reason: "compositionFromDocument reads options.from === undefined as auto, so { from: undefined } and {} are read alike",
  },
  {
    file: "src/log/tiles.ts",
    mutator: "ConditionalExpression",
    line: "if (match === null || !Number.isSafeInteger(index) || width > 255 && match[3] !== undefined) throw invalid('tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');",
    replacement: "false",
    original: "match === null",
    reason: "without a match the index is NaN, which is not a safe integer, so the next test refuses the path with the same message",
  },
  {
    file: "src/store/log-service.ts",
    mutator: "StringLiteral",
    line: "let latest: Latest = { checkpoint: NONE, note: '', at: Date.now() };",
    replacement: "\"Stryker was here!\"",
    original: "''",
    reason: SIGNING_NO_CHECKPOINT_NOTE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (options.check === 'tiles') await checkHashesAfter(storage, checkpoint.size, size);",
    replacement: "true",
    original: "options.check === 'tiles'",
    reason: SIGNING_TILES_CHECK_TWICE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();",
    replacement: "true",
    original: "latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size",
    reason: SIGNING_OPEN_PUBLISH,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();",
    replacement: "false",
    original: "latest.checkpoint.size < 0",
    reason: SIGNING_OPEN_PUBLISH,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();",
    replacement: "latest.checkpoint.size <= 0",
    original: "latest.checkpoint.size < 0",
    reason: SIGNING_OPEN_PUBLISH,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();",
    replacement: "latest.checkpoint.size >= 0",
    original: "latest.checkpoint.size < 0",
    reason: SIGNING_OPEN_PUBLISH,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (this.#closed || this.#broken) return;",
    replacement: "false",
    original: "this.#closed || this.#broken",
    reason: SIGNING_TIMER_THEN_CLOSED_BROKEN,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "LogicalOperator",
    line: "if (this.#closed || this.#broken) return;",
    replacement: "this.#closed && this.#broken",
    original: "this.#closed || this.#broken",
    reason: SIGNING_TIMER_THEN_CLOSED_BROKEN,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "if (previous.checkpoint.size >= 0) {",
    replacement: "previous.checkpoint.size > 0",
    original: "previous.checkpoint.size >= 0",
    reason: SIGNING_FROM_EMPTY_TREE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (stored !== undefined && stored.note !== this.#latest.note && stored.size >= this.#latest.checkpoint.size) {",
    replacement: "true",
    original: "stored.note !== this.#latest.note",
    reason: SIGNING_RELOAD_SAME_NOTE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (stored !== undefined && stored.note !== this.#latest.note && stored.size >= this.#latest.checkpoint.size) {",
    replacement: "true",
    original: "stored.size >= this.#latest.checkpoint.size",
    reason: SIGNING_RELOAD_SIZE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "if (stored !== undefined && stored.note !== this.#latest.note && stored.size >= this.#latest.checkpoint.size) {",
    replacement: "stored.size > this.#latest.checkpoint.size",
    original: "stored.size >= this.#latest.checkpoint.size",
    reason: SIGNING_RELOAD_SIZE,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "if (latest.checkpoint.size < this.#latest.checkpoint.size) return;",
    replacement: "false",
    original: "latest.checkpoint.size < this.#latest.checkpoint.size",
    reason: SIGNING_SET_LATEST_SMALLER,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "MethodExpression",
    line: "const ready = this.#waiters.filter((waiter) => waiter.index < latest.checkpoint.size);",
    replacement: "this.#waiters",
    original: "this.#waiters.filter((waiter) => waiter.index < latest.checkpoint.size)",
    reason: SIGNING_WAITERS_EARLY,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "const ready = this.#waiters.filter((waiter) => waiter.index < latest.checkpoint.size);",
    replacement: "true",
    original: "waiter.index < latest.checkpoint.size",
    reason: SIGNING_WAITERS_EARLY,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "ConditionalExpression",
    line: "this.#waiters = this.#waiters.filter((waiter) => waiter.index >= latest.checkpoint.size);",
    replacement: "true",
    original: "waiter.index >= latest.checkpoint.size",
    reason: SIGNING_WAITERS_EARLY,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();",
    replacement: "(await storage.size()) >= latest.checkpoint.size",
    original: "(await storage.size()) > latest.checkpoint.size",
    reason: SIGNING_OPEN_PUBLISH,
  },
  {
    file: "src/store/log-service.ts",
    mutator: "EqualityOperator",
    line: "const ready = this.#waiters.filter((waiter) => waiter.index < latest.checkpoint.size);",
    replacement: "waiter.index <= latest.checkpoint.size",
    original: "waiter.index < latest.checkpoint.size",
    reason: SIGNING_WAITERS_EARLY,
  },
];
