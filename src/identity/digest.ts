/** docs/SPEC.md section 5: domain-separated SHA-256 digests of elements, components, request and run. */
import { createSha256, sha256, sha256Once, toHex } from '../hash/sha256.ts';
import { hashChildren, rootFromLeafHashes } from '../merkle/rfc6962.ts';
import type { ListComponentName, ValueComponentName } from './composition.ts';

/** in-toto DigestSet with the one algorithm runprint v1 uses. */
export interface DigestSet {
  sha256: string;
}

const encoder = new TextEncoder();

/**
 * SPEC 5.1: every digest that means something different starts with its own tag: the ASCII bytes
 * `runprint/v1/<purpose>` followed by one 0x00 byte. No tag is a prefix of another tag's bytes
 * because the 0x00 ends each one and no purpose contains 0x00.
 */
export function domainTag(purpose: string): Uint8Array {
  return encoder.encode(`runprint/v1/${purpose}\u0000`);
}

// The RFC 6962 leaf prefix 0x00 followed by tag("element"), as text: "\u0000" is one 0x00 byte.
const ELEMENT_LEAF_PREFIX = '\u0000runprint/v1/element\u0000';
const REQUEST_TAG = domainTag('request');
const RUN_TAG = domainTag('run');
const componentTags = new Map<string, Uint8Array>();

function componentTag(name: string): Uint8Array {
  let tag = componentTags.get(name);
  if (tag === undefined) {
    tag = domainTag(`component/${name}`);
    componentTags.set(name, tag);
  }
  return tag;
}

/**
 * SPEC 5.2: elementDigest = SHA-256(0x00 || tag("element") || JCS(element)). This is the RFC 6962
 * leaf hash of the leaf `tag("element") || JCS(element)`, so an element digest is directly a leaf
 * of the list's Merkle tree.
 */
export function elementDigest(canonicalElement: string): Uint8Array {
  const known = remembered.get(canonicalElement);
  lastElementRemembered = known !== undefined;
  // Copies (a Buffer's slice() would be a view of the remembered bytes).
  if (known !== undefined) return new Uint8Array(known);
  const digest = sha256Once(ELEMENT_LEAF_PREFIX + canonicalElement);
  if (canonicalElement.length <= MAX_REMEMBERED_ELEMENT) {
    if (rememberedUnits + canonicalElement.length > MAX_REMEMBERED_UNITS || remembered.size >= MAX_REMEMBERED) {
      remembered.clear();
      rememberedUnits = 0;
    }
    remembered.set(canonicalElement, new Uint8Array(digest));
    rememberedUnits += canonicalElement.length;
  }
  return digest;
}

/*
 * Element digests of recently seen elements, by their canonical JSON: the same system prompt, tool
 * definitions and earlier turns come back in call after call of an application, and looking one
 * up costs less than the fixed cost of a SHA-256 call (measured: the identity of a 25 KB request
 * whose 60 elements were all seen before, 450 -> 360 us). A digest is a function of the canonical
 * text alone, so a remembered one is the digest. Bounded: elements of at most 64 Ki UTF-16 code
 * units (a longer one's hashing is its bytes, not the call), 4,096 of them and 16 Mi code units in
 * all; full, it starts afresh. Each caller gets its own copy. Salted element digests are never
 * remembered (their salt is fresh per run). What a lookup can tell another caller of the same
 * process is only time, about a microsecond per element: whether that exact element was digested
 * there recently (its digest itself is no secret: receipts carry it).
 */
const MAX_REMEMBERED_ELEMENT = 64 * 1024;
const MAX_REMEMBERED = 4096;
const MAX_REMEMBERED_UNITS = 16 * 1024 * 1024;
const remembered = new Map<string, Uint8Array>();
let rememberedUnits = 0;
/** Whether the last elementDigest call found its digest remembered (listRoot remembers only lists of such elements). */
export let lastElementRemembered = false;

/**
 * SPEC 5.3: the list root is the RFC 6962 Merkle Tree Hash whose leaf hashes are the element
 * digests, in list order. `rememberedPrefix` (unsalted lists) is how many leading elements had
 * remembered digests: the roots of that prefix and of its left power-of-two parts are looked up
 * or remembered rather than hashed again (below); the rest is hashed as it is.
 */
export function listRoot(elementDigests: ReadonlyArray<Uint8Array>, rememberedPrefix = 0): Uint8Array {
  const size = elementDigests.length;
  const known = Math.min(rememberedPrefix, size);
  if (known < MIN_REMEMBERED_LEAVES || elementDigests.some((digest) => !(digest instanceof Uint8Array) || digest.length !== 32)) return rootFromLeafHashes(elementDigests);
  const joined = new Uint8Array(32 * known);
  for (let index = 0; index < known; index++) joined.set(elementDigests[index]!, 32 * index);
  // One character per byte (windows-1252 as the Encoding Standard decodes it maps each byte to its own code point).
  const key = keyDecoder.decode(joined);
  return new Uint8Array(rootOf(elementDigests, key, known, size));
}

/**
 * The root of leaves [0, end): H(root of the largest power-of-two prefix || root of the rest), as
 * RFC 6962 splits a tree; a prefix within the `known` leaves is looked up or remembered. May
 * return remembered bytes.
 */
