/**
 * C2SP tlog-witness, "add-checkpoint": the request body a log sends a witness, and the witness's
 * decision on it. Pure: storage and the clock are handed in, so a server, a test or a browser can
 * run the same checks.
 */
import { LogError } from '../errors.ts';
import { equalBytes } from '../hash/sha256.ts';
import { verifyConsistency } from '../merkle/consistency.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { parseCheckpoint, parseDecimal, parseHash, type Checkpoint } from './checkpoint.ts';
import { formatNote, parseNote, verifiedSignatures, type Note, type NoteSignature, type NoteSigner, type NoteVerifier } from './note.ts';

/** tlog-witness: "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_PROOF_LINES = 63;

/** Media type of a 409 answer: the witness's stored size in decimal and a newline. */
export const SIZE_MEDIA_TYPE = 'text/x.tlog.size';

/** An add-checkpoint request: the size the client believes the witness holds, a proof from it, and the signed checkpoint. */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint note as sent (its signatures not yet checked). */
  note: Note;
  /** The checkpoint in the note text (untrusted until a log signature on it verifies). */
  checkpoint: Checkpoint;
}

/** A checkpoint the witness holds for one log: its size and signed note. */
export interface WitnessedCheckpoint {
  size: number;
  note: string;
}

/** The old size did not match the witness's: `size` is the one it holds (0 when it holds none). */
export class WitnessConflictError extends LogError {
  readonly size: number;
  constructor(size: number) {
    super('ERR_WITNESS_CONFLICT', 'old size does not match the size of the latest checkpoint the witness cosigned');
    this.size = size;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(message: string): LogError {
  return new LogError('ERR_WITNESS_REQUEST_INVALID', message);
}

/**
 * The request body, byte for byte:
 *
 *     "old " <old size, ASCII decimal, no leading zeros> "\n"
 *     for each proof hash: base64(hash) "\n"
 *     "\n"
 *     <the signed checkpoint note>
 */
export function formatAddCheckpoint(request: { oldSize: number; proof: ReadonlyArray<Uint8Array>; note: string }): string {
  if (!Number.isSafeInteger(request.oldSize) || request.oldSize < 0) throw new RangeError('old size must be a non-negative safe integer');
  if (request.proof.length > MAX_PROOF_LINES) throw new RangeError(`a consistency proof has at most ${MAX_PROOF_LINES} hashes`);
  if (request.oldSize === 0 && request.proof.length > 0) throw new RangeError('the proof must be empty when the old size is 0');
  if (request.proof.some((hash) => hash.length !== 32)) throw new RangeError('proof hashes must be 32 bytes');
  let out = `old ${request.oldSize}\n`;
  for (const hash of request.proof) out += `${encodeBase64(hash)}\n`;
  return `${out}\n${request.note}`;
}

/**
 * Reads a request body strictly; anything else is ERR_WITNESS_REQUEST_INVALID (HTTP 400): not
 * UTF-8, an old size line with a sign, a leading zero or extra spaces, a proof line that is not
 * one 32-byte hash in padded standard base64, more than 63 of them, proof lines with old size 0,
 * an old size above the checkpoint's, or a note that is not a signed checkpoint. Nothing is
 * verified here.
 */
export function parseAddCheckpoint(body: string | Uint8Array): AddCheckpointRequest {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = decoder.decode(body);
    } catch {
      throw invalid('request body is not valid UTF-8');
    }
  }
  let position = 0;
  /** The next line without its newline, or undefined when no newline is left. */
  const nextLine = (): string | undefined => {
    const end = text.indexOf('\n', position);
    if (end < 0) return undefined;
    const line = text.slice(position, end);
    position = end + 1;
    return line;
  };
  const first = nextLine();
  if (first === undefined || !first.startsWith('old ')) throw invalid('request must start with an "old <size>" line');
  const oldSize = parseDecimal(first.slice(4));
  if (oldSize === undefined) throw invalid('old size must be a decimal with no leading zeros, at most 2^53 - 1');
  const proof: Uint8Array[] = [];
  for (;;) {
    const line = nextLine();
    if (line === undefined) throw invalid('request must have an empty line before the checkpoint');
    if (line === '') break;
    if (proof.length === MAX_PROOF_LINES) throw invalid(`consistency proof must have at most ${MAX_PROOF_LINES} lines`);
    const hash = parseHash(line);
    if (hash === undefined) throw invalid('consistency proof lines must each be a 32-byte hash in standard base64');
    proof.push(hash);
  }
  if (oldSize === 0 && proof.length > 0) throw invalid('consistency proof must be empty when the old size is 0');
  let note: Note;
  let checkpoint: Checkpoint;
  try {
    note = parseNote(text.slice(position));
    checkpoint = parseCheckpoint(note.text);
  } catch {
    throw invalid('request must end with a signed checkpoint note');
  }
  if (oldSize > checkpoint.size) throw invalid('old size must not exceed the checkpoint size');
  return { oldSize, proof, note, checkpoint };
}

