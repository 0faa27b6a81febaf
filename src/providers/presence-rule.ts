/** docs/SPEC.md section 4.1: the presence rule that decides whether a request field lifts into a list. */
import { ProviderError, formatPath } from '../errors.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { member, type RequestFormat } from './request-format.ts';

/*
 * A request field lifts into a list component only when it is present, has a liftable shape and
 * the lifted list is non-empty. `null` and `[]` are valid values that do not lift: the field stays
 * verbatim in `configuration`, so the request comes back unchanged. Any other JSON type is an error,
 * because keeping it would hide a malformed request and lifting it would mean guessing.
 *
 * The request is attacker-controlled: messages name the field only, never echo its content.
 */

function invalid(message: string, ...path: Array<string | number>): never {
  throw new ProviderError('ERR_PROVIDER_INVALID_REQUEST', message, formatPath(path));
}

/** Fails unless every element of a lifted array is a JSON object. */
function requireObjects(field: string, elements: JsonValue[]): void {
  for (let index = 0; index < elements.length; index++) {
    if (!isJsonObject(elements[index])) {
      invalid(`each element of request "${field}" must be a JSON object`, field, index);
    }
  }
}

/**
 * An array-of-objects field (`messages`, `tools`): the elements when it lifts, `undefined` when it
 * is absent, `null` or `[]` and so stays where it is.
 */
export function liftObjectList(request: JsonObject, field: string): JsonValue[] | undefined {
  const value = member(request, field);
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) invalid(`request "${field}" must be an array or null`, field);
  if (value.length === 0) return undefined;
  requireObjects(field, value);
  return value;
}

/**
 * A field that is a string or, when `allowArray`, an array of objects (`system`, `input`,
 * `instructions`). A string lifts as a one-element list holding it; array elements must be objects,
 * else `["x"]` and `"x"` would lift to the same list and the request could not be given back.
 */
export function liftTextOrObjectList(
  request: JsonObject,
  field: string,
  allowArray: boolean,
): JsonValue[] | undefined {
  const value = member(request, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!allowArray) invalid(`request "${field}" must be a string or null`, field);
  if (!Array.isArray(value)) invalid(`request "${field}" must be a string, an array or null`, field);
  if (value.length === 0) return undefined;
  requireObjects(field, value);
  return value;
}

/** The error for a composition component that no request of `format` would map to. */
export function noRequestForm(
  format: RequestFormat,
  component: string,
  ...path: Array<string | number>
): never {
  throw new ProviderError(
    'ERR_PROVIDER_INVALID_REQUEST',
    `composition component "${component}" has no ${format} request form`,
    formatPath([component, ...path]),
  );
}

/** The inverse of liftObjectList for one component: its elements, each of which must be an object. */
export function lowerObjectList(format: RequestFormat, component: string, list: JsonValue[]): JsonValue[] {
  for (let index = 0; index < list.length; index++) {
    if (!isJsonObject(list[index])) noRequestForm(format, component, index);
  }
  return list;
}

/**
 * The inverse of liftTextOrObjectList: `[string]` gives the string back, a list of objects gives
 * the array (when `allowArray`); `undefined` for an empty list, whose field stays absent.
 */
export function lowerTextOrObjectList(
  format: RequestFormat,
  component: string,
  list: JsonValue[],
  allowArray: boolean,
): JsonValue | undefined {
  if (list.length === 0) return undefined;
  const first = list[0];
  if (list.length === 1 && typeof first === 'string') return first;
  if (!allowArray) noRequestForm(format, component);
  return lowerObjectList(format, component, list);
}
