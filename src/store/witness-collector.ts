/**
 * A log asking witnesses for cosignatures (C2SP tlog-witness, client side): each new checkpoint is
 * sent to every configured witness at once, and the cosignatures that come back valid in time are
 * added to the note the log serves. A note is asked again of the witnesses whose cosignature it
 * lacks (Cosigner.lacks; the log service decides when).
 */
import { RunprintError } from '../errors.ts';
import { readLimited } from '../io/read-limited.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { addCosignatures } from '../log/cosignature.ts';
import { formatNote, parseNote, verifiedSignatures, type Note, type NoteSignature, type NoteVerifier } from '../log/note.ts';
import { formatAddCheckpoint, MAX_PROOF_LINES, parseCosignatureLines, SIZE_MEDIA_TYPE } from '../log/witness.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import type { Cosigner } from './log-service.ts';

/** One witness: its submission prefix URL and its cosigner key (from its vkey, see parseCosignerKey). */
export interface WitnessEndpoint {
  url: string;
  verifier: NoteVerifier;
}

export interface WitnessCollectorOptions {
  /** Longest wait for one witness, both attempts included, in ms (default 400). */
  timeoutMs?: number;
  /** Told why a witness gave no cosignature (a code and a fixed message; never a secret or the witness's text). */
  onFailure?: (witness: string, error: RunprintError) => void;
  /** Told that a witness's cosignature on the checkpoint of `size` entries was added. */
  onSuccess?: (witness: string, size: number) => void;
  /** The fetch to use (tests). */
  fetch?: typeof fetch;
}

/** Default per-witness wait: with the log's 500 ms checkpoint delay a checkpoint is still out within 1 s of an append. */
export const DEFAULT_WITNESS_TIMEOUT_MS = 400;

const MAX_ANSWER_BYTES = 64 * 1024;

interface Attempt {
  status: number;
  body: string;
  contentType: string;
}

function failure(message: string): RunprintError {
  return new RunprintError('ERR_WITNESS_UNREACHABLE', message);
}

/** `<url>/add-checkpoint`, whether or not the prefix ends in a slash. */
function addCheckpointUrl(prefix: string): URL {
  const url = new URL(prefix);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError('witness URL must be an http or https URL');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return new URL('add-checkpoint', url);
}

/** The lines each witness's verifier remembers (verifiedOnce): the checkpoints of the last seconds, asked again or not. */
const VERIFIED_LINES_KEPT = 16;

/**
 * A witness's verifier that checks each (checkpoint text, signature) once. A new checkpoint's line
 * is verified when the witness answers, and read again by lacks() once the note is stored; a note
 * asked again is read by lacks(), by cosign (which witnesses to ask, which lines to replace) and by
 * lacks() after: up to five Ed25519 verifications of one line. The answer, valid or not, is kept
 * for the last VERIFIED_LINES_KEPT lines, keyed by the whole text and every byte of the signature,
 * so a line that differs anywhere is verified anew and one that did not verify still counts as
 * missing. Ed25519 verification is deterministic: a kept answer is what verify would give again.
 * A verification that throws is not kept.
 */
function verifiedOnce(verifier: NoteVerifier): NoteVerifier {
  const kept = new Map<string, Promise<boolean>>();
  return {
    name: verifier.name,
    keyHash: verifier.keyHash,
    verify(text: string, signature: Uint8Array): Promise<boolean> {
      // The text ends in a newline and base64 has none: the two parts cannot run into each other.
      const key = `${text}${encodeBase64(signature)}`;
      let answer = kept.get(key);
      if (answer !== undefined) {
        kept.delete(key);
        kept.set(key, answer);
        return answer;
      }
      answer = (async () => verifier.verify(text, signature))();
      const settled = answer;
      settled.catch(() => {
        if (kept.get(key) === settled) kept.delete(key);
      });
      kept.set(key, answer);
      if (kept.size > VERIFIED_LINES_KEPT) kept.delete(kept.keys().next().value!);
      return answer;
    },
  };
}