function rootOf(leaves: ReadonlyArray<Uint8Array>, key: string, known: number, end: number): Uint8Array {
  if (end < MIN_REMEMBERED_LEAVES) return rootFromLeafHashes(leaves.slice(0, end));
  const text = end <= known ? key.slice(0, 32 * end) : undefined;
  if (text !== undefined) {
    const found = rememberedRoots.get(text);
    if (found !== undefined) return found;
  }
  let split = 1;
  while (split * 2 < end) split *= 2;
  const root = hashChildren(rootOf(leaves, key, known, split), rootFromLeafHashes(leaves.slice(split, end)));
  if (text !== undefined) {
    if (rememberedRootUnits + text.length > MAX_REMEMBERED_ROOT_UNITS || rememberedRoots.size >= MAX_REMEMBERED_ROOTS) {
      rememberedRoots.clear();
      rememberedRootUnits = 0;
    }
    rememberedRoots.set(text, root);
    rememberedRootUnits += text.length;
  }
  return root;
}

/*
 * Roots of recently seen unsalted lists by their element digests: an application sends the same
 * tool definitions call after call, and a conversation that grows keeps its first 2^k messages,
 * whose subtree RFC 6962 hashes on its own. A list of n elements costs n - 1 node hashes of about
 * a microsecond each (mostly the call's fixed cost); a lookup costs a key of 32 characters per
 * element. Only prefixes of at least 8 elements whose digests were all remembered (a list of new
 * elements is not looked up: measured, building keys for lists never seen again cost 14-29 % of
 * their identity); 4,096 roots and 8 Mi key characters at most (full, it starts afresh). A root is
 * a function of the digests alone. Salted lists are never remembered (their digests are fresh per
 * run). What a lookup can tell another caller of the process is only time: whether a list with
 * exactly these element digests was seen (the digests are no secret: receipts carry them).
 */
const MIN_REMEMBERED_LEAVES = 8;
const MAX_REMEMBERED_ROOTS = 4096;
const MAX_REMEMBERED_ROOT_UNITS = 8 * 1024 * 1024;
const rememberedRoots = new Map<string, Uint8Array>();
let rememberedRootUnits = 0;
const keyDecoder = new TextDecoder('windows-1252');

/** SPEC 5.4: digest of a list component = SHA-256(tag("component/<name>") || uint64be(count) || root). */
export function listComponentDigest(
  name: ListComponentName,
  count: number,
  root: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('count must be a non-negative safe integer');
  const tag = componentTag(name);
  const input = new Uint8Array(tag.length + 8 + root.length);
  input.set(tag, 0);
  new DataView(input.buffer).setBigUint64(tag.length, BigInt(count));
  input.set(root, tag.length + 8);
  return sha256Once(input);
}

/** SPEC 5.4: digest of a value component = SHA-256(tag("component/<name>") || JCS(value)). */
export function valueComponentDigest(
  name: ValueComponentName | 'served',
  canonicalValue: string,
): Uint8Array {
  return sha256Once(`runprint/v1/component/${name}\u0000${canonicalValue}`);
}

/**
 * SPEC 5.5: requestDigest = SHA-256(tag("request") || the seven component digests in the order
 * model, system, input, context, tools, parameters, configuration).
 */
export function requestDigest(componentDigests: ReadonlyArray<Uint8Array>): Uint8Array {
  if (componentDigests.length !== 7) throw new RangeError('requestDigest takes exactly seven component digests');
  const hash = createSha256().update(REQUEST_TAG);
  for (const digest of componentDigests) {
    if (digest.length !== 32) throw new RangeError('component digests are 32 bytes');
    hash.update(digest);
  }
  return hash.digest();
}

/** SPEC 5.5: runDigest = SHA-256(tag("run") || requestDigest || servedDigest). */
export function runDigest(request: Uint8Array, served: Uint8Array): Uint8Array {
  return sha256(RUN_TAG, request, served);
}

const SALT_TAG = domainTag('salt');
const SALTED_ELEMENT_LEAF_PREFIX = new Uint8Array([0x00, ...domainTag('salted-element')]);

/**
 * SPEC 5.6: the salt of element `index` of a list salted with `salt` (32 bytes):
 * s_i = SHA-256(tag("salt") || salt || uint64be(index)). One-way, so revealing one element's salt
 * reveals neither the list's salt nor any other element's.
 */
export function elementSalt(salt: Uint8Array, index: number): Uint8Array {
  if (salt.length !== 32) throw new RangeError('a salt is 32 bytes');
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('index must be a non-negative safe integer');
  const input = new Uint8Array(SALT_TAG.length + 32 + 8);
  input.set(SALT_TAG, 0);
  input.set(salt, SALT_TAG.length);
  new DataView(input.buffer).setBigUint64(SALT_TAG.length + 32, BigInt(index));
  return sha256Once(input);
}

/**
 * SPEC 5.6: salted element digest = SHA-256(0x00 || tag("salted-element") || s_i || JCS(e)), still
 * an RFC 6962 leaf hash (of the leaf tag("salted-element") || s_i || JCS(e)).
 */
export function saltedElementDigest(elementSaltBytes: Uint8Array, canonicalElement: string): Uint8Array {
  if (elementSaltBytes.length !== 32) throw new RangeError('an element salt is 32 bytes');
  return sha256(SALTED_ELEMENT_LEAF_PREFIX, elementSaltBytes, canonicalElement);
}

/** SPEC 5.6: salted value component digest = SHA-256(tag("salted-component/<name>") || salt || JCS(value)). */
export function saltedValueComponentDigest(
  name: ValueComponentName,
  salt: Uint8Array,
  canonicalValue: string,
): Uint8Array {
  if (salt.length !== 32) throw new RangeError('a salt is 32 bytes');
  return sha256(domainTag(`salted-component/${name}`), salt, canonicalValue);
}

export function digestSet(bytes: Uint8Array): DigestSet {
  return { sha256: toHex(bytes) };
}
