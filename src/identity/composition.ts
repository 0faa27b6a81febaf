/** docs/SPEC.md section 2: the run composition, its components and their JSON shapes. */
import { CompositionError, capName, formatPath } from '../errors.ts';
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
const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

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

/** The least of some member names in the order of RFC 8785 (UTF-16 code units), for a stable report. */
function least(names: string[]): string | undefined {
  let first: string | undefined;
  for (const name of names) if (first === undefined || name < first) first = name;
  return first;
}

/**
 * Checks that a parsed JSON value is a composition of this version and returns it typed. Member
 * values are not copied; they must already be strict JSON values (from parseJson or toJsonValue).
 * The checks run in the order of SPEC 2.1 and the first that fails is reported.
 */
export function parseComposition(value: unknown): Composition {
  if (!isObject(value)) fail('composition must be a JSON object');
  // 1. The version comes first: a later version may add or change members (SPEC 8).
  const version = value['version'];
  if (version === undefined) fail('composition is missing "version"', 'version');
  if (typeof version !== 'string') fail('composition "version" must be a string', 'version');
  if (version !== COMPOSITION_VERSION) {
    throw new CompositionError(
      'ERR_COMPOSITION_VERSION',
      `unsupported composition version; this implementation reads "${COMPOSITION_VERSION}"`,
      formatPath(['version']),
    );
  }
  // 2. Unknown members: a member whose value is undefined (an in-process object) is absent, as on the wire.
  const unknown = least(Object.keys(value).filter((key) => value[key] !== undefined && !TOP_LEVEL_KEYS.has(key)));
  if (unknown !== undefined) fail(`unknown composition member "${capName(unknown)}"`, unknown);
  // 3. The seven request components, in request order: present, then of the right JSON type.
  for (const name of REQUEST_COMPONENTS) {
    const component = value[name];
    if (component === undefined) fail(`composition is missing component "${name}"`, name);
    if (LIST_NAMES.has(name)) {
      if (!Array.isArray(component)) fail(`component "${name}" must be a JSON array`, name);
    } else if (!isObject(component)) {
      fail(`component "${name}" must be a JSON object`, name);
    }
  }
  // 4. The model's name.
  const model = value['model'] as JsonObject;
  if (typeof model['name'] !== 'string' || model['name'] === '') {
    fail('model must have a non-empty string "name"', 'model', 'name');
  }
  // 5. served, 6. excluded, 7. salts.
  if (value['served'] !== undefined) checkServed(value['served']);
  if (value['excluded'] !== undefined && !isObject(value['excluded'])) {
    fail('"excluded" must be a JSON object', 'excluded');
  }
  const salts = value['salts'];
  if (salts !== undefined) {
    if (!isObject(salts)) fail('"salts" must be a JSON object of salts', 'salts');
    for (const name of Object.keys(salts).sort(byCodeUnits)) {
      if (salts[name] === undefined) continue;
      if (!REQUEST_NAMES.has(name)) fail(`"salts" names no request component: "${capName(name)}"`, 'salts', name);
      // The message never echoes the salt: it is a secret.
      if (!isSaltHex(salts[name])) fail('a salt must be 64 lowercase hex digits (32 bytes)', 'salts', name);
    }
  }
  return value as unknown as Composition;
}

/** Orders member names as RFC 8785 does: by UTF-16 code units. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * SPEC 2.3: `served` is an object of facts, each exactly `{"source": "derived"|"reported", "value": …}`.
 * Facts are checked in the order of their names (UTF-16 code units); within a fact: its type, an
 * unknown member, `source`, `value`.
 */
export function checkServed(served: unknown): asserts served is { [name: string]: ServedFact } {
  if (!isObject(served)) fail('"served" must be a JSON object of facts', 'served');
  for (const name of Object.keys(served).sort(byCodeUnits)) {
    const fact = served[name];
    if (fact === undefined) continue;
    if (!isObject(fact)) fail('a served fact must be an object with "source" and "value"', 'served', name);
    const extra = least(Object.keys(fact).filter((key) => key !== 'source' && key !== 'value' && fact[key] !== undefined));
    if (extra !== undefined) fail(`unknown served fact member "${capName(extra)}"`, 'served', name, extra);
    if (fact['source'] !== 'derived' && fact['source'] !== 'reported') {
      fail('a served fact\'s "source" must be "derived" or "reported"', 'served', name, 'source');
    }
    if (fact['value'] === undefined) fail('a served fact must have a "value"', 'served', name, 'value');
  }
}