/** A 409 naming a size above the checkpoint asked again: the log grew meanwhile (another process signed), nothing to report. */
class Outgrown extends Error {}

/**
 * A Cosigner for TransparencyLog. Only the witnesses without a valid cosignature on the note are
 * asked (all of them for a freshly signed one). For each witness it remembers the size it last
 * cosigned (0 at first), sends `old <that size>` with the consistency proof from it, and on 409
 * retries once from the size the witness names (the checkpoint's own size too: a witness cosigns
 * again a checkpoint equal to the one it holds, as after an answer that came too late). A
 * cosignature is kept only when it verifies under the witness's key; a witness that is down, slow,
 * or answers anything else adds nothing. Never rejects. `lacks(note)`: whether some witness's
 * valid cosignature is missing from the note. A line of a configured witness's key that does not
 * verify counts as missing: the witness is asked, and when any cosignature arrives the note comes
 * back without such lines, with the valid cosignatures in their place (addCosignatures). Each
 * witness's line of a checkpoint is verified once, however often the note is read (verifiedOnce).
 */
export function witnessCollector(witnesses: ReadonlyArray<WitnessEndpoint>, options: WitnessCollectorOptions = {}): Cosigner {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WITNESS_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const endpoints = witnesses.map((witness) => ({ ...witness, verifier: verifiedOnce(witness.verifier), target: addCheckpointUrl(witness.url), known: 0 }));

  /** Whether the note carries a cosignature of this witness's key that verifies (one that does not verify counts as none). */
  async function cosignedBy(endpoint: (typeof endpoints)[number], note: Note): Promise<boolean> {
    try {
      return (await verifiedSignatures(note, [endpoint.verifier])).length > 0;
    } catch {
      return false;
    }
  }

  /** The note's lines of a configured witness's key that do not verify under it (a note damaged in storage): no cosignatures. */
  async function invalidLines(note: Note): Promise<Set<NoteSignature>> {
    const invalid = new Set<NoteSignature>();
    for (const signature of note.signatures) {
      const endpoint = endpoints.find(({ verifier }) => verifier.name === signature.name && verifier.keyHash === signature.keyHash);
      if (endpoint === undefined) continue;
      let valid = false;
      try {
        valid = await endpoint.verifier.verify(note.text, signature.signature);
      } catch {
        // Counts as not verifying.
      }
      if (!valid) invalid.add(signature);
    }
    return invalid;
  }

  async function post(target: URL, body: string, signal: AbortSignal): Promise<Attempt> {
    let response: Response;
    try {
      response = await doFetch(target, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' }, signal, redirect: 'error' });
    } catch {
      throw failure('witness cannot be reached');
    }
    let bytes: Uint8Array;
    try {
      bytes = await readLimited(response.body, MAX_ANSWER_BYTES, () => failure('witness answer is too large'));
    } catch (error) {
      throw error instanceof RunprintError ? error : failure('witness answer was cut off');
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw failure('witness answer is not UTF-8');
    }
    return { status: response.status, body: text, contentType: (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() };
  }

  async function ask(
    endpoint: (typeof endpoints)[number],
    signed: Parameters<Cosigner>[0],
    proof: Parameters<Cosigner>[1],
    signal: AbortSignal,
  ): Promise<NoteSignature[]> {
    const size = signed.checkpoint.size;
    let oldSize = endpoint.known <= size ? endpoint.known : 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      const hashes = oldSize === 0 ? [] : await proof(oldSize);
      if (hashes.length > MAX_PROOF_LINES) throw failure('consistency proof is longer than a witness takes');
      const answer = await post(endpoint.target, formatAddCheckpoint({ oldSize, proof: hashes, note: signed.note }), signal);
      if (answer.status === 409 && answer.contentType === SIZE_MEDIA_TYPE && attempt === 0) {
        const held = /^([0-9]+)\n$/.exec(answer.body);
        const heldSize = held === null ? undefined : parseDecimal(held[1]!);
        if (heldSize === undefined) throw failure('witness answered 409 without a size');
        if (heldSize > size && signed.again === true) throw new Outgrown();
        if (heldSize > size) throw new RunprintError('ERR_WITNESS_CONFLICT', 'witness holds a larger checkpoint of this log than the one sent');
        if (heldSize === oldSize) throw new RunprintError('ERR_WITNESS_CONFLICT', 'witness refused the old size it named');
        endpoint.known = heldSize;
        oldSize = heldSize;
        continue;
      }
      if (answer.status !== 200) throw new RunprintError(codeForStatus(answer.status), `witness answered HTTP ${answer.status}`);
      let valid: NoteSignature[];
      try {
        // Lines from other keys are ignored; a line from this witness's key must verify.
        valid = await verifiedSignatures(parseCosignatureLines(parseNote(signed.note).text, answer.body), [endpoint.verifier]);
      } catch {
        throw new RunprintError('ERR_LOG_COSIGNATURE_INVALID', 'witness answer holds no valid cosignature');
      }
      if (valid.length === 0) throw new RunprintError('ERR_LOG_COSIGNATURE_INVALID', 'witness answer holds no cosignature from its key');
      endpoint.known = size;
      return valid;
    }
    throw new RunprintError('ERR_WITNESS_CONFLICT', 'witness refused the size it named');
  }

  const cosign = async (signed: Parameters<Cosigner>[0], proof: Parameters<Cosigner>[1]): Promise<string> => {
    try {
      const note = parseNote(signed.note);
      const asked = [];
      for (const endpoint of endpoints) if (!(await cosignedBy(endpoint, note))) asked.push(endpoint);
      const results = await Promise.all(
        asked.map(async (endpoint) => {
          const controller = new AbortController();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const timedOut = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => {
              controller.abort();
              reject(failure(`witness did not answer within ${timeoutMs} ms`));
            }, timeoutMs);
          });
          try {
            const valid = await Promise.race([ask(endpoint, signed, proof, controller.signal), timedOut]);
            options.onSuccess?.(endpoint.url, signed.checkpoint.size);
            return valid;
          } catch (error) {
            if (error instanceof Outgrown) return [];
            options.onFailure?.(endpoint.url, error instanceof RunprintError ? error : failure('witness request failed'));
            return [];
          } finally {
            clearTimeout(timer);
            controller.abort();
          }
        }),
      );
      const cosignatures = results.flat();
      if (cosignatures.length === 0) return signed.note;
      // A configured witness's line that does not verify is replaced by its valid one (addCosignatures).
      const invalid = await invalidLines(note);
      const cosigned = addCosignatures(note, cosignatures, (signature) => invalid.has(signature));
      return cosigned === undefined ? signed.note : formatNote(cosigned);
    } catch {
      return signed.note;
    }
  };
  const lacks = async (note: string): Promise<boolean> => {
    let parsed: Note;
    try {
      parsed = parseNote(note);
    } catch {
      return false;
    }
    for (const endpoint of endpoints) if (!(await cosignedBy(endpoint, parsed))) return true;
    return false;
  };
  return Object.assign(cosign, { lacks });
}

function codeForStatus(status: number): 'ERR_WITNESS_REQUEST_INVALID' | 'ERR_WITNESS_UNKNOWN_LOG' | 'ERR_WITNESS_SIGNATURE' | 'ERR_WITNESS_CONFLICT' | 'ERR_WITNESS_PROOF' | 'ERR_WITNESS_UNREACHABLE' {
  switch (status) {
    case 400:
      return 'ERR_WITNESS_REQUEST_INVALID';
    case 403:
      return 'ERR_WITNESS_SIGNATURE';
    case 404:
      return 'ERR_WITNESS_UNKNOWN_LOG';
    case 409:
      return 'ERR_WITNESS_CONFLICT';
    case 422:
      return 'ERR_WITNESS_PROOF';
    default:
      return 'ERR_WITNESS_UNREACHABLE';
  }
}
