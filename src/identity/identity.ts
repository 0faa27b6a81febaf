/** docs/SPEC.md sections 5 and 7: compute the request and run identities and the identity document. */
import { canonicalize } from '../jcs/canonicalize.ts';
import {
  LIST_COMPONENTS,
  REQUEST_COMPONENTS,
  checkServed,
  parseComposition,
  type Composition,
  type ListComponentName,
  type RequestComponentName,
  type ServedFact,
} from './composition.ts';
import {
  digestSet,
  elementDigest,
  lastElementRemembered,
  elementSalt,
  listComponentDigest,
  listRoot,
  requestDigest,
  runDigest,
  saltedElementDigest,
  saltedValueComponentDigest,
  valueComponentDigest,
  type DigestSet,
} from './digest.ts';
import { saltBytes } from './salt.ts';
import { formatIdentity, parseIdentity } from './identity-string.ts';

/** SPEC 3.3: no value may be nested deeper than this, the composition object being depth 1. */
export const MAX_DEPTH = 128;

export interface ValueComponentEntry {
  kind: 'value';
  /** Present (true) only when the composition salts this component (SPEC 5.6); never the salt. */
  salted?: true;
  digest: DigestSet;
}

export interface ListComponentEntry {
  kind: 'list';
  /** Present (true) only when the composition salts this component (SPEC 5.6); never the salt. */
  salted?: true;
  digest: DigestSet;
  count: number;
  root: DigestSet;
  /** One digest per element, in list order (SPEC 5.2). */
  elements: DigestSet[];
}

export type ComponentEntry = ValueComponentEntry | ListComponentEntry;

/** SPEC 7: what `runprint id --json` prints. */
export interface IdentityDocument {
  version: 'runprint/v1';
  /** What was asked: derived by runprint from the request components' bytes. */
  requestId: string;
  /** The request plus what served it; null when the composition has no `served` facts. */
  runId: string | null;
  components: Record<RequestComponentName, ComponentEntry>;
  /** Facts about what served the run, each marked derived or reported (SPEC 2.3). */
  served: { digest: DigestSet; facts: Record<string, ServedFact> } | null;
  /** Names of request fields kept for replay but left out of identity (SPEC 4.1). */
  excluded: string[];
}

const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

/**
 * Computes the identity document of a composition, given either as a parsed JSON value or as an
 * in-process JavaScript object (SPEC 3.5 says how in-process values become JSON).
 */
export function computeIdentity(value: unknown): IdentityDocument {
  const composition = parseComposition(value);
  const components = {} as Record<RequestComponentName, ComponentEntry>;
  const digests: Uint8Array[] = [];
  for (const name of REQUEST_COMPONENTS) {
    const saltHex = composition.salts?.[name];
    const salt = saltHex === undefined ? undefined : saltBytes(saltHex);
    const entry = LIST_NAMES.has(name)
      ? listEntry(name as ListComponentName, composition[name] as unknown[], salt)
      : valueEntry(name, composition[name], salt);
    components[name] = entry.entry;
    digests.push(entry.digest);
  }
  const request = requestDigest(digests);
  const served = composition.served === undefined ? undefined : canonicalAt(composition.served, "$['served']", MAX_DEPTH - 1);
  // SPEC 2.4: excluded members are never hashed, but they are JSON like the rest (SPEC 3.5 for an
  // in-process value): a request rebuilt from the composition must be sendable.
  if (composition.excluded !== undefined) canonicalAt(composition.excluded, "$['excluded']", MAX_DEPTH - 1);
  const identity: IdentityDocument = {
    version: 'runprint/v1',
    requestId: formatIdentity('req', request),
    runId: null,
    components,
    served: null,
    excluded: excludedNames(composition),
  };
  return served === undefined ? identity : servedPart(identity, request, composition.served!, served);
}

/**
 * The identity of the same composition with `served` facts added (SPEC 5.5), from the document of
 * the composition without them: the request components are not hashed again. A verifier uses it
 * to complete a provider request's identity with the facts a receipt states.
 */
