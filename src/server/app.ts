/** The runprint HTTP service as a fetch handler: `createApp()` and `app.request()`, no socket. */
import { isInputFormat } from '../compose/from-document.ts';
import { RunprintError, UsageError } from '../errors.ts';
import { errorResponse } from './http-status.ts';
import { computeInProcess } from './api-answers.ts';
import { apiRoutes, signTokenRefusal, type SignRouteOptions } from './api-routes.ts';
import { MAX_IDENTITY_ELEMENTS, type IdentityCompute } from './identity-answer.ts';
import { logRoutes, MAX_RECEIPT_BYTES, type LogRouteOptions } from './log-routes.ts';
import { EXCHANGES_PATH } from '../capture/exchange.ts';
import { ingestRoutes, type IngestRouteOptions } from './ingest-routes.ts';
import type { Proxy } from './proxy-routes.ts';
import { checkQueryEncoding, knownParameters } from './query.ts';
import { readBody, requireJson } from './read-body.ts';
import { runAnalysisRoutes, VERIFY_PATH, type RunAnalysisRouteOptions } from './run-analysis-routes.ts';
import { runRoutes, type RunRouteOptions } from './run-routes.ts';
import { MAX_ADD_CHECKPOINT_BYTES, witnessRoutes, type WitnessRouteOptions } from './witness-routes.ts';

/** Largest `POST /v1/identity` body by default: 32 MiB, the largest request the providers take (Anthropic's limit). */
export const MAX_IDENTITY_BODY_BYTES = 32 * 1024 * 1024;

/**
 * The paths capture would serve: a provider's routes under a proxy prefix (/openai/v1/..., the bare
 * /v1/chat/completions, /v1/responses, /v1/messages), the run store's and POST /v1/exchanges.
 */
const CAPTURE_PATH = /^\/(?:[a-z0-9][a-z0-9-]*\/v1\/|v1\/content\/|v1\/(?:chat\/completions|responses|messages|runs|exchanges|receipt-key)(?:$|\/))/;

/**
 * Paths of a feature this server runs without: a request to one answers 404 ERR_HTTP_NOT_FOUND
 * 'no such path: WHY' instead of a bare 'no such path', so a client learns what to turn on.
 */
export interface OffPaths {
  /** The paths the feature would serve (tested against the request's path). */
  path: RegExp;
  /** Why they are not served: the feature is off, and what turns it on. */
  why: string;
}

/** Capture's paths, off for `reason` (as serve says it: 'serve runs with --no-capture'). */
export function captureOff(reason: string): OffPaths {
  return { path: CAPTURE_PATH, why: `capture is off on this server (${reason}), so it serves no proxy and no run store` };
}

/** `POST /v1/sign`, on a server without a receipt key to sign with (AppOptions.sign). */
export const SIGNING_OFF: OffPaths = { path: /^\/v1\/sign$/, why: 'signing is off on this server (serve signs with --sign-key KEY.pem and --sign-token T)' };

