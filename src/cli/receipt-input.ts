/** A receipt file as the CLI reads it: a DSSE envelope, or a Sigstore bundle around one (docs/RECEIPTS.md 15 step 1). */
import { parseJson } from '../jcs/parse.ts';
import { isBundle } from '../receipt/receipt-input.ts';

/**
 * True when the file is a Sigstore bundle by the rule of 15 step 1. The receipt checklist reads
 * either form itself (a malformed one fails its first check); this only lets a command refuse a
 * bundle where it needs the envelope file's exact bytes (`verify --log-proof`).
 */
export function isBundleFile(bytes: Uint8Array): boolean {
  try {
    return isBundle(parseJson(bytes));
  } catch {
    return false;
  }
}
