/**
 * Why a connection gave no answer, in the words an operator can act on, from the system's (or
 * undici's) error code: what serve's 502 says of an upstream (server/upstream-fetch.ts) and what
 * replay says of the same upstream (replay/no-answer.ts), so the two say the same.
 */

/** An error's code as a message may show it (a system or undici code), else undefined. */
export function errorCode(value: unknown): string | undefined {
  const code = value === null || typeof value !== 'object' ? undefined : (value as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : undefined;
}

/** The words for a connection that failed with `code` (undefined: closed, no code said). */
export function connectionFailure(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case undefined:
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'the connection closed before an answer';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name was not found';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    // No answer within undici's headers timeout (300 s), as serve's idle limit before an answer.
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'the connection timed out';
    default:
      return 'the connection failed';
  }
}
