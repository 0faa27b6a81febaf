// The trust-core modules that mutation testing covers: for each, the source Stryker mutates and the
// test files run against each mutant (that module's tests only, not the whole suite). Test files
// are listed fastest first: a mutant stops at the first file that fails.

/** Lines of one file from the line holding `from` up to the line before the one holding `to` (or the end). */
export interface LineRange {
  readonly file: string;
  readonly from: string;
  readonly to?: string;
}

export interface MutationModule {
  readonly mutate: ReadonlyArray<string | LineRange>;
  /** Every one of them must pass on the unmutated code. */
  readonly testFiles: readonly string[];
}

export const MODULES: Readonly<Record<string, MutationModule>> = {
  jcs: {
    mutate: ['src/jcs/**/*.ts', '!src/jcs/index.ts'],
    testFiles: [
      'test/rfc8785-canonicalize.test.ts',
      'test/rfc8785-vectors.test.ts',
      'test/i-json-parse.test.ts',
      'test/jcs-in-process.test.ts',
      'test/jcs-large-input.test.ts',
      'test/jcs-properties.test.ts',
      'test/jcs-error-positions.test.ts',
      'test/rfc8259-number-edges.test.ts',
      'test/rfc8259-string-escapes.test.ts',
      'test/ecma262-tojson.test.ts',
    ],
  },
  hash: {
    mutate: ['src/hash/sha256.ts'],
    testFiles: ['test/identity-digest.test.ts', 'test/rfc6962-merkle.test.ts', 'test/fips180-sha256.test.ts'],
  },
  identity: {
    mutate: ['src/identity/**/*.ts', '!src/identity/index.ts'],
    testFiles: [
      'test/identity-edges.test.ts',
      'test/identity-diff-explain.test.ts',
      'test/identity-digest.test.ts',
      'test/identity-string.test.ts',
      'test/identity-vectors.test.ts',
      'test/identity-salt.test.ts',
      'test/identity-salt-vectors.test.ts',
      'test/identity-diff-long.test.ts',
    ],
  },
  receipt: {
    mutate: [
      'src/receipt/verify.ts',
      'src/receipt/receipt-identity.ts',
      'src/receipt/predicate-shape.ts',
      'src/receipt/envelope.ts',
      'src/receipt/pae.ts',
      'src/receipt/statement.ts',
      'src/receipt/log-proof-check.ts',
    ],
    testFiles: [
      'test/receipt-edges.test.ts',
      'test/dsse-envelope.test.ts',
      'test/receipt-verify.test.ts',
      'test/receipt-vectors.test.ts',
      'test/verify-log-proof.test.ts',
    ],
  },
  disclosure: {
    mutate: ['src/receipt/disclosure-verify.ts', 'src/receipt/disclosure-shape.ts'],
    testFiles: ['test/disclosure-edges.test.ts', 'test/disclosure.test.ts', 'test/disclosure-mutation.test.ts'],
  },
  merkle: {
    mutate: ['src/merkle/**/*.ts', '!src/merkle/index.ts'],
    testFiles: [
      'test/merkle-edges.test.ts',
      'test/rfc6962-merkle.test.ts',
      'test/rfc9162-consistency.test.ts',
      'test/log-vectors.test.ts',
      'test/rfc9162-inclusion.test.ts',
    ],
  },
  log: {
    mutate: ['src/log/checkpoint.ts', 'src/log/note.ts', 'src/log/note-keys.ts', 'src/log/tlog-proof.ts', 'src/log/cosignature.ts', 'src/log/tiles.ts'],
    testFiles: [
      'test/log-edges.test.ts',
      'test/c2sp-tlog-checkpoint.test.ts',
      'test/c2sp-signed-note.test.ts',
      'test/c2sp-tlog-cosignature.test.ts',
      'test/c2sp-tlog-proof.test.ts',
      'test/log-vectors.test.ts',
      'test/c2sp-tlog-tiles.test.ts',
      'test/verify-log-proof.test.ts',
    ],
  },
  witness: {
    mutate: ['src/log/witness.ts'],
    testFiles: ['test/c2sp-tlog-witness.test.ts', 'test/log-witness.test.ts'],
  },
  signing: {
    // The checkpoint signing path of the log service: the checks at open, publishing (consistency
    // with the last signed checkpoint, cosigning, storing) and re-reading a stored checkpoint.
    mutate: [
      { file: 'src/store/log-service.ts', from: '  static async open(', to: '  append(entry' },
      { file: 'src/store/log-service.ts', from: '  #schedulePublish(): void', to: '  async checkpoint()' },
      { file: 'src/store/log-service.ts', from: 'async function openCheckpoint(' },
    ],
    testFiles: ['test/log-service.test.ts', 'test/log-postgres-consistency.test.ts', 'test/log-witness-collector.test.ts', 'test/store-faults.test.ts', 'test/log-signing-edges.test.ts'],
  },
};
