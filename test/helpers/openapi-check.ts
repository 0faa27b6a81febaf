/**
 * docs/openapi.json for the tests that hold serve's real answers against it (openapi*.test.ts):
 * the document, its answers with their $refs followed, the check of one answer (status, declared
 * headers, content type, body), and raw requests and answers on a socket, for the requests fetch
 * does not send (any method, Host or header length) and the refusals that close the connection.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { generateKeyFiles } from '../../src/keys/keys.ts';
import { validate } from './json-schema.ts';

export type Ref = { $ref: string };
export type Header = { required?: boolean; schema: unknown };
export type Answer = { description: string; headers?: Record<string, Header | Ref>; content?: Record<string, { schema: unknown }> };
export type Operation = { responses: Record<string, Answer | Ref> };
export const DOCUMENT_BYTES = readFileSync(new URL('../../docs/openapi.json', import.meta.url));
export const DOCUMENT = JSON.parse(DOCUMENT_BYTES.toString('utf8')) as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, Answer> } };
export const METHODS = ['get', 'post', 'put', 'delete', 'patch'];
/** Headers an answer may carry only where the document declares them. */
const DECLARED_HEADERS = ['allow', 'retry-after'];

/** A response or header of the document, its `$ref` (`#/components/...`) followed. */
export function resolved<T>(value: T | Ref): T {
  if (typeof value !== 'object' || value === null || typeof (value as Ref).$ref !== 'string') return value as T;
  let at: unknown = DOCUMENT;
  for (const part of (value as Ref).$ref.slice(2).split('/')) at = (at as Record<string, unknown> | undefined)?.[part];
  assert.ok(at !== undefined, `${(value as Ref).$ref} is in the document`);
  return resolved(at as T | Ref);
}

/**
 * The problems of a real answer against `documented`, the document's answer for its route and
 * status (undefined: that status is not documented): its declared headers (a required one present,
 * each value valid), Allow or Retry-After only where declared, its content type and its body.
 */
export function answerProblems(where: string, documented: Answer | Ref | undefined, headers: Headers, body: Uint8Array): string[] {
  if (documented === undefined) return [`${where}: status not documented`];
  const answer = resolved(documented);
  const problems: string[] = [];
  const declared = new Map(Object.entries(answer.headers ?? {}).map(([name, header]) => [name.toLowerCase(), resolved(header)]));
  for (const [name, header] of declared) {
    const value = headers.get(name);
    if (value === null) {
      if (header.required === true) problems.push(`${where}: no ${name} header`);
    } else problems.push(...validate(value, header.schema as never, DOCUMENT).map((problem) => `${where}: ${name} header${problem}`));
  }
  for (const name of DECLARED_HEADERS) if (headers.has(name) && !declared.has(name)) problems.push(`${where}: a ${name} header where none is documented`);
  const mediaType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (answer.content === undefined) {
    if (mediaType !== '') problems.push(`${where}: a body of ${mediaType} where none is documented`);
    return problems;
  }
  const content = answer.content[mediaType];
  const text = new TextDecoder().decode(body);
  if (content === undefined) problems.push(`${where}: content type ${mediaType} not documented`);
  else if (mediaType === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [...problems, `${where}: the body is not JSON`];
    }
    problems.push(...validate(value, content.schema as never, DOCUMENT).map((problem) => `${where}: ${problem}`));
  } else if (mediaType !== 'application/octet-stream') problems.push(...validate(text, content.schema as never, DOCUMENT).map((problem) => `${where}: ${problem}`));
  return problems;
}

/** An answer read off the socket: status, headers and body. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/**
 * Sends `request` (bytes as given: any method, Host, length) on a new connection to 127.0.0.1:`port`
 * (from `localAddress`, another loopback address, when given) and reads the answer until the server
 * closes the connection (the request says `connection: close`, or it is refused).
 */
