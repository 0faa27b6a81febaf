/** C2SP signed-note: notes as text, their signature lines, and the rule that a known key must sign. */
import { LogError } from '../errors.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import { describe } from '../keys/key-arguments.ts';
import { printable } from '../io/printable.ts';
import { isKeyName } from '../keys/verifier-key.ts';

/** One signature line: the key name, the 32-bit key ID, and the signature bytes after it. */
export interface NoteSignature {
  name: string;
  /** The key ID as 8 lowercase hex digits (the first 4 bytes of the base64 data). */
  keyHash: string;
  signature: Uint8Array;
}

/** A note: its text (ending in a newline) and its signatures, in the order they appear. */
export interface Note {
  text: string;
  signatures: NoteSignature[];
}

/** Something that signs note text under a name and key ID (a log key, a cosigner). */
export interface NoteSigner {
  name: string;
  keyHash: string;
  sign(text: string): Promise<Uint8Array>;
}

/** Something that checks a signature of a note text made under its name and key ID. */
export interface NoteVerifier {
  name: string;
  keyHash: string;
  verify(text: string, signature: Uint8Array): Promise<boolean>;
}

/** Verifiers must accept at least 16 signatures (signed-note, "Format"); more are refused. */
export const MAX_NOTE_SIGNATURES = 100;

const EM_DASH_SPACE = '\u2014 ';
const STANDARD_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// ASCII control characters other than newline.
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(message: string): LogError {
  return new LogError('ERR_LOG_NOTE_INVALID', message);
}

/** The text of a note as signed-note allows it: UTF-8, no control characters but newline, ending in a newline. */
export function checkNoteText(text: string): void {
  if (!text.isWellFormed()) throw invalid('note is not valid UTF-8');
  if (CONTROL.test(text)) throw invalid('note contains an ASCII control character other than newline');
  if (text.length === 0 || text === '\n') throw invalid('note text is empty');
  if (!text.endsWith('\n')) throw invalid('note text must end with a newline');
}

function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

function bytesOfHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkSignatureShape(signature: NoteSignature): void {
  if (!isKeyName(signature.name)) throw invalid('note signature key name must be non-empty with no spaces and no "+"');
  if (!/^[0-9a-f]{8}$/.test(signature.keyHash)) throw invalid('note signature key ID must be 8 lowercase hex digits');
}

/**
 * The signed note, byte for byte (signed-note, "Format"):
 *
 *     <text, ending in "\n">
 *     "\n"
 *     for each signature: "— " <name> " " base64(keyID[4] || signature) "\n"
 *
 * "—" is U+2014; base64 is standard with padding (RFC 4648 section 4).
 */
export function formatNote(note: Note): string {
  checkNoteText(note.text);
  if (note.signatures.length === 0) throw invalid('note has no signature lines');
  if (note.signatures.length > MAX_NOTE_SIGNATURES) throw invalid('note has too many signature lines');
  let out = `${note.text}\n`;
  for (const signature of note.signatures) {
    checkSignatureShape(signature);
    const data = new Uint8Array(4 + signature.signature.length);
    data.set(bytesOfHex(signature.keyHash), 0);
    data.set(signature.signature, 4);
    out += `${EM_DASH_SPACE}${signature.name} ${encodeBase64(data)}\n`;
  }
  return out;
}

/**
 * Reads a signed note. The input is attacker-controlled: it is parsed strictly and no signature
 * is checked here (see verifyNote). Text and signatures split at the last blank line.
 */
export function parseNote(input: string | Uint8Array): Note {
  let message: string;
  if (typeof input === 'string') message = input;
  else if (!(input instanceof Uint8Array)) throw new TypeError(`a signed note must be its text or its bytes, not ${describe(input)}`);
  else {
    try {
      message = decoder.decode(input);
    } catch {
      throw invalid('note is not valid UTF-8');
    }
  }
  if (!message.isWellFormed()) throw invalid('note is not valid UTF-8');
  if (CONTROL.test(message)) throw invalid('note contains an ASCII control character other than newline');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw invalid('note has no blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  checkNoteText(text);
  if (block.length === 0 || !block.endsWith('\n')) throw invalid('note signature block must be lines ending in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw invalid('note has too many signature lines');
  const signatures: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_SPACE)) throw invalid('note signature line must start with "— "');
    const rest = line.slice(EM_DASH_SPACE.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const encoded = rest.slice(space + 1);
    if (space < 0 || !isKeyName(name)) throw invalid('note signature key name must be non-empty with no spaces and no "+"');
    const data = STANDARD_BASE64.test(encoded) && encoded.length % 4 === 0 ? decodeBase64(encoded) : undefined;
    if (data === undefined) throw invalid('note signature is not standard, padded base64');
    if (data.length < 5) throw invalid('note signature is shorter than a key ID and a signature');
    const keyHash = hexOf(data.subarray(0, 4));
    // One signature per key: a second one from the same name and key ID is refused, not guessed at.
    if (seen.has(`${name} ${keyHash}`)) throw invalid('note has two signatures from the same key');
    seen.add(`${name} ${keyHash}`);
    signatures.push({ name, keyHash, signature: Uint8Array.from(data.subarray(4)) });
  }
  return { text, signatures };
}

function isNoteKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const key = value as { name?: unknown; keyHash?: unknown };
  return typeof key.name === 'string' && key.keyHash !== undefined;
}

/** Verifiers are objects from noteVerifier or parseNoteVerifier; verifier key text must be parsed first. */
export function requireNoteVerifier(value: unknown, what: string): asserts value is NoteVerifier {
  if (isNoteKey(value) && typeof (value as { verify?: unknown }).verify === 'function') return;
  if (typeof value === 'string') throw new TypeError(`${what} must be a NoteVerifier: parse verifier key text with parseNoteVerifier first`);
  throw new TypeError(`${what} must be a NoteVerifier (from noteVerifier or parseNoteVerifier), not ${describe(value)}`);
}

function requireNoteVerifiers(value: unknown, what: string): asserts value is ReadonlyArray<NoteVerifier> {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array of NoteVerifier objects, not ${describe(value)}`);
  value.forEach((verifier, index) => requireNoteVerifier(verifier, `${what}[${index}]`));
}

/**
 * The signatures of `note` made by the given verifiers, each checked. Signatures from unknown keys
 * (name and key ID not both matching a verifier) are ignored, as signed-note requires; a signature
 * from a known key that does not verify fails the whole note.
 */
export async function verifiedSignatures(note: Note, verifiers: ReadonlyArray<NoteVerifier>): Promise<NoteSignature[]> {
  requireNoteVerifiers(verifiers, 'note verifiers');
  const verified: NoteSignature[] = [];
  for (const signature of note.signatures) {
    const verifier = verifiers.find((candidate) => candidate.name === signature.name && candidate.keyHash === signature.keyHash);
    if (verifier === undefined) continue;
    if (!(await verifier.verify(note.text, signature.signature))) {
      throw new LogError('ERR_LOG_NOTE_SIGNATURE', 'signature verification failed');
    }
    verified.push(signature);
  }
  return verified;
}

/** A key as a note signature names it: its name and 32-bit key ID (C2SP signed-note). */
export interface NoteKeyId {
  name: string;
  keyHash: string;
}

/**
 * How an UnknownSignerError names things for its reader: the note (given its first line, made
 * printable, for a checkpoint the origin it claims: `the log's latest checkpoint (log "X")`), the
 * keys it was checked with (`--key`), and what to do about it.
 */
export interface UnknownSignerWording {
  note: (firstLine: string) => string;
  keys?: string;
  remedy?: string;
}

/** At most this many signatures and keys are named in the message; the rest are counted. */
const NAMED_KEYS = 4;

function keyList(keys: ReadonlyArray<NoteKeyId>): string {
  const named = keys.slice(0, NAMED_KEYS).map((key) => `${printable(key.name, 60)}+${printable(key.keyHash, 8)}`);
  const more = keys.length - named.length;
  return named.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/**
 * A note with no signature from any of the keys it was checked with (ERR_LOG_NOTE_SIGNATURE).
 * Signed-note matches a signature to a key by name and key ID: a key whose name is no signer's
 * is a key for another note (another log); one with a signer's name but another key ID is
 * another key under that name (a new or a stranger's key). The message says which, with what the
 * note claims and carries (a server's answer: printed escaped and cut), so that a caller's
 * wording (`in`) can say which note it was and what to give instead.
 */
export class UnknownSignerError extends LogError {
  /** The note's first line as it is (unverified: for a checkpoint, the origin it claims). */
  readonly firstLine: string;
  /** The keys the note's signatures name. */
  readonly signedBy: ReadonlyArray<NoteKeyId>;
  /** The keys it was checked with. */
  readonly given: ReadonlyArray<NoteKeyId>;

  constructor(firstLine: string, signedBy: ReadonlyArray<NoteKeyId>, given: ReadonlyArray<NoteKeyId>, wording?: UnknownSignerWording) {
    super('ERR_LOG_NOTE_SIGNATURE', unknownSignerMessage(firstLine, signedBy, given, wording));
    this.firstLine = firstLine;
    this.signedBy = signedBy;
    this.given = given;
  }

  /** A LogError to those who match on the name (the class is not exported; the code is the contract). */
  override get name(): string {
    return 'LogError';
  }

  /** The same finding in a caller's words (which note this is, what the keys are called, what to do). */
  in(wording: UnknownSignerWording): UnknownSignerError {
    return new UnknownSignerError(this.firstLine, this.signedBy, this.given, wording);
  }
}

/** `work`, with a note its keys did not sign (UnknownSignerError) said in `wording` (undefined: as it is). */
export async function withSignerWording<T>(wording: UnknownSignerWording | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UnknownSignerError && wording !== undefined) throw error.in(wording);
    throw error;
  }
}

