/**
 * The log steps of the verify checklist (issue 4, section 4): a receipt's C2SP tlog-proof, which
 * travels beside the receipt as a file, checked offline against a log key and a witness policy.
 */
import { LogError } from '../errors.ts';
import { requireBytes, requireOptions } from '../keys/key-arguments.ts';
import { withSignerWording } from '../log/note.ts';
import { PROOF_CHECKPOINT, verifyTlogProof, type TlogProofPolicy } from '../log/tlog-proof.ts';
import type { CheckName, VerificationCheck } from './verify.ts';

/** What a log proof is checked with. */
export interface LogProofOptions {
  /** The tlog-proof, as `runprint log submit --proof-out` or `runprint log proof` wrote it: text, or its UTF-8 bytes. */
  proof: string | Uint8Array;
  /** The exact bytes that were submitted to the log: the receipt file, byte for byte. */
  entry: Uint8Array;
  /** The log key, its origin, and the witnesses of which at least `threshold` must have cosigned. */
  policy: TlogProofPolicy;
  /**
   * How a failed `log-checkpoint` line names the log key and what to do, for a caller that took
   * the key under another name (a command-line option, a request member: logKeyGivenAs): without
   * it, "the log key is ..." and no remedy.
   */
  logKeyWording?: { keys: string; remedy?: string };
}

/**
 * The logKeyWording of a caller that took the log key as `option` (`--log-key`, `member "logKey"`):
 * the key named so, and what to give there instead when it did not sign the proof's checkpoint.
 */
export function logKeyGivenAs(option: string): { keys: string; remedy: string } {
  return { keys: option, remedy: `give the log's own verifier key as ${option} (the line its GET /v1/log/key serves, checked out of band)` };
}

/** What the log proof showed, once every log step passed. */
export interface LogProofSummary {
  /** The checkpoint origin (the log's name). */
  origin: string;
  /** The receipt's index in the log. */
  index: number;
  /** The size of the tree the checkpoint commits to. */
  treeSize: number;
  /** Names of the configured witnesses whose cosignatures verified, in the order they appear. */
  cosignedBy: string[];
}

// Strict: bytes that are not UTF-8 are not a tlog-proof, and a byte order mark is not removed.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function proofText(proof: string | Uint8Array): string {
  if (typeof proof === 'string') return proof;
  try {
    return decoder.decode(proof);
  } catch {
    throw new LogError('ERR_LOG_TLOG_PROOF_INVALID', 'tlog-proof is not valid UTF-8');
  }
}

/** The log steps, in the order verifyTlogProof runs them; `log-witnesses` only with witnesses configured. */
const STEP_OF_CODE: ReadonlyMap<string, CheckName> = new Map<string, CheckName>([
  ['ERR_LOG_TLOG_PROOF_INVALID', 'log-proof'],
  ['ERR_LOG_NOTE_INVALID', 'log-proof'],
  ['ERR_LOG_NOTE_SIGNATURE', 'log-checkpoint'],
  ['ERR_LOG_CHECKPOINT_INVALID', 'log-checkpoint'],
  ['ERR_LOG_COSIGNATURE_INVALID', 'log-witnesses'],
  ['ERR_LOG_PROOF_INVALID', 'log-inclusion'],
]);

/**
 * Runs the log steps: `log-proof` (the text is a tlog-proof@v1), `log-checkpoint` (the log key
 * signed the checkpoint and its origin is the log's), `log-witnesses` (at least `threshold`
 * distinct configured witnesses cosigned it, and no configured witness's cosignature fails) and
 * `log-inclusion` (the RFC 6962 leaf hash of `entry` is at the proof's index of the checkpoint's
 * tree). verifyTlogProof runs them in that order and fails each with its own codes, so the first
 * failure names its step and every step before it passed.
 */
export async function checkLogProof(options: LogProofOptions): Promise<{ checks: VerificationCheck[]; summary?: LogProofSummary }> {
  requireOptions(options, 'log proof options');
  if (typeof options.proof !== 'string' && !(options.proof instanceof Uint8Array)) {
    throw new TypeError('log proof "proof" must be the tlog-proof text or its bytes');
  }
  requireBytes(options.entry, 'log proof "entry" (the receipt file\'s exact bytes)');
  requireOptions(options.policy, 'log proof "policy"');
  const steps: CheckName[] = ['log-proof', 'log-checkpoint', ...(options.policy.witnesses.length > 0 ? (['log-witnesses'] as const) : []), 'log-inclusion'];
  try {
    const wording = options.logKeyWording === undefined ? undefined : { ...PROOF_CHECKPOINT, ...options.logKeyWording };
    const verified = await withSignerWording(wording, () => verifyTlogProof(proofText(options.proof), options.entry, options.policy));
    const cosignedBy = verified.cosignatures.map((cosignature) => cosignature.name);
    return {
      checks: steps.map((name) => ({ name, ok: true })),
      summary: { origin: verified.checkpoint.origin, index: verified.index, treeSize: verified.checkpoint.size, cosignedBy },
    };
  } catch (error) {
    const failed = error instanceof LogError ? STEP_OF_CODE.get(error.code) : undefined;
    if (failed === undefined || !(error instanceof LogError)) throw error;
    const at = steps.indexOf(failed);
    if (at < 0) throw error;
    return {
      checks: [...steps.slice(0, at).map((name) => ({ name, ok: true })), { name: failed, ok: false, code: error.code, message: error.message }],
    };
  }
}
