/**
 * SPEC 4.8: request members an API takes in HTTP headers (Anthropic's `betas`, sent as
 * `anthropic-beta`). A captured request is the body with those members added from its headers, so
 * a call's identity is what `runprint id` gives for the body written with the member.
 */
import { ProviderError, formatPath } from '../errors.ts';
import { createJsonObject, isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { providerFor } from './registry.ts';
import type { RequestFormat } from './request-format.ts';

/** The headers of a request that carry request members, by lower-case name (only those present). */
export type MemberHeaders = { readonly [header: string]: string };

/**
 * The member headers of a request in `format`, read with `get` (a `Headers`, or anything that
 * answers a lower-case name with its value or null; several lines of one header joined with
 * commas, as `Headers.get` does); undefined when the request has none.
 */
export function memberHeadersOf(format: RequestFormat, get: (name: string) => string | null | undefined): MemberHeaders | undefined {
  let found: { [header: string]: string } | undefined;
  for (const { header } of providerFor(format).headerMembers) {
    const value = get(header);
    if (typeof value === 'string') (found ??= {})[header] = value;
  }
  return found;
}

/** A copy of an object's members, `__proto__` an ordinary one (the parser's objects have a null prototype). */
function copied(object: JsonObject, without?: string): JsonObject {
  const copy = createJsonObject();
  for (const key of Object.keys(object)) if (key !== without) Object.defineProperty(copy, key, { value: object[key], enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A header's list (SPEC 4.8): split at commas, each part trimmed of spaces and tabs, empty parts dropped. */
export function headerList(value: string): string[] {
  return value.split(',').map((part) => part.replace(/^[ \t]+|[ \t]+$/g, '')).filter((part) => part !== '');
}

/** What a member header may hold (SPEC 4.8): printable ASCII, spaces and tabs; any other byte is refused. */
const READABLE_HEADER = /^[\t\x20-\x7e]*$/;

/** The first character of a header value that is not printable ASCII, a space or a tab, as SPEC 4.8 refuses it. */
function unreadable(value: string): string | undefined {
  if (READABLE_HEADER.test(value)) return undefined;
  const code = [...value].find((each) => !READABLE_HEADER.test(each))!.codePointAt(0)!;
  return code <= 0xff ? `the byte 0x${code.toString(16).toUpperCase().padStart(2, '0')}` : `the character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The request with the members its headers carry added (SPEC 4.8): a header whose list is empty
 * adds nothing; a header holding a byte outside printable ASCII (a tab and spaces allowed) is
 * ambiguous (UTF-8 or ISO-8859-1 text is not for runprint to guess) and is refused, and so is a
 * member the body holds as well (which one the API honours is not for runprint to guess), both at
 * the member's path. A request that is not an object is returned as it is (the mapping refuses
 * it). Headers other than the format's member headers are a programmer error.
 */
export function withHeaderMembers(format: RequestFormat, request: JsonValue, headers: MemberHeaders | undefined): JsonValue {
  if (headers === undefined || !isJsonObject(request)) return request;
  const members = providerFor(format).headerMembers;
  for (const name of Object.keys(headers)) {
    if (!members.some((each) => each.header === name)) throw new RangeError(`"${name.slice(0, 64)}" is not a header that carries a request member of ${format}`);
  }
  let result: JsonObject | undefined;
  for (const { header, member } of members) {
    const value = Object.hasOwn(headers, header) ? headers[header] : undefined;
    if (typeof value !== 'string') continue;
    const refused = unreadable(value);
    if (refused !== undefined) {
      throw new ProviderError('ERR_PROVIDER_INVALID_REQUEST', `the ${header} header holds ${refused}, outside printable ASCII: whether its bytes are UTF-8 or ISO-8859-1 text is not for runprint to guess`, formatPath([member]));
    }
    const list = headerList(value);
    if (list.length === 0) continue;
    if (Object.hasOwn(request, member)) {
      throw new ProviderError('ERR_PROVIDER_INVALID_REQUEST', `the request has "${member}" in its body and the ${header} header too: which one the API honours is not for runprint to guess`, formatPath([member]));
    }
    result ??= copied(request);
    Object.defineProperty(result, member, { value: list, enumerable: true, writable: true, configurable: true });
  }
  return result ?? request;
}

/** Text a header value can carry so that it is read back (SPEC 4.8): printable ASCII and tabs, nothing else. */
const HEADER_TEXT = /^[\t\x20-\x7e]+$/;

/**
 * The body and headers a request written with its header members in the body is sent as (SPEC 4.8,
 * what a replay sends): those members taken out of the body and put in their headers, each list
 * joined with commas. A member that is not a list of strings without commas, each one a header
 * can carry and be read back from (SPEC 4.8: printable ASCII, spaces and tabs inside, not at an
 * end), stays in the body.
 */
export function headerMembersOut(format: RequestFormat, request: JsonObject): { request: JsonObject; headers: { [header: string]: string } } {
  const headers: { [header: string]: string } = {};
  let body: JsonObject | undefined;
  for (const { header, member } of providerFor(format).headerMembers) {
    if (!Object.hasOwn(request, member)) continue;
    const value = request[member];
    if (!Array.isArray(value) || value.length === 0 || !value.every((each) => typeof each === 'string' && HEADER_TEXT.test(each) && headerList(each).length === 1 && headerList(each)[0] === each)) continue;
    body = copied(body ?? request, member);
    headers[header] = (value as string[]).join(',');
  }
  return { request: body ?? request, headers };
}