function unknownSignerMessage(firstLine: string, signedBy: ReadonlyArray<NoteKeyId>, given: ReadonlyArray<NoteKeyId>, wording?: UnknownSignerWording): string {
  const subject = wording === undefined ? `note "${printable(firstLine, 80)}"` : wording.note(printable(firstLine, 80));
  const one = given.length === 1;
  const keys = wording?.keys ?? (one ? 'the key given' : 'the keys given');
  // A signer's name with another key ID: the same name, another key; no signer's name: another note's key.
  const sameName = given.some((key) => signedBy.some((signature) => signature.name === key.name));
  const why = sameName ? (one ? 'another key with the same name' : 'not the key of a signer with that name') : one ? 'a key for another name' : 'keys for other names';
  const signers = signedBy.length === 0 ? 'has no signature' : `is signed by ${keyList(signedBy)}`;
  const remedy = wording?.remedy === undefined ? '' : `: ${wording.remedy}`;
  return `${subject} ${signers}; ${keys} ${one ? 'is' : 'are'} ${keyList(given)} (${why})${remedy}`;
}

/**
 * Opens a signed note: parses it and checks that at least one signature is from a known key and
 * that every signature from a known key verifies. Returns the text, which may be trusted only now.
 */
export async function verifyNote(
  input: string | Uint8Array | Note,
  verifiers: ReadonlyArray<NoteVerifier>,
): Promise<{ text: string; note: Note; verified: NoteSignature[] }> {
  requireNoteVerifiers(verifiers, 'verifyNote verifiers');
  const note = typeof input === 'string' || input instanceof Uint8Array ? parseNote(input) : input;
  const verified = await verifiedSignatures(note, verifiers);
  if (verified.length === 0) {
    const end = note.text.indexOf('\n');
    const firstLine = end < 0 ? note.text : note.text.slice(0, end);
    const key = ({ name, keyHash }: NoteKeyId): NoteKeyId => ({ name, keyHash });
    throw new UnknownSignerError(firstLine, note.signatures.map(key), verifiers.map(key));
  }
  return { text: note.text, note, verified };
}

/** Signs `text` with each signer and returns the signed note. */
export async function signNote(text: string, signers: NoteSigner | ReadonlyArray<NoteSigner>): Promise<string> {
  if (typeof text !== 'string') throw new TypeError(`note text must be a string, not ${describe(text)}`);
  checkNoteText(text);
  const list = Array.isArray(signers) ? (signers as ReadonlyArray<NoteSigner>) : [signers as NoteSigner];
  for (const signer of list) {
    if (!isNoteKey(signer) || typeof (signer as { sign?: unknown }).sign !== 'function') {
      throw new TypeError(`note signers must be NoteSigner objects (from noteSigner), not ${describe(signer)}`);
    }
  }
  const signatures: NoteSignature[] = [];
  for (const signer of list) signatures.push({ name: signer.name, keyHash: signer.keyHash, signature: await signer.sign(text) });
  return formatNote({ text, signatures });
}

/** The note with more signatures appended (a cosignature added to a checkpoint, for example). */
export function addSignatures(note: Note, signatures: ReadonlyArray<NoteSignature>): Note {
  return { text: note.text, signatures: [...note.signatures, ...signatures] };
}
