/**
 * The run store (issue: live capture, section 4): every captured run's record, indexed by its
 * identities, model and component digests, with content stored once per digest. SQLite by default
 * (sqlite-runs.ts). What is kept of each component follows the content policy.
 */
import { parseSteps } from './parse-steps.ts';
import type { CapturedRun } from '../capture/capture-run.ts';
import { elementBytesOf, LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { atOnce, inTurns, nextTurn } from '../io/steps.ts';
import type { IncompleteReason, RunRecord } from '../capture/run-record.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type ListComponentName } from '../identity/composition.ts';
import { listComponentDigest, listRoot, requestDigest } from '../identity/digest.ts';
import { withServedFacts, type IdentityDocument } from '../identity/identity.ts';
import { formatIdentity } from '../identity/identity-string.ts';
import { sha256Once, toHex } from '../hash/sha256.ts';
import { rootFromLeafHashes } from '../merkle/rfc6962.ts';
import { REQUEST_FORMATS, type RequestFormat } from '../providers/request-format.ts';
import { LogError, RunprintError, storeFault, type StoreName } from '../errors.ts';

const sha256Hex = (bytes: Uint8Array): string => toHex(sha256Once(bytes));

/** The name the run store gives a record: the hex SHA-256 of its RFC 8785 JSON. */
export function recordDigest(record: RunRecord): string {
  return sha256Hex(canonicalBytes(record));
}

/**
 * Whether a stored record's text is the record its row's `record_digest` names: the hex SHA-256
 * of the text's UTF-8 bytes, which are the canonical bytes runToStore derives `recordDigest` from
 * and stores, decoded, as `recordJson` (sha256Once hashes a string as its UTF-8 bytes, without
 * encoding a copy first: 1.7 ms instead of 2.8 for a page of 1,000 records). A byte changed inside
 * a stored record (a torn write, a damaged page SQLite and quick_check read without an error)
 * fails it.
 */
export function recordTextMatches(text: string, digest: string): boolean {
  return toHex(sha256Once(text)) === digest;
}

/**
 * The error of a stored run whose record or identity document cannot be what was stored (not
 * JSON, or a record that does not give its record digest): ERR_STORE_CORRUPT naming the store and
 * the run by its seq (the row's key: its record, and so its capture id, may be what is damaged).
 * Reads answer it instead of the run, never a wrong record.
 */
export function damagedRun(store: StoreName, seq: number, what: string): LogError {
  return storeFault('ERR_STORE_CORRUPT', store, (name) => `${name} holds a run (seq ${seq}) whose ${what}: it is damaged`);
}

/** A stored run's record, parsed and checked against its row's record digest (recordTextMatches); damagedRun otherwise. */
export function storedRecord(store: StoreName, seq: number, digest: string, text: string): RunRecord {
  let record: RunRecord;
  try {
    record = JSON.parse(text) as RunRecord;
  } catch {
    throw damagedRun(store, seq, 'record is not JSON');
  }
  if (!recordTextMatches(text, digest)) throw damagedRun(store, seq, 'record does not give its record digest');
  return record;
}

/** Runs claimed to be signed (RunStorage.claimUnsigned), and the errors of the claimed runs left out as damaged. */
export type ClaimedRuns = StoredRun[] & { damaged?: LogError[] };

/**
 * `decode` of each row, the rows `decode` finds damaged (ERR_STORE_CORRUPT, damagedRun) left out
 * with their errors in `damaged`; any other error is thrown.
 */
export function claimedRuns<Row>(rows: readonly Row[], decode: (row: Row) => StoredRun): ClaimedRuns {
  const runs: ClaimedRuns = [];
  for (const row of rows) {
    try {
      runs.push(decode(row));
    } catch (error) {
      if (!(error instanceof LogError) || error.code !== 'ERR_STORE_CORRUPT') throw error;
      (runs.damaged ??= []).push(error);
    }
  }
  return runs;
}

/**
 * A stored run's identity document, parsed and checked against the run's record (`record`, already
 * checked against its record digest by storedRecord): the store keeps no digest of the document
 * (its text is not canonical JSON, and no column names it), so it is checked by what it derives
 * (identityGivesItsIdentities; `roots`: the list roots from their element digests too). Text that
 * is not JSON, or a document that does not give its identities, is damagedRun.
 */
export function storedIdentity(store: StoreName, seq: number, text: string | null, record: RunRecord, roots = false): IdentityDocument | null {
  if (text === null) return null;
  let identity: IdentityDocument;
  try {
    identity = JSON.parse(text) as IdentityDocument;
  } catch {
    throw damagedRun(store, seq, 'identity document is not JSON');
  }
  if (!identityGivesItsIdentities(identity, record, roots)) throw damagedRun(store, seq, 'identity document does not give its identities');
  return identity;
}

const LIST_NAMES: ReadonlySet<string> = new Set(LIST_COMPONENTS);
/** Each character code's value as a hex digit of digestSet's spelling (0-9, a-f), -1 for any other. */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, code) => (code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x61 && code <= 0x66 ? code - 0x61 + 10 : -1));

/** The hex text of a DigestSet, when it is spelt as digestSet spells a SHA-256 (64 lower-case hex digits); undefined otherwise. */
function digestHex(set: unknown): string | undefined {
  const hex = typeof set === 'object' && set !== null ? (set as { sha256?: unknown }).sha256 : undefined;
  if (typeof hex !== 'string' || hex.length !== 64) return undefined;
  for (let index = 0; index < 64; index++) if (!(HEX_VALUE[hex.charCodeAt(index)]! >= 0)) return undefined;
  return hex;
}

