/** runprint/receipt: signed run receipts, an in-toto Statement v1 in a DSSE v1.0 envelope and selective disclosures (SPEC 13-15, 17). */
export { decodeBase64, encodeBase64 } from '../keys/base64.ts';
export { pae } from './pae.ts';
export { formatEnvelope, readEnvelope, PAYLOAD_TYPE, type Envelope, type EnvelopeSignature } from './envelope.ts';
export {
  generateKeyFiles,
  keyFilesOf,
  importPublicKey,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  type KeyFiles,
  type PublicKey,
  type SigningKey,
} from '../keys/keys.ts';
export { formatVerifierKey, parseVerifierKey } from '../keys/verifier-key.ts';
export {
  BUILD_TYPE,
  CAPTURES,
  PREDICATE_TYPE,
  type Capture,
  type ComponentDescriptor,
  type Predicate,
  type ReceiptFacts,
  type ReceiptOutput,
  type RecordedOutput,
} from './predicate.ts';
export { buildStatement, STATEMENT_TYPE, type Statement, type Subject } from './statement.ts';
export { addSignature, signReceipt, signStatement } from './sign.ts';
export { receiptFactsOf, type RunFacts } from './receipt-facts.ts';
export { signedFactsDiffer, signedPredicate, type SignedFactDifference, type StoredRunFacts } from './signed-facts.ts';
export {
  CHECK_LABELS,
  verifyReceipt,
  type CheckName,
  type VerificationCheck,
  type VerificationReport,
  type VerifyOptions,
} from './verify.ts';
export { isBundle, readReceiptInput, type ReceiptInput } from './receipt-input.ts';
export { retrievalAgreement, retrievalAsSigned, retrievalSigned, type ReceiptRetrieval } from './predicate.ts';
export { checkLogProof, type LogProofOptions, type LogProofSummary } from './log-proof-check.ts';
export {
  createDisclosure,
  formatDisclosure,
  DISCLOSURE_VERSION,
  type DisclosedComponent,
  type DisclosedElement,
  type Disclosure,
  type DisclosureOptions,
  type Reveal,
} from './disclosure.ts';
export {
  DISCLOSURE_CHECK_LABELS,
  verifyDisclosure,
  type DisclosureCheck,
  type DisclosureCheckName,
  type DisclosureReport,
} from './disclosure-verify.ts';
