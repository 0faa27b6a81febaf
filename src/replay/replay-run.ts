/**
 * Replaying a stored run (docs/REPLAY.md): its request rebuilt from the run store, overrides
 * applied (a variant), sent through the in-process capture core (captureFetch), the replay stored
 * as a run of its own in the same store and linked to the original, and the verdict.
 */
import { captureFetch, type RunContent } from '../capture/capture-fetch.ts';
import { prepareRequest, type CapturedRun } from '../capture/capture-run.ts';
import { isReceiptable } from '../capture/run-receipt.ts';
import type { RunRecord } from '../capture/run-record.ts';
import { RunprintError } from '../errors.ts';
import type { ComponentName, Composition, Salts, ServedFact } from '../identity/composition.ts';
import { diffCompositions, type Difference } from '../identity/diff.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';
import { headerMembersOut } from '../providers/header-members.ts';
import { providerFor } from '../providers/registry.ts';
import { setMember } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import { defaultContentPolicy, runToStore, type ContentPolicy, type RunStorage, type RunToStore, type StoredRun } from '../store/run-storage.ts';
import { compareOutputs, servedDifferences, type OutputComparison, type ServedDifference } from './compare-runs.ts';
import { noAnswerMessage } from './no-answer.ts';
import { rebuildRequest } from './rebuild-request.ts';
import type { ReplayLink, ReplayLinks } from './replay-links.ts';
import { checkWeights, type ModelWeights, type WeightsCheck } from './weights-check.ts';
import { decideVerdict, determinismCaveats, type ReplayReason, type Verdict } from './verdict.ts';

export interface ReplayOverrides {
  /** The request's `model`. */
  model?: string;
  /** Request members set to these values, in order. */
  params?: ReadonlyArray<readonly [name: string, value: JsonValue]>;
}

export interface ReplayOptions {
  storage: RunStorage;
  /** Where the link to the original is kept; none: not linked. */
  links?: ReplayLinks;
  /** A batch the replay belongs to: the link also marks the original finished in it (one transaction). */
  batch?: string;
  /**
   * Stores the replay and its link once the verdict is known, instead of storing the replay when it
   * ends and linking it after (batch replay commits many replays in one transaction this way).
   */
  commit?: (stored: RunToStore, link: ReplayLink) => Promise<void>;
  /**
   * Upstream name (`openai`, `anthropic`) -> base URL the recorded path is appended to, then the
   * URL's query if it has one (Azure's `?api-version=...`); default the provider's public URL.
   */
  upstreams?: { [name: string]: string };
  overrides?: ReplayOverrides;
  /** Headers sent with the request (the credentials): never stored. */
  headers?: (upstream: string) => Record<string, string>;
  /** What the store keeps of the replay (default as serve's default). */
  policy?: ContentPolicy;
  fetch?: typeof fetch;
  /** Longest wait for the whole answer, ms (default 300 s). */
  timeoutMs?: number;
  /** A local model's weights (file or directory, or modelWeights of one): checked against the original's `weights` fact before anything is sent. */
  weights?: string | ModelWeights;
}

/** The verdict document: what `runprint replay --json` prints. */
export interface ReplayResult {
  verdict: Verdict;
  /** For `cannot-replay`: why, with a stable code. */
  reason?: ReplayReason;
  original: { captureId: string; recordDigest: string; requestId: string | null; runId: string | null; output: string | null };
  /** The replay's run as stored (null when nothing was sent). */
  replay: {
    captureId: string;
    recordDigest: string;
    requestId: string | null;
    runId: string | null;
    output: string | null;
    status: number | null;
    incomplete: RunRecord['incomplete'];
    /** Where it went, and whether the body was the exact bytes stored or the rebuilt request's canonical JSON. */
    url: string;
    body: 'exact' | 'rebuilt' | 'overridden';
  } | null;
  /** The overrides given, and the request differences they made (SPEC 10); absent without overrides. */
  overrides?: { model?: string; params?: { [name: string]: JsonValue }; changed: Difference[]; inexact: ComponentName[] };
  /** Served facts that differ (original A, replay B). */
  served: ServedDifference[];
  /** Outputs compared (original A, replay B); null when the replay has no output. */
  output: OutputComparison | null;
  /** For `divergent`: what the request's sampling settings say about determinism. */
  caveats?: string[];
  /**
   * For an original that failed (an error status or event, cut off, no answer): how it failed, how
   * the replay ended, and whether the replay failed the same way (same status, same reason).
   */
  failure?: { original: Outcome; replay: Outcome; reproduced: boolean };
  /** With --weights: the original's weights digest and the one recomputed from the files given (docs/REPLAY.md 3.2). */
  weights?: WeightsCheck;
}