/**
 * The 32 bytes of a DigestSet spelt as digestSet spells it; undefined for anything else. (Not
 * fromHex, which takes upper-case digits too and costs 1.4 us a digest, against 0.2 here: a read
 * of a page of 1,000 runs decodes 7,000.)
 */
function digestBytes(set: unknown): Uint8Array | undefined {
  const hex = digestHex(set);
  if (hex === undefined) return undefined;
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index++) bytes[index] = (HEX_VALUE[hex.charCodeAt(2 * index)]! << 4) | HEX_VALUE[hex.charCodeAt(2 * index + 1)]!;
  return bytes;
}

/*
 * listComponentDigest's hex digests of recently checked lists, by name, count and root: most runs
 * of a page share their empty lists, system prompt and tools, and a lookup costs less than the
 * hash (a page of 1,000 runs checks 4,000 lists). A digest is a function of the three alone.
 * Bounded: 4,096 entries, then it starts afresh.
 */
const checkedLists = new Map<string, string>();

/** listComponentDigest(name, count, root) as hex, looked up in checkedLists or computed and remembered there. */
function listDigestHex(name: ListComponentName, count: number, root: { sha256: string }): string {
  const key = `${name} ${count} ${root.sha256}`;
  let hex = checkedLists.get(key);
  if (hex === undefined) {
    hex = toHex(listComponentDigest(name, count, digestBytes(root)!));
    if (checkedLists.size >= 4096) checkedLists.clear();
    checkedLists.set(key, hex);
  }
  return hex;
}

/**
 * Whether an identity document (parsed from stored text) gives the identities it states, by the
 * identity code's own derivations (SPEC 5.4, 5.5): its requestId and runId are the record's; each
 * list component's digest is listComponentDigest of its name, count and root, its count the number
 * of its element digests; the requestId is the request digest of the seven component digests; the
 * runId (null exactly when there are no served facts) and served digest are those withServedFacts
 * derives from the request identity and the served facts. A changed byte in any of these is found
 * (short of a SHA-256 collision), hashing seven short inputs at most (18 ms for a page of 1,000
 * small runs). The element digests of a list of two or more are only checked to be spelt as
 * digests unless `roots`: then each list's root is computed from them (listRoot: n - 1 hashes for
 * n elements; 118 ms for a page of 1,000 runs of 78 elements each, against 27 ms without: so only
 * where one run, or a batch to sign, is read); a list of one has it as its root. The value
 * components' digests are checked through the request identity; their content and the elements'
 * are not in the document. What no identity is derived from is only checked to be there: the
 * `excluded` names (strings) and the `salted` marks. `elementsChecked`: the element digests of
 * lists of two or more are not looked at (without `roots`): the caller checks them (storedRunInSteps).
 */
export function identityGivesItsIdentities(identity: IdentityDocument, record: RunRecord, roots: boolean, elementsChecked = false): boolean {
  if (typeof identity !== 'object' || identity === null || identity.version !== 'runprint/v1') return false;
  if (identity.requestId !== record.requestId || identity.runId !== record.runId) return false;
  const excluded = identity.excluded as unknown;
  if (!Array.isArray(excluded) || !excluded.every((name) => typeof name === 'string')) return false;
  const components = identity.components as Record<string, unknown> | null;
  if (typeof components !== 'object' || components === null) return false;
  const digests: Uint8Array[] = [];
  for (const name of REQUEST_COMPONENTS) {
    const entry = components[name] as Record<string, unknown> | null | undefined;
    if (typeof entry !== 'object' || entry === null) return false;
    const digest = digestBytes(entry['digest']);
    if (digest === undefined) return false;
    if (LIST_NAMES.has(name)) {
      const { kind, count, elements } = entry;
      const root = digestHex(entry['root']);
      if (kind !== 'list' || root === undefined || !Number.isSafeInteger(count) || !Array.isArray(elements) || elements.length !== count) return false;
      // A list of one element has that element's digest as its root (no hash to compute).
      if (roots || count === 1) {
        const leaves: Uint8Array[] = [];
        for (const element of elements) {
          const leaf = digestBytes(element);
          if (leaf === undefined) return false;
          leaves.push(leaf);
        }
        if (toHex(listRoot(leaves)) !== root) return false;
      } else if (!elementsChecked && !elements.every((element) => digestHex(element) !== undefined)) return false;
      if (listDigestHex(name as ListComponentName, count as number, entry['root'] as { sha256: string }) !== (entry['digest'] as { sha256: string }).sha256) return false;
    } else if (entry['kind'] !== 'value') return false;
    digests.push(digest);
  }
  if (formatIdentity('req', requestDigest(digests)) !== identity.requestId) return false;
  const served = identity.served as { digest?: unknown; facts?: unknown } | null;
  if (identity.runId === null) return served === null;
  if (typeof served !== 'object' || served === null || digestHex(served.digest) === undefined) return false;
  let derived: IdentityDocument;
  try {
    derived = withServedFacts(identity, served.facts);
  } catch (error) {
    // Facts that are not served facts (checkServed), or not JSON runprint hashes (canonicalize).
    if (error instanceof RunprintError) return false;
    throw error;
  }
  return derived.runId === identity.runId && derived.served!.digest.sha256 === (served.digest as { sha256: string }).sha256;
}

/**
 * The parts of a run whose content the store may keep, beside the request components. `salts`:
 * the salts of a run's salted components (SPEC 2.5), as the RFC 8785 canonical JSON of the
 * composition's `salts` member, named by its SHA-256; what opens their commitments (SPEC 17).
 */
export const CONTENT_PARTS = [...REQUEST_COMPONENTS, 'excluded', 'output', 'request', 'retrieval', 'salts'] as const;
export type ContentPart = (typeof CONTENT_PARTS)[number];

