/** A receipt file as the CLI reads it: a DSSE envelope, or a Sigstore bundle around one (docs/RECEIPTS.md 15 step 1). */
import { ReceiptError } from '../errors.ts';
import { parseJson } from '../jcs/parse.ts';
import { isBundle } from '../receipt/receipt-input.ts';
import { namingFile } from './read-input.ts';

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

/**
 * Runs `read` over the receipt file `input` (a path, or `-`), naming the file in an error about
 * its envelope (ERR_ENVELOPE_INVALID: not JSON, not an envelope at all, a bundle where only an
 * envelope is taken), as the CLI names files elsewhere: `label FILE: message`, printable and cut.
 */
export async function readingReceiptFile<T>(label: string, input: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof ReceiptError) || error.code !== 'ERR_ENVELOPE_INVALID') throw error;
    throw namingFile(error, label, input);
  }
}
