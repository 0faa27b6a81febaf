/** The runprint HTTP service as a fetch handler: `createApp()` and `app.request()`, no socket. */
import { compositionFromDocument, isInputFormat } from '../compose/from-document.ts';
import { RunprintError, UsageError } from '../errors.ts';
import { computeIdentity } from '../identity/identity.ts';
import { parseJson } from '../jcs/parse.ts';
import { errorResponse } from './http-status.ts';
import { logRoutes, type LogRouteOptions } from './log-routes.ts';
import { readBody } from './read-body.ts';
import { witnessRoutes, type WitnessRouteOptions } from './witness-routes.ts';

export interface AppOptions {
  /** Largest request body accepted, in bytes (default 32 MiB). */
  maxBodyBytes?: number;
  /** Reported by /healthz. */
  version?: string;
  /** The transparency log: its routes exist only when it is given (README, "Service"). */
  log?: LogRouteOptions;
  /** Acts as a C2SP tlog-witness: `POST /add-checkpoint` exists only when this is given. */
  witness?: WitnessRouteOptions;
}

export interface App {
  /** Handles one request. */
  fetch(request: Request): Promise<Response>;
  /** Convenience for tests: a request to a path on this app, with no network. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

type Handler = (request: Request, url: URL) => Promise<Response>;

export function createApp(options: AppOptions = {}): App {
  const maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
  const routes: Record<string, Record<string, Handler>> = {
    '/healthz': {
      GET: async () => Response.json({ status: 'ok', version: options.version ?? 'dev' }),
    },
    '/v1/identity': {
      POST: async (request, url) => {
        const mediaType = (request.headers.get('content-type') ?? 'application/json').split(';')[0]!.trim();
        if (mediaType !== 'application/json') {
          throw new UsageError('ERR_HTTP_MEDIA_TYPE', 'request body must be application/json');
        }
        const from = url.searchParams.get('from') ?? 'auto';
        if (!isInputFormat(from)) {
          throw new UsageError(
            'ERR_CLI_USAGE',
            'from must be auto, composition, openai-chat, openai-responses or anthropic-messages',
          );
        }
        const document = parseJson(await readBody(request, maxBodyBytes));
        const { composition } = compositionFromDocument(document, { from });
        return Response.json(computeIdentity(composition));
      },
    },
  };

  const log = options.log === undefined ? undefined : logRoutes(options.log);
  if (log !== undefined) Object.assign(routes, log.routes);
  if (options.witness !== undefined) Object.assign(routes, witnessRoutes(options.witness));

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const route = log !== undefined && url.pathname.startsWith('/tile/') ? { GET: log.tiles } : routes[url.pathname];
    try {
      if (route === undefined) throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
      const handler = route[request.method];
      if (handler === undefined) {
        const allow = Object.keys(route).join(', ');
        return errorResponse(
          new RunprintError('ERR_HTTP_METHOD_NOT_ALLOWED', `method not allowed; use ${allow}`),
          { allow },
        );
      }
      return await handler(request, url);
    } catch (error) {
      return errorResponse(error);
    }
  }

  return {
    fetch: handle,
    request: (path, init) => handle(new Request(new URL(path, 'http://runprint.invalid'), init)),
  };
}