export function withServedFacts(identity: IdentityDocument, served: unknown): IdentityDocument {
  checkServed(served);
  return servedPart(identity, parseIdentity(identity.requestId).digest, served, canonicalAt(served, "$['served']", MAX_DEPTH - 1));
}

function servedPart(
  identity: IdentityDocument,
  request: Uint8Array,
  served: { [name: string]: ServedFact },
  canonical: string,
): IdentityDocument {
  const servedDigest = valueComponentDigest('served', canonical);
  return {
    ...identity,
    runId: formatIdentity('run', runDigest(request, servedDigest)),
    served: { digest: digestSet(servedDigest), facts: copyFacts(served) },
  };
}

function valueEntry(
  name: RequestComponentName,
  value: unknown,
  salt: Uint8Array | undefined,
): { entry: ValueComponentEntry; digest: Uint8Array } {
  const canonical = canonicalAt(value, `$['${name}']`, MAX_DEPTH - 1);
  const valueName = name as 'model' | 'parameters' | 'configuration';
  if (salt !== undefined) {
    const digest = saltedValueComponentDigest(valueName, salt, canonical);
    return { entry: { kind: 'value', salted: true, digest: digestSet(digest) }, digest };
  }
  const digest = valueComponentDigest(valueName, canonical);
  return { entry: { kind: 'value', digest: digestSet(digest) }, digest };
}

function listEntry(
  name: ListComponentName,
  list: unknown[],
  salt: Uint8Array | undefined,
): { entry: ListComponentEntry; digest: Uint8Array } {
  const elementDigests: Uint8Array[] = [];
  // How many leading elements had remembered digests (listRoot remembers the roots of such prefixes).
  let rememberedPrefix = 0;
  for (let index = 0; index < list.length; index++) {
    if (!(index in list)) {
      // A hole in an in-process array has no JSON form; canonicalize reports it with its path.
      canonicalAt(list, `$['${name}']`, MAX_DEPTH - 1);
    }
    const canonical = canonicalAt(list[index], `$['${name}'][${index}]`, MAX_DEPTH - 2);
    if (salt === undefined) {
      elementDigests.push(elementDigest(canonical));
      if (lastElementRemembered && rememberedPrefix === index) rememberedPrefix++;
    } else elementDigests.push(saltedElementDigest(elementSalt(salt, index), canonical));
  }
  const root = listRoot(elementDigests, rememberedPrefix);
  const digest = listComponentDigest(name, list.length, root);
  const rest = { digest: digestSet(digest), count: list.length, root: digestSet(root), elements: elementDigests.map(digestSet) };
  return { entry: salt === undefined ? { kind: 'list', ...rest } : { kind: 'list', salted: true, ...rest }, digest };
}

/** Canonicalizes a part of the composition; error paths are made absolute by `prefix`. */
function canonicalAt(value: unknown, prefix: string, maxDepth: number): string {
  try {
    return canonicalize(value, { maxDepth });
  } catch (error) {
    throw rebase(error, prefix);
  }
}

/** Errors from canonicalize carry paths relative to the element; make them absolute. */
function rebase(error: unknown, prefix: string): unknown {
  if (error instanceof Error && 'path' in error && typeof error.path === 'string' && error.path.startsWith('$')) {
    Object.defineProperty(error, 'path', { value: prefix + error.path.slice(1) });
  }
  return error;
}

function copyFacts(served: NonNullable<Composition['served']>): Record<string, ServedFact> {
  const facts: Record<string, ServedFact> = {};
  for (const name of Object.keys(served).sort()) {
    const fact = served[name];
    if (fact !== undefined) facts[name] = { source: fact.source, value: fact.value };
  }
  return facts;
}

function excludedNames(composition: Composition): string[] {
  if (composition.excluded === undefined) return [];
  return Object.keys(composition.excluded)
    .filter((key) => composition.excluded![key] !== undefined)
    .sort();
}
