/**
 * Comparing and verifying stored runs over HTTP (docs/REPLAY.md section 10): `GET /v1/runs/diff`
 * answers what `runprint runs diff --json` prints, `GET /v1/runs/{id}/verify` what `runprint runs
 * verify --json` prints, with the service's own receipt key and log. Both need the capture token
 * when the run store's routes do: they show what `/v1/runs` and `/v1/content` show.
 */
import { joinBytes } from '../io/read-limited.ts';
import { parseSteps } from '../store/parse-steps.ts';
import { MAX_CAPTURED_ELEMENTS } from '../capture/capture-run.ts';
import { STEP_ELEMENTS } from '../capture/large-run.ts';
import { inTurns, joinBytesSteps, nextTurn, utf8Steps } from '../io/steps.ts';
import { RunprintError, UsageError } from '../errors.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { stringifyInSteps } from '../jcs/stringify-steps.ts';
import { encodeBase64 } from '../keys/base64.ts';
import type { SignedFactDifference } from '../receipt/signed-facts.ts';
import type { VerificationReport } from '../receipt/verify.ts';
import type { CompositionDiffer, CompositionDifferences } from '../replay/compare-runs.ts';
import { runsDiffView } from '../replay/diff-values.ts';
import { verifyRun, type RunVerifyCompute, type VerifyRunOptions } from '../replay/verify-run.ts';
import type { RunStorage } from '../store/run-storage.ts';
import type { RunReceiptTask } from './api-answers.ts';
import { sameToken } from './bearer.ts';
import type { IdentityCompute } from './identity-answer.ts';
import { knownParameters } from './query.ts';
import { findRuns, jsonAnswer, largeRuns, NO_STORE } from './run-routes.ts';

export interface RunAnalysisRouteOptions {
  storage: RunStorage;
  /** When set, these routes need `runprint-capture-token`, as the run store's routes do. */
  token?: string;
  /** What `GET /v1/runs/{id}/verify` checks with: the service's receipt key and log (`storage` is the run store's). */
  verify: Omit<VerifyRunOptions, 'storage' | 'compute'>;
  /**
   * The worker pool serve computes identity answers with (identity-pool.ts): a large run's
   * identity is recomputed and its receipt verified there (workerCompute), and large runs'
   * compositions compared (workerDiffer). Without it, here.
   */
  compute?: IdentityCompute;
}

const decoder = new TextDecoder();

/** The UTF-8 bytes of JSON.stringify(value), made in steps (stringifyInSteps), as one array. */
async function jsonBytes(value: unknown): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const pieces: Uint8Array[] = [];
  let length = 0;
  for await (const piece of stringifyInSteps(value, nextTurn, STEP_ELEMENTS)) {
    const bytes = encoder.encode(piece);
    pieces.push(bytes);
    length += bytes.length;
  }
  await nextTurn();
  return joinBytes(pieces, length);
}

/** diffCompositions of large runs' compositions (compare-runs.ts) in the worker pool: the same differences and inexact lists, off the event loop. */
function workerDiffer(compute: IdentityCompute): CompositionDiffer {
  return async (a, b) => JSON.parse(decoder.decode(await compute(await jsonBytes({ a, b }), 'auto', MAX_CAPTURED_ELEMENTS, 'run-diff'))) as CompositionDifferences;
}

/** A large run's receipt is encoded and copied into its worker task this many characters or bytes at a time. */
const STEP_BYTES = 1 << 20;
const LINE_FEED = Uint8Array.of(0x0a);

/**
 * computeIdentity and verifyReceipt of a run's verification (verify-run.ts) in the worker pool:
 * for a run of 100,000 list elements they held the event loop more than a second (the identity
 * computed twice, a 10 MB receipt parsed, its payload decoded and read). What goes to a worker is
 * the composition as JSON (made in steps) and the receipt's text; what comes back is the identity
 * document as JSON and the report: the same document and report, computed by the same functions.
 */
