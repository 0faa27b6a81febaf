/** docs/RECEIPTS.md section 15 step 8: read the shape of a receipt predicate v1 defensively. */
import { ReceiptError } from '../errors.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type ServedFact } from '../identity/composition.ts';
import { parseIdentity, type IdentityKind } from '../identity/identity-string.ts';
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';
import {
  BUILD_TYPE,
  BUILDER_PREFIX,
  isSha256DigestSet,
  isTimestamp,
  retrievalKey,
  RETRIEVAL_COMPONENTS,
  type ComponentDescriptor,
  type Predicate,
  type ReceiptRetrieval,
} from './predicate.ts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(path: string, message: string): never {
  throw new ReceiptError('ERR_PREDICATE_INVALID', `predicate ${path} ${message}`);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (!isObject(value)) fail(path, 'must be an object');
  return value;
}

function identity(value: unknown, kind: IdentityKind, path: string): string {
  if (typeof value !== 'string') fail(path, `must be a ${kind === 'run' ? 'run' : 'request'} identity string`);
  let parsed;
  try {
    parsed = parseIdentity(value);
  } catch {
    fail(path, 'is not a v1 identity string');
  }
  if (parsed.kind !== kind) fail(path, `must be a ${kind === 'run' ? 'run' : 'request'} identity`);
  return value;
}

const COMPONENT_NAMES = [...REQUEST_COMPONENTS, 'served'] as const;
const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

function descriptor(value: unknown, index: number): ComponentDescriptor | undefined {
  const path = `buildDefinition.resolvedDependencies[${index}]`;
  const entry = object(value, path);
  // A descriptor of another name is an extension: in-toto says to ignore what is not understood.
  if (typeof entry['name'] !== 'string' || !(COMPONENT_NAMES as readonly string[]).includes(entry['name'])) return undefined;
  const name = entry['name'];
  if (!isSha256DigestSet(entry['digest'])) fail(`${path}.digest`, 'must have a sha256 of 64 lowercase hex digits');
  const out: ComponentDescriptor = { name, digest: { sha256: entry['digest'].sha256 } };
  for (const member of ['uri', 'mediaType'] as const) {
    if (entry[member] !== undefined) {
      if (typeof entry[member] !== 'string') fail(`${path}.${member}`, 'must be a string');
      out[member] = entry[member];
    }
  }
  if (LIST_NAMES.has(name)) {
    const annotations = object(entry['annotations'], `${path}.annotations`);
    const { count, root, elements } = annotations;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`${path}.annotations.count`, 'must be a non-negative integer');
    if (!isSha256DigestSet(root)) fail(`${path}.annotations.root`, 'must have a sha256 of 64 lowercase hex digits');
    if (!Array.isArray(elements) || elements.length !== count) fail(`${path}.annotations.elements`, 'must be an array of "count" digests');
    const copied = (elements as unknown[]).map((element, i) => {
      if (!isSha256DigestSet(element)) fail(`${path}.annotations.elements[${i}]`, 'must have a sha256 of 64 lowercase hex digits');
      return { sha256: element.sha256 };
    });
    out.annotations = { count, root: { sha256: root.sha256 }, elements: copied };
  }
  return out;
}

