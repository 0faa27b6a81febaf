/** Selective disclosure (docs/RECEIPTS.md section 17.3): verify a disclosure against a receipt, as a checklist. */
import { ReceiptError, RunprintError, type ErrorCode } from '../errors.ts';
import { fromHex, toHex } from '../hash/sha256.ts';
import type { ListComponentName, ValueComponentName } from '../identity/composition.ts';
import {
  elementDigest,
  elementSalt,
  listComponentDigest,
  listRoot,
  saltedElementDigest,
  saltedValueComponentDigest,
  valueComponentDigest,
} from '../identity/digest.ts';
import { verifyInclusion } from '../merkle/inclusion.ts';
import { readDisclosure, type ReadComponent, type ReadElement } from './disclosure-shape.ts';
import type { Predicate } from './predicate.ts';
import { readPredicate } from './predicate-shape.ts';
import { checkPredicateIdentity, checkSubjectBinding } from './receipt-identity.ts';
import { checkPredicateType, checkStatementType, parseStatement, readSubjects } from './statement.ts';

/** The checks, in the order they run; `component` and `element` once per revealed part. */
export type DisclosureCheckName = 'disclosure' | 'receipt' | 'identity' | 'run-identity' | 'component' | 'element';

/** What each check establishes, for people. */
export const DISCLOSURE_CHECK_LABELS: { readonly [N in DisclosureCheckName]: string } = {
  disclosure: 'disclosure shape (runprint.disclosure/v1)',
  receipt: 'receipt statement and predicate shape',
  identity: 'component digests give the run identity',
  'run-identity': 'disclosure is about the receipt\'s run identity',
  component: 'revealed component gives its digest in the receipt',
  element: 'revealed element is in its list (RFC 9162 inclusion proof to the list root)',
};

export interface DisclosureCheck {
  name: DisclosureCheckName;
  ok: boolean;
  /** For `component` and `element`: the component the check is about. */
  component?: string;
  /** For `element`: the element's index in its list. */
  index?: number;
  code?: ErrorCode;
  message?: string;
  /** For a malformed disclosure: the RFC 9535 path of the offending member. */
  path?: string;
}