/** How a run ended: its status (null: no answer) and why its output is not whole (null: it is). */
export interface Outcome {
  status: number | null;
  incomplete: RunRecord['incomplete'];
}

const outcomeOf = (record: RunRecord): Outcome => ({ status: record.response.status, incomplete: record.incomplete });

function describeOutcome(outcome: Outcome): string {
  const status = outcome.status === null ? 'no answer' : `status ${outcome.status}`;
  if (outcome.incomplete === null) return `${status} with a whole output`;
  return `${status}, ${outcome.incomplete.reason}${outcome.incomplete.code === null ? '' : ` (${outcome.incomplete.code})`}`;
}

/**
 * The verdict on replaying an original that failed: there is no original output to compare with,
 * so no verdict about the model can be given (`cannot-replay`, ERR_REPLAY_ORIGINAL_FAILED); what
 * can be said is whether the failure happened again.
 */
function failedOriginal(original: RunRecord, replay: RunRecord): { reason: ReplayReason; failure: NonNullable<ReplayResult['failure']> } {
  const a = outcomeOf(original);
  const b = outcomeOf(replay);
  const reproduced = a.status === b.status && a.incomplete?.reason === b.incomplete?.reason && b.incomplete !== null;
  const replayed = reproduced ? 'the replay failed the same way: the failure is reproduced' : `the replay ended with ${describeOutcome(b)}: the failure is not reproduced`;
  return {
    reason: { code: 'ERR_REPLAY_ORIGINAL_FAILED', message: `the original failed (${describeOutcome(a)}), so there is no output to compare a replay with; ${replayed}` },
    failure: { original: a, replay: b, reproduced },
  };
}

const DEFAULT_TIMEOUT_MS = 300_000;

