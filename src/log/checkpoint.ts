/** C2SP tlog-checkpoint, "Note text": the three lines of a tree head and optional extension lines. */
import { LogError } from '../errors.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import { checkNoteText } from './note.ts';

/** A tree head: the log's origin, its size, and the RFC 6962 root hash at that size. */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** Opaque extension lines, each non-empty (NOT RECOMMENDED by the spec; runprint writes none). */
  extensions?: string[];
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function invalid(message: string): LogError {
  return new LogError('ERR_LOG_CHECKPOINT_INVALID', message);
}

/** A size or index as the C2SP formats write it: ASCII decimal, no leading zeros, at most 2^53 - 1 here. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The 32-byte hash of a standard, padded base64 text (RFC 4648 section 4), or undefined. */
export function parseHash(text: string): Uint8Array | undefined {
  if (!STANDARD_BASE64.test(text) || text.length !== 44) return undefined;
  const bytes = decodeBase64(text);
  return bytes?.length === 32 ? bytes : undefined;
}

function checkLine(line: string, what: string): void {
  if (line.length === 0 || line.includes('\n')) throw invalid(`checkpoint ${what} must be one non-empty line`);
}

/**
 * The checkpoint note text, byte for byte:
 *
 *     <origin> "\n"
 *     <size, ASCII decimal, no leading zeros> "\n"
 *     <base64(rootHash), standard with padding, 44 characters> "\n"
 *     for each extension: <extension> "\n"
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  checkLine(checkpoint.origin, 'origin');
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) throw invalid('checkpoint size must be a non-negative safe integer');
  if (checkpoint.rootHash.length !== 32) throw invalid('checkpoint root hash must be 32 bytes');
  let text = `${checkpoint.origin}\n${checkpoint.size}\n${encodeBase64(checkpoint.rootHash)}\n`;
  for (const extension of checkpoint.extensions ?? []) {
    checkLine(extension, 'extension line');
    text += `${extension}\n`;
  }
  checkNoteText(text);
  return text;
}

/**
 * Reads checkpoint note text (the text of a signed note, after its signatures are verified). A
 * size with a leading zero or a sign, a root hash that is not 32 bytes in padded standard base64,
 * an empty line, or text not ending in a newline is refused.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw new TypeError('checkpoint text must be a string (the text of a verified note)');
  if (!text.endsWith('\n')) throw invalid('checkpoint must end with a newline');
  try {
    checkNoteText(text);
  } catch {
    throw invalid('checkpoint contains a character a note may not hold');
  }
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid('checkpoint must have an origin, a size and a root hash line');
  const [origin, sizeText, hashText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw invalid('checkpoint origin must be one non-empty line');
  const size = parseDecimal(sizeText);
  if (size === undefined) throw invalid('checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1');
  const rootHash = parseHash(hashText);
  if (rootHash === undefined) throw invalid('checkpoint root hash must be 32 bytes in standard base64');
  if (extensions.some((line) => line.length === 0)) throw invalid('checkpoint extension lines must be non-empty');
  return extensions.length === 0 ? { origin, size, rootHash } : { origin, size, rootHash, extensions };
}
