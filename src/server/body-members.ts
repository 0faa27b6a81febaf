/**
 * The JSON bodies of the service's CLI-like routes (README, "Service"): one object whose members
 * stand for the CLI's files and options. Attacker-controlled: every member is checked for its type
 * and named by its JSON path when it is wrong; no value is echoed.
 */
import { capName, formatNormalizedPath, UsageError } from '../errors.ts';
import { isInputFormat, type InputFormat } from '../compose/from-document.ts';
import { decodeBase64 } from '../keys/base64.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';

const encoder = new TextEncoder();

function wrong(member: string, what: string): UsageError {
  return new UsageError('ERR_HTTP_BAD_REQUEST', `member "${member}" must be ${what}`, formatNormalizedPath([member]));
}

/** The body as an object with only `allowed` members. */
export function readMembers(body: Uint8Array, allowed: readonly string[]): JsonObject {
  const value = parseJson(body);
  if (!isJsonObject(value)) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'request body must be a JSON object', '$');
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      throw new UsageError('ERR_HTTP_BAD_REQUEST', `unknown member "${capName(name)}"; this route takes ${allowed.join(', ')}`, formatNormalizedPath([name]));
    }
  }
  return value;
}

export function optionalString(members: JsonObject, name: string): string | undefined {
  const value = members[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw wrong(name, 'a string');
  return value;
}

export function requiredMember(members: JsonObject, name: string): JsonValue {
  const value = members[name];
  if (value === undefined) throw new UsageError('ERR_HTTP_BAD_REQUEST', `member "${name}" is required`, formatNormalizedPath([name]));
  return value;
}

export function inputFormat(members: JsonObject, name = 'from'): InputFormat | undefined {
  const value = optionalString(members, name);
  if (value !== undefined && !isInputFormat(value)) throw wrong(name, 'auto, composition, openai-chat, openai-responses or anthropic-messages');
  return value;
}

export function requestFormat(members: JsonObject, name: string): RequestFormat | undefined {
  const value = optionalString(members, name);
  if (value !== undefined && !isRequestFormat(value)) throw wrong(name, 'openai-chat, openai-responses or anthropic-messages');
  return value;
}

/**
 * Bytes given one of three ways: `<name>` as a string, the body's text exactly as received (a JSON
 * body or an SSE stream); `<name>` as a JSON object, a JSON body re-serialized (only where the
 * exact bytes do not matter: `objects: false` refuses it for a receipt's output, whose raw digest
 * is of the bytes); or `<name>Base64` for bytes that are not UTF-8 text.
 */
export function bytesMember(members: JsonObject, name: string, options: { objects: boolean }): Uint8Array | undefined {
  const value = members[name];
  const base64 = optionalString(members, `${name}Base64`);
  if (value !== undefined && base64 !== undefined) throw new UsageError('ERR_HTTP_BAD_REQUEST', `give only one of ${name} and ${name}Base64`, formatNormalizedPath([`${name}Base64`]));
  if (typeof value === 'string') return encoder.encode(value);
  if (value !== undefined) {
    if (!options.objects || !isJsonObject(value)) {
      throw wrong(name, options.objects ? 'a string (the body as received) or a JSON object (a JSON body)' : 'a string: the body exactly as received (JSON or an SSE stream)');
    }
    return encoder.encode(JSON.stringify(value));
  }
  if (base64 === undefined) return undefined;
  const bytes = decodeBase64(base64);
  if (bytes === undefined) throw wrong(`${name}Base64`, 'base64');
  return bytes;
}

/** A list of strings (keys, parents, witnesses); JSON objects in it (JWK) are given as their JSON text. */
export function stringList(members: JsonObject, name: string, options: { objects: boolean }): string[] | undefined {
  const value = members[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw wrong(name, 'a list');
  return value.map((item, index) => {
    if (typeof item === 'string') return item;
    if (options.objects && isJsonObject(item)) return JSON.stringify(item);
    throw new UsageError('ERR_HTTP_BAD_REQUEST', `member "${name}" must hold ${options.objects ? 'strings or JSON objects' : 'strings'}`, formatNormalizedPath([name, index]));
  });
}
