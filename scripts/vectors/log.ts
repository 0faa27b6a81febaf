/** Generates testdata/log/*.json: RFC 9162 proofs, C2SP signed notes, checkpoints, tiles, entry bundles, cosignatures and tlog-proofs (SPEC 18). */
import { createHash } from 'node:crypto';
import type { VectorFile } from '../generate-vectors.ts';
import { assertOutcomes, type LogVector } from './fixtures/log-outcomes.ts';
import { referenceConsistency, referenceLeafHash, referencePath, referenceRoot, variantOf } from '../../test/fixtures/log-reference.ts';

// Nothing here is computed by the code the vectors check: signatures are made with node:crypto,
// hashes, roots and proofs by the naive RFC 9162 definitions of test/fixtures/log-reference.ts, and
// checkpoint texts, tile paths and entry bundles are written out by hand from the C2SP specs.
// Ed25519 is deterministic, so the files are stable. Before a file is written, every vector is run
// through runprint and must give the outcome it states (fixtures/log-outcomes.ts).

import {
  CHECKPOINT_TEXT,
  cosignatureLine,
  keyHash,
  LOG_KEY,
  signatureLine,
  SIZE,
  STRANGER_KEY,
  testEntries,
  verifierKeyOf,
  WITNESS_KEYS,
} from '../../test/fixtures/log-keys.ts';

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

const ENTRIES = testEntries(SIZE);
const LEAF_HASHES = ENTRIES.map(referenceLeafHash);
/** The root of the first `size` entries of the test log. */
const rootHashAt = (size: number): Uint8Array => referenceRoot(LEAF_HASHES.slice(0, size));

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

function inclusionVectors(): unknown[] {
  const vectors: unknown[] = [];
  const base = (index: number, size: number) => ({
    entryHex: hex(ENTRIES[index]!),
    index,
    size,
    leafHash: hex(LEAF_HASHES[index]!),
    proof: referencePath(index, LEAF_HASHES.slice(0, size)).map(hex),
    rootHash: hex(rootHashAt(size)),
  });
  for (const [index, size] of [[0, 1], [0, 8], [5, 8], [7, 8], [12, 13], [6, 13]] as const) {
    vectors.push({ desc: `leaf ${index} of a tree of ${size}`, spec: 'RFC 9162 2.1.3', ...base(index, size), wantValid: true });
  }
  const good = base(6, 13);
  const broken = (desc: string, change: Partial<typeof good>, spec = 'RFC 9162 2.1.3.2') => vectors.push({ desc, spec, ...variantOf(good, change), wantErr: 'ERR_LOG_PROOF_INVALID' });
  broken('a flipped bit in the second proof hash', { proof: good.proof.map((h, i) => (i === 1 ? hex(flip(Buffer.from(h, 'hex'), 9)) : h)) });
  broken('a truncated proof (last hash dropped)', { proof: good.proof.slice(0, -1) });
  broken('an extended proof (a hash appended)', { proof: [...good.proof, good.leafHash] });
  broken('the right proof for the wrong index', { index: 7 });
  broken('an index equal to the size', { index: 13 });
  broken('the root of another size', { rootHash: hex(rootHashAt(12)) });
  broken('the entry hashed without the 0x00 leaf prefix', { leafHash: createHash('sha256').update(ENTRIES[6]!).digest('hex') }, 'RFC 6962 2.1');
  return vectors;
}