export function exchange(port: number, request: string, localAddress?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
    const chunks: Buffer[] = [];
    // A refusal may close the connection before the whole request is written: the answer is read all the same.
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      const bytes = Buffer.concat(chunks);
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}: ${JSON.stringify(bytes.toString('latin1'))}`));
      const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Headers();
      for (const line of lines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
      const rest = bytes.subarray(end + 4);
      const body = headers.get('transfer-encoding') === 'chunked' ? dechunked(rest) : rest.subarray(0, Number(headers.get('content-length') ?? rest.length));
      resolve({ status: Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(statusLine!)?.[1]), headers, body });
    });
    socket.write(request);
  });
}

/** A chunked body's bytes (RFC 9112 section 7.1), its chunks joined. */
function dechunked(bytes: Buffer): Uint8Array {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const line = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, line).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(chunks);
    chunks.push(bytes.subarray(line + 2, line + 2 + size));
    at = line + 2 + size + 2;
  }
}

/** A request's bytes: `method path`, Host 127.0.0.1 and `connection: close` unless `headers` say otherwise, an empty body for POST. */
export function requestOf(method: string, path: string, headers: Record<string, string> = {}, end = '\r\n'): string {
  const all: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...(method === 'POST' ? { 'content-length': '0' } : {}), ...headers };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join('')}${end}`;
}

/** Every documented operation: its method (upper case), its path template, and a path of it (the run id, digest and tile given). */
export function operations(): { method: string; template: string; path: string }[] {
  return Object.entries(DOCUMENT.paths).flatMap(([template, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => ({ method: method.toUpperCase(), template, path: pathOf(template) })));
}

/** A path of `template`: each parameter replaced with `value` (else a value of its form). */
export function pathOf(template: string, value?: string): string {
  if (template === '/explorer/{path}' && value === undefined) return '/explorer/';
  return template.replace('{path}', value ?? '0/000').replace('{id}', value ?? `rp-run-v1-sha256-${'0'.repeat(64)}`).replace('{digest}', value ?? '0'.repeat(64));
}

/** The document's answer to `method` on `template` with `status`; undefined when it has none. */
export function documentedAnswer(template: string, method: string, status: number): Answer | Ref | undefined {
  return DOCUMENT.paths[template]?.[method.toLowerCase()]?.responses[String(status)];
}

/** Checks a raw answer: its status is `status`, and it is what the document says `method template` answers with it. */
export function checkRaw(problems: string[], answer: RawAnswer, status: number, template: string, method: string, path: string, documented = documentedAnswer(template, method, status)): void {
  const where = `${method} ${path.length > 1000 ? `${path.slice(0, 60)}...(${path.length} characters)` : path} -> ${answer.status}`;
  if (answer.status !== status) return void problems.push(`${where}: want ${status}`);
  problems.push(...answerProblems(where, documented, answer.headers, answer.body));
}

/** The keys and arguments of a serve with the log, the witness (of that log) and signing on, in `data`. */
export async function fullServeArgs(data: string, name: string): Promise<{ args: string[]; logKey: Awaited<ReturnType<typeof generateKeyFiles>>; signKey: Awaited<ReturnType<typeof generateKeyFiles>> }> {
  const logKey = await generateKeyFiles(name);
  const witnessKey = await generateKeyFiles('example.test/openapi-witness');
  const signKey = await generateKeyFiles('receipts');
  for (const [file, text] of [['log.pem', logKey.privateKeyPem], ['witness.pem', witnessKey.privateKeyPem], ['sign.pem', signKey.privateKeyPem]] as const) {
    await writeFile(join(data, file), text, { mode: 0o600 });
  }
  return {
    logKey,
    signKey,
    args: ['--log-name', name, '--log-key', join(data, 'log.pem'), '--sign-key', join(data, 'sign.pem'), '--sign-token', 'sign-token-1',
      '--witness-key', join(data, 'witness.pem'), '--witness-name', 'example.test/openapi-witness', '--witness-log', logKey.verifierKey],
  };
}
