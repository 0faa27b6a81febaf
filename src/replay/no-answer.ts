/**
 * Why a replay's call got no answer, from the error its fetch threw, in the words serve's 502
 * gives (server/upstream-fetch.ts and the proxy: `cannot reach the openai upstream: the
 * connection was refused (ECONNREFUSED)`), so that replay and serve say the same of one upstream.
 */
import { connectionFailure, errorCode } from '../io/connection-failure.ts';

function codeOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const code = errorCode(value);
  if (code !== undefined) return code;
  // Node's connect to several addresses (a name with IPv4 and IPv6) fails with an AggregateError.
  const errors = (value as { errors?: unknown }).errors;
  return Array.isArray(errors) ? codeOf(errors[0]) : undefined;
}

/**
 * Why the call to `url` got no answer, from what fetch threw: serve's upstream fetch says it after
 * "fetch failed: "; Node's fetch throws TypeError "fetch failed" with the system error (its
 * `code`) as the cause, or with an Error "bad port" for a port the Fetch standard never connects
 * to (6000, 10080 and others; serve's own client has no such list). Undefined when the error says
 * no more than that the call failed (an abort or a timeout, which the run's outcome names).
 */
export function whyNoAnswer(error: unknown, url: string): string | undefined {
  if (!(error instanceof TypeError)) return undefined;
  if (error.message.startsWith('fetch failed: ')) return error.message.slice('fetch failed: '.length);
  const cause: unknown = error.cause;
  if (cause instanceof Error && cause.message === 'bad port') {
    // A bad port is never 80 or 443, so the URL names it.
    const port = URL.canParse(url) ? new URL(url).port : '';
    return `fetch refuses to connect to port ${port} (a bad port of the Fetch standard)`;
  }
  const code = codeOf(cause);
  return code === undefined ? undefined : `${connectionFailure(code)} (${code})`;
}

/**
 * The message of a replay that got no answer from `upstream`: as serve's 502 words it when the
 * cause is known (an upstream that answered what no HTTP answer may hold was reached: it says what
 * it answered), else undefined.
 */
export function noAnswerMessage(upstream: string, error: unknown, url: string): string | undefined {
  const why = whyNoAnswer(error, url);
  if (why === undefined) return undefined;
  if (why.startsWith('the upstream ')) return `the ${upstream} upstream ${why.slice('the upstream '.length)}`;
  if (why.startsWith("the upstream's ")) return `the ${upstream} upstream's ${why.slice("the upstream's ".length)}`;
  return `cannot reach the ${upstream} upstream: ${why}`;
}