function consistencyVectors(): unknown[] {
  const vectors: unknown[] = [];
  const base = (oldSize: number, newSize: number) => ({
    oldSize,
    newSize,
    proof: referenceConsistency(oldSize, LEAF_HASHES.slice(0, newSize)).map(hex),
    oldRoot: hex(rootHashAt(oldSize)),
    newRoot: hex(rootHashAt(newSize)),
  });
  for (const [oldSize, newSize] of [[1, 2], [3, 7], [4, 8], [6, 8], [7, 13], [8, 13], [13, 13], [0, 13]] as const) {
    vectors.push({ desc: `tree of ${oldSize} to tree of ${newSize}`, spec: 'RFC 9162 2.1.4', ...base(oldSize, newSize), wantValid: true });
  }
  const good = base(7, 13);
  const broken = (desc: string, change: Partial<typeof good>, spec = 'RFC 9162 2.1.4.2', from = good) => vectors.push({ desc, spec, ...variantOf(from, change), wantErr: 'ERR_LOG_INCONSISTENT' });
  broken('a flipped bit in the first proof hash', { proof: good.proof.map((h, i) => (i === 0 ? hex(flip(Buffer.from(h, 'hex'), 200)) : h)) });
  broken('a truncated proof', { proof: good.proof.slice(0, -1) });
  broken('an extended proof', { proof: [...good.proof, good.oldRoot] });
  broken('old and new roots swapped', { oldRoot: good.newRoot, newRoot: good.oldRoot });
  broken('a forked new tree: same size, another last entry', { newRoot: hex(referenceRoot([...LEAF_HASHES.slice(0, 12), referenceLeafHash(encoder.encode('forged'))])) });
  broken('an empty proof between different sizes', { proof: [] });
  broken('equal sizes with different roots', { newRoot: hex(rootHashAt(12)) }, 'RFC 9162 2.1.4', base(13, 13));
  broken('an old size larger than the new size', { oldSize: 13, newSize: 7 }, 'RFC 9162 2.1.4');
  return vectors;
}

const ROOT = rootHashAt(SIZE);

