/** docs/RECEIPTS.md section 15 step 1: a receipt as given, a DSSE envelope or a Sigstore bundle around one. */
import { ReceiptError, RunprintError } from '../errors.ts';
import { parseJson } from '../jcs/parse.ts';
import { MAX_ENVELOPE_BYTES, readEnvelope, type Envelope } from './envelope.ts';
import { parseBundle } from './sigstore-bundle.ts';

/** A receipt read at step 1: its envelope, and the key hint when it came in a Sigstore bundle. */
export interface ReceiptInput {
  envelope: Envelope;
  /** The bundle's `verificationMaterial.publicKey.hint` (section 16.2); absent for a bare envelope. */
  bundleKeyHint?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Section 15 step 1: a JSON object with a member `mediaType` or `dsseEnvelope` is a Sigstore
 * bundle, read by the rules of 16.4; any other value is read as a DSSE envelope. No DSSE envelope
 * has either member and every bundle has `mediaType`, so the two readings never compete.
 */
export function isBundle(value: unknown): boolean {
  return isObject(value) && (Object.hasOwn(value, 'mediaType') || Object.hasOwn(value, 'dsseEnvelope'));
}

/**
 * Reads a receipt given as JSON text, bytes or a parsed value. Attacker-controlled: parsed as
 * strict I-JSON (ERR_ENVELOPE_INVALID), then read as a bundle (16.4: its own codes and paths) or
 * as an envelope (15 step 1).
 */
export function readReceiptInput(input: unknown): ReceiptInput {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = parseJson(input, { maxBytes: MAX_ENVELOPE_BYTES });
    } catch (error) {
      if (error instanceof RunprintError) throw new ReceiptError('ERR_ENVELOPE_INVALID', `envelope is not strict JSON (${error.code})`);
      throw error;
    }
  }
  if (!isBundle(value)) return { envelope: readEnvelope(value) };
  const { envelope, publicKeyHint } = parseBundle(value);
  return { envelope: readEnvelope(envelope), bundleKeyHint: publicKeyHint };
}
