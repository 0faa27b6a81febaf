/**
 * Comparing and verifying stored runs over HTTP (docs/REPLAY.md section 10): `GET /v1/runs/diff`
 * answers what `runprint runs diff --json` prints, `GET /v1/runs/{id}/verify` what `runprint runs
 * verify --json` prints, with the service's own receipt key and log. Both need the capture token
 * when the run store's routes do: they show what `/v1/runs` and `/v1/content` show.
 */
import { RunprintError, UsageError } from '../errors.ts';
import { runsDiffView } from '../replay/diff-values.ts';
import { verifyRun, type VerifyRunOptions } from '../replay/verify-run.ts';
import type { RunStorage } from '../store/run-storage.ts';
import { sameToken } from './bearer.ts';
import { knownParameters } from './query.ts';
import { findRuns, NO_STORE } from './run-routes.ts';

export interface RunAnalysisRouteOptions {
  storage: RunStorage;
  /** When set, these routes need `runprint-capture-token`, as the run store's routes do. */
  token?: string;
  /** What `GET /v1/runs/{id}/verify` checks with: the service's receipt key and log (`storage` is the run store's). */
  verify: Omit<VerifyRunOptions, 'storage'>;
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
      const runA = (await findRuns(storage, a)).at(-1)!;
      const runB = (await findRuns(storage, b)).at(-1)!;
      const { diff } = await runsDiffView(storage, runA, runB, values === '1');
      return Response.json(diff, { headers: NO_STORE });
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
      return Response.json(await verifyRun(run, { storage, ...options.verify }), { headers: NO_STORE });
    },
  };
}
