/**
 * The query of a request to one of runprint's own routes, checked alike on every route
 * (docs/decisions/0015-http-input-errors.md): valid percent-encoding, only the parameters the
 * route takes, each at most once. A parameter the route does not read, or one of two values
 * silently chosen, would answer another question than the one asked.
 */
import { UsageError } from '../errors.ts';

/**
 * Refuses a query that is not valid percent-encoding: a `%` not followed by two hex digits, or
 * bytes that are not UTF-8. URLSearchParams would read `%ZZ` as those three characters and a bad
 * byte as U+FFFD, a value the client did not send.
 */
export function checkQueryEncoding(url: URL): void {
  if (url.search.length <= 1) return;
  for (const part of url.search.slice(1).split('&')) {
    try {
      decodeURIComponent(part.replaceAll('+', ' '));
    } catch {
      throw new UsageError('ERR_HTTP_BAD_REQUEST', 'the query is not valid percent-encoding: a % must be followed by two hex digits, and the bytes they give must be UTF-8');
    }
  }
}

/**
 * Refuses a query parameter `path` does not take (naming those it takes) and one given more than
 * once (`why` may say more, such as that two filters are not combined).
 */
export function knownParameters(url: URL, path: string, names: readonly string[], why = ''): void {
  for (const name of url.searchParams.keys()) {
    if (!names.includes(name)) {
      const takes = names.length === 0 ? 'no query parameters' : names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
      throw new UsageError('ERR_HTTP_BAD_REQUEST', `unknown query parameter; ${path} takes ${takes}`);
    }
  }
  for (const name of names) {
    if (url.searchParams.getAll(name).length > 1) throw new UsageError('ERR_HTTP_BAD_REQUEST', `${name} is given more than once; ${path} takes each query parameter once${why}`);
  }
}
