/** docs/SPEC.md section 4.1: mapping a provider request to a composition and back, losslessly. */
import { ProviderError, formatPath } from '../errors.ts';
import { COMPOSITION_VERSION, LIST_COMPONENTS, REQUEST_COMPONENTS, VALUE_COMPONENTS, type Composition } from '../identity/composition.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { describe } from '../keys/key-arguments.ts';
import { noRequestForm } from './presence-rule.ts';
import { providerFor } from './registry.ts';
import {
  isRequestFormat,
  member,
  setMember,
  type RequestFormat,
  type RequestMapping,
} from './request-format.ts';

/** Marks request fields written from the list components; they are added first, so never collide. */
const LISTS = 'lists';

/** The mapping of one format; a name outside RequestFormat is a programmer error. */
export function mappingFor(format: RequestFormat): RequestMapping {
  return providerFor(format).request;
}

/**
 * The composition a provider request stands for (SPEC 4.1-4.4). `model` becomes
 * `{"api": format, "name": model}`; list fields lift under the presence rule; every other field goes,
 * verbatim and by name, to `parameters`, `excluded` or (known or not) `configuration`. Nothing is
 * dropped and nothing is normalized. The result shares element values with `request`.
 */
export function compositionFromRequest(format: RequestFormat, request: JsonValue): Composition {
  const mapping = mappingFor(format);
  if (!isJsonObject(request)) {
    throw new ProviderError('ERR_PROVIDER_INVALID_REQUEST', 'request must be a JSON object', formatPath([]));
  }
  const name = member(request, 'model');
  if (typeof name !== 'string' || name === '') {
    throw new ProviderError(
      'ERR_PROVIDER_INVALID_REQUEST',
      'request "model" must be a non-empty string',
      formatPath(['model']),
    );
  }
  const lists = mapping.lift(request);
  const parameters: JsonObject = {};
  const configuration: JsonObject = {};
  const excluded: JsonObject = {};
  for (const key of Object.keys(request)) {
    if (key === 'model' || lists.consumed.has(key)) continue;
    const value = request[key] as JsonValue;
    if (mapping.excluded.has(key)) setMember(excluded, key, value);
    else if (mapping.parameters.has(key)) setMember(parameters, key, value);
    else setMember(configuration, key, value);
  }
  const composition: Composition = {
    version: COMPOSITION_VERSION,
    model: { api: format, name },
    system: lists.system,
    input: lists.input,
    context: [],
    tools: lists.tools,
    parameters,
    configuration,
  };
  if (Object.keys(excluded).length > 0) composition.excluded = excluded;
  return composition;
}

/**
 * The provider request a composition stands for, in the format named by `model.api` (SPEC 4.1).
 * It is the exact inverse of compositionFromRequest: a composition that no request maps to (a
 * non-empty `context`, a member in the wrong component, a model with more than `api` and `name`)
 * is rejected rather than approximated, so replaying the request gives back the same identity.
 * `served` is not part of a request and is ignored.
 */
export function requestFromComposition(composition: Composition): JsonObject {
  requireComposition(composition);
  const format = member(composition.model, 'api');
  if (!isRequestFormat(format)) {
    throw new ProviderError(
      'ERR_PROVIDER_UNKNOWN_FORMAT',
      'composition model "api" names no request format this implementation maps',
      formatPath(['model', 'api']),
    );
  }
  const mapping = mappingFor(format);
  const name = member(composition.model, 'name');
  if (typeof name !== 'string' || name === '') noRequestForm(format, 'model', 'name');
  if (composition.context.length > 0) noRequestForm(format, 'context', 0);

  const request: JsonObject = {};
  const source = new Map<string, string>();
  const add = (component: string, fields: JsonObject): void => {
    for (const key of Object.keys(fields)) {
      if (Object.hasOwn(request, key)) {
        throw new ProviderError(
          'ERR_PROVIDER_INVALID_REQUEST',
          'composition sets the same request field in two components',
          formatPath([component, key]),
        );
      }
      setMember(request, key, fields[key] as JsonValue);
      source.set(key, component);
    }
  };
  setMember(request, 'model', name);
  source.set('model', 'model');
  add(LISTS, mapping.lower(composition));
  add('parameters', composition.parameters);
  add('configuration', composition.configuration);
  add('excluded', composition.excluded ?? {});

  // Map the request back and demand the same composition: this one check covers every way a
  // composition can fail to be the image of a request, and names the component that differs.
  let again: Composition;
  try {
    again = compositionFromRequest(format, request);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    // Only a lifted field copied from a value component can make the built request invalid.
    for (const field of mapping.lifted) {
      const component = source.get(field);
      if (component !== undefined && component !== LISTS) noRequestForm(format, component, field);
    }
    throw error;
  }
  for (const component of REQUEST_COMPONENTS) {
    if (!jsonEqual(again[component], composition[component])) notMappedBack(format, component);
  }
  if (!jsonEqual(again.excluded ?? {}, composition.excluded ?? {})) notMappedBack(format, 'excluded');
  return request;
}

/**
 * A composition object as parseComposition or compositionFromRequest gives it: anything else is a
 * programmer error (a TypeError saying what was expected), not a property read of undefined.
 */
function requireComposition(value: unknown): asserts value is Composition {
  const expected = 'a composition object (from parseComposition or compositionFromRequest)';
  if (!isJsonObject(value as JsonValue)) throw new TypeError(`requestFromComposition composition must be ${expected}, not ${describe(value)}`);
  const object = value as JsonObject;
  for (const name of VALUE_COMPONENTS) {
    if (!isJsonObject(object[name])) throw new TypeError(`requestFromComposition composition.${name} must be an object, not ${describe(object[name])}: give ${expected}`);
  }
  for (const name of LIST_COMPONENTS) {
    if (!Array.isArray(object[name])) throw new TypeError(`requestFromComposition composition.${name} must be an array, not ${describe(object[name])}: give ${expected}`);
  }
}

function notMappedBack(format: RequestFormat, component: string): never {
  throw new ProviderError(
    'ERR_PROVIDER_INVALID_REQUEST',
    `composition component "${component}" differs from what its ${format} request maps back to`,
    formatPath([component]),
  );
}

/** JSON value equality: member order does not count, array order does. */
function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((element, index) => jsonEqual(element, b[index] as JsonValue));
  }
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key] as JsonValue, b[key] as JsonValue));
}
