/** DSSE v1.0 envelope (secure-systems-lab/dsse, envelope.md): its JSON shape, read defensively and written in one form. */
import { RunprintError, ReceiptError } from '../errors.ts';
import { parseJson } from '../jcs/parse.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';

/** The payload type of an in-toto statement in DSSE (in-toto attestation spec v1, envelope.md). */
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Largest envelope text read, in bytes: a receipt is metadata, never content. */
export const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;

/** Most signatures read from one envelope: each costs a signature check per key. */
export const MAX_SIGNATURES = 16;

export interface EnvelopeSignature {
  /** Unauthenticated hint naming the key (runprint: its key id); never used for a security decision. */
  keyid?: string;
  /** Base64 of the 64-byte Ed25519 signature over PAE(payloadType, payload). */
  sig: string;
}

export interface Envelope {
  /** Base64 of the serialized statement (the signed bytes). */
  payload: string;
  payloadType: string;
  signatures: EnvelopeSignature[];
}

function invalid(message: string): ReceiptError {
  return new ReceiptError('ERR_ENVELOPE_INVALID', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the shape of an envelope given as JSON text, bytes or an already parsed value. The input
 * is attacker-controlled: it is parsed with the strict I-JSON parser (a duplicate member, which
 * two parsers could resolve differently, is rejected) and copied into a fresh object, so nothing
 * but the three DSSE members is kept. Unknown members are ignored; `keyid` "" counts as absent.
 */
export function readEnvelope(input: unknown): Envelope {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = parseJson(input, { maxBytes: MAX_ENVELOPE_BYTES });
    } catch (error) {
      if (error instanceof RunprintError) throw invalid(`envelope is not strict JSON (${error.code})`);
      throw error;
    }
  }
  if (!isObject(value)) throw invalid('envelope must be a JSON object');
  const { payload, payloadType, signatures } = value;
  // Another JSON file given for a receipt (a request, a response, a bundle where only an envelope
  // is taken): said plainly rather than as the first member missing.
  if (payload === undefined && payloadType === undefined && signatures === undefined) {
    if (Object.hasOwn(value, 'mediaType') || Object.hasOwn(value, 'dsseEnvelope')) {
      throw invalid('this is a Sigstore bundle, where only a DSSE envelope (a runprint receipt) is taken');
    }
    throw invalid('not a DSSE envelope (a runprint receipt) or a Sigstore bundle: it has none of "payload", "payloadType", "signatures"');
  }
  if (typeof payload !== 'string') throw invalid('envelope "payload" must be a string');
  if (typeof payloadType !== 'string') throw invalid('envelope "payloadType" must be a string');
  if (!Array.isArray(signatures) || signatures.length === 0) throw invalid('envelope "signatures" must be a non-empty array');
  // A receipt has one signature or a few (application, gateway); thousands would only cost time.
  if (signatures.length > MAX_SIGNATURES) throw invalid(`envelope has more than ${MAX_SIGNATURES} signatures`);
  const copied: EnvelopeSignature[] = [];
  for (const signature of signatures as unknown[]) {
    if (!isObject(signature)) throw invalid('each envelope signature must be an object');
    const { keyid, sig } = signature;
    if (typeof sig !== 'string') throw invalid('envelope signature "sig" must be a string');
    if (keyid !== undefined && typeof keyid !== 'string') throw invalid('envelope signature "keyid" must be a string');
    copied.push(keyid === undefined || keyid === '' ? { sig } : { keyid, sig });
  }
  return { payload, payloadType, signatures: copied };
}

/** Decodes the payload; ERR_ENVELOPE_BASE64 when it is not base64 of one spelling (base64.ts). */
export function decodePayload(envelope: Envelope): Uint8Array {
  const bytes = decodeBase64(envelope.payload);
  if (bytes === undefined) throw new ReceiptError('ERR_ENVELOPE_BASE64', 'envelope "payload" is not base64');
  return bytes;
}

/** Decodes one signature; ERR_ENVELOPE_BASE64 when it is not base64. */
export function decodeSignature(signature: EnvelopeSignature, index: number): Uint8Array {
  const bytes = decodeBase64(signature.sig);
  if (bytes === undefined) throw new ReceiptError('ERR_ENVELOPE_BASE64', `envelope signature ${index} "sig" is not base64`);
  return bytes;
}

/**
 * The envelope as runprint writes it: members in the order payload, payloadType, signatures;
 * each signature as {"keyid", "sig"}; standard base64 with padding; two-space indentation and a
 * final newline. Verifiers do not depend on this form.
 */
export function formatEnvelope(envelope: Envelope): string {
  const signatures = envelope.signatures.map((s) => (s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig }));
  // A payload encodeBase64 made (envelopeOf) holds only base64 characters, which JSON writes as
  // they are: its JSON string is not made again (a scan of some 10 MB for a run of 100,000
  // messages), the rest is JSON.stringify's text, indented as it indents a first member. Joined,
  // the text is one piece (not pieces to put together later, where it is sent or encoded).
  if (encoded.get(envelope) === envelope.payload) {
    const rest = JSON.stringify({ payloadType: envelope.payloadType, signatures }, null, 2);
    return ['{\n  "payload": "', envelope.payload, '",\n', rest.slice(2), '\n'].join('');
  }
  return `${JSON.stringify({ payload: envelope.payload, payloadType: envelope.payloadType, signatures }, null, 2)}\n`;
}

/** The payloads envelopeOf encoded, by envelope (base64 only: formatEnvelope need not escape them). */
const encoded = new WeakMap<Envelope, string>();

/** Builds an unsigned envelope around serialized statement bytes. */
export function envelopeOf(payload: Uint8Array): Envelope {
  const envelope: Envelope = { payload: encodeBase64(payload), payloadType: PAYLOAD_TYPE, signatures: [] };
  encoded.set(envelope, envelope.payload);
  return envelope;
}
