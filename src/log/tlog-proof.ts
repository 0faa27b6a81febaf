/** C2SP tlog-proof@v1: an offline proof that data is in a log, with the checkpoint and its witness cosignatures. */
import { LogError } from '../errors.ts';
import { verifyInclusion } from '../merkle/inclusion.ts';
import { hashLeaf } from '../merkle/rfc6962.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import { describe, requireBytes, requireOptions } from '../keys/key-arguments.ts';
import { parseCheckpoint, parseDecimal, parseHash, type Checkpoint } from './checkpoint.ts';
import { verifyCosignatures, type Cosignature } from './cosignature.ts';
import { formatNote, parseNote, requireNoteVerifier, verifyNote, withSignerWording, type Note, type NoteVerifier, type UnknownSignerWording } from './note.ts';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/** A tlog-proof: the entry's index, its inclusion proof, the signed checkpoint, and opaque extra data. */
export interface TlogProof {
  /** Unauthenticated application data; never trust it implicitly. */
  extra?: Uint8Array;
  index: number;
  proof: Uint8Array[];
  /** The signed checkpoint note (log signature and cosignatures). */
  checkpoint: Note;
}

/** The witness policy: at least `threshold` of `witnesses` must have cosigned the checkpoint. */
export interface TlogProofPolicy {
  logKey: NoteVerifier;
  /** The log's origin; by default the log key's name, as tlog-checkpoint recommends. */
  origin?: string;
  witnesses: ReadonlyArray<NoteVerifier>;
  threshold: number;
}

/** What a verified tlog-proof shows. */
export interface VerifiedTlogProof {
  checkpoint: Checkpoint;
  index: number;
  leafHash: Uint8Array;
  cosignatures: Cosignature[];
}

function invalid(message: string): LogError {
  return new LogError('ERR_LOG_TLOG_PROOF_INVALID', message);
}

/**
 * The proof, byte for byte:
 *
 *     "c2sp.org/tlog-proof@v1\n"
 *     [ "extra " base64(extra) "\n" ]              when there is extra data
 *     "index " <index, decimal, no leading zeros> "\n"
 *     for each inclusion proof hash, leaf to root: base64(hash) "\n"
 *     "\n"
 *     <the signed checkpoint note, verbatim>
 */
export function formatTlogProof(proof: TlogProof): string {
  if (!Number.isSafeInteger(proof.index) || proof.index < 0) throw new RangeError('index must be a non-negative safe integer');
  if (proof.proof.some((hash) => hash.length !== 32)) throw new RangeError('inclusion proof hashes are 32 bytes');
  let out = `${TLOG_PROOF_HEADER}\n`;
  if (proof.extra !== undefined) out += `extra ${encodeBase64(proof.extra)}\n`;
  out += `index ${proof.index}\n`;
  for (const hash of proof.proof) out += `${encodeBase64(hash)}\n`;
  return `${out}\n${formatNote(proof.checkpoint)}`;
}

/** Reads a tlog-proof strictly; no signature or hash is checked here (see verifyTlogProof). */
export function parseTlogProof(text: string): TlogProof {
  if (typeof text !== 'string') throw new TypeError(`a tlog-proof must be its text (read the file as UTF-8), not ${describe(text)}`);
  const blank = text.indexOf('\n\n');
  if (!text.startsWith(`${TLOG_PROOF_HEADER}\n`) || blank < 0) throw invalid('tlog-proof must start with c2sp.org/tlog-proof@v1 and hold a checkpoint after a blank line');
  const lines = text.slice(0, blank).split('\n').slice(1);
  let extra: Uint8Array | undefined;
  if (lines[0]?.startsWith('extra ')) {
    const encoded = lines.shift()!.slice('extra '.length);
    extra = /^[A-Za-z0-9+/]*={0,2}$/.test(encoded) && encoded.length % 4 === 0 ? decodeBase64(encoded) : undefined;
    if (extra === undefined) throw invalid('tlog-proof extra data is not standard base64');
  }
  const indexLine = lines.shift();
  const index = indexLine?.startsWith('index ') === true ? parseDecimal(indexLine.slice('index '.length)) : undefined;
  if (index === undefined) throw invalid('tlog-proof index must be "index " and a decimal with no leading zeros');
  if (lines.length > 63) throw invalid('tlog-proof inclusion proof is longer than any tree needs');
  const proof: Uint8Array[] = [];
  for (const line of lines) {
    const hash = parseHash(line);
    if (hash === undefined) throw invalid('tlog-proof inclusion proof hash must be 32 bytes in standard base64');
    proof.push(hash);
  }
  let checkpoint: Note;
  try {
    checkpoint = parseNote(text.slice(blank + 2));
  } catch {
    throw invalid('tlog-proof checkpoint is not a signed note');
  }
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}

