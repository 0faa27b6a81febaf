/** Sigstore bundle v0.3 (sigstore/protobuf-specs sigstore_bundle.proto, proto3 JSON mapping) around a receipt. */
import { ReceiptError, formatPath } from '../errors.ts';

/** The one media type runprint writes and reads. Older bundle versions are refused. */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A DSSE envelope as JSON: { payload: base64, payloadType: string, signatures: [{ keyid?: string, sig: base64 }] } */
export interface DsseEnvelopeJson {
  payload: string;
  payloadType: string;
  signatures: Array<{ keyid?: string; sig: string }>;
}

/** The JSON form of the bundle runprint writes; member names as the proto3 JSON mapping gives them. */
export interface SigstoreBundleJson {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  verificationMaterial: { publicKey: { hint: string } };
  dsseEnvelope: { payload: string; payloadType: string; signatures: [{ sig: string; keyid: string }] };
}

type Segments = Array<string | number>;

/**
 * Wraps a single-signature DSSE envelope in a Sigstore bundle v0.3 that names its key by a hint:
 *
 * ```json
 * {
 *   "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
 *   "verificationMaterial": { "publicKey": { "hint": "<hint>" } },
 *   "dsseEnvelope": {
 *     "payload": "<base64>",
 *     "payloadType": "application/vnd.in-toto+json",
 *     "signatures": [{ "sig": "<base64>", "keyid": "<hint>" }]
 *   }
 * }
 * ```
 *
 * No `tlogEntries` and no `timestampVerificationData`: proto3 JSON omits empty fields, and runprint
 * records log inclusion in its own C2SP proof, not in Rekor. The bundle proto requires exactly one
 * signature on a bundled envelope and the same hint in the envelope as in the verification material,
 * so `signatures` must hold one signature whose `keyid` equals `publicKeyHint`; to publish an
 * envelope signed by several keys, write one bundle per signature (the PAE is the same, so each
 * single-signature envelope still verifies). Error paths point into `envelope`.
 */
export function formatBundle(envelope: DsseEnvelopeJson, options: { publicKeyHint: string }): SigstoreBundleJson {
  if (typeof envelope !== 'object' || envelope === null) throw new TypeError('envelope must be an object');
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const hint = options.publicKeyHint;
  if (typeof hint !== 'string') throw new TypeError('options.publicKeyHint must be a string');
  if (!isHint(hint)) {
    throw new ReceiptError('ERR_BUNDLE_INVALID', 'publicKeyHint must be 1 to 256 printable ASCII characters');
  }
  const checked = readEnvelope(envelope, [], hint);
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint } },
    dsseEnvelope: {
      payload: checked.payload,
      payloadType: checked.payloadType,
      signatures: [{ sig: checked.sig, keyid: hint }],
    },
  };
}

/**
 * Reads a bundle written by `formatBundle`, strictly. Checks, in order: the bundle is an object with
 * only `mediaType`, `verificationMaterial` and `dsseEnvelope` (a `messageSignature` is refused); the
 * media type is exactly v0.3; the key is a public-key hint (no certificate, no transparency log
 * entries, no timestamps); the envelope has a base64 payload, a payload type and exactly one
 * signature whose `keyid` equals the hint. The value is attacker-controlled: nothing in it is echoed
 * in an error message. It does not verify the signature; the receipt checks do that.
 */
export function parseBundle(value: unknown): { envelope: DsseEnvelopeJson; publicKeyHint: string } {
  const bundle = readObject(value, [], 'ERR_BUNDLE_INVALID', 'bundle');
  if (Object.hasOwn(bundle, 'messageSignature')) {
    bundleError('bundle must carry a DSSE envelope, not a message signature', ['messageSignature']);
  }
  onlyMembers(bundle, ['mediaType', 'verificationMaterial', 'dsseEnvelope'], [], 'ERR_BUNDLE_INVALID');

  if (bundle['mediaType'] !== BUNDLE_MEDIA_TYPE) {
    bundleError(`mediaType must be ${BUNDLE_MEDIA_TYPE}`, ['mediaType']);
  }

  const material = readObject(bundle['verificationMaterial'], ['verificationMaterial'], 'ERR_BUNDLE_INVALID', 'verificationMaterial');
  for (const name of ['x509CertificateChain', 'certificate']) {
    if (Object.hasOwn(material, name)) {
      bundleError('verificationMaterial must name its key by a public-key hint, not a certificate', ['verificationMaterial', name]);
    }
  }
  const tlogEntries = material['tlogEntries'];
  if (tlogEntries !== undefined && !(Array.isArray(tlogEntries) && tlogEntries.length === 0)) {
    bundleError('tlogEntries must be absent or empty', ['verificationMaterial', 'tlogEntries']);
  }
  if (material['timestampVerificationData'] !== undefined) {
    bundleError('timestampVerificationData must be absent', ['verificationMaterial', 'timestampVerificationData']);
  }
  onlyMembers(material, ['publicKey', 'tlogEntries'], ['verificationMaterial'], 'ERR_BUNDLE_INVALID');

  const publicKey = readObject(material['publicKey'], ['verificationMaterial', 'publicKey'], 'ERR_BUNDLE_INVALID', 'publicKey');
  onlyMembers(publicKey, ['hint'], ['verificationMaterial', 'publicKey'], 'ERR_BUNDLE_INVALID');
  const hint = publicKey['hint'];
  if (typeof hint !== 'string' || !isHint(hint)) {
    bundleError('hint must be 1 to 256 printable ASCII characters', ['verificationMaterial', 'publicKey', 'hint']);
  }

  if (bundle['dsseEnvelope'] === undefined) bundleError('bundle must carry a dsseEnvelope', ['dsseEnvelope']);
  const checked = readEnvelope(bundle['dsseEnvelope'], ['dsseEnvelope'], hint);
  return {
    envelope: {
      payload: checked.payload,
      payloadType: checked.payloadType,
      signatures: [{ keyid: hint, sig: checked.sig }],
    },
    publicKeyHint: hint,
  };
}