/** Why the replay has no whole output; `noAnswer`: why it got no answer, when its fetch error says (no-answer.ts). */
function refused(record: RunRecord, noAnswer: string | undefined): ReplayReason {
  const status = record.response.status;
  const why = record.incomplete === null ? 'no output' : `${record.incomplete.reason}${record.incomplete.code === null ? '' : `, ${record.incomplete.code}`}`;
  if (status === null) return { code: 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', message: noAnswer ?? `the upstream gave no answer (${why})` };
  if (status === 404) return { code: 'ERR_REPLAY_MODEL_UNAVAILABLE', message: 'the upstream answered 404 to the run route: the model is not served there (or the route is not)' };
  if (status < 200 || status > 299) return { code: 'ERR_REPLAY_UPSTREAM_REFUSED', message: `the upstream answered status ${status}` };
  return { code: 'ERR_REPLAY_UPSTREAM_REFUSED', message: `the upstream's answer has no whole output (${why})` };
}

/** The request with the overrides set; the original object is not changed. */
function overridden(request: JsonObject, overrides: ReplayOverrides): JsonObject {
  const copy: JsonObject = {};
  for (const key of Object.keys(request)) setMember(copy, key, request[key]!);
  if (overrides.model !== undefined) setMember(copy, 'model', overrides.model);
  for (const [name, value] of overrides.params ?? []) setMember(copy, name, value);
  return copy;
}

function hasOverrides(overrides: ReplayOverrides | undefined): overrides is ReplayOverrides {
  return overrides !== undefined && (overrides.model !== undefined || (overrides.params?.length ?? 0) > 0);
}

const shown = (digest: { sha256: string } | undefined) => (digest === undefined ? null : `sha256:${digest.sha256}`);

/** Sends `bytes` through captureFetch and waits for its captured run (made once the body has ended). */
/** The replay call, captured; `noAnswer` is what its fetch threw when there was no answer at all. */
async function send(url: string, bytes: Uint8Array, headers: Record<string, string>, fetchImpl: typeof fetch, timeoutMs: number, derived: { [name: string]: ServedFact } | undefined, salts: Salts | undefined): Promise<{ run: CapturedRun; content: RunContent; noAnswer?: unknown }> {
  let deliver!: (run: { run: CapturedRun; content: RunContent }) => void;
  let fail!: (error: unknown) => void;
  const recorded = new Promise<{ run: CapturedRun; content: RunContent }>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  const capturing = captureFetch(fetchImpl, {
    onCapturedRun: (run, content) => deliver({ run, content }),
    onError: fail,
    ...(derived === undefined ? {} : { derived: () => derived }),
    // A salted original's replay is identified with the original's salts: equal content, equal identities.
    ...(salts === undefined ? {} : { salts: () => salts }),
  });
  // A call that failed is a run too: captureFetch records it with its outcome.
  let response: Response;
  try {
    response = await capturing(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: bytes as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { ...await recorded, noAnswer: error };
  }
  try {
    await response.arrayBuffer();
  } catch {
    // The body failed: the record says how (cut, aborted, timeout).
  }
  return recorded;
}

/**
 * Replays `original` and gives the verdict. Errors of the stored run (no identity, content not
 * stored, an identity that does not rebuild) and of the upstream (no whole output) are verdicts
 * (`cannot-replay`), not exceptions; an override that makes no valid request throws its error,
 * and so does a run store that cannot be read or written.
 */
export async function replayRun(original: StoredRun, options: ReplayOptions): Promise<ReplayResult> {
  const { record } = original;
  const result: ReplayResult = {
    verdict: 'cannot-replay',
    original: { captureId: record.captureId, recordDigest: original.recordDigest, requestId: record.requestId, runId: record.runId, output: shown(record.output?.digest) },
    replay: null,
    served: [],
    output: null,
  };
  const cannot = (reason: ReplayReason): ReplayResult => ({ ...result, verdict: 'cannot-replay', reason });

  let rebuilt;
  try {
    rebuilt = await rebuildRequest(options.storage, original);
  } catch (error) {
    if (error instanceof RunprintError && error.code.startsWith('ERR_REPLAY_')) return cannot({ code: error.code, message: error.message });
    throw error;
  }
  // An original that failed is sent again (does it fail again?); one with a whole output but no run identity is not.
  const originalFailed = record.output === null;
  if (record.runId === null && !originalFailed) {
    return cannot({ code: 'ERR_REPLAY_NO_OUTPUT', message: `the original run has no ${record.runId === null ? 'run identity' : 'whole output'} (${record.incomplete?.reason ?? 'no served facts'}): there is nothing to compare a replay with` });
  }

  // Overrides: applied to the provider request, whose composition then says what they changed.
  let bytes = rebuilt.bytes;
  let memberHeaders = rebuilt.headers;
  let body: 'exact' | 'rebuilt' | 'overridden' = rebuilt.bytesFrom;
  let composition: Composition = rebuilt.composition;
  if (hasOverrides(options.overrides)) {
    // Members an API takes as headers (SPEC 4.8) are sent as headers, as the rebuilt request's are.
    const request = headerMembersOut(rebuilt.format, overridden(rebuilt.request, options.overrides));
    bytes = canonicalBytes(request.request);
    memberHeaders = request.headers;
    const prepared = prepareRequest(rebuilt.format, bytes, rebuilt.composition.salts, request.headers);
    if (prepared.error !== null) throw prepared.error;
    composition = prepared.composition;
    const params: { [name: string]: JsonValue } = {};
    for (const [name, value] of options.overrides.params ?? []) setMember(params, name, value);
    // A list a --param gave past SPEC 10's bounds is aligned inexactly: `inexact` names it, as in `diff --json`.
    const { differences: changed, inexact } = prepared.identity.requestId === rebuilt.requestId ? { differences: [], inexact: [] } : diffCompositions(rebuilt.composition, composition);
    result.overrides = {
      ...(options.overrides.model === undefined ? {} : { model: options.overrides.model }),
      ...(Object.keys(params).length === 0 ? {} : { params }),
      changed,
      inexact,
    };
    // Overrides that change nothing leave the request as it was: it is compared as a replay.
    if (changed.length > 0) body = 'overridden';
    else {
      bytes = rebuilt.bytes;
      memberHeaders = rebuilt.headers;
    }
  }

  // A local model's weights, checked before the call: another model is never sent the request.
  let derived: { [name: string]: ServedFact } | undefined;
  if (options.weights !== undefined) {
    const checked = await checkWeights(record, options.weights);
    if (checked.check !== undefined) result.weights = checked.check;
    if ('reason' in checked) return cannot(checked.reason);
    // Derived by runprint from the files just now: the replay's record carries it as the original's did.
    derived = { weights: checked.fact };
  }

  const provider = providerFor(rebuilt.format);
  // The recorded path after the upstream's base URL, then the upstream's own query if it has one (Azure's api-version).
  const upstream = new URL(options.upstreams?.[provider.upstream.name] ?? provider.upstream.url);
  const query = upstream.search;
  upstream.search = '';
  const url = `${upstream.href.replace(/\/+$/, '')}${record.path}${query}`;
  const sent = await send(url, bytes, { ...memberHeaders, ...options.headers?.(provider.upstream.name) }, options.fetch ?? globalThis.fetch, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, derived, rebuilt.composition.salts);

  // The replay as a stored run, as in-process capture stores it.
  const captured = sent.run;
  const replayRecord = captured.record;
  const stored = runToStore(captured, sent.content, options.policy ?? defaultContentPolicy(), 'sdk', isReceiptable(captured));
  if (options.commit === undefined) await options.storage.put([stored]);
  result.replay = {
    captureId: replayRecord.captureId,
    recordDigest: stored.recordDigest,
    requestId: replayRecord.requestId,
    runId: replayRecord.runId,
    output: shown(replayRecord.output?.digest),
    status: replayRecord.response.status,
    incomplete: replayRecord.incomplete,
    url,
    body,
  };

  let reason: ReplayReason | null = null;
  if (originalFailed) {
    const failed = failedOriginal(record, replayRecord);
    reason = failed.reason;
    result.failure = failed.failure;
    result.served = servedDifferences(record.served, replayRecord.served);
    // Only the replay can have an output: listed, never compared.
    if (replayRecord.output !== null) result.output = { equal: false, a: null, b: shown(replayRecord.output.digest), firstDifferenceUnknown: 'the original has no output' };
  } else if (replayRecord.output === null || replayRecord.runId === null) {
    reason = refused(replayRecord, 'noAnswer' in sent ? noAnswerMessage(provider.upstream.name, sent.noAnswer, url) : undefined);
  }
  else {
    result.served = servedDifferences(record.served, replayRecord.served);
    const replayOutput = runOutputFrom(sent.content.responseBytes, rebuilt.format).output ?? undefined;
    const asStored: StoredRun = { ...original, record: replayRecord, recordDigest: stored.recordDigest };
    result.output = await compareOutputs(options.storage, original, asStored, replayOutput);
  }
  const decided = decideVerdict({ original: record, replay: replayRecord, reason, changed: result.overrides?.changed ?? [], served: result.served, output: result.output });
  result.verdict = decided.verdict;
  if (decided.reason !== undefined) result.reason = decided.reason;
  if (decided.verdict === 'divergent') result.caveats = determinismCaveats(rebuilt.composition);
  const link: ReplayLink = { replay: stored.recordDigest, replayOf: original.recordDigest, verdict: result.verdict, result: JSON.stringify(result) };
  if (options.commit !== undefined) await options.commit(stored, link);
  else await options.links?.link(link, options.batch);
  return result;
}