export interface AppOptions {
  /**
   * Largest body of `POST /v1/identity`, `/v1/explain`, `/v1/diff`, `/v1/sign` and `/v1/verify`, in
   * bytes (default 32 MiB; diff's two requests together); the log's and the witness's routes have their own.
   */
  maxBodyBytes?: number;
  /** Most list elements `POST /v1/identity` answers for (default MAX_IDENTITY_ELEMENTS). */
  maxIdentityElements?: number;
  /** Computes identity, explain, diff, verify and sign answers; the Node server passes a worker pool (identity-pool.ts). Default: in this thread. */
  computeIdentity?: IdentityCompute;
  /** Reported by /healthz. */
  version?: string;
  /** The transparency log: its routes exist only when it is given (README, "Service"). */
  log?: LogRouteOptions;
  /** Signs receipts with a server-held key: `POST /v1/sign` exists only when this is given. */
  sign?: SignRouteOptions;
  /** The OpenAPI document served at `GET /openapi.json` (the Node side reads it from docs/openapi.json). */
  openapi?: Uint8Array;
  /** Acts as a C2SP tlog-witness: `POST /add-checkpoint` exists only when this is given. */
  witness?: WitnessRouteOptions;
  /** The capture proxy (proxy-routes.ts): provider routes forwarded upstream, runs recorded. */
  proxy?: Proxy;
  /**
   * The features this server runs without and why (captureOff(reason), SIGNING_OFF): a request to a
   * path of one, which no route serves, answers 404 saying why; the first that matches is said.
   */
  off?: readonly OffPaths[];
  /** The run store's routes (`/v1/runs`, `/v1/content`), when runs are captured. */
  runs?: RunRouteOptions;
  /** `GET /v1/runs/diff` and `GET /v1/runs/{id}/verify` (run-analysis-routes.ts), with the run store's routes. */
  runAnalysis?: RunAnalysisRouteOptions;
  /** More members of the /healthz answer (serve adds its capture counts and the connections it refused). */
  health?: () => Record<string, unknown>;
  /** `POST /v1/exchanges`: runs captured in other processes, sent as bytes (ingest-routes.ts). */
  ingest?: IngestRouteOptions;
  /**
   * The explorer (explorer-routes.ts builds it): its routes, the handler of every path under
   * `/explorer/`, and that one as `GET /explorer/{path}` for the route table. Given as handlers,
   * so this file imports none of its Node side.
   */
  explorer?: { routes: Record<string, Record<string, Handler>>; prefix: Handler; prefixRoutes: string[] };
  /**
   * Told of every error a route answers with a 5xx status (a failing store, a bug), with the
   * route as the route table names it (`GET /v1/runs/{id}`, never the path a client sent) and the
   * status. The answer carries the error's public message, without the server's file paths
   * (http-status.ts): serve prints the whole message on stderr with this. Not told of the capture
   * proxy's answers, whose failures serve reports itself, nor of an error `POST /v1/exchanges`
   * told its ingest's onFailure (the same failures, reported there), nor of a request refused to
   * shed load (onShed). What it throws is ignored.
   */
  onServerError?: (error: unknown, route: string, status: number) => void;
  /**
   * Told of each request refused with 503 ERR_HTTP_BUSY (with `Retry-After`) because the identity
   * compute's queue is full, with the route as onServerError names it. Shedding load is not a
   * fault of the server's, so onServerError is not told of it: serve counts these on one stderr
   * line a minute at most. What it throws is ignored.
   */
  onShed?: (route: string) => void;
}

export interface App {
  /** Handles one request. */
  fetch(request: Request): Promise<Response>;
  /** Convenience for tests: a request to a path on this app, with no network. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Most body bytes the route for `method` and `pathname` reads (0: it reads none). A server
   * knows it before it reads a byte, and hands `fetch` a request whose body is already read.
   * An app without it gets FALLBACK_BODY_LIMIT.
   */
  bodyLimit?(method: string, pathname: string): number;
  /**
   * Most body bytes any route reads (the largest bodyLimit): listen.ts reads on and discards up to
   * this much of a body sent to a route that reads none, so its client gets the answer. An app
   * without it: LARGE_BODY_BYTES (1 MiB).
   */
  largestBodyLimit?(): number;
  /**
   * True for a route whose requests are judged large by the length they declare, not by the
   * route's limit (listen.ts holds a client to 4 large ones at once): a proxied call or a sent
   * exchange is usually a few KB on a route that takes 32 MiB. Default: by the route's limit.
   */
  largeByDeclaredLength?(method: string, pathname: string): boolean;
  /**
   * True for a path the capture proxy forwards to an upstream (not one of runprint's own routes).
   * listen.ts does not hold such requests to the per-client cap on requests in progress (as many
   * run at once as the client's application makes; the connection limit and the large-body cap
   * still apply), and does not let a browser reach them by following a link from another site (a
   * navigation to one of runprint's own pages it lets through). Default: none.
   */
  proxied?(method: string, pathname: string): boolean;
  /**
   * The refusal a request gets on its headers alone (a missing or wrong capture or sign token),
   * before its body is read: listen.ts asks it for a request with a body on a route that reads one,
   * and answers a refusal without reading the body, so a client without the token cannot make the
   * server hold a body of up to the route's limit. The route checks again. Default: none.
   */
  refuseBeforeBody?(request: Request): Promise<RunprintError | undefined>;
  /** Every route as `METHOD /path` (HEAD wherever GET is, not listed; the log's tiles as `GET /tile/{path}`), for the OpenAPI test. */
  routeTable?(): string[];
}

type Handler = (request: Request, url: URL) => Promise<Response>;