/** A tlog-proof whose checkpoint the log key did not sign, named as such (callers add their option and remedy). */
export const PROOF_CHECKPOINT: UnknownSignerWording = { note: (origin) => `the tlog-proof's checkpoint (log "${origin}")`, keys: 'the log key' };

/**
 * Verifies a tlog-proof offline, as a checklist: (1) parse; (2) the log key signed the checkpoint
 * and its origin is the log's; (3) at least `threshold` distinct configured witnesses cosigned it
 * (a configured witness's cosignature that fails is an error, not a skip); (4) the inclusion proof
 * of RFC 6962 leafHash(leafData) at `index` leads to the checkpoint's root hash.
 */
export async function verifyTlogProof(input: string | TlogProof, leafData: Uint8Array, policy: TlogProofPolicy): Promise<VerifiedTlogProof> {
  // Programmer errors first: the caller's arguments, not the proof.
  if (typeof input !== 'string') requireOptions(input, 'verifyTlogProof proof (its text or a parsed TlogProof)');
  requireBytes(leafData, 'verifyTlogProof leaf data (the exact bytes submitted to the log)');
  requireOptions(policy, 'verifyTlogProof policy');
  requireNoteVerifier(policy.logKey, 'verifyTlogProof policy.logKey');
  if (!Array.isArray(policy.witnesses)) throw new TypeError('verifyTlogProof policy.witnesses must be an array of NoteVerifier objects (empty for none)');
  policy.witnesses.forEach((witness, index) => requireNoteVerifier(witness, `verifyTlogProof policy.witnesses[${index}]`));
  if (!Number.isSafeInteger(policy.threshold) || policy.threshold < 0 || policy.threshold > policy.witnesses.length) {
    throw new RangeError('threshold must be an integer from 0 to the number of witnesses');
  }
  // 1. Shape.
  const proof = typeof input === 'string' ? parseTlogProof(input) : input;
  // 2. The log's signature and origin. Only the log key is given here: witness lines are unknown to it and ignored.
  const { text } = await withSignerWording(PROOF_CHECKPOINT, () => verifyNote(proof.checkpoint, [policy.logKey]));
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== (policy.origin ?? policy.logKey.name)) throw new LogError('ERR_LOG_CHECKPOINT_INVALID', 'checkpoint origin is not the log\'s origin');
  // 3. Witnesses: distinct names, each verified.
  const cosignatures = await verifyCosignatures(proof.checkpoint, policy.witnesses);
  const names = new Set(cosignatures.map((cosignature) => cosignature.name));
  if (names.size < policy.threshold) throw new LogError('ERR_LOG_COSIGNATURE_INVALID', 'checkpoint has fewer witness cosignatures than the policy requires');
  // 4. Inclusion.
  const leafHash = hashLeaf(leafData);
  if (!verifyInclusion(leafHash, proof.index, checkpoint.size, proof.proof, checkpoint.rootHash)) {
    throw new LogError('ERR_LOG_PROOF_INVALID', 'inclusion proof does not lead to the checkpoint root hash');
  }
  return { checkpoint, index: proof.index, leafHash, cosignatures };
}