function checkpointVectors(): unknown[] {
  const hash = b64(ROOT);
  const want = { origin: LOG_KEY.name, size: SIZE, rootHash: hash };
  const spec = 'C2SP tlog-checkpoint';
  const bad = (desc: string, inputText: string) => ({ desc, spec, inputText, wantErr: 'ERR_LOG_CHECKPOINT_INVALID' });
  return [
    { desc: 'origin, size and root hash', spec, inputText: CHECKPOINT_TEXT, want },
    { desc: 'with one extension line', spec, inputText: `${CHECKPOINT_TEXT}ext-1 value\n`, want: { ...want, extensions: ['ext-1 value'] } },
    { desc: 'the empty tree', spec, inputText: `${LOG_KEY.name}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`, want: { origin: LOG_KEY.name, size: 0, rootHash: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' } },
    bad('a size with a leading zero', `${LOG_KEY.name}\n013\n${hash}\n`),
    bad('a size with a plus sign', `${LOG_KEY.name}\n+13\n${hash}\n`),
    bad('a size above 2^53 - 1', `${LOG_KEY.name}\n9007199254740992\n${hash}\n`),
    bad('a root hash in URL-safe base64', `${LOG_KEY.name}\n${SIZE}\n${hash.replace(/\+/g, '-').replace(/\//g, '_')}\n`),
    bad('a root hash without padding', `${LOG_KEY.name}\n${SIZE}\n${hash.replace(/=+$/, '')}\n`),
    bad('a root hash of 31 bytes', `${LOG_KEY.name}\n${SIZE}\n${b64(ROOT.subarray(1))}\n`),
    bad('no final newline', CHECKPOINT_TEXT.slice(0, -1)),
    bad('an empty extension line', `${CHECKPOINT_TEXT}\next\n`),
    bad('an empty origin', `\n${SIZE}\n${hash}\n`),
    bad('only two lines', `${LOG_KEY.name}\n${SIZE}\n`),
    bad('a carriage return before the newline', `${LOG_KEY.name}\r\n${SIZE}\n${hash}\n`),
  ];
}

/** The signature line with its base64 in the URL-safe alphabet (the line must have a + or a /). */
function urlSafe(line: string): string {
  const out = line.replace(/\+/g, '-').replace(/\//g, '_');
  if (out === line) throw new Error('test signature has no + or / to rewrite');
  return out;
}

function noteVectors(): unknown[] {
  const spec = 'C2SP signed-note';
  const signed = `${CHECKPOINT_TEXT}\n${signatureLine(LOG_KEY, CHECKPOINT_TEXT)}`;
  const verifierKey = verifierKeyOf(LOG_KEY);
  const stranger = signatureLine(STRANGER_KEY, CHECKPOINT_TEXT);
  const tampered = signed.replace(`\n${SIZE}\n`, `\n${SIZE + 1}\n`);
  const bad = (desc: string, inputText: string, wantErr = 'ERR_LOG_NOTE_INVALID') => ({ desc, spec, verifierKeys: [verifierKey], inputText, wantErr });
  const sigLine = signatureLine(LOG_KEY, CHECKPOINT_TEXT);
  return [
    { desc: 'a checkpoint signed by the log key', spec, verifierKeys: [verifierKey], inputText: signed, wantText: CHECKPOINT_TEXT },
    { desc: 'an unknown key\'s signature first is ignored', spec, verifierKeys: [verifierKey], inputText: `${CHECKPOINT_TEXT}\n${stranger}${sigLine}`, wantText: CHECKPOINT_TEXT },
    { desc: 'a text with an empty line in it splits at the last blank line', spec, verifierKeys: [verifierKey], inputText: `hello\n\nworld\n\n${signatureLine(LOG_KEY, 'hello\n\nworld\n')}`, wantText: 'hello\n\nworld\n' },
    bad('signed by an unknown key only (same name, other key)', `${CHECKPOINT_TEXT}\n${stranger}`, 'ERR_LOG_NOTE_SIGNATURE'),
    bad('the text changed after signing', tampered, 'ERR_LOG_NOTE_SIGNATURE'),
    {
      desc: 'a known key\'s signature that fails next to a good one',
      spec,
      verifierKeys: [verifierKey, verifierKeyOf(WITNESS_KEYS[0]!)],
      inputText: `${CHECKPOINT_TEXT}\n${sigLine}\u2014 ${WITNESS_KEYS[0]!.name} ${b64(Buffer.concat([keyHash(WITNESS_KEYS[0]!.name, 0x01, WITNESS_KEYS[0]!.raw), Buffer.alloc(64)]))}\n`,
      wantErr: 'ERR_LOG_NOTE_SIGNATURE',
    },
    bad('no blank line before the signatures', `${CHECKPOINT_TEXT}${sigLine}`),
    bad('no signature lines', `${CHECKPOINT_TEXT}\n`),
    bad('a signature line with a hyphen instead of an em dash', `${CHECKPOINT_TEXT}\n${sigLine.replace('\u2014', '-')}`),
    bad('a signature line without its final newline', `${CHECKPOINT_TEXT}\n${sigLine.slice(0, -1)}`),
    bad('a signature in URL-safe base64', `${CHECKPOINT_TEXT}\n${urlSafe(sigLine)}`),
    bad('a signature without its base64 padding', `${CHECKPOINT_TEXT}\n${sigLine.replace(/=+\n$/, '\n')}`),
    bad('a tab in the text', `a\tb\n\n${signatureLine(LOG_KEY, 'a\tb\n')}`),
    bad('an empty text', `\n\n${signatureLine(LOG_KEY, '\n')}`),
    bad('the same key signing twice', `${CHECKPOINT_TEXT}\n${sigLine}${sigLine}`),
    bad('a key name with a plus sign', `${CHECKPOINT_TEXT}\n${sigLine.replace(`${LOG_KEY.name} `, 'a+b ')}`),
    ...goNoteExamples(),
  ];
}

/**
 * An outside anchor: the signed note, keys and signatures that the documentation and tests of Go's
 * golang.org/x/mod/sumdb/note package use (package doc, example_test.go, TestOpen), not made here.
 */
function goNoteExamples(): unknown[] {
  const spec = 'C2SP signed-note; golang.org/x/mod/sumdb/note package example';
  const peter = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const enoch = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
  const text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const peterSig = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
  const enochSig = '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
  return [
    { desc: "Go's example note signed by PeterNeumann", spec, verifierKeys: [peter], inputText: `${text}\n${peterSig}`, wantText: text, wantVerified: ['PeterNeumann'] },
    { desc: "Go's example note cosigned by EnochRoot, only PeterNeumann's key known", spec, verifierKeys: [peter], inputText: `${text}\n${peterSig}${enochSig}`, wantText: text, wantVerified: ['PeterNeumann'] },
    { desc: "Go's example note cosigned by EnochRoot, both keys known", spec, verifierKeys: [peter, enoch], inputText: `${text}\n${peterSig}${enochSig}`, wantText: text, wantVerified: ['PeterNeumann', 'EnochRoot'] },
    { desc: "Go's example note with one letter of the text changed", spec, verifierKeys: [peter], inputText: `${text.replace('If you', 'If You')}\n${peterSig}`, wantErr: 'ERR_LOG_NOTE_SIGNATURE' },
  ];
}

function tilePathVectors(): unknown[] {
  const spec = 'C2SP tlog-tiles';
  // The index in groups of three digits, all but the last with an x; a partial tile adds .p/<width>.
  const good = ([
    [{ tile: { level: 0, index: 0, width: 256 } }, 'tile/0/000'],
    [{ tile: { level: 0, index: 1234067, width: 256 } }, 'tile/0/x001/x234/067'],
    [{ tile: { level: 1, index: 1234, width: 7 } }, 'tile/1/x001/234.p/7'],
    [{ tile: { level: 2, index: 999, width: 255 } }, 'tile/2/999.p/255'],
    [{ entries: { index: 0, width: 13 } }, 'tile/entries/000.p/13'],
    [{ entries: { index: 1000, width: 256 } }, 'tile/entries/x001/000'],
  ] as const).map(([input, wantPath]) => {
    return { desc: `the path of ${'tile' in input ? `hash tile ${JSON.stringify(input.tile)}` : `entry bundle ${JSON.stringify(input.entries)}`}`, spec, ...input, wantPath };
  });
  const bad = (desc: string, path: string) => ({ desc, spec, path, wantErr: 'ERR_LOG_TILE_INVALID' });
  return [
    ...good,
    bad('a leading all-zero group', 'tile/0/x000/001'),
    bad('an index group of two digits', 'tile/0/01'),
    bad('a last group with an x', 'tile/0/x001'),
    bad('a full tile spelled as partial', 'tile/0/000.p/256'),
    bad('a partial width with a leading zero', 'tile/0/000.p/07'),
    bad('a partial width of zero', 'tile/0/000.p/0'),
    bad('a level with a leading zero', 'tile/01/000'),
    bad('a level above 63', 'tile/64/000'),
    bad('a leading slash', '/tile/0/000'),
    bad('the old Go sumdb layout with the tile height', 'tile/8/0/000'),
  ];
}

/** C2SP tlog-tiles: each entry as a big-endian 16-bit length and its bytes. */
function entryBundle(entries: Uint8Array[]): Uint8Array {
  return Buffer.concat(entries.flatMap((entry) => [Buffer.from([entry.length >> 8, entry.length & 0xff]), entry]));
}

function entryBundleVectors(): unknown[] {
  const spec = 'C2SP tlog-tiles';
  const entries = [encoder.encode('a'), new Uint8Array(0), encoder.encode('runprint test entry 2')];
  const bundle = entryBundle(entries);
  const long = new Uint8Array(300).fill(0x61);
  return [
    { desc: 'three entries, one empty', spec, entriesHex: entries.map(hex), width: 3, wantHex: hex(bundle) },
    { desc: 'an entry of 300 bytes: the length is big-endian (0x012c)', spec, entriesHex: [hex(long)], width: 1, wantHex: hex(entryBundle([long])) },
    { desc: 'a bundle cut inside an entry', spec, inputHex: hex(bundle.subarray(0, bundle.length - 1)), width: 3, wantErr: 'ERR_LOG_TILE_INVALID' },
    { desc: 'a bundle cut inside a length', spec, inputHex: `${hex(bundle)}00`, width: 3, wantErr: 'ERR_LOG_TILE_INVALID' },
    { desc: 'a bundle with fewer entries than its width', spec, inputHex: hex(bundle), width: 4, wantErr: 'ERR_LOG_TILE_INVALID' },
    { desc: 'an empty bundle', spec, inputHex: '', width: 1, wantErr: 'ERR_LOG_TILE_INVALID' },
  ];
}

const TIMESTAMPS = [1767225600, 1767225601, 1767225602];

/** The signed checkpoint of the test log, cosigned by the given witnesses. */
export function cosignedCheckpoint(witnesses: ReadonlyArray<number>): string {
  let out = `${CHECKPOINT_TEXT}\n${signatureLine(LOG_KEY, CHECKPOINT_TEXT)}`;
  for (const n of witnesses) out += cosignatureLine(WITNESS_KEYS[n]!, CHECKPOINT_TEXT, TIMESTAMPS[n]!);
  return out;
}

function tlogProofVectors(): unknown[] {
  const spec = 'C2SP tlog-proof';
  const index = 6;
  const proofLines = referencePath(index, LEAF_HASHES).map((hash) => `${b64(hash)}\n`).join('');
  const text = (checkpoint: string, lines = proofLines, head = `index ${index}\n`) => `c2sp.org/tlog-proof@v1\n${head}${lines}\n${checkpoint}`;
  const policy = { logKey: verifierKeyOf(LOG_KEY), witnesses: WITNESS_KEYS.map((key) => verifierKeyOf(key, 0x04)), threshold: 2 };
  const entryHex = hex(ENTRIES[index]!);
  const ok = (desc: string, inputText: string, threshold = 2, cosigners: string[] = []) => ({ desc, spec, inputText, entryHex, policy: { ...policy, threshold }, wantIndex: index, wantCosigners: cosigners });
  const bad = (desc: string, inputText: string, wantErr: string, threshold = 2, entry = entryHex) => ({ desc, spec, inputText, entryHex: entry, policy: { ...policy, threshold }, wantErr });
  const two = cosignedCheckpoint([0, 2]);
  const badCosignature = two.replace(/(\u2014 witness3\.example \S{20})(\S)/, (_, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`);
  return [
    ok('two of three witnesses cosigned, threshold 2', text(two), 2, ['witness1.example', 'witness3.example']),
    ok('all three witnesses, threshold 3', text(cosignedCheckpoint([0, 1, 2])), 3, ['witness1.example', 'witness2.example', 'witness3.example']),
    ok('no witnesses needed, threshold 0', text(cosignedCheckpoint([])), 0, []),
    ok('with extra data', text(two, proofLines, `extra ${b64(encoder.encode('hello'))}\nindex ${index}\n`), 2, ['witness1.example', 'witness3.example']),
    bad('one witness, threshold 2', text(cosignedCheckpoint([1])), 'ERR_LOG_COSIGNATURE_INVALID'),
    bad('a configured witness whose cosignature fails', text(badCosignature), 'ERR_LOG_COSIGNATURE_INVALID'),
    bad('another entry than the logged one', text(two), 'ERR_LOG_PROOF_INVALID', 2, hex(ENTRIES[7]!)),
    bad('a flipped bit in the inclusion proof', text(two, proofLines.replace(/^(.)/, (c: string) => (c === 'A' ? 'B' : 'A'))), 'ERR_LOG_PROOF_INVALID'),
    bad('the wrong index', text(two, proofLines, `index ${index + 1}\n`), 'ERR_LOG_PROOF_INVALID'),
    bad('an index with a leading zero', text(two, proofLines, `index 0${index}\n`), 'ERR_LOG_TLOG_PROOF_INVALID'),
    bad('a wrong header', text(two).replace('@v1', '@v2'), 'ERR_LOG_TLOG_PROOF_INVALID'),
    bad('checkpoint not signed by the log key', text(`${CHECKPOINT_TEXT}\n${signatureLine(STRANGER_KEY, CHECKPOINT_TEXT)}`), 'ERR_LOG_NOTE_SIGNATURE'),
  ];
}

export async function generate(): Promise<VectorFile[]> {
  const file = async (name: string, desc: string, spec: string, vectors: unknown[]): Promise<VectorFile> => ({
    path: `log/${name}.json`,
    content: { desc, spec, generated: true, vectors: await assertOutcomes(name, vectors as LogVector[]) },
  });
  return Promise.all([
    file('inclusion-proofs', 'RFC 9162 inclusion proofs over the entries "runprint test entry <i>" (leaf hashes hex), with broken variants', 'RFC 9162 2.1.3', inclusionVectors()),
    file('consistency-proofs', 'RFC 9162 consistency proofs over the same entries, with broken variants', 'RFC 9162 2.1.4', consistencyVectors()),
    file('checkpoints', 'Checkpoint note texts, valid and broken spellings', 'C2SP tlog-checkpoint', checkpointVectors()),
    file('signed-notes', 'Signed notes verified with the given C2SP verifier keys', 'C2SP signed-note', noteVectors()),
    file('tile-paths', 'Hash tile and entry bundle paths, valid and broken spellings', 'C2SP tlog-tiles', tilePathVectors()),
    file('entry-bundles', 'Entry bundles (hex), valid and broken', 'C2SP tlog-tiles', entryBundleVectors()),
    file('tlog-proofs', 'tlog-proof@v1 texts verified with a log key and a k-of-n witness policy (cosignature/v1 vkeys)', 'C2SP tlog-proof', tlogProofVectors()),
  ]);
}
