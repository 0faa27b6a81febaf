/** docs/SPEC.md section 2: the run composition, its components and their JSON shapes. */
import { CompositionError, formatPath } from '../errors.ts';
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';

/** The one composition version this implementation reads and writes. */
export const COMPOSITION_VERSION = 'runprint/v1';

/** Components whose value is one JSON object, digested whole. */
export const VALUE_COMPONENTS = ['model', 'parameters', 'configuration'] as const;
/** Components that are ordered lists; every element gets its own digest. */
export const LIST_COMPONENTS = ['system', 'input', 'context', 'tools'] as const;
/** The order in which component digests enter the request digest (SPEC section 5.4). */
export const REQUEST_COMPONENTS = [
  'model',
  'system',
  'input',
  'context',
  'tools',
  'parameters',
  'configuration',
] as const;

export type ValueComponentName = (typeof VALUE_COMPONENTS)[number];
export type ListComponentName = (typeof LIST_COMPONENTS)[number];
export type RequestComponentName = (typeof REQUEST_COMPONENTS)[number];
export type ComponentName = RequestComponentName | 'served';

/** How a fact about what served a run is known. */
export type FactSource = 'derived' | 'reported';

/** One fact about what served the run: computed by runprint from bytes, or stated by a provider. */
export interface ServedFact {
  source: FactSource;
  value: JsonValue;
}

/**
 * A run composition (SPEC section 2). Every request component is required, even when empty, so a
 * composition has one spelling. `served` is present once something is known about what served the
 * run; `excluded` carries request fields that are kept for replay but are not part of identity.
 */
export interface Composition {
  version: typeof COMPOSITION_VERSION;
  model: JsonObject;
  system: JsonValue[];
  input: JsonValue[];
  context: JsonValue[];
  tools: JsonValue[];
  parameters: JsonObject;
  configuration: JsonObject;
  served?: { [name: string]: ServedFact };
  excluded?: JsonObject;
  /**
   * Opt-in salts of request components (SPEC 2.5): 64 lowercase hex digits (32 bytes) each. A
   * salt is never hashed on its own and never appears in an identity document or a receipt.
   */
  salts?: Salts;
}

/** A salt per salted request component, as 64 lowercase hex digits. */
export type Salts = { [name in RequestComponentName]?: string };

const TOP_LEVEL_KEYS = new Set<string>([
  'version',
  ...REQUEST_COMPONENTS,
  'served',
  'excluded',
  'salts',
]);
const REQUEST_NAMES = new Set<string>(REQUEST_COMPONENTS);

/** True for a salt as SPEC 2.5 spells it: exactly 64 lowercase hex digits. */
export function isSaltHex(value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message: string, ...path: Array<string | number>): never {
  throw new CompositionError('ERR_COMPOSITION_INVALID', message, formatPath(path));
}

/**
 * Checks that a parsed JSON value is a composition of this version and returns it typed. Member
 * values are not copied; they must already be strict JSON values (from parseJson or toJsonValue).
 */
export function parseComposition(value: unknown): Composition {
  if (!isObject(value)) fail('composition must be a JSON object');
  // A member whose value is undefined (an in-process object) is absent, as on the wire.
  for (const key of Object.keys(value)) {
    if (value[key] !== undefined && !TOP_LEVEL_KEYS.has(key)) {
      fail(`unknown composition member "${key.slice(0, 64)}"`, key);
    }
  }
  if (value['version'] === undefined) fail('composition is missing "version"', 'version');
  if (value['version'] !== COMPOSITION_VERSION) {
    throw new CompositionError(
      'ERR_COMPOSITION_VERSION',
      `unsupported composition version; this implementation reads "${COMPOSITION_VERSION}"`,
      formatPath(['version']),
    );
  }
  for (const name of REQUEST_COMPONENTS) {
    if (value[name] === undefined) fail(`composition is missing component "${name}"`, name);
  }
  for (const name of VALUE_COMPONENTS) {
    if (!isObject(value[name])) fail(`component "${name}" must be a JSON object`, name);
  }
  for (const name of LIST_COMPONENTS) {
    if (!Array.isArray(value[name])) fail(`component "${name}" must be a JSON array`, name);
  }
  const model = value['model'] as JsonObject;
  if (typeof model['name'] !== 'string' || model['name'] === '') {
    fail('model must have a non-empty string "name"', 'model', 'name');
  }
  if (value['served'] !== undefined) checkServed(value['served']);
  if (value['excluded'] !== undefined && !isObject(value['excluded'])) {
    fail('"excluded" must be a JSON object', 'excluded');
  }
  const salts = value['salts'];
  if (salts !== undefined) {
    if (!isObject(salts)) fail('"salts" must be a JSON object of salts', 'salts');
    for (const name of Object.keys(salts)) {
      if (salts[name] === undefined) continue;
      if (!REQUEST_NAMES.has(name)) fail(`"salts" names no request component: "${name.slice(0, 64)}"`, 'salts', name);
      // The message never echoes the salt: it is a secret.
      if (!isSaltHex(salts[name])) fail('a salt must be 64 lowercase hex digits (32 bytes)', 'salts', name);
    }
  }
  return value as unknown as Composition;
}

/** SPEC 2.3: `served` is an object of facts, each exactly `{"source": "derived"|"reported", "value": …}`. */
export function checkServed(served: unknown): asserts served is { [name: string]: ServedFact } {
  if (!isObject(served)) fail('"served" must be a JSON object of facts', 'served');
  for (const [name, fact] of Object.entries(served)) {
    if (!isObject(fact)) fail('a served fact must be an object with "source" and "value"', 'served', name);
    for (const key of Object.keys(fact)) {
      if (key !== 'source' && key !== 'value') {
        fail(`unknown served fact member "${key.slice(0, 64)}"`, 'served', name, key);
      }
    }
    if (fact['source'] !== 'derived' && fact['source'] !== 'reported') {
      fail('a served fact\'s "source" must be "derived" or "reported"', 'served', name, 'source');
    }
    if (fact['value'] === undefined) fail('a served fact must have a "value"', 'served', name, 'value');
  }
}
