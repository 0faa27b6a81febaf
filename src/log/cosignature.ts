/** C2SP tlog-cosignature, "Ed25519 signed message": cosignature/v1, a witness's timestamped signature of a checkpoint. */
import { KeyError, LogError } from '../errors.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import { requirePublicKey, requireSigningKey } from '../keys/key-arguments.ts';
import { importPublicKey, type PublicKey, type SigningKey } from '../keys/keys.ts';
import { isKeyName, noteKeyHash } from '../keys/verifier-key.ts';
import { addSignatures, parseNote, verifiedSignatures, type Note, type NoteSignature, type NoteSigner, type NoteVerifier } from './note.ts';

/** Signature type of timestamped Ed25519 cosignatures (signed-note, "Signature types"). */
export const COSIGNATURE_TYPE = 0x04;
const MAX_TIMESTAMP = 2n ** 63n - 1n;
const ED25519 = { name: 'Ed25519' } as const;
const encoder = new TextEncoder();

/** A cosignature read back: who made it, when (POSIX seconds), and the Ed25519 signature. */
export interface Cosignature {
  name: string;
  timestamp: number;
  signature: Uint8Array;
}

function checkName(name: string): void {
  if (!isKeyName(name)) throw new KeyError('ERR_KEY_INVALID', 'key name must be non-empty and contain no spaces and no "+"');
}

/** key ID = SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4], as 8 lowercase hex digits. */
export function cosignerKeyHash(name: string, raw: Uint8Array): string {
  return noteKeyHash(name, raw, COSIGNATURE_TYPE);
}

/** The cosigner's vkey: `<name>+<key ID>+<base64(0x04 || key)>`. */
export function formatCosignerKey(name: string, key: PublicKey): string {
  checkName(name);
  return `${name}+${cosignerKeyHash(name, key.raw)}+${encodeBase64(Uint8Array.of(COSIGNATURE_TYPE, ...key.raw))}`;
}

/** A cosignature verifier from a cosigner vkey; the key ID must match the name and the key. */
export async function parseCosignerKey(text: string): Promise<NoteVerifier> {
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  const name = text.slice(0, first);
  const hash = text.slice(first + 1, second);
  const encoded = text.slice(second + 1);
  const data = first < 0 || second < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? undefined : decodeBase64(encoded);
  if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(hash) || data === undefined) {
    throw new KeyError('ERR_KEY_INVALID', 'cosigner key is not of the form <name>+<8 hex digits>+<base64>');
  }
  if (data[0] !== COSIGNATURE_TYPE) throw new KeyError('ERR_KEY_UNSUPPORTED', 'cosigner key is not a cosignature/v1 (type 0x04) key');
  if (data.length !== 33) throw new KeyError('ERR_KEY_INVALID', 'cosigner key must hold a 32-byte Ed25519 key');
  const raw = data.subarray(1);
  if (cosignerKeyHash(name, raw) !== hash) throw new KeyError('ERR_KEY_INVALID', 'cosigner key hash does not match its name and key');
  return cosignatureVerifier(name, await importPublicKey(raw));
}

/**
 * The message a cosigner signs, byte for byte:
 *
 *     "cosignature/v1\n"
 *     "time " <timestamp, ASCII decimal, no leading zeros> "\n"
 *     <the checkpoint note text, with its final newline, without signature lines>
 */
export function cosignedMessage(checkpointText: string, timestamp: number | bigint): string {
  return `cosignature/v1\ntime ${BigInt(timestamp)}\n${checkpointText}`;
}

function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp must be a non-negative safe integer of seconds');
}

/** Signs checkpoints as a witness: the signature is the 8-byte big-endian timestamp || Ed25519 signature. */
export function cosignatureSigner(name: string, key: SigningKey, now: () => number = () => Math.floor(Date.now() / 1000)): NoteSigner {
  requireSigningKey(key, 'cosignatureSigner key');
  checkName(name);
  return {
    name,
    keyHash: cosignerKeyHash(name, key.publicKey.raw),
    async sign(text: string): Promise<Uint8Array> {
      const timestamp = now();
      checkTimestamp(timestamp);
      const signature = new Uint8Array(await globalThis.crypto.subtle.sign(ED25519, key.cryptoKey, encoder.encode(cosignedMessage(text, timestamp))));
      const out = new Uint8Array(72);
      new DataView(out.buffer).setBigUint64(0, BigInt(timestamp));
      out.set(signature, 8);
      return out;
    },
  };
}