/**
 * For each part: keep its content, or its digests only. The request bytes also have the default's
 * own mode, `unidentified`: kept only for a run without components (an unidentified request, whose
 * bytes are the only copy of what was asked), and only while every component is kept as content.
 * The response bytes (`output`) and the declared retrieval texts have the default's own mode
 * `default` too: kept as content unless they would hold again a request part kept by digest only
 * (ECHOED_PARTS, RETRIEVAL_PARTS); `content`, given, keeps them whatever the other parts.
 */
export type ContentPolicy = {
  [P in ContentPart]: P extends 'request' ? 'content' | 'digest' | 'unidentified' : P extends 'output' | 'retrieval' ? 'content' | 'digest' | 'default' : 'content' | 'digest';
};

/**
 * By default the store keeps the components (each once per digest), the excluded members (to
 * rebuild a request for replay), the response bytes and the declared retrieval texts; not the
 * exact request bytes, which would hold every component again in every run, but for an
 * unidentified request, which has none.
 */
export function defaultContentPolicy(): ContentPolicy {
  const policy = {} as Record<ContentPart, string>;
  for (const part of CONTENT_PARTS) policy[part] = part === 'request' ? 'unidentified' : part === 'output' || part === 'retrieval' ? 'default' : 'content';
  return policy as ContentPolicy;
}

/** True when `policy` keeps the content of every request component and of the excluded members. */
export function keepsAllComponents(policy: ContentPolicy): boolean {
  return REQUEST_COMPONENTS.every((name) => policy[name] === 'content') && policy.excluded === 'content';
}

/**
 * The request parts a format's answer repeats. An OpenAI Responses object echoes the request's
 * `model`, `instructions` (system), `tools`, its parameters and configuration (`temperature`,
 * `text`, `tool_choice`, `prompt`, ...) and excluded members (`metadata`, `user`, ...), never its
 * `input`; a Chat Completions or Anthropic Messages answer repeats no request member (the model
 * and service tier it names are the served facts, which the record holds in any case).
 */
export const ECHOED_PARTS: { readonly [F in RequestFormat]: readonly ContentPart[] } = {
  'openai-chat': [],
  'openai-responses': ['model', 'system', 'tools', 'parameters', 'configuration', 'excluded'],
  'anthropic-messages': [],
};

/** The request parts a declared retrieval text is found in (its text is in a string of `system` or `input`). */
export const RETRIEVAL_PARTS: readonly ContentPart[] = ['system', 'input'];

/**
 * The mode `policy` keeps a part in for a run of `format`: a part's own `content` or `digest`, the
 * default's modes resolved. `request`'s default (`unidentified`) is `content` only while every
 * component is kept as content (a run's own identity then decides, runToStore); `output`'s and
 * `retrieval`'s default is `digest` when a part they would repeat (ECHOED_PARTS of the format,
 * RETRIEVAL_PARTS) is kept by digest only, else `content`.
 */
export function partMode(policy: ContentPolicy, part: ContentPart, format: RequestFormat): 'content' | 'digest' {
  const mode = policy[part];
  if (mode === 'content' || mode === 'digest') return mode;
  const repeated = part === 'request' ? [...REQUEST_COMPONENTS, 'excluded' as const] : part === 'output' ? ECHOED_PARTS[format] : RETRIEVAL_PARTS;
  return repeated.every((each) => policy[each] === 'content') ? 'content' : 'digest';
}

/**
 * One digest a run names: a component (position -1), a list element (position 0, 1, ..), the
 * output (SPEC 12), the exact request bytes (`request`) or the exact response body (`response`).
 */
export interface RunDigest {
  part: ContentPart | 'response';
  position: number;
  /** Lower-case hex SHA-256. */
  digest: string;
  /**
   * In a stored run (StoredRun): true when this run keeps the content named by the digest (the
   * run_digests row's `kept`); false for a part kept as digest only, and for every part once
   * retention expired the run (content another run keeps stays stored).
   */
  kept?: boolean;
}

/** The error of an exchange whose capture id names another record (the ingest route's check, and the store's, RunToStore.captureIdOnce). */
export const captureIdTaken = (): RunprintError =>
  new RunprintError('ERR_CAPTURE_ID_TAKEN', 'the capture id already names another record: a capture id names one call (an exchange sent again must be the same exchange)', "$['captureId']");

/**
 * A run row as the stores read it (RUN_COLUMNS): the same columns in SQLite and PostgreSQL;
 * `content_expired` is SQLite's 0/1 or PostgreSQL's boolean.
 */
export interface RunRowOf<Expired extends number | boolean> {
  seq: number;
  record_digest: string;
  model: string | null;
  capture: string;
  record: string;
  identity: string | null;
  receipt: string | null;
  log_index: number | null;
  content_expired: Expired;
}

export const RUN_COLUMNS = 'seq, record_digest, model, capture, record, identity, receipt, log_index, content_expired';

/** What a put did not store, by record digest (RunStorage.put). */
export interface PutResult {
  /**
   * Stored before, the same record put again (nothing written), and signed or to be signed by
   * another: it has a receipt, or its claim is not the put's `claimedBy`. (One stored before under
   * the put's own claim, a commit that timed out and went through, is not listed: its signer is
   * the one putting it again.)
   */
  existing: string[];
  /** `captureIdOnce` records whose capture id another record has. */
  refused: string[];
}

