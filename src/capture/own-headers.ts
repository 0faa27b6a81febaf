/**
 * Runprint's own request headers (`runprint-*`), as every capture point reads them: the proxy
 * (serve) and in-process capture (captureFetch) take `runprint-parent` and `runprint-retrieval`
 * from a call's headers and send none of them to the provider. `runprint-retrieval` is read by
 * declared.ts (readRetrievalHeader); this module reads `runprint-parent`. Pure: no Node APIs.
 */
import { RunprintError } from '../errors.ts';
import { isRunId } from './capture-run.ts';

/** The request header naming the runs a call follows from (docs/CAPTURE.md, "Headers runprint adds"). */
export const PARENT_HEADER = 'runprint-parent';

/** True for a header name of runprint's own (`runprint-` in any case), which no provider is sent. */
export function isOwnHeader(name: string): boolean {
  // ASCII case only, as header names compare (no Unicode case folding).
  return /^runprint-/i.test(name);
}

/**
 * The parents a `runprint-parent` header value names (`value` as the Fetch API joins repeated
 * headers: comma-separated): run identities separated by commas, white space around each
 * ignored; none for null. Anything else (an empty item, a value that is not a run identity) is
 * ERR_CAPTURE_PARENT_INVALID, which does not echo the value.
 */
export function readParentHeader(value: string | null): string[] {
  if (value === null) return [];
  const parents = value.split(',').map((item) => item.trim());
  if (!parents.every(isRunId)) {
    throw new RunprintError('ERR_CAPTURE_PARENT_INVALID', `${PARENT_HEADER} must be run identities (rp-run-...) separated by commas`);
  }
  return parents;
}
