/**
 * The verdict of a replay (docs/REPLAY.md section 3): one of five, decided by fixed rules in a
 * fixed order from what the two runs' records show, never a softer one than they allow.
 */
import type { RunRecord } from '../capture/run-record.ts';
import type { ErrorCode } from '../errors.ts';
import type { Composition } from '../identity/composition.ts';
import type { Difference } from '../identity/diff.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { OutputComparison, ServedDifference } from './compare-runs.ts';

export const VERDICTS = ['identical', 'same-request-other-server', 'divergent', 'variant', 'cannot-replay'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Why a run could not be replayed: a stable code and a sentence. */
export interface ReplayReason {
  code: ErrorCode;
  message: string;
}

/** What the verdict rests on, besides the two records. */
export interface VerdictEvidence {
  original: RunRecord;
  /** The replay's record; null when nothing was sent (the reason says why). */
  replay: RunRecord | null;
  /** Set when the run could not be replayed: before sending, or the upstream gave no output. */
  reason: ReplayReason | null;
  /** What the overrides changed in the request (SPEC 10); empty when none were given or they changed nothing. */
  changed: Difference[];
  served: ServedDifference[];
  output: OutputComparison | null;
}

/**
 * The rules, first match wins:
 * 1. `cannot-replay`: a reason is given (nothing sent, or the replay has no whole output);
 * 2. `variant`: the overrides changed the request identity;
 * 3. `cannot-replay` (ERR_REPLAY_IDENTITY_MISMATCH): otherwise the request identities differ;
 * 4. `same-request-other-server`: the run identities differ (so the served facts do);
 * 5. `identical`: the output digests are equal;
 * 6. `divergent`: the same run identity with another output.
 */
export function decideVerdict(evidence: VerdictEvidence): { verdict: Verdict; reason?: ReplayReason } {
  const { original, replay } = evidence;
  if (evidence.reason !== null || replay === null) {
    return { verdict: 'cannot-replay', reason: evidence.reason ?? { code: 'ERR_INTERNAL', message: 'no replay was made' } };
  }
  if (replay.requestId !== original.requestId) {
    if (evidence.changed.length > 0) return { verdict: 'variant' };
    return {
      verdict: 'cannot-replay',
      reason: { code: 'ERR_REPLAY_IDENTITY_MISMATCH', message: 'the replayed request has another request identity than the original, though nothing was overridden' },
    };
  }
  if (replay.runId !== original.runId) return { verdict: 'same-request-other-server' };
  if (replay.output !== null && original.output !== null && replay.output.digest.sha256 === original.output.digest.sha256) return { verdict: 'identical' };
  return { verdict: 'divergent' };
}

function number(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/**
 * The determinism caveats of a request, stated for a divergent replay: what its sampling settings
 * say about whether the same output was to be expected. Facts about the request only, from its
 * parameters component.
 */
export function determinismCaveats(composition: Composition): string[] {
  const api = composition.model['api'];
  const parameters = composition.parameters;
  const caveats: string[] = [];
  const temperature = number(parameters['temperature']);
  if (!Object.hasOwn(parameters, 'temperature')) caveats.push('temperature is not set: the provider\'s default samples at random');
  else if (temperature !== undefined && temperature > 0) caveats.push(`temperature is ${temperature}: the model samples at random`);
  else if (temperature === 0) caveats.push('temperature is 0 (greedy), yet providers do not promise the same output for the same request');
  for (const name of ['top_p', 'top_k']) {
    if (Object.hasOwn(parameters, name)) caveats.push(`${name} is ${JSON.stringify(parameters[name])}`);
  }
  if (api === 'anthropic-messages') caveats.push('the Anthropic Messages API takes no seed');
  else if (Object.hasOwn(parameters, 'seed')) caveats.push(`seed is ${JSON.stringify(parameters['seed'])}: OpenAI calls seeded sampling best effort, not a promise`);
  else caveats.push('no seed is set');
  return caveats;
}
