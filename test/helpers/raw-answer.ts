/**
 * Raw HTTP/1.1 answers as a test's own socket reads them (a client that writes and reads bytes
 * itself, to see what serve answers a slow, stalled or malformed request).
 */
import assert from 'node:assert/strict';

/**
 * The status, headers (lower case) and body of one HTTP/1.1 answer, and whether the body is whole:
 * as long as its Content-Length says, or chunked up to its last chunk (then decoded).
 */
export function parseAnswer(answer: string): { status: number; headers: Record<string, string>; body: string; whole: boolean } {
  const end = answer.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an answer with a header block: ${JSON.stringify(answer.slice(0, 200))}`);
  const [statusLine, ...lines] = answer.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  const status = Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(statusLine!)?.[1]);
  const rest = answer.slice(end + 4);
  if (headers['transfer-encoding'] !== 'chunked') return { status, headers, body: rest, whole: rest.length === Number(headers['content-length']) };
  let body = '';
  for (let at = 0; ; ) {
    const lineEnd = rest.indexOf('\r\n', at);
    if (lineEnd < 0) return { status, headers, body, whole: false };
    const size = parseInt(rest.slice(at, lineEnd), 16);
    if (size === 0) return { status, headers, body, whole: rest.slice(lineEnd) === '\r\n\r\n' };
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