/** Splits the signature bytes of a cosignature line into its timestamp and Ed25519 signature. */
export function parseCosignature(name: string, bytes: Uint8Array): Cosignature {
  if (bytes.length !== 72) throw new LogError('ERR_LOG_COSIGNATURE_INVALID', 'cosignature must be an 8-byte timestamp and a 64-byte signature');
  const timestamp = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  if (timestamp > MAX_TIMESTAMP) throw new LogError('ERR_LOG_COSIGNATURE_INVALID', 'cosignature timestamp must not exceed 2^63 - 1');
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new LogError('ERR_LOG_COSIGNATURE_INVALID', 'cosignature timestamp is beyond 2^53 - 1 seconds');
  return { name, timestamp: Number(timestamp), signature: Uint8Array.from(bytes.subarray(8)) };
}

/** Checks cosignatures made under `name` by `key`. */
export function cosignatureVerifier(name: string, key: PublicKey): NoteVerifier {
  requirePublicKey(key, 'cosignatureVerifier key');
  checkName(name);
  return {
    name,
    keyHash: cosignerKeyHash(name, key.raw),
    async verify(text: string, bytes: Uint8Array): Promise<boolean> {
      let cosignature: Cosignature;
      try {
        cosignature = parseCosignature(name, bytes);
      } catch {
        return false;
      }
      const message = encoder.encode(cosignedMessage(text, cosignature.timestamp));
      return globalThis.crypto.subtle.verify(ED25519, key.cryptoKey, Uint8Array.from(cosignature.signature), message);
    },
  };
}

/** Adds the witness's cosignature line to a signed checkpoint and returns the new signed note text. */
export async function cosignCheckpoint(note: Note, signer: NoteSigner): Promise<Note> {
  const signature = await signer.sign(note.text);
  return { text: note.text, signatures: [...note.signatures, { name: signer.name, keyHash: signer.keyHash, signature }] };
}

/**
 * The log's signed checkpoint with the witness cosignatures that arrived for it: the one rule by
 * which runprint's log adds cosignatures to a note, a new checkpoint's (witnessCollector) or a
 * stored one asked again (TransparencyLog, replaceCheckpointNote). Line by line:
 *
 * - The text never changes, and the first line, the log's own signature (a note the log signs
 *   starts with it), is always kept: every reader verifies the note as before.
 * - A line `replaced` names is removed: for the log a configured witness's line that does not
 *   verify under that witness's key (a note damaged in storage). It is no cosignature, and a
 *   client checking that witness would refuse the whole note for it (verifyCosignatures).
 * - Every other line is kept byte for byte, in its place: the valid lines of configured
 *   witnesses, and lines of keys the caller does not know (another process's witnesses, theirs
 *   to check).
 * - An arrived line is appended after them, in the order given, unless a kept line or an earlier
 *   arrived one has its key (name and key ID): a note carries each witness's cosignature once,
 *   the one it had first. So a removed line's key takes the witness's valid line in its place.
 *
 * Undefined when no line is appended: the note is then left as it is, lines `replaced` names
 * included (a note is rewritten only to gain a cosignature).
 */
export function addCosignatures(note: Note, arrived: ReadonlyArray<NoteSignature>, replaced: (signature: NoteSignature) => boolean): Note | undefined {
  const kept = note.signatures.filter((signature, index) => index === 0 || !replaced(signature));
  const present = new Set(kept.map(keyOfLine));
  const added: NoteSignature[] = [];
  for (const signature of arrived) {
    if (present.has(keyOfLine(signature))) continue;
    present.add(keyOfLine(signature));
    added.push(signature);
  }
  return added.length === 0 ? undefined : addSignatures({ text: note.text, signatures: kept }, added);
}

/** A signature line's key: its name and key ID (signed-note allows one line per key). */
function keyOfLine(signature: NoteSignature): string {
  return `${signature.name} ${signature.keyHash}`;
}

/**
 * The cosignatures of a signed checkpoint made by the given witnesses, each verified. Lines from
 * other keys are ignored; a line from a known witness that fails to verify fails the whole note.
 */
export async function verifyCosignatures(input: string | Note, witnesses: ReadonlyArray<NoteVerifier>): Promise<Cosignature[]> {
  const note = typeof input === 'string' ? parseNote(input) : input;
  let verified;
  try {
    verified = await verifiedSignatures(note, witnesses);
  } catch (error) {
    if (error instanceof LogError && error.code === 'ERR_LOG_NOTE_SIGNATURE') {
      throw new LogError('ERR_LOG_COSIGNATURE_INVALID', 'signature verification failed');
    }
    throw error;
  }
  return verified.map((signature) => parseCosignature(signature.name, signature.signature));
}
