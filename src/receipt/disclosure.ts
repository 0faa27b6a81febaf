/** Selective disclosure (docs/RECEIPTS.md section 17): reveal chosen components or list elements of a receipt's run. */
import { fromHex, toHex } from '../hash/sha256.ts';
import {
  LIST_COMPONENTS,
  REQUEST_COMPONENTS,
  parseComposition,
  type ListComponentName,
  type RequestComponentName,
} from '../identity/composition.ts';
import { elementSalt } from '../identity/digest.ts';
import { computeIdentity } from '../identity/identity.ts';
import { saltBytes } from '../identity/salt.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { proveInclusion } from '../merkle/inclusion.ts';

/** The one disclosure version this implementation reads and writes. */
export const DISCLOSURE_VERSION = 'runprint.disclosure/v1';

/** A component revealed whole: its value (a list component: the whole array) and its salt when salted. */
export interface DisclosedComponent {
  /** The component's salt, 64 lowercase hex digits; present exactly when the component is salted. */
  salt?: string;
  value: JsonValue;
}

/** One element of a list component, revealed with an RFC 9162 inclusion proof into the list root. */
export interface DisclosedElement {
  component: ListComponentName;
  index: number;
  /** The number of elements of the list: the tree size of the proof. */
  size: number;
  /** The element's own salt s_i (SPEC 5.6), never the list's salt; present exactly when salted. */
  salt?: string;
  element: JsonValue;
  /** The inclusion proof (RFC 9162 2.1.3.1 audit path), leaf to root, as 64 lowercase hex digits each. */
  proof: string[];
}

export interface Disclosure {
  version: typeof DISCLOSURE_VERSION;
  /** The run identity of the receipt this disclosure is about. */
  runId: string;
  components: { [name in RequestComponentName]?: DisclosedComponent };
  elements: DisclosedElement[];
}

/** What to reveal: a component whole, or (with `index`) one element of a list component. */
export interface Reveal {
  component: string;
  index?: number;
}

export interface DisclosureOptions {
  reveal: readonly Reveal[];
}

const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

/** A plain JSON copy of a composition value: what is hashed, nothing an in-process value adds. */
function jsonCopy(value: unknown): JsonValue {
  return JSON.parse(canonicalize(value)) as JsonValue;
}

function order(name: string): number {
  return (REQUEST_COMPONENTS as readonly string[]).indexOf(name);
}

/**
 * Builds the disclosure of the chosen parts of a composition (with its `salts`, when it salts
 * anything). Nothing that is not chosen goes into it: a revealed element carries its own salt and
 * the hashes of its audit path, never a neighbour's content or salt. The composition must have
 * `served` facts, since a disclosure is about a run identity. Wrong arguments are TypeError or
 * RangeError; an invalid composition throws its own error (ERR_COMPOSITION_*, ERR_JSON_*).
 */
export function createDisclosure(composition: unknown, options: DisclosureOptions): Disclosure {
  if (typeof options !== 'object' || options === null || !Array.isArray(options.reveal)) {
    throw new TypeError('createDisclosure options must be an object with "reveal", an array of { component } or { component, index }');
  }
  for (const reveal of options.reveal) {
    if (typeof reveal !== 'object' || reveal === null || typeof reveal.component !== 'string') {
      throw new TypeError('each reveal must be { component: "name" } or { component: "name", index: n }');
    }
  }
  const identity = computeIdentity(composition);
  if (identity.runId === null) throw new TypeError('a disclosure needs a run identity: give the composition "served" facts');
  const parsed = parseComposition(composition);
  if (!Array.isArray(options.reveal) || options.reveal.length === 0) throw new RangeError('reveal at least one component or element');
  const whole = new Set<string>();
  const elements = new Map<string, Reveal & { index: number }>();
  for (const reveal of options.reveal) {
    const name = reveal.component;
    if (order(name) < 0) throw new RangeError(`"${String(name).slice(0, 64)}" is not a request component`);
    if (reveal.index === undefined) {
      if (whole.has(name)) throw new RangeError(`component "${name}" is revealed twice`);
      whole.add(name);
      continue;
    }
    if (!LIST_NAMES.has(name)) throw new RangeError(`component "${name}" is not a list: it has no elements to reveal`);
    const length = (parsed[name as ListComponentName] as unknown[]).length;
    if (!Number.isSafeInteger(reveal.index) || reveal.index < 0 || reveal.index >= length) {
      throw new RangeError(`component "${name}" has no element ${reveal.index}`);
    }
    const key = `${name}[${reveal.index}]`;
    if (elements.has(key)) throw new RangeError(`element ${key} is revealed twice`);
    elements.set(key, { component: name, index: reveal.index });
  }
  for (const reveal of elements.values()) {
    if (whole.has(reveal.component)) throw new RangeError(`component "${reveal.component}" is revealed whole and by element`);
  }

  const disclosure: Disclosure = { version: DISCLOSURE_VERSION, runId: identity.runId, components: {}, elements: [] };
  for (const name of REQUEST_COMPONENTS) {
    if (!whole.has(name)) continue;
    const salt = parsed.salts?.[name];
    disclosure.components[name] = salt === undefined ? { value: jsonCopy(parsed[name]) } : { salt, value: jsonCopy(parsed[name]) };
  }
  const sorted = [...elements.values()].sort((a, b) => order(a.component) - order(b.component) || a.index - b.index);
  const leafHashes = new Map<string, Uint8Array[]>();
  for (const { component, index } of sorted) {
    const name = component as ListComponentName;
    const entry = identity.components[name];
    if (entry.kind !== 'list') throw new Error('unreachable: a list component has a list entry');
    let leaves = leafHashes.get(name);
    if (leaves === undefined) {
      leaves = entry.elements.map((digest) => fromHex(digest.sha256)!);
      leafHashes.set(name, leaves);
    }
    const salt = parsed.salts?.[name];
    const proof = proveInclusion(leaves, index).map(toHex);
    const element = jsonCopy(parsed[name][index]);
    // Members in the order the format documents them (formatDisclosure), the salt before what it salts.
    disclosure.elements.push(
      salt === undefined
        ? { component: name, index, size: entry.count, element, proof }
        : { component: name, index, size: entry.count, salt: toHex(elementSalt(saltBytes(salt), index)), element, proof },
    );
  }
  return disclosure;
}

/**
 * The disclosure file as runprint writes it: UTF-8 JSON, two-space indentation, a final newline,
 * members in this order (readers do not depend on the order or the white space):
 *
 *     {
 *       "version": "runprint.disclosure/v1",
 *       "runId": "rp-run-v1-sha256-<64 hex>",
 *       "components": {
 *         "<name>": { "salt": "<64 hex, only when salted>", "value": <the component's JSON value> }
 *       },
 *       "elements": [
 *         { "component": "<list name>", "index": <n>, "size": <count>,
 *           "salt": "<64 hex: this element's s_i, only when salted>",
 *           "element": <the element's JSON value>, "proof": ["<64 hex>", ...] }
 *       ]
 *     }
 *
 * `components` lists components in request order; `elements` is sorted by component in request
 * order, then by index.
 */
export function formatDisclosure(disclosure: Disclosure): string {
  return `${JSON.stringify(disclosure, null, 2)}\n`;
}