/** The logs a witness cosigns: each origin with the verifier keys it trusts for it. */
export type WitnessedLogs = ReadonlyMap<string, ReadonlyArray<NoteVerifier>>;

/** Groups log verifier keys by their name, the origin of the checkpoints they sign. */
export function witnessedLogs(verifiers: ReadonlyArray<NoteVerifier>): Map<string, NoteVerifier[]> {
  const logs = new Map<string, NoteVerifier[]>();
  for (const verifier of verifiers) {
    const list = logs.get(verifier.name) ?? [];
    if (!list.some((known) => known.keyHash === verifier.keyHash)) list.push(verifier);
    logs.set(verifier.name, list);
  }
  return logs;
}

/** What the witness decided to cosign: the lines to answer with and the checkpoint to persist first. */
export interface WitnessDecision {
  origin: string;
  /** Size of the checkpoint the decision was made against (-1: none held), for the compare-and-swap. */
  previousSize: number;
  /** To store before answering: the checkpoint with the log signatures that verified. */
  save: WitnessedCheckpoint;
  /** The answer body: one cosignature line per witness key, each ending in a newline. */
  cosignatures: string;
}

/** The signature lines of a note, as they follow its blank line. */
export function formatSignatureLines(text: string, signatures: ReadonlyArray<NoteSignature>): string {
  const note = formatNote({ text, signatures: [...signatures] });
  return note.slice(text.length + 1);
}

/**
 * Reads an add-checkpoint answer (signature lines) against the checkpoint text it is for: the note
 * they make with it, so the caller verifies them with the witness keys it trusts.
 */
export function parseCosignatureLines(checkpointText: string, body: string): Note {
  if (body.length === 0 || !body.startsWith('\u2014 ')) throw new LogError('ERR_LOG_NOTE_INVALID', 'witness answer is not signature lines');
  return parseNote(`${checkpointText}\n${body}`);
}

/**
 * The witness's checks, in the order tlog-witness gives them. Throws ERR_WITNESS_UNKNOWN_LOG (404)
 * for an origin it does not witness; ERR_WITNESS_SIGNATURE (403) when no trusted log key signed
 * (or a trusted key's signature fails); WitnessConflictError (409) when the old size is not the
 * size it holds (0 when it holds none); ERR_WITNESS_CONFLICT (409) for a checkpoint of the size it
 * holds with another root hash; ERR_WITNESS_PROOF (422) when the consistency proof fails. The
 * decision must be persisted (compare-and-swap on `previousSize`) before its lines are sent.
 */
export async function decideAddCheckpoint(options: {
  request: AddCheckpointRequest;
  logs: WitnessedLogs;
  /** What the witness holds for the request's origin (read just before). */
  stored: WitnessedCheckpoint | undefined;
  signers: ReadonlyArray<NoteSigner>;
}): Promise<WitnessDecision> {
  const { request, logs, stored } = options;
  const origin = request.checkpoint.origin;
  const verifiers = logs.get(origin);
  if (verifiers === undefined || verifiers.length === 0) throw new LogError('ERR_WITNESS_UNKNOWN_LOG', 'the witness does not witness a log of this origin');
  let verified: NoteSignature[];
  try {
    verified = await verifiedSignatures(request.note, verifiers);
  } catch {
    verified = [];
  }
  if (verified.length === 0) throw new LogError('ERR_WITNESS_SIGNATURE', "checkpoint has no valid signature from the log's key");

  let held: Checkpoint | undefined;
  if (stored !== undefined) {
    try {
      held = parseCheckpoint(parseNote(stored.note).text);
    } catch {
      throw new LogError('ERR_STORE_CORRUPT', 'stored witnessed checkpoint is not a signed checkpoint');
    }
    if (held.size !== stored.size || held.origin !== origin) throw new LogError('ERR_STORE_CORRUPT', 'stored witnessed checkpoint does not match its record');
  }
  const heldSize = held?.size ?? 0;
  if (request.oldSize !== heldSize) throw new WitnessConflictError(heldSize);
  if (held !== undefined) {
    if (request.checkpoint.size === held.size && !equalBytes(request.checkpoint.rootHash, held.rootHash)) {
      throw new LogError('ERR_WITNESS_CONFLICT', 'checkpoint has the size of the one the witness cosigned but another root hash');
    }
    if (!verifyConsistency(held.size, request.checkpoint.size, request.proof, held.rootHash, request.checkpoint.rootHash)) {
      throw new LogError('ERR_WITNESS_PROOF', 'consistency proof from the old size to the checkpoint does not verify');
    }
  }
  // With no checkpoint held, old size 0 and an empty proof (checked by the parser) start the record.
  const text = request.note.text;
  const cosignatures: NoteSignature[] = [];
  for (const signer of options.signers) cosignatures.push({ name: signer.name, keyHash: signer.keyHash, signature: await signer.sign(text) });
  return {
    origin,
    previousSize: stored?.size ?? -1,
    save: { size: request.checkpoint.size, note: formatNote({ text, signatures: verified }) },
    cosignatures: formatSignatureLines(text, cosignatures),
  };
}
