/** PostgreSQL connection URLs as runprint hands them to node-postgres (LOG.md 19.5), and as its messages name them. */
import { LogError } from '../errors.ts';
import { printable } from '../io/printable.ts';
import { printableUrl } from '../log/client.ts';

/**
 * node-postgres (pg 8) verifies the server's certificate and host name for `sslmode=prefer`,
 * `require` and `verify-ca`, as for `verify-full`, and prints a multi-line deprecation warning for
 * each: pg 9 will give them libpq's weaker meaning. runprint keeps today's checks and says so in
 * one line: those modes are handed over as `sslmode=verify-full`. `uselibpqcompat=true` (libpq's
 * meaning, asked for explicitly) is left as it is. Returns the URL to use and the mode replaced.
 */
export function pinSslMode(url: string): { url: string; replaced?: string } {
  if (/[?&]uselibpqcompat=true(?:&|#|$)/.test(url)) return { url };
  const match = /([?&]sslmode=)(prefer|require|verify-ca)(?=&|#|$)/.exec(url);
  if (match === null) return { url };
  return { url: url.slice(0, match.index) + match[1] + 'verify-full' + url.slice(match.index + match[0].length), replaced: match[2]! };
}

/**
 * The database a connection URL names, as a message may show it: the URL without its user name,
 * password and query (they may hold credentials; printableUrl). Throws on a URL that does not parse.
 */
export function databaseShown(url: string): string {
  return printableUrl(new URL(url));
}

/**
 * The error of a first connection the server or the network refused, said with what the URL names
 * (its host and port, and for an authentication failure its user name; never its password), or
 * undefined for any other failure. `what` names the database: `log`, `run`.
 */
export function connectionRefused(error: unknown, url: string, what: 'log' | 'run'): LogError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  // libpq's defaults: a socket or localhost, port 5432; `?host=` may name a socket folder.
  const host = printable(parsed.hostname === '' ? (parsed.searchParams.get('host') ?? 'localhost') : parsed.hostname, 80);
  const port = parsed.port === '' ? (parsed.searchParams.get('port') ?? '5432') : parsed.port;
  const server = `${host}:${printable(port, 8)}`;
  switch (code) {
    case '28000': // invalid_authorization_specification: no such role, or no pg_hba.conf entry lets it in
    case '28P01': {
      // invalid_password
      let user: string;
      try {
        user = decodeURIComponent(parsed.username);
      } catch {
        user = parsed.username;
      }
      const who = user === '' ? 'the default user (the URL names none)' : `the user ${printable(user, 64)}`;
      const why = code === '28P01' ? 'the password was refused' : 'authentication failed, or the role does not exist';
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL server at ${server} refused ${who} for the ${what} database: ${why} (${code})`);
    }
    case 'ECONNREFUSED':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached: nothing accepts connections at ${server} (ECONNREFUSED); is the server running, on that host and port?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached: the host name ${host} does not resolve (${code})`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database cannot be reached at ${server} (${code})`);
    default:
      return undefined;
  }
}