/** A captured run, ready for one transaction. */
export interface RunToStore {
  /** Hex SHA-256 of `recordJson`: names this capture among runs with the same run identity. */
  recordDigest: string;
  record: RunRecord;
  /** RFC 8785 canonical JSON of the record. */
  recordJson: string;
  /** The identity document (with served facts when there is a run identity); null when unidentified. */
  identity: IdentityDocument | null;
  /** Requested model name and the served model fact, for queries. */
  model: string | null;
  servedModel: string | null;
  /** Where the run was captured: proxy or sdk. */
  capture: 'proxy' | 'sdk';
  digests: RunDigest[];
  /** Content rows, by the digest that names them: written once, whatever the number of runs. */
  content: { digest: string; bytes: Uint8Array }[];
  /**
   * Every digest whose content this run keeps (retention deletes content no unexpired run keeps):
   * those of `content`, and those left out of it because the store already holds them.
   */
  kept: string[];
  /** True when the run gets a receipt (capture/run-receipt.ts isReceiptable). */
  receiptable: boolean;
  /** The signer that claims the run as it is stored (RunStorage.claimUnsigned's claimant): it signs the run itself. */
  claimedBy?: string;
  /**
   * Stored only if no other record has its capture id (a record with the same record digest is
   * this one, stored before): an exchange's, whose sender chose the capture id. Checked in the
   * transaction that stores it, so two processes sharing the store cannot both store one id.
   */
  captureIdOnce?: true;
}

/** A stored run as the store gives it back. */
export interface StoredRun {
  /** Position in the store, from 1: later captures have larger numbers. */
  seq: number;
  recordDigest: string;
  record: RunRecord;
  identity: IdentityDocument | null;
  /** The model asked for (the composition's `model.name`); null when unidentified. */
  model: string | null;
  capture: 'proxy' | 'sdk';
  digests: RunDigest[];
  /** The signed receipt (a DSSE envelope, as `runprint sign` writes it), once signed. */
  receipt: string | null;
  /** The receipt's index in the log, once logged. */
  logIndex: number | null;
  /** True once the retention period deleted this run's content (digests, record and receipt remain). */
  contentExpired: boolean;
}

/** A stored run's row as both stores read it, its columns decoded to their types (the record and identity document still text). */
export interface StoredRunRow {
  seq: number;
  recordDigest: string;
  record: string;
  identity: string | null;
  model: string | null;
  capture: string;
  receipt: string | null;
  logIndex: number | null;
  contentExpired: boolean;
}

/**
 * A stored run from its row: its record must give the row's record digest (a changed byte is a
 * wrong record, not an answer) and its identity document the record's identities (storedRecord,
 * storedIdentity; `roots`: the list roots too); damagedRun otherwise.
 */
export function storedRun(store: StoreName, row: StoredRunRow, digests: RunDigest[], roots = false): StoredRun {
  const record = storedRecord(store, row.seq, row.recordDigest, row.record);
  return runOfRow(row, record, storedIdentity(store, row.seq, row.identity, record, roots), digests);
}

/** The stored run of a row whose record and identity document storedRun or storedRunInSteps checked. */
function runOfRow(row: StoredRunRow, record: RunRecord, identity: IdentityDocument | null, digests: RunDigest[]): StoredRun {
  return {
    seq: row.seq,
    recordDigest: row.recordDigest,
    record,
    identity,
    model: row.model,
    capture: row.capture as 'proxy' | 'sdk',
    digests,
    receipt: row.receipt,
    logIndex: row.logIndex,
    contentExpired: row.contentExpired,
  };
}

/**
 * Whether a stored run's identity document text is long enough to name LARGE_RUN_ELEMENTS list
 * elements (each element's digest takes 77 characters of it or more, `{"sha256":"..."}`): the
 * stores read such a run in steps (storedRunInSteps), any other in one go (storedRun), as before.
 */
export function largeIdentityText(text: string | null): boolean {
  return text !== null && text.length >= LARGE_IDENTITY_CHARACTERS;
}

/** The length from which an identity document's text is large (largeIdentityText). */
export const LARGE_IDENTITY_CHARACTERS = LARGE_RUN_ELEMENTS * 77;

/**
 * listRoot of a list's element digests (DigestSets spelt as digestSet spells them), computed
 * STEP_ELEMENTS leaves at a time with `pause` awaited after each; undefined when one is not spelt
 * so. STEP_ELEMENTS is a power of two: each step's leaves are a complete subtree of the RFC 6962
 * tree (every split of a tree of more leaves falls on a multiple of it), and the tree over the
 * steps' roots is the same tree above them, so rootFromLeafHashes of those roots is the root.
 */
export async function listRootInSteps(elements: readonly unknown[], pause: () => Promise<void>): Promise<Uint8Array | undefined> {
  const roots: Uint8Array[] = [];
  for (let start = 0; start < elements.length; start += STEP_ELEMENTS) {
    const leaves: Uint8Array[] = [];
    for (let index = start; index < Math.min(start + STEP_ELEMENTS, elements.length); index++) {
      const leaf = digestBytes(elements[index]);
      if (leaf === undefined) return undefined;
      leaves.push(leaf);
    }
    roots.push(rootFromLeafHashes(leaves));
    await pause();
  }
  return rootFromLeafHashes(roots);
}

/**
 * storedRun for a large run (largeIdentityText): the same run, or the same error, made with a
 * turn of the event loop between its parts, so that reading a run of 100,000 list elements does
 * not hold the event loop for the 0.3 to 0.5 s it takes in one go: its record and identity
 * document checked as storedRun checks them (the list roots, with `roots`, by listRootInSteps),
 * then its digests, read by `page` up to STEP_ELEMENTS at a time: the first rows in (part,
 * position) order, then those after the last row of the page before. (Each page is read as it is
 * then: a run whose content retention expires meanwhile may say `kept` of its first pages only.)
 */
