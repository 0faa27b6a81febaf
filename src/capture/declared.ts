/**
 * Declared retrieval, where it arrives from outside the capture core: the shape every way of
 * declaring shares (withRetrieval in process, an exchange's `retrieval` member, the proxy's
 * `runprint-retrieval` header), the error for a declaration the request does not back up, and the
 * header's encoding. The check itself (each text in a string of the request's system or input)
 * is the capture core's (capture-run.ts, locate), used by every capture point. Pure: no Node APIs.
 * Texts are never put in an error: only sources (cut) and positions.
 */
import { RunprintError, type ErrorCode } from '../errors.ts';
import { parseJson } from '../jcs/index.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import { typeName, wrongType, wrongValue } from './misuse.ts';
import type { DeclaredDocument } from './run-record.ts';

/** The request header a proxy client declares retrieval in (docs/CAPTURE.md, "Declared retrieval"). */
export const RETRIEVAL_HEADER = 'runprint-retrieval';
/** The response header the proxy names a declaration's failure in (its code), when it forwarded the call anyway. */
export const RETRIEVAL_ERROR_HEADER = 'runprint-retrieval-error';
/**
 * Most bytes of `runprint-retrieval` values in one request, as sent (base64url): about 48 KiB of
 * JSON. Serve reads request headers up to this much more than Node's default (16 KiB), so a
 * declaration up to the limit reaches the proxy with the client's other headers.
 */
export const MAX_RETRIEVAL_HEADER_BYTES = 64 * 1024;
/**
 * Most documents one call may declare, however declared (in process, an exchange, the proxy's
 * header): more is ERR_CAPTURE_RETRIEVAL_TOO_LARGE and none is recorded. With the next limit it
 * bounds the work and memory of the check that each text is in the request (find-texts.ts).
 */
export const MAX_DECLARED_DOCUMENTS = 256;
/** Most UTF-16 code units of declared text one call may carry, a text declared twice counted once (1 MiB of ASCII). */
export const MAX_DECLARED_TEXT = 1024 * 1024;

