/** Selective disclosure (docs/RECEIPTS.md section 17.1): read a disclosure file defensively. */
import { formatPath, ReceiptError, RunprintError } from '../errors.ts';
import { fromHex } from '../hash/sha256.ts';
import { isSaltHex, LIST_COMPONENTS, REQUEST_COMPONENTS, type ListComponentName, type RequestComponentName } from '../identity/composition.ts';
import { MAX_DEPTH } from '../identity/identity.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { parseJson } from '../jcs/parse.ts';
import { DISCLOSURE_VERSION } from './disclosure.ts';

/** Longest inclusion proof read: a list of 2^53 - 1 elements has a path of at most 53 hashes. */
export const MAX_PROOF_HASHES = 53;

/** A revealed component, checked and canonicalized: ready to be hashed. */
export interface ReadComponent {
  name: RequestComponentName;
  salt: Uint8Array | undefined;
  /** JCS of the value (value components) or of each element (list components). */
  canonical: string;
  canonicalElements: string[] | undefined;
}

export interface ReadElement {
  component: ListComponentName;
  index: number;
  size: number;
  salt: Uint8Array | undefined;
  canonical: string;
  proof: Uint8Array[];
}

export interface ReadDisclosure {
  runId: string;
  components: ReadComponent[];
  elements: ReadElement[];
}

const TOP_LEVEL = new Set(['version', 'runId', 'components', 'elements']);
const COMPONENT_MEMBERS = new Set(['salt', 'value']);
const ELEMENT_MEMBERS = new Set(['component', 'index', 'size', 'salt', 'element', 'proof']);
const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message: string, ...path: Array<string | number>): never {
  throw new ReceiptError('ERR_DISCLOSURE_INVALID', message, formatPath(path));
}

function onlyMembers(value: Record<string, unknown>, allowed: Set<string>, ...path: Array<string | number>): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) fail(`unknown disclosure member "${key.slice(0, 64)}"`, ...path, key);
  }
}

/** Canonical form of revealed content, with the depth limits of a composition (SPEC 3.3). */
function canonicalAt(value: unknown, maxDepth: number, ...path: Array<string | number>): string {
  try {
    return canonicalize(value, { maxDepth });
  } catch (error) {
    if (error instanceof RunprintError) fail(`revealed content cannot be canonicalized (${error.code})`, ...path);
    throw error;
  }
}

function salt(value: unknown, ...path: Array<string | number>): Uint8Array | undefined {
  if (value === undefined) return undefined;
  // Never echo the salt: it is as secret as the content it guards.
  if (!isSaltHex(value)) fail('a salt must be 64 lowercase hex digits (32 bytes)', ...path);
  return fromHex(value)!;
}

function readComponent(name: string, value: unknown): ReadComponent {
  if (!(REQUEST_COMPONENTS as readonly string[]).includes(name)) fail(`"components" names no request component: "${name.slice(0, 64)}"`, 'components', name);
  if (!isObject(value)) fail('a revealed component must be an object with "value"', 'components', name);
  onlyMembers(value, COMPONENT_MEMBERS, 'components', name);
  const content = value['value'];
  if (content === undefined) fail('a revealed component must have a "value"', 'components', name, 'value');
  const read: ReadComponent = {
    name: name as RequestComponentName,
    salt: salt(value['salt'], 'components', name, 'salt'),
    canonical: '',
    canonicalElements: undefined,
  };
  if (LIST_NAMES.has(name)) {
    if (!Array.isArray(content)) fail(`component "${name}" must be revealed as a JSON array`, 'components', name, 'value');
    read.canonicalElements = content.map((element, index) => canonicalAt(element, MAX_DEPTH - 2, 'components', name, 'value', index));
  } else {
    if (!isObject(content)) fail(`component "${name}" must be revealed as a JSON object`, 'components', name, 'value');
    read.canonical = canonicalAt(content, MAX_DEPTH - 1, 'components', name, 'value');
  }
  return read;
}

function count(value: unknown, minimum: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum;
}

function readElement(value: unknown, position: number): ReadElement {
  if (!isObject(value)) fail('a revealed element must be an object', 'elements', position);
  onlyMembers(value, ELEMENT_MEMBERS, 'elements', position);
  const { component, index, size, element, proof } = value;
  if (typeof component !== 'string' || !LIST_NAMES.has(component)) {
    fail('"component" must name a list component (system, input, context or tools)', 'elements', position, 'component');
  }
  if (!count(size, 1)) fail('"size" must be a positive integer', 'elements', position, 'size');
  if (!count(index, 0) || index >= size) fail('"index" must be an integer from 0 to size - 1', 'elements', position, 'index');
  if (element === undefined) fail('a revealed element must have an "element"', 'elements', position, 'element');
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) {
    fail(`"proof" must be an array of at most ${MAX_PROOF_HASHES} hashes`, 'elements', position, 'proof');
  }
  const hashes = (proof as unknown[]).map((hash, i) => {
    if (!isSaltHex(hash)) fail('a proof hash must be 64 lowercase hex digits', 'elements', position, 'proof', i);
    return fromHex(hash)!;
  });
  return {
    component: component as ListComponentName,
    index,
    size,
    salt: salt(value['salt'], 'elements', position, 'salt'),
    canonical: canonicalAt(element, MAX_DEPTH - 2, 'elements', position, 'element'),
    proof: hashes,
  };
}

/**
 * Reads a disclosure given as JSON text, bytes or a parsed value. It is attacker-controlled and
 * unsigned: strict I-JSON (a duplicate member is rejected), exactly the members of version 1 (an
 * unknown member is rejected rather than ignored, so nothing in a disclosure looks verified that
 * is not), each revealed value canonicalized here once. It must reveal something, and each part
 * once: a component whole or elements of it, never both, and no element twice.
 */
export function readDisclosure(input: unknown): ReadDisclosure {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      // Revealed content sits two levels deeper than in a composition; allow for that.
      value = parseJson(input, { maxDepth: MAX_DEPTH + 2 });
    } catch (error) {
      if (error instanceof RunprintError) fail(`disclosure is not strict JSON (${error.code})`);
      throw error;
    }
  }
  if (!isObject(value)) fail('disclosure must be a JSON object');
  onlyMembers(value, TOP_LEVEL);
  if (value['version'] !== DISCLOSURE_VERSION) fail(`disclosure "version" must be "${DISCLOSURE_VERSION}"`, 'version');
  const runId = value['runId'];
  let kind: string | undefined;
  try {
    kind = typeof runId === 'string' ? parseIdentity(runId).kind : undefined;
  } catch {
    kind = undefined;
  }
  if (kind !== 'run') fail('disclosure "runId" must be a v1 run identity', 'runId');
  const components = value['components'];
  if (!isObject(components)) fail('disclosure "components" must be an object', 'components');
  const elements = value['elements'];
  if (!Array.isArray(elements)) fail('disclosure "elements" must be an array', 'elements');
  const read: ReadDisclosure = {
    runId: runId as string,
    components: Object.keys(components).map((name) => readComponent(name, components[name])),
    elements: (elements as unknown[]).map(readElement),
  };
  if (read.components.length === 0 && read.elements.length === 0) fail('disclosure reveals nothing');
  const whole = new Set(read.components.map((component) => component.name));
  const seen = new Set<string>();
  read.elements.forEach((element, position) => {
    if (whole.has(element.component)) fail(`component "${element.component}" is revealed whole and by element`, 'elements', position);
    const key = `${element.component}[${element.index}]`;
    if (seen.has(key)) fail(`element ${key} is revealed twice`, 'elements', position);
    seen.add(key);
  });
  return read;
}