export interface DisclosureReport {
  /** True only when every check ran and passed. */
  ok: boolean;
  checks: DisclosureCheck[];
  /** The run identity the revealed parts are proven part of; present only when every check passed. */
  runId?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mismatch(message: string): ReceiptError {
  return new ReceiptError('ERR_DISCLOSURE_MISMATCH', message);
}

/**
 * The predicate of a receipt given as its in-toto statement (parsed, or its bytes) or as the
 * predicate alone. A statement is read as the receipt checklist reads it (SPEC 15 steps 5-9).
 */
function receiptPredicate(receipt: unknown): Predicate {
  const value = typeof receipt === 'string' ? parseStatement(new TextEncoder().encode(receipt))
    : receipt instanceof Uint8Array ? parseStatement(receipt) : receipt;
  if (!isObject(value)) throw new ReceiptError('ERR_STATEMENT_INVALID', 'receipt statement or predicate must be a JSON object');
  // An envelope's payload is only trustworthy once its signature is verified, which is not done here.
  if ('payloadType' in value) throw new ReceiptError('ERR_STATEMENT_INVALID', 'give the statement of a verified envelope, not the envelope');
  if (!('_type' in value) && !('predicate' in value)) return readPredicate(value);
  checkStatementType(value);
  const subjects = readSubjects(value);
  checkPredicateType(value);
  const predicate = readPredicate(value['predicate']);
  checkSubjectBinding(subjects, predicate);
  return predicate;
}

function checkComponent(component: ReadComponent, predicate: Predicate): void {
  const descriptor = predicate.buildDefinition.resolvedDependencies.find((d) => d.name === component.name)!;
  let digest: Uint8Array;
  if (component.canonicalElements !== undefined) {
    const { salt } = component;
    const leaves = component.canonicalElements.map((canonical, index) =>
      salt === undefined ? elementDigest(canonical) : saltedElementDigest(elementSalt(salt, index), canonical),
    );
    digest = listComponentDigest(component.name as ListComponentName, leaves.length, listRoot(leaves));
  } else {
    const name = component.name as ValueComponentName;
    digest = component.salt === undefined
      ? valueComponentDigest(name, component.canonical)
      : saltedValueComponentDigest(name, component.salt, component.canonical);
  }
  if (toHex(digest) !== descriptor.digest.sha256) {
    throw mismatch(`revealed component "${component.name}" does not give its digest in the receipt`);
  }
}

function checkElement(element: ReadElement, predicate: Predicate): void {
  const descriptor = predicate.buildDefinition.resolvedDependencies.find((d) => d.name === element.component)!;
  // The predicate reader requires annotations on every list descriptor; the identity check has
  // bound count and root to the component digest. The size must be that count: a root alone does
  // not fix the size of its tree.
  const { count, root } = descriptor.annotations!;
  const place = `${element.component}[${element.index}]`;
  if (element.size !== count) throw mismatch(`element ${place}: "size" is not the number of elements in the receipt`);
  const leaf = element.salt === undefined
    ? elementDigest(element.canonical)
    : saltedElementDigest(element.salt, element.canonical);
  if (!verifyInclusion(leaf, element.index, element.size, element.proof, fromHex(root.sha256)!)) {
    throw mismatch(`revealed element ${place} is not proven part of its list in the receipt`);
  }
}

/**
 * Verifies a disclosure (JSON text, bytes or a parsed value) against a receipt's statement or
 * predicate, step by step; the first failing check ends verification. This does not check the
 * receipt's signature: give a statement only from an envelope that verifyReceipt has accepted
 * (`runprint disclose verify` does both). Every revealed digest is recomputed from the revealed
 * bytes; nothing the disclosure says about digests is taken on trust.
 */
export function verifyDisclosure(disclosure: unknown, receipt: unknown): DisclosureReport {
  const checks: DisclosureCheck[] = [];
  const step = <T>(name: DisclosureCheckName, run: () => T, about: Partial<DisclosureCheck> = {}): { value: T } | undefined => {
    try {
      const value = run();
      checks.push({ name, ok: true, ...about });
      return { value };
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      const check: DisclosureCheck = { name, ok: false, ...about, code: error.code, message: error.message };
      if (error.path !== undefined) check.path = error.path;
      checks.push(check);
      return undefined;
    }
  };
  const failed = (): DisclosureReport => ({ ok: false, checks });

  // 1. The disclosure is attacker-controlled and unsigned: its shape, strictly.
  const read = step('disclosure', () => readDisclosure(disclosure));
  if (read === undefined) return failed();
  // 2. The receipt's statement and predicate, read defensively.
  const predicate = step('receipt', () => receiptPredicate(receipt));
  if (predicate === undefined) return failed();
  // 3. The receipt's component digests add up to its run identity (SPEC 15 step 10).
  if (step('identity', () => checkPredicateIdentity(predicate.value)) === undefined) return failed();
  // 4. The disclosure names that run identity.
  const runId = predicate.value.buildDefinition.externalParameters.runId;
  const bound = step('run-identity', () => {
    if (read.value.runId !== runId) throw mismatch('disclosure "runId" is not the receipt\'s run identity');
  });
  if (bound === undefined) return failed();
  // 5. Each component revealed whole gives the component digest in the receipt.
  for (const component of read.value.components) {
    if (step('component', () => checkComponent(component, predicate.value), { component: component.name }) === undefined) return failed();
  }
  // 6. Each element revealed alone is proven part of its list, without any other element.
  for (const element of read.value.elements) {
    const about = { component: element.component, index: element.index };
    if (step('element', () => checkElement(element, predicate.value), about) === undefined) return failed();
  }
  return { ok: true, checks, runId };
}