export async function storedRunInSteps(store: StoreName, row: StoredRunRow, page: (after: RunDigest | undefined) => Promise<RunDigest[]>, roots = false): Promise<StoredRun> {
  const record = storedRecord(store, row.seq, row.recordDigest, row.record);
  let identity: IdentityDocument | null = null;
  if (row.identity !== null) {
    await nextTurn();
    // Parsed a slice of its element digests at a time (parse-steps.ts): the same value, or error.
    try {
      identity = (await inTurns(parseSteps(row.identity, STEP_ELEMENTS))) as IdentityDocument;
    } catch {
      throw damagedRun(store, row.seq, 'identity document is not JSON');
    }
    await nextTurn();
    // Its shape and derivations; then what identityGivesItsIdentities checks of the element digests
    // of each list of two or more, a step at a time: each spelt as a digest, and with `roots` giving
    // the list's root (a list of one has its root checked already).
    let gives = identityGivesItsIdentities(identity, record, false, true);
    for (const name of LIST_COMPONENTS) {
      if (!gives) break;
      const entry = identity.components[name] as { count: number; elements: unknown[]; root: { sha256: string } };
      if (entry.count === 1) continue;
      if (roots) {
        const root = await listRootInSteps(entry.elements, nextTurn);
        gives = root !== undefined && toHex(root) === entry.root.sha256;
        continue;
      }
      for (let start = 0; gives && start < entry.elements.length; start += STEP_ELEMENTS) {
        for (let index = start; gives && index < Math.min(start + STEP_ELEMENTS, entry.elements.length); index++) gives = digestHex(entry.elements[index]) !== undefined;
        await nextTurn();
      }
    }
    if (!gives) throw damagedRun(store, row.seq, 'identity document does not give its identities');
  }
  const digests: RunDigest[] = [];
  for (let after: RunDigest | undefined; ; ) {
    await nextTurn();
    const rows = await page(after);
    for (const digest of rows) digests.push(digest);
    if (rows.length < STEP_ELEMENTS) break;
    after = rows[rows.length - 1];
  }
  return runOfRow(row, record, identity, digests);
}

/**
 * What became of a run, from its record: `complete` (its whole output), `failed` (the provider
 * answered an error status or an error event, or no answer came), `incomplete` (an answer came
 * but its output is not whole: cut, aborted, timed out, unreadable or too large to keep). Every
 * run is one of these three; `unidentified` selects the runs whose request has no identity,
 * whatever became of them.
 */