function served(value: unknown): { [name: string]: ServedFact } {
  const facts = object(value, 'runDetails.served');
  const out: { [name: string]: ServedFact } = {};
  for (const name of Object.keys(facts)) {
    const fact = object(facts[name], `runDetails.served["${name.slice(0, 64)}"]`);
    const keys = Object.keys(fact);
    if (keys.length !== 2 || (fact['source'] !== 'derived' && fact['source'] !== 'reported') || !('value' in fact)) {
      fail(`runDetails.served["${name.slice(0, 64)}"]`, 'must be exactly {"source": "derived" | "reported", "value": ...}');
    }
    Object.defineProperty(out, name, { value: { source: fact['source'], value: fact['value'] as JsonValue }, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function output(value: unknown): Predicate['runDetails']['output'] {
  const entry = object(value, 'runDetails.output');
  const { digest, rawDigest, finishReason, usage, stream, format } = entry;
  if (digest !== null && !isSha256DigestSet(digest)) fail('runDetails.output.digest', 'must be null or have a sha256 of 64 lowercase hex digits');
  if (!isSha256DigestSet(rawDigest)) fail('runDetails.output.rawDigest', 'must have a sha256 of 64 lowercase hex digits');
  if (finishReason !== null && typeof finishReason !== 'string') fail('runDetails.output.finishReason', 'must be a string or null');
  if (usage === undefined) fail('runDetails.output.usage', 'must be present (null when unknown)');
  if (typeof stream !== 'boolean') fail('runDetails.output.stream', 'must be a boolean');
  // A later minor version may add formats: any lowercase name is read, "" is not a name.
  if (format !== null && (typeof format !== 'string' || !/^[a-z][a-z0-9-]*$/.test(format))) fail('runDetails.output.format', 'must be a lowercase format name or null');
  return {
    digest: digest === null ? null : { sha256: digest.sha256 },
    rawDigest: { sha256: rawDigest.sha256 },
    finishReason,
    usage: usage as JsonValue,
    stream,
    format,
  };
}

/**
 * `runDetails.retrieval` (15 step 8.14), when present: an array of declared documents, each
 * `{source, digest, component, element}` with a non-empty source, a DigestSet, `system` or
 * `input`, and an element index below that component's `count`; no entry twice. Other members of
 * an entry are ignored, as everywhere in the predicate.
 */
function retrieval(value: unknown, byName: ReadonlyMap<string, ComponentDescriptor>): ReceiptRetrieval[] {
  if (!Array.isArray(value)) fail('runDetails.retrieval', 'must be an array');
  const seen = new Map<string, number>();
  return (value as unknown[]).map((item, i) => {
    const path = `runDetails.retrieval[${i}]`;
    const entry = object(item, path);
    const { source, digest, component, element } = entry;
    if (typeof source !== 'string' || source === '') fail(`${path}.source`, 'must be a non-empty string');
    if (!isSha256DigestSet(digest)) fail(`${path}.digest`, 'must have a sha256 of 64 lowercase hex digits');
    if (typeof component !== 'string' || !(RETRIEVAL_COMPONENTS as readonly string[]).includes(component)) fail(`${path}.component`, 'must be "system" or "input"');
    if (typeof element !== 'number' || !Number.isSafeInteger(element) || element < 0) fail(`${path}.element`, 'must be a non-negative integer');
    const count = byName.get(component)!.annotations!.count;
    if (element >= count) fail(`${path}.element`, `must be less than the count of component "${component}" (${count})`);
    const read: ReceiptRetrieval = { source, digest: { sha256: digest.sha256 }, component: component as ReceiptRetrieval['component'], element };
    const key = retrievalKey(read);
    const first = seen.get(key);
    if (first !== undefined) fail(path, `repeats runDetails.retrieval[${first}]`);
    seen.set(key, i);
    return read;
  });
}

/**
 * Reads a predicate of type https://runprint.dev/receipt/v1. The payload is signed, but the
 * signer may be buggy or hostile: every member is checked before it is used, and the result is
 * a fresh object holding only what version 1 defines. Unknown members are ignored (in-toto
 * parsing rules); a missing or mistyped member of version 1 is ERR_PREDICATE_INVALID.
 */
export function readPredicate(value: unknown): Predicate {
  const predicate = object(value, '');
  const definition = object(predicate['buildDefinition'], 'buildDefinition');
  if (definition['buildType'] !== BUILD_TYPE) fail('buildDefinition.buildType', `must be "${BUILD_TYPE}"`);
  const external = object(definition['externalParameters'], 'buildDefinition.externalParameters');
  const requestId = identity(external['requestId'], 'req', 'buildDefinition.externalParameters.requestId');
  const runId = identity(external['runId'], 'run', 'buildDefinition.externalParameters.runId');
  const model = external['model'];
  if (typeof model !== 'string' || model === '') fail('buildDefinition.externalParameters.model', 'must be a non-empty string');
  const capture = external['capture'];
  if (typeof capture !== 'string' || !/^[a-z][a-z0-9-]*$/.test(capture)) fail('buildDefinition.externalParameters.capture', 'must be a lowercase name such as "cli"');
  const dependencies = definition['resolvedDependencies'];
  if (!Array.isArray(dependencies)) fail('buildDefinition.resolvedDependencies', 'must be an array');
  const byName = new Map<string, ComponentDescriptor>();
  (dependencies as unknown[]).forEach((entry, index) => {
    const read = descriptor(entry, index);
    if (read === undefined) return;
    if (byName.has(read.name)) fail('buildDefinition.resolvedDependencies', `names component "${read.name}" twice`);
    byName.set(read.name, read);
  });
  for (const name of COMPONENT_NAMES) {
    if (!byName.has(name)) fail('buildDefinition.resolvedDependencies', `has no descriptor for component "${name}"`);
  }
  const details = object(predicate['runDetails'], 'runDetails');
  const builder = object(details['builder'], 'runDetails.builder');
  if (builder['id'] !== BUILDER_PREFIX + capture) fail('runDetails.builder.id', `must be "${BUILDER_PREFIX}" followed by the capture point`);
  const version = object(builder['version'], 'runDetails.builder.version');
  if (typeof version['runprint'] !== 'string') fail('runDetails.builder.version.runprint', 'must be a string');
  const metadata = object(details['metadata'], 'runDetails.metadata');
  const times: Predicate['runDetails']['metadata'] = {};
  for (const member of ['startedOn', 'finishedOn'] as const) {
    if (metadata[member] === undefined) continue;
    if (!isTimestamp(metadata[member])) fail(`runDetails.metadata.${member}`, 'must be an RFC 3339 date-time');
    times[member] = metadata[member];
  }
  if (times.startedOn !== undefined && times.finishedOn !== undefined && Date.parse(times.finishedOn) < Date.parse(times.startedOn)) {
    fail('runDetails.metadata.finishedOn', 'is before startedOn');
  }
  const parents = details['parentRunIds'];
  if (!Array.isArray(parents)) fail('runDetails.parentRunIds', 'must be an array');
  const parentRunIds = (parents as unknown[]).map((parent, i) => identity(parent, 'run', `runDetails.parentRunIds[${i}]`));
  const logProof = details['logProof'];
  if (logProof !== null && !isObject(logProof)) fail('runDetails.logProof', 'must be null or an object');
  const read: Predicate = {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { requestId, runId, model, capture },
      resolvedDependencies: COMPONENT_NAMES.map((name) => byName.get(name)!),
    },
    runDetails: {
      builder: { id: BUILDER_PREFIX + capture, version: { runprint: version['runprint'] } },
      metadata: times,
      served: served(details['served']),
      output: output(details['output']),
      parentRunIds,
      logProof: logProof as JsonObject | null,
    },
  };
  // Optional (a member of receipts signed since declared retrieval is signed): absent stays absent.
  if (details['retrieval'] !== undefined) read.runDetails.retrieval = retrieval(details['retrieval'], byName);
  return read;
}
