/** Which provider API a call is, from its method and path: the route table of capture (issue: live capture, section 1). */
import { providerFor } from '../providers/registry.ts';
import { typeName, wrongType } from './misuse.ts';
import { REQUEST_FORMATS, type RequestFormat } from '../providers/request-format.ts';

/** A route of the table: one provider format's method and path. */
export interface CaptureRoute {
  format: RequestFormat;
  method: string;
  path: string;
}

/** Every provider's routes, built from the provider folders (adding a provider adds its routes). */
export const CAPTURE_ROUTES: readonly CaptureRoute[] = REQUEST_FORMATS.flatMap((format) =>
  providerFor(format).routes.map((route) => ({ format, method: route.method, path: route.path })),
);

/**
 * The format of a call, or null when it is not a run runprint captures (`GET /v1/models`, files,
 * anything unknown). `path` is the URL path without query; it matches a route when it is the
 * route's path or ends with it after a base-URL prefix (`/api/v1/chat/completions` is
 * `openai-chat`, as OpenAI-compatible servers often sit under a prefix). A trailing `/` is not
 * the same path. `method` is compared without regard to case, as `fetch` normalizes it. Either
 * not a string is a TypeError with `code` ERR_INVALID_ARG_TYPE.
 */
export function routeOf(method: string, path: string): RequestFormat | null {
  if (typeof method !== 'string') throw wrongType(`routeOf: method must be a string, such as "POST", not ${typeName(method)}`);
  if (typeof path !== 'string') throw wrongType(`routeOf: path must be a string, such as "/v1/chat/completions", not ${typeName(path)}`);
  const upper = method.toUpperCase();
  for (const route of CAPTURE_ROUTES) {
    if (route.method === upper && path.endsWith(route.path)) return route.format;
  }
  return null;
}
