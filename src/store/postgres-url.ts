/** PostgreSQL connection URLs as runprint hands them to node-postgres (LOG.md 19.5), and as its messages name them. */
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