export function createApp(options: AppOptions = {}): App {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_IDENTITY_BODY_BYTES;
  const maxElements = options.maxIdentityElements ?? MAX_IDENTITY_ELEMENTS;
  const compute = options.computeIdentity ?? computeInProcess;
  const routes: Record<string, Record<string, Handler>> = {
    '/healthz': {
      GET: async () => Response.json({ status: 'ok', version: options.version ?? 'dev', ...(options.health === undefined ? {} : options.health()) }),
    },
    '/v1/identity': {
      POST: async (request, url) => {
        requireJson(request);
        knownParameters(url, '/v1/identity', ['from']);
        const from = url.searchParams.get('from') ?? 'auto';
        if (!isInputFormat(from)) {
          throw new UsageError(
            'ERR_HTTP_BAD_REQUEST',
            'from must be auto, composition, openai-chat, openai-responses or anthropic-messages',
          );
        }
        const answer = await compute(await readBody(request, maxBodyBytes), from, maxElements);
        // A stream of the one array, so the answer (up to a few MB) is not copied again.
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(answer);
            controller.close();
          },
        });
        return new Response(body, { headers: { 'content-type': 'application/json', 'content-length': String(answer.length) } });
      },
    },
  };
  const limits: Record<string, number> = { 'POST /v1/identity': maxBodyBytes };
  Object.assign(routes, apiRoutes({ compute, maxBodyBytes, maxElements, ...(options.sign === undefined ? {} : { sign: options.sign }) }));
  for (const path of ['/v1/explain', '/v1/diff', '/v1/verify', ...(options.sign === undefined ? [] : ['/v1/sign'])]) limits[`POST ${path}`] = maxBodyBytes;
  const openapi = options.openapi;
  if (openapi !== undefined) {
    routes['/openapi.json'] = {
      GET: async () => new Response(Uint8Array.from(openapi), { headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' } }),
    };
  }

  const log = options.log === undefined ? undefined : logRoutes(options.log);
  if (log !== undefined) {
    Object.assign(routes, log.routes);
    limits['POST /v1/log/entries'] = MAX_RECEIPT_BYTES;
  }
  if (options.witness !== undefined) {
    Object.assign(routes, witnessRoutes(options.witness));
    limits['POST /add-checkpoint'] = MAX_ADD_CHECKPOINT_BYTES;
  }

  const ingest = options.ingest === undefined ? undefined : ingestRoutes(options.ingest);
  if (ingest !== undefined) {
    Object.assign(routes, ingest.routes);
    Object.assign(limits, ingest.limits);
  }
  const runs = options.runs === undefined ? undefined : runRoutes(options.runs);
  if (runs !== undefined) Object.assign(routes, runs.routes);
  const analysis = options.runAnalysis === undefined ? undefined : runAnalysisRoutes(options.runAnalysis);
  if (analysis !== undefined) routes['/v1/runs/diff'] = { GET: analysis.diff };
  const proxy = options.proxy;
  const explorer = options.explorer;
  if (explorer !== undefined) Object.assign(routes, explorer.routes);

  const routeOf = (pathname: string): Record<string, Handler> | undefined => {
    if (log !== undefined && pathname.startsWith('/tile/')) return { GET: log.tiles };
    if (explorer !== undefined && pathname.startsWith('/explorer/')) return { GET: explorer.prefix };
    const route = routes[pathname];
    if (analysis !== undefined && VERIFY_PATH.test(pathname)) return { GET: analysis.verify };
    if (route !== undefined || runs === undefined) return route;
    if (pathname.startsWith('/v1/runs/') || pathname.startsWith('/v1/content/')) return { GET: runs.prefix };
    return undefined;
  };

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const route = routeOf(url.pathname);
    if (route === undefined && proxy !== undefined) {
      const proxied = proxy.handle(request, url);
      if (proxied !== undefined) return proxied;
    }
    try {
      if (route === undefined) {
        // A client pointed at a feature this server runs without (the proxy with capture off, signing
        // without a key) learns why, not only that there is no such path.
        const off = options.off?.find((paths) => paths.path.test(url.pathname));
        throw new RunprintError('ERR_HTTP_NOT_FOUND', off === undefined ? 'no such path' : `no such path: ${off.why}`);
      }
      // RFC 9110 section 9.3.2: HEAD answers as GET would, without the body.
      const head = request.method === 'HEAD' && route['GET'] !== undefined;
      const handler = head ? route['GET'] : route[request.method];
      if (handler === undefined) {
        const allow = allowed(route);
        return errorResponse(
          new RunprintError('ERR_HTTP_METHOD_NOT_ALLOWED', `method not allowed; use ${allow}`),
          { allow },
        );
      }
      checkQueryEncoding(url);
      const response = await handler(request, url);
      return head ? withoutBody(response) : response;
    } catch (error) {
      const response = errorResponse(error);
      if (response.status >= 500) {
        const name = `${request.method} ${routeName(url.pathname)}`;
        try {
          if (shedsLoad(error)) options.onShed?.(name);
          else if (ingest?.told(error) !== true) options.onServerError?.(error, name, response.status);
        } catch {
          // The answer goes out whatever the report does.
        }
      }
      return request.method === 'HEAD' ? withoutBody(response) : response;
    }
  }

  /** The route a path is answered by, as the route table names it: no run id, digest or tile path a client chose. */
  const routeName = (pathname: string): string => {
    if (log !== undefined && pathname.startsWith('/tile/')) return '/tile/{path}';
    if (explorer !== undefined && pathname.startsWith('/explorer/')) return '/explorer/{path}';
    if (routes[pathname] !== undefined) return pathname;
    if (pathname.startsWith('/v1/content/')) return '/v1/content/{digest}';
    const parts = pathname.split('/');
    if (parts[2] === 'runs' && parts[3] === 'groups' && parts.length === 4) return '/v1/runs/groups';
    return parts.length === 5 && /^[a-z-]+$/.test(parts[4]!) ? `/v1/runs/{id}/${parts[4]}` : '/v1/runs/{id}';
  };

  const proxied = (method: string, pathname: string) => routeOf(pathname) === undefined && proxy?.bodyLimit(method, pathname) !== undefined;
  // The routes that take a token, by `METHOD /path`: the refusal of a request without it.
  const tokenChecks: Record<string, (request: Request) => Promise<RunprintError | undefined>> = {};
  if (ingest !== undefined) tokenChecks[`POST ${EXCHANGES_PATH}`] = ingest.tokenRefusal;
  if (log !== undefined) tokenChecks['POST /v1/log/entries'] = log.tokenRefusal;
  if (options.sign !== undefined) {
    const sign = options.sign;
    tokenChecks['POST /v1/sign'] = (request) => signTokenRefusal(request, sign);
  }
  const largestBodyLimit = Math.max(0, proxy?.largestBodyLimit() ?? 0, ...Object.values(limits));
  return {
    fetch: handle,
    request: (path, init) => handle(new Request(new URL(path, 'http://runprint.invalid'), init)),
    proxied,
    largeByDeclaredLength: (method, pathname) => proxied(method, pathname) || pathname === EXCHANGES_PATH,
    bodyLimit: (method, pathname) => limits[`${method} ${pathname}`] ?? (routeOf(pathname) === undefined ? proxy?.bodyLimit(method, pathname) : undefined) ?? 0,
    largestBodyLimit: () => largestBodyLimit,
    refuseBeforeBody: async (request) => {
      const { pathname } = new URL(request.url);
      const check = tokenChecks[`${request.method} ${pathname}`];
      if (check !== undefined) return check(request);
      return proxied(request.method, pathname) ? proxy?.tokenRefusal(request) : undefined;
    },
    routeTable: () => [
      ...Object.entries(routes).flatMap(([path, route]) => Object.keys(route).map((method) => `${method} ${path}`)),
      ...(log === undefined ? [] : ['GET /tile/{path}']),
      ...(runs === undefined ? [] : ['GET /v1/runs/groups', 'GET /v1/runs/{id}', 'GET /v1/runs/{id}/receipt', 'GET /v1/runs/{id}/composition', 'GET /v1/runs/{id}/salts', 'GET /v1/runs/{id}/tlog-proof', 'GET /v1/content/{digest}']),
      ...(analysis === undefined ? [] : ['GET /v1/runs/{id}/verify']),
      ...(proxy === undefined ? [] : proxy.routeTable()),
      ...(explorer === undefined ? [] : explorer.prefixRoutes),
    ],
  };
}

/**
 * Whether an error refuses a request to shed load, not for a fault: ERR_HTTP_BUSY, the identity
 * compute's queue full (503 with Retry-After). The other refusals that shed load, 429
 * ERR_HTTP_TOO_MANY_REQUESTS and connections past a cap, are listen.ts's, before the app.
 */
function shedsLoad(error: unknown): boolean {
  return error instanceof RunprintError && error.code === 'ERR_HTTP_BUSY';
}

/** The methods a route answers, for `Allow`: HEAD wherever GET is. */
function allowed(route: Record<string, Handler>): string {
  const methods = Object.keys(route);
  if (route['GET'] !== undefined) methods.push('HEAD');
  return methods.join(', ');
}

function withoutBody(response: Response): Response {
  void response.body?.cancel().catch(() => undefined);
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}
