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
];
