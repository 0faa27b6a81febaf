/** runprint/identity: compositions, digests, identity strings, identity documents and diffs (SPEC 2, 5-7, 10). */
export {
  COMPOSITION_VERSION,
  LIST_COMPONENTS,
  REQUEST_COMPONENTS,
  VALUE_COMPONENTS,
  parseComposition,
  type Composition,
  type ComponentName,
  type FactSource,
  type ServedFact,
} from './composition.ts';
export { domainTag, type DigestSet } from './digest.ts';
export { computeIdentity, MAX_DEPTH, type ComponentEntry, type IdentityDocument } from './identity.ts';
export { formatIdentity, parseIdentity, type IdentityKind, type ParsedIdentity } from './identity-string.ts';
export { alignLists, ALIGN_EDITS, ALIGN_PAIRS, type AlignmentBounds, type ListAlignment } from './align.ts';
export { diffCompositions, type CompositionDiff, type Difference } from './diff.ts';
export { createSalts, saltBytes, SALT_BYTES } from './salt.ts';