function isObject(value: unknown): value is { [name: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The declared documents in a JSON value: an array of `{ source, text }`, both non-empty strings,
 * no other member. Otherwise a RunprintError with `code`, naming the place (`path` and below).
 */
export function readDeclared(value: unknown, path: string, code: ErrorCode): DeclaredDocument[] {
  if (!Array.isArray(value)) throw new RunprintError(code, 'must be an array of { source, text }', path);
  return value.map((document: unknown, i) => {
    if (!isObject(document) || Object.keys(document).some((name) => name !== 'source' && name !== 'text') || typeof document['source'] !== 'string' || document['source'] === '' || typeof document['text'] !== 'string' || document['text'] === '') {
      throw new RunprintError(code, 'must be { source, text }, two non-empty strings', `${path}[${i}]`);
    }
    return { source: document['source'], text: document['text'] };
  });
}

/** ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST for the sources of declared documents the request does not hold (the run is recorded without them). */
export function notInRequest(sources: readonly string[]): RunprintError {
  return new RunprintError('ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', `${sources.length} declared document(s) are not in the request's system or input (sources ${sources.map((source) => JSON.stringify(source.slice(0, 80))).join(', ')}); the run is recorded without them`);
}

/** ERR_CAPTURE_RETRIEVAL_TOO_LARGE for a call that declares more than MAX_DECLARED_DOCUMENTS documents. */
export function tooManyDocuments(count: number): RunprintError {
  return new RunprintError('ERR_CAPTURE_RETRIEVAL_TOO_LARGE', `${count} documents are declared, more than the ${MAX_DECLARED_DOCUMENTS} one call may declare; the run is recorded without them`);
}

/** ERR_CAPTURE_RETRIEVAL_TOO_LARGE for declared texts longer together than MAX_DECLARED_TEXT. */
export function tooMuchText(units: number): RunprintError {
  return new RunprintError('ERR_CAPTURE_RETRIEVAL_TOO_LARGE', `the declared texts hold ${units} UTF-16 code units, more than the ${MAX_DECLARED_TEXT} one call may declare; the run is recorded without them`);
}

const encoder = new TextEncoder();

/**
 * The value of a `runprint-retrieval` header declaring `documents`: the UTF-8 of their JSON array
 * `[{"source", "text"}, ...]` in base64url without padding (RFC 4648 section 5). A client may send
 * several such headers (one document each, say); the proxy reads them in order as one list.
 * A wrong shape is a TypeError with `code` ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE, as
 * withRetrieval's (declaredArgument).
 */
export function retrievalHeader(documents: readonly DeclaredDocument[]): string {
  const checked = declaredArgument(documents, 'retrievalHeader');
  return encodeBase64(encoder.encode(JSON.stringify(checked))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The documents an application declares in its own code (withRetrieval, retrievalHeader), by the
 * rule readDeclared reads them off the wire: an array of `{ source, text }`, both non-empty
 * strings, no other member. Otherwise a programmer error with Node's codes (misuse.ts):
 * ERR_INVALID_ARG_TYPE for a value of the wrong type (not an array, an element not an object, a
 * source or text not a string), ERR_INVALID_ARG_VALUE for one of the right type that is not
 * allowed (an empty source or text, another member). `who` names the function in the message.
 */
export function declaredArgument(documents: unknown, who: string): DeclaredDocument[] {
  const shape = `${who} takes an array of { source, text }, two non-empty strings`;
  if (!Array.isArray(documents)) throw wrongType(`${shape}, not ${typeName(documents)}`);
  return documents.map((document: unknown, i) => {
    if (!isObject(document)) throw wrongType(`${shape}: [${i}] is ${typeName(document)}, not an object`);
    const other = Object.keys(document).find((name) => name !== 'source' && name !== 'text');
    if (other !== undefined) throw wrongValue(`${shape}: [${i}] has a member other than source and text: ${JSON.stringify(other.slice(0, 80))}`);
    const { source, text } = document;
    if (typeof source !== 'string') throw wrongType(`${shape}: [${i}].source is ${typeName(source)}, not a string`);
    if (typeof text !== 'string') throw wrongType(`${shape}: [${i}].text is ${typeName(text)}, not a string`);
    if (source === '') throw wrongValue(`${shape}: [${i}].source is empty`);
    if (text === '') throw wrongValue(`${shape}: [${i}].text is empty`);
    return { source, text };
  });
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * The documents a request's `runprint-retrieval` header declares (`value` as the Fetch API joins
 * repeated headers: comma-separated); none for null. Each comma-separated item is a whole
 * declaration (base64url of a JSON array, padding optional), read as strict I-JSON; the lists are
 * joined in order. Throws ERR_CAPTURE_RETRIEVAL_TOO_LARGE past `maxBytes` (before decoding) or
 * past MAX_DECLARED_DOCUMENTS documents, and ERR_CAPTURE_RETRIEVAL_INVALID for anything else that
 * is not such a list; neither echoes content.
 */
export function readRetrievalHeader(value: string | null, maxBytes: number = MAX_RETRIEVAL_HEADER_BYTES): DeclaredDocument[] {
  if (value !== null && typeof value !== 'string') throw wrongType(`readRetrievalHeader: value must be the header's value, a string, or null for none, not ${typeName(value)}`);
  if (typeof maxBytes !== 'number' || Number.isNaN(maxBytes)) throw wrongType(`readRetrievalHeader: maxBytes must be a number of bytes, not ${typeName(maxBytes)}`);
  if (value === null) return [];
  if (value.length > maxBytes) {
    throw new RunprintError('ERR_CAPTURE_RETRIEVAL_TOO_LARGE', `${RETRIEVAL_HEADER} holds ${value.length} bytes, more than the ${maxBytes} the proxy reads; declare fewer or shorter documents`);
  }
  const documents: DeclaredDocument[] = [];
  const items = value.split(',').map((item) => item.trim());
  items.forEach((item, i) => {
    const where = items.length === 1 ? RETRIEVAL_HEADER : `${RETRIEVAL_HEADER} (value ${i + 1} of ${items.length})`;
    const bytes = BASE64URL.test(item) ? decodeBase64(item) : undefined;
    if (bytes === undefined) throw new RunprintError('ERR_CAPTURE_RETRIEVAL_INVALID', `${where} must be base64url (RFC 4648 section 5) of a JSON array of { source, text }`);
    let json: unknown;
    try {
      json = parseJson(bytes);
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      throw new RunprintError('ERR_CAPTURE_RETRIEVAL_INVALID', `${where} must decode to strict I-JSON (UTF-8): ${error.code}`, error.path);
    }
    try {
      documents.push(...readDeclared(json, '$', 'ERR_CAPTURE_RETRIEVAL_INVALID'));
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      throw new RunprintError('ERR_CAPTURE_RETRIEVAL_INVALID', `${where}: ${error.message}`, error.path);
    }
  });
  if (documents.length > MAX_DECLARED_DOCUMENTS) throw tooManyDocuments(documents.length);
  return documents;
}
