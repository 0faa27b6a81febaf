/** A receipt file as the CLI reads it: a DSSE envelope, or a Sigstore bundle around one (SPEC 16). */
import { parseJson } from '../jcs/parse.ts';
import { parseBundle } from '../receipt/sigstore-bundle.ts';

/** A Sigstore bundle is unwrapped to its envelope; anything else goes to the checklist as is. */
export function receiptEnvelopeInput(bytes: Uint8Array): unknown {
  let value;
  try {
    value = parseJson(bytes);
  } catch {
    return bytes;
  }
  const isBundle = typeof value === 'object' && value !== null && !Array.isArray(value) && 'dsseEnvelope' in value;
  return isBundle ? parseBundle(value).envelope : bytes;
}