export const RUN_STATUSES = ['complete', 'incomplete', 'failed', 'unidentified'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The reasons of `incomplete` (run-record.ts) that make a run `failed`; the others make it `incomplete`. */
export const FAILED_REASONS: readonly IncompleteReason[] = ['http-status', 'network-error', 'provider-error'];

/** How a run ended: complete, incomplete or failed (`unidentified` is not one of them: see RUN_STATUSES). */
export function runEnding(record: RunRecord): 'complete' | 'incomplete' | 'failed' {
  if (record.incomplete === null) return 'complete';
  return FAILED_REASONS.includes(record.incomplete.reason) ? 'failed' : 'incomplete';
}

/** The provider of a request format: the API's maker, the part of its name before the first `-` (openai-chat: openai). */
export const providerOf = (format: RequestFormat): string => format.slice(0, format.indexOf('-'));
export const PROVIDERS: readonly string[] = [...new Set(REQUEST_FORMATS.map(providerOf))];
/** The request formats of a provider. */
export const formatsOf = (provider: string): RequestFormat[] => REQUEST_FORMATS.filter((format) => providerOf(format) === provider);

export interface RunQuery {
  /** Runs that started at or after this RFC 3339 time. */
  since?: string;
  /** Runs that started before this RFC 3339 time. */
  until?: string;
  model?: string;
  servedModel?: string;
  /** Runs made with this provider's API (PROVIDERS). */
  provider?: string;
  status?: RunStatus;
  /** Runs naming this run identity as a parent: its children. */
  parent?: string;
  /**
   * Runs that were replayed with this verdict (replay/verdict.ts VERDICTS): the originals of the
   * replays linked in the store's `replay_links` table (docs/REPLAY.md section 5) with it, not
   * the replays themselves. A run replayed several times matches the verdict of each replay.
   */
  verdict?: string;
  /** Runs naming this digest (hex) as a component, list element, output or request or response bytes; `part` narrows it to one part. */
  component?: { part?: RunDigest['part']; digest: string };
  /** Most runs answered, newest first (default 100). */
  limit?: number;
  /** Only runs with seq below this (paging, newest first). */
  before?: number;
}

/** A stored run at one end of a replay link. */
export interface ReplayEnd {
  recordDigest: string;
  captureId: string;
  seq: number;
}

/** A link `runprint replay` stored (docs/REPLAY.md section 5): `replay` replays `replayOf`, with that verdict. */
export interface StoredReplayLink {
  replay: ReplayEnd;
  replayOf: ReplayEnd;
  verdict: string;
}

/** A row of the stores' replay links query (sqlite-runs.ts, postgres-runs.ts). */
export interface ReplayLinkRow {
  replay: string;
  replay_capture: string;
  replay_seq: number;
  original: string;
  original_capture: string;
  original_seq: number;
  verdict: string;
}

export const replayLinkOf = (row: ReplayLinkRow): StoredReplayLink => ({
  replay: { recordDigest: row.replay, captureId: row.replay_capture, seq: row.replay_seq },
  replayOf: { recordDigest: row.original, captureId: row.original_capture, seq: row.original_seq },
  verdict: row.verdict,
});

/** How many runs a query selects, by requested and served model, and how many distinct identities they have. */
export interface RunCounts {
  runs: number;
  /** Distinct request identities among them (unidentified runs have none). */
  requestIdentities: number;
  /** Distinct run identities among them. */
  runIdentities: number;
  /** Runs per requested model, most first (at most COUNTS_GROUPS; null: no model known). */
  models: { model: string | null; runs: number }[];
  /** Runs per served model, most first (at most COUNTS_GROUPS; null: none reported). */
  servedModels: { servedModel: string | null; runs: number }[];
}

/** The most groups `counts` lists per model kind. */
export const COUNTS_GROUPS = 50;

/**
 * The error of a log index that the store holds for another run (RunStorage.setLogIndexes, and
 * setReceipts with indexes): the log answered for this receipt an index it gave another before, so
 * it rewrote or lost what it had signed (rolled back, forked or replaced), or the store's receipts
 * went to more than one log. `what`: what the refused batch held.
 */
export function indexHeld(logIndex: number, recordDigest: string, holder: string, what: 'index' | 'receipt' = 'index'): LogError {
  return new LogError(
    'ERR_LOG_REWRITE',
    `the log answered index ${logIndex} for run ${recordDigest}, but run ${holder} holds that index in the run store: the log gave it out twice (rolled back, forked or replaced), or the store's receipts went to another log; no ${what} of this batch is stored`,
  );
}

/**
 * The first of `items` whose log index another run holds (`holderOf`: the run other than the given
 * one holding an index, with another receipt than `receipt`, or than the given run's stored one
 * when `receipt` is undefined) or that gives one index to two of them, as the error setLogIndexes
 * and setReceipts fail with (indexHeld); items without an index are not checked. Two runs whose
 * receipts are the same bytes may hold one index: a log answers a receipt it holds already with
 * that entry's index (two captures of one run with one output, signed alike), and that entry proves
 * both. `receiptOf` gives a run's stored receipt, for items that bring none. Called inside the
 * write transaction that stores them.
 */
export function firstHeld(
  items: ReadonlyArray<{ recordDigest: string; logIndex: number | null; receipt?: string }>,
  holderOf: (logIndex: number, recordDigest: string, receipt: string | undefined) => string | undefined,
  what: 'index' | 'receipt',
  receiptOf: (recordDigest: string) => string | undefined,
): LogError | undefined {
  const batch = new Map<number, { recordDigest: string; receipt: string | undefined }>();
  for (const item of items) {
    if (item.logIndex === null) continue;
    const other = batch.get(item.logIndex);
    if (other !== undefined && other.recordDigest !== item.recordDigest) {
      const mine = item.receipt ?? receiptOf(item.recordDigest);
      if (mine === undefined || mine !== (other.receipt ?? receiptOf(other.recordDigest))) return indexHeld(item.logIndex, item.recordDigest, other.recordDigest, what);
    }
    batch.set(item.logIndex, { recordDigest: item.recordDigest, receipt: item.receipt });
    const holder = holderOf(item.logIndex, item.recordDigest, item.receipt);
    if (holder !== undefined) return indexHeld(item.logIndex, item.recordDigest, holder, what);
  }
  return undefined;
}

/**
 * A signed checkpoint of a log, as a serve's log outbox verified it (RunStorage.logCheckpoint): its
 * tree size and root hash (32 bytes).
 */
export interface LogCheckpoint {
  size: number;
  rootHash: Uint8Array;
}

/**
 * The error of a checkpoint of the same size as the one the store holds with another root hash
 * (RunStorage.setLogIndexes): another serve on the store verified the other one meanwhile.
 */
export function checkpointForked(size: number): LogError {
  return new LogError('ERR_LOG_FORK', `the log signed two root hashes for size ${size}, one of them verified by another serve on the run store meanwhile: it forked, or was replaced; no index of this batch is stored`);
}

/** A run whose receipt is in a log: its index there, its receipt and its record digest (RunStorage.lastLogged). */
export interface LoggedRun {
  logIndex: number;
  receipt: string;
  recordDigest: string;
}

/**
 * A run store. `put` is one durable transaction for the whole batch (WAL with synchronous=FULL
 * for SQLite): when it resolves, the records survive a crash. Putting a record twice stores it once.
 */
export interface RunStorage {
  readonly kind: string;
  /**
   * Stores a batch in one transaction. Says which of the batch's records it did not store: those
   * it held already (the same record put again), and `captureIdOnce` ones refused because another
   * record has their capture id (none of either, usually).
   */
  put(batch: readonly RunToStore[]): Promise<PutResult>;
  /**
   * A write transaction that writes nothing, where puts are committed: resolves when a put could
   * take the store's write locks now, rejects as a put would. The recorder probes a store that
   * failed with it (run-recorder.ts), when it holds no record to try again.
   */
  probe(): Promise<void>;
  /**
   * Claims for `claimant` up to `limit` receiptable runs without a receipt, oldest first, and
   * returns them: runs nobody claimed, runs this claimant claimed before, and runs whose claim is
   * older than `staleBefore` (RFC 3339: its process died before signing). Atomic across processes
   * sharing the store, so two signers never sign one run (two keys would make two log entries).
   * `capture` narrows it to runs of one capture point. `ownBefore` (RFC 3339) takes this
   * claimant's own claims only when made before it (those of an earlier process with its key; a
   * running recorder signs what it claims since it started itself). A claimed run that is damaged
   * (damagedRun) is left out, its error in `damaged`: it may not be signed, and must not keep the
   * others from being signed.
   */
  claimUnsigned(limit: number, claimant: string, staleBefore: string, capture?: 'proxy' | 'sdk', ownBefore?: string): Promise<ClaimedRuns>;
  /**
   * Runs with a receipt that is not in a log yet (signed where no log was open: in-process capture),
   * oldest first; with `afterSeq`, only those after it (a cursor: pass the last one's `seq`); with
   * `maxBytes`, only receipts of at most that many bytes (UTF-8), the others not read (a receipt
   * longer than a log entry can be, of a run of thousands of messages, is never logged: reading it
   * in every sweep held the event loop about 30 ms per 10 MB). PostgreSQL (several serves on one
   * store) also claims the rows it gives for this store instance (log_claimed_by, log_claimed_at):
   * another instance is not given them until setLogIndexes clears the claim, close hands it back,
   * or it is older than the store's logClaimMs (a holder killed or hung); SQLite claims nothing.
   */
  unlogged(limit: number, afterSeq?: number, maxBytes?: number): Promise<Array<{ seq: number; recordDigest: string; receipt: string; runId: string | null }>>;
  /** How many runs `unlogged` would give, counted up to `atMost` (runs_unlogged, a partial index: a read of those entries only). */
  unloggedCount(atMost: number): Promise<number>;
  /**
   * The run with the highest stored log index: that index, its receipt and record digest (a run
   * whose receipt is in a log); undefined when no run has one. The log outbox checks at its start
   * that the log still holds this receipt there (log-outbox.ts), a read of one index entry
   * (runs_log_index) whatever the store's size.
   */
  lastLogged(): Promise<LoggedRun | undefined>;
  /**
   * The record digests of the runs holding this log index (runs_log_index), at most 10: more than
   * one only in a store that an earlier version of runprint wrote, before setLogIndexes and
   * setReceipts refused an index another run holds (runs verify says so).
   */
  logIndexHolders(logIndex: number): Promise<string[]>;
  /**
   * The largest checkpoint of the log of this origin (its checkpoint's first line) that a serve's
   * log outbox verified and stored with indexes it proved (setLogIndexes), shared by every serve
   * on the store; undefined before the first. (Its table is made when serve opens the store: a
   * reader of a store made before it has none to read.)
   */
  logCheckpoint(origin: string): Promise<LogCheckpoint | undefined>;
  /**
   * Stores the log index of receipts appended to the log, where none is stored yet. Never an index
   * another run holds: when one of the batch's is held by another run (or given to two of its
   * runs), none of the batch is stored and it fails with ERR_LOG_REWRITE (indexHeld), atomically
   * across the processes sharing the store. The same index stored again for the same run is no
   * change. With `checkpoint` (the log outbox with the log key: the checkpoint that proved them,
   * verified to extend the one logCheckpoint gave), in the same transaction: it becomes the log's
   * stored checkpoint when none is stored or the stored one is smaller (a compare-and-set); one of
   * the same size with another root hash fails it with ERR_LOG_FORK (checkpointForked), nothing
   * stored.
   */
  setLogIndexes(items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }): Promise<void>;
  /**
   * Stores receipts of runs that have none yet; with `claimant`, only of runs that signer still
   * claims. A receipt's log index (serve's own log appended it as it was signed) is checked as
   * setLogIndexes checks its own: one another run holds, or one given to two runs of the batch,
   * stores none of the batch (ERR_LOG_REWRITE, indexHeld), atomically across processes.
   */
  setReceipts(items: ReadonlyArray<{ recordDigest: string; receipt: string; logIndex: number | null }>, claimant?: string): Promise<void>;
  list(query: RunQuery): Promise<StoredRun[]>;
  /**
   * The replay links (docs/REPLAY.md section 5) where one of these runs (record digests, hex) is
   * the replay or the original, oldest link first; none in a store no replay wrote to.
   */
  replayLinks(recordDigests: readonly string[]): Promise<StoredReplayLink[]>;
  /** Counts of every run the query's filters select (its `limit` and `before` do not apply). */
  counts(query: RunQuery): Promise<RunCounts>;
  /** The captures of a run identity (oldest first), or the one capture with that capture id or record digest. */
  find(id: string): Promise<StoredRun[]>;
  content(digest: string): Promise<Uint8Array | undefined>;
  /**
   * The stored content of these digests (hex), in one query, by digest: content(digest) of each,
   * those not stored left out. Asked for up to STEP_ELEMENTS at a time (storedComposition, for a
   * large run: one query per element held the event loop about 1 s for 100,000).
   */
  contents(digests: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Which of these digests (hex) name content the store holds, in one query, without reading the
   * content (runs show: where a run's content is). A digest given twice is answered once.
   */
  contentStored(digests: readonly string[]): Promise<Set<string>>;
  /**
   * Deletes the content of runs that ended before `before` (RFC 3339), except content another,
   * newer run still names; their records, digests and receipts stay. Returns the runs expired.
   */
  expire(before: string): Promise<number>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * What the store keeps of one captured run under `policy`: digests of every component, list
 * element and output, and the content the policy allows, each piece named by the digest the
 * identity document gives it (so a query by a component digest and a content lookup use one name).
 */
export function runToStore(
  run: CapturedRun,
  bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array },
  policy: ContentPolicy,
  capture: 'proxy' | 'sdk',
  receiptable: boolean,
  stored?: (digest: string) => boolean,
): RunToStore {
  return atOnce(runToStoreSteps(run, bytes, policy, capture, receiptable, stored));
}

/**
 * runToStore for a large run (capture/large-run.ts): the same answer, made STEP_ELEMENTS list
 * elements at a time with a turn of the event loop between, so that a run of 100,000 elements
 * does not hold it for the tenth of a second its digests and content take.
 */
export async function runToStoreInSteps(
  run: CapturedRun,
  bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array },
  policy: ContentPolicy,
  capture: 'proxy' | 'sdk',
  receiptable: boolean,
  stored?: (digest: string) => boolean,
): Promise<RunToStore> {
  return inTurns(runToStoreSteps(run, bytes, policy, capture, receiptable, stored));
}

/** runToStore, yielding after every STEP_ELEMENTS list elements. */
function* runToStoreSteps(
  run: CapturedRun,
  bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array },
  policy: ContentPolicy,
  capture: 'proxy' | 'sdk',
  receiptable: boolean,
  stored?: (digest: string) => boolean,
): Generator<void, RunToStore, void> {
  const canonicalRecord = canonicalBytes(run.record);
  const recordJson = new TextDecoder().decode(canonicalRecord);
  const digests: RunDigest[] = [];
  const content: { digest: string; bytes: Uint8Array }[] = [];
  const kept: string[] = [];
  // Whether a part's content is kept. An unidentified request has no components: its bytes are
  // the only copy of what was asked (the calls most in need of a look), and hold nothing the
  // components would not; the default (`unidentified`) keeps them while every component's content
  // is kept, `request=digest` never.
  // The response bytes and retrieval texts are kept by default unless they would hold again a part
  // kept by digest only (an OpenAI Responses answer echoes the instructions, tools, parameters...).
  const keeps = (part: ContentPart): boolean =>
    part === 'request' && policy.request === 'unidentified' ? run.identity === null && keepsAllComponents(policy) : partMode(policy, part, run.record.format) === 'content';
  // Content the store is known to hold (`stored`) is not made again: only named as kept.
  const keep = (part: ContentPart, digest: string, value: () => Uint8Array) => {
    if (!keeps(part)) return;
    kept.push(digest);
    if (stored?.(digest) !== true) content.push({ digest, bytes: value() });
  };
  const { identity, composition, record } = run;
  // List elements done so far (a step ends every STEP_ELEMENTS).
  let done = 0;
  if (identity !== null && composition !== null) {
    for (const name of REQUEST_COMPONENTS) {
      const entry = identity.components[name];
      digests.push({ part: name, position: -1, digest: entry.digest.sha256 });
      if (entry.kind === 'list') {
        const list = composition[name as (typeof LIST_COMPONENTS)[number]] as unknown[];
        const elements = entry.elements;
        const bytesOf = elementBytesOf(list);
        for (let i = 0; i < elements.length; i++) {
          const element = elements[i]!;
          digests.push({ part: name, position: i, digest: element.sha256 });
          keep(name, element.sha256, () => bytesOf(i));
          if (++done % STEP_ELEMENTS === 0) yield;
        }
      } else {
        keep(name, entry.digest.sha256, () => canonicalBytes(composition[name]));
      }
    }
    // The salts of salted components: secret as the content they open, kept (and expired) as content.
    if (composition.salts !== undefined && Object.keys(composition.salts).length > 0) {
      const salts = canonicalBytes(composition.salts);
      const digest = sha256Hex(salts);
      digests.push({ part: 'salts', position: -1, digest });
      keep('salts', digest, () => salts);
    }
    if (composition.excluded !== undefined) {
      const excluded = canonicalBytes(composition.excluded);
      const digest = sha256Hex(excluded);
      digests.push({ part: 'excluded', position: -1, digest });
      keep('excluded', digest, () => excluded);
    }
  }
  if (record.output !== null) digests.push({ part: 'output', position: -1, digest: record.output.digest.sha256 });
  // Only a 2xx body is kept: an error body may echo part of a credential (OpenAI's 401 names the
  // key's last characters); it stays named by its digest.
  const success = record.response.status !== null && record.response.status >= 200 && record.response.status <= 299;
  if (record.response.rawDigest !== null) {
    digests.push({ part: 'response', position: -1, digest: record.response.rawDigest.sha256 });
    if (success) keep('output', record.response.rawDigest.sha256, () => bytes.responseBytes);
  }
  // Declared retrieval: each document found in the request, by the digest of its text, in order.
  // Its content is the declared text with that digest: several documents may share a source (the
  // chunks of one page), and content is stored once per digest, so a text kept under another
  // text's digest would be served under that name to every later run.
  let texts: Map<string, Uint8Array> | undefined;
  const textOf = (digest: string): Uint8Array | undefined => {
    if (texts === undefined) {
      texts = new Map();
      for (const text of new Set(run.declared.map((declared) => declared.text))) {
        const bytes = encoder.encode(text);
        texts.set(sha256Hex(bytes), bytes);
      }
    }
    return texts.get(digest);
  };
  run.record.retrieval.forEach((document, i) => {
    const digest = document.digest.sha256;
    digests.push({ part: 'retrieval', position: i, digest });
    if (textOf(digest) !== undefined) keep('retrieval', digest, () => textOf(digest)!);
  });
  digests.push({ part: 'request', position: -1, digest: record.request.rawDigest.sha256 });
  // Only bytes that are the request: a stream body too large to capture left none (its digest was
  // computed as it passed), and an empty body must not be stored under that digest.
  if (bytes.requestBytes.length === record.request.size) keep('request', record.request.rawDigest.sha256, () => bytes.requestBytes);
  const model = composition?.model['name'];
  const servedModel = record.served?.['model']?.value;
  return {
    recordDigest: sha256Hex(canonicalRecord),
    record,
    recordJson,
    identity,
    model: typeof model === 'string' ? model : null,
    servedModel: typeof servedModel === 'string' ? servedModel : null,
    capture,
    digests,
    content,
    kept,
    receiptable,
  };
}