function workerCompute(compute: IdentityCompute): RunVerifyCompute {
  return {
    identity: async (composition) => {
      const text = decoder.decode(await compute(await jsonBytes(composition), 'composition', MAX_CAPTURED_ELEMENTS, 'run-identity'));
      // Parsed a slice of its element digests at a time (parse-steps.ts): JSON.parse of some 8 MB in one go held the event loop 50 to 100 ms.
      return (await inTurns(parseSteps(text, STEP_ELEMENTS))) as IdentityDocument;
    },
    receipt: async (receipt, options, facts) => {
      const task: RunReceiptTask = { keys: options.keys.map((key) => encodeBase64(key.raw)), facts };
      if (options.composition !== undefined) task.composition = options.composition;
      if (options.from !== undefined) task.from = options.from;
      if (options.output !== undefined) task.output = encodeBase64(options.output);
      if (options.outputFormat !== undefined) task.outputFormat = options.outputFormat;
      // The task's JSON, a line feed, the receipt's UTF-8 (RunReceiptTask): encoded and put
      // together a slice at a time (in one go, the 10 MB of a large run's receipt held the event
      // loop 80 ms and more on a 2-core machine).
      const head = await jsonBytes(task);
      const text = await inTurns(utf8Steps(receipt, STEP_BYTES));
      const body = await inTurns(joinBytesSteps([head, LINE_FEED, ...text], STEP_BYTES));
      return JSON.parse(decoder.decode(await compute(body, 'auto', MAX_CAPTURED_ELEMENTS, 'run-receipt'))) as VerificationReport & { signedFacts?: SignedFactDifference[] };
    },
  };
}

type Handler = (request: Request, url: URL) => Promise<Response>;

/** The path of a run's verification: `/v1/runs/{id}/verify`. */
export const VERIFY_PATH = /^\/v1\/runs\/[^/]+\/verify$/;


export function runAnalysisRoutes(options: RunAnalysisRouteOptions): { diff: Handler; verify: Handler } {
  const { storage } = options;
  const authorize = async (request: Request) => {
    if (options.token !== undefined && !(await sameToken(request.headers.get('runprint-capture-token'), options.token))) {
      throw new RunprintError('ERR_HTTP_UNAUTHORIZED', 'the run store needs the runprint-capture-token header with the capture token');
    }
  };
  return {
    /** `GET /v1/runs/diff?a=RUN&b=RUN[&values=1]`: two stored runs compared (a run identity names its latest capture). */
    diff: async (request, url) => {
      await authorize(request);
      knownParameters(url, '/v1/runs/diff', ['a', 'b', 'values']);
      const a = url.searchParams.get('a') ?? undefined;
      const b = url.searchParams.get('b') ?? undefined;
      if (a === undefined || b === undefined) throw new UsageError('ERR_HTTP_BAD_REQUEST', '/v1/runs/diff takes a=RUN and b=RUN, each a capture id, a record digest or a run identity');
      const values = url.searchParams.get('values') ?? undefined;
      if (values !== undefined && values !== '1' && values !== '0') throw new UsageError('ERR_HTTP_BAD_REQUEST', 'values must be 1 (show the values at each difference) or 0');
      const runA = (await findRuns(storage, a, 'a')).at(-1)!;
      const runB = (await findRuns(storage, b, 'b')).at(-1)!;
      // Large runs: their compositions compared in the worker pool, when there is one, and the answer made in steps.
      const large = largeRuns([runA, runB]);
      const differ = large && options.compute !== undefined ? workerDiffer(options.compute) : undefined;
      const { diff } = await runsDiffView(storage, runA, runB, values === '1', differ);
      return jsonAnswer(diff, large, NO_STORE);
    },
    /** `GET /v1/runs/{id}/verify`: every check of a stored run (the latest capture of a run identity). */
    verify: async (request, url) => {
      await authorize(request);
      knownParameters(url, '/v1/runs/{id}/verify', []);
      let id: string;
      try {
        id = decodeURIComponent(url.pathname.split('/')[3] ?? '');
      } catch {
        throw new UsageError('ERR_HTTP_BAD_REQUEST', 'the run id in the path is not valid percent-encoding');
      }
      const run = (await findRuns(storage, id)).at(-1)!;
      // A large run's identity and receipt in the worker pool, when there is one.
      const compute = options.compute !== undefined && largeRuns([run]) ? { compute: workerCompute(options.compute) } : {};
      return Response.json(await verifyRun(run, { storage, ...options.verify, ...compute }), { headers: NO_STORE });
    },
  };
}