/** The envelope rules shared by both directions; `at` is where the envelope sits. */
function readEnvelope(value: unknown, at: Segments, hint: string): { payload: string; payloadType: string; sig: string } {
  const envelope = readObject(value, at, 'ERR_ENVELOPE_INVALID', 'envelope');
  onlyMembers(envelope, ['payload', 'payloadType', 'signatures'], at, 'ERR_ENVELOPE_INVALID');

  const payload = envelope['payload'];
  if (typeof payload !== 'string' || payload.length === 0) {
    envelopeError('payload must be a non-empty base64 string', [...at, 'payload']);
  }
  if (!isBase64(payload)) {
    throw new ReceiptError('ERR_ENVELOPE_BASE64', 'payload must be standard base64 with padding', formatPath([...at, 'payload']));
  }
  const payloadType = envelope['payloadType'];
  if (typeof payloadType !== 'string' || payloadType.length === 0) {
    envelopeError('payloadType must be a non-empty string', [...at, 'payloadType']);
  }

  const signatures = envelope['signatures'];
  if (!Array.isArray(signatures) || signatures.length === 0) {
    envelopeError('signatures must be a non-empty array', [...at, 'signatures']);
  }
  // sigstore_bundle.proto: "DSSE envelopes in a bundle MUST have exactly one signature."
  if (signatures.length !== 1) bundleError('a bundle carries exactly one DSSE signature', [...at, 'signatures']);

  const signatureAt = [...at, 'signatures', 0];
  const signature = readObject(signatures[0], signatureAt, 'ERR_ENVELOPE_INVALID', 'signature');
  onlyMembers(signature, ['sig', 'keyid'], signatureAt, 'ERR_ENVELOPE_INVALID');
  const sig = signature['sig'];
  if (typeof sig !== 'string' || sig.length === 0) {
    envelopeError('sig must be a non-empty base64 string', [...signatureAt, 'sig']);
  }
  if (!isBase64(sig)) {
    throw new ReceiptError('ERR_ENVELOPE_BASE64', 'sig must be standard base64 with padding', formatPath([...signatureAt, 'sig']));
  }
  const keyid = signature['keyid'];
  if (keyid !== undefined && typeof keyid !== 'string') envelopeError('keyid must be a string', [...signatureAt, 'keyid']);
  // sigstore_bundle.proto: the key hints "MUST be exactly the same in the verification material and
  // in the DSSE envelope". An absent keyid is the empty string in proto3, so it does not match.
  if (keyid !== hint) bundleError('keyid must equal the public-key hint', [...signatureAt, 'keyid']);

  return { payload, payloadType, sig };
}

function readObject(
  value: unknown,
  at: Segments,
  code: 'ERR_BUNDLE_INVALID' | 'ERR_ENVELOPE_INVALID',
  name: string,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ReceiptError(code, `${name} must be a JSON object`, formatPath(at));
  }
  return value as Record<string, unknown>;
}

/** Unknown members are refused: a bundle runprint reads is one runprint could have written. */
function onlyMembers(
  object: Record<string, unknown>,
  allowed: readonly string[],
  at: Segments,
  code: 'ERR_BUNDLE_INVALID' | 'ERR_ENVELOPE_INVALID',
): void {
  for (const name of Object.keys(object)) {
    if (!allowed.includes(name)) throw new ReceiptError(code, 'unknown member', formatPath([...at, name]));
  }
}

function bundleError(message: string, at: Segments): never {
  throw new ReceiptError('ERR_BUNDLE_INVALID', message, formatPath(at));
}

function envelopeError(message: string, at: Segments): never {
  throw new ReceiptError('ERR_ENVELOPE_INVALID', message, formatPath(at));
}

/** The hint travels unauthenticated; keep it short and printable so it can be shown and looked up. */
function isHint(hint: string): boolean {
  return /^[\x21-\x7e]{1,256}$/.test(hint);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** RFC 4648 section 4 base64 in its one canonical spelling: padded, and unused bits zero. */
function isBase64(text: string): boolean {
  if (!BASE64.test(text)) return false;
  if (text.endsWith('==')) return ALPHABET.indexOf(text.charAt(text.length - 3)) % 16 === 0;
  if (text.endsWith('=')) return ALPHABET.indexOf(text.charAt(text.length - 2)) % 4 === 0;
  return true;
}
