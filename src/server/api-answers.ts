/**
 * The answers of the service's CLI-like routes, bytes in and JSON bytes out (README, "Service"):
 * `explain`, `diff`, `verify` and the facts `sign` signs. Pure, so the worker pool and an app with
 * no pool compute them with the same code.
 */
import { compositionFromDocument, type InputFormat } from '../compose/from-document.ts';
import { FormatError, formatNormalizedPath, RunprintError, UsageError } from '../errors.ts';
import { parseComposition, type Composition } from '../identity/composition.ts';
import { diffCompositions } from '../identity/diff.ts';
import { explainComposition } from '../identity/explain.ts';
import { computeIdentity } from '../identity/identity.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import { parseCosignerKey } from '../log/cosignature.ts';
import { parseNoteVerifier } from '../log/note-keys.ts';
import type { NoteVerifier } from '../log/note.ts';
import { decodeBase64 } from '../keys/base64.ts';
import { importPublicKey, parsePublicKey } from '../keys/keys.ts';
import { locate } from '../capture/capture-run.ts';
import { readDeclared } from '../capture/declared.ts';
import type { DeclaredDocument } from '../capture/run-record.ts';
import { CAPTURES, isTimestamp, retrievalAsSigned, type Capture, type ReceiptRetrieval } from '../receipt/predicate.ts';
import { receiptFactsOf } from '../receipt/receipt-facts.ts';
import { isBundle } from '../receipt/receipt-input.ts';
import { diffSides, readDiffSide, type DiffSide } from '../receipt/run-diff.ts';
import { logKeyGivenAs } from '../receipt/log-proof-check.ts';
import { signedFactsDiffer, signedPredicate, type StoredRunFacts } from '../receipt/signed-facts.ts';
import { verifyReceipt, type VerificationReport, type VerifyOptions } from '../receipt/verify.ts';
import { bytesMember, inputFormat, optionalString, readMembers, requestFormat, requiredMember, stringList } from './body-members.ts';
import { checkElements, identityAnswer, readRequestBody, REQUEST_MEMBERS, type IdentityCompute, type Operation } from './identity-answer.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function usage(message: string, member?: string): UsageError {
  return new UsageError('ERR_HTTP_BAD_REQUEST', message, member === undefined ? undefined : formatNormalizedPath([member]));
}

/** `POST /v1/explain`: what `runprint explain --json` prints (docs/CLI.md), from the request and its response. */
export function explainAnswer(body: Uint8Array, maxElements: number): Uint8Array {
  const members = readMembers(body, REQUEST_MEMBERS);
  requiredMember(members, 'request');
  const { document, options } = readRequestBody(body, 'auto');
  const { composition, format } = compositionFromDocument(document, options);
  checkElements(composition, maxElements);
  return json(explainComposition(composition, computeIdentity(composition), format));
}

const DIFF_MEMBERS = ['a', 'b', 'from', 'responseA', 'responseABase64', 'responseB', 'responseBBase64'];

/**
 * `POST /v1/diff`: what `runprint diff --json` prints (docs/CLI.md). `a` and `b` are each a
 * composition, a provider request, a receipt (DSSE envelope or Sigstore bundle; no signature is
 * checked) or an identity document, as parsed JSON or as the file's text; `responseA` and
 * `responseB` give the response to a provider request side, as `--response-a` and `--response-b`.
 */
export function diffAnswer(body: Uint8Array, maxElements: number): Uint8Array {
  const members = readMembers(body, DIFF_MEMBERS);
  const from = inputFormat(members);
  const read = (name: 'a' | 'b'): DiffSide => {
    const value = requiredMember(members, name);
    // The file's text: parsed strictly here, as the CLI parses the file.
    const document = typeof value === 'string' ? parseJson(encoder.encode(value)) : value;
    const member = name === 'a' ? 'responseA' : 'responseB';
    const response = bytesMember(members, member, { objects: true });
    const side = readDiffSide(document, {
      ...(from === undefined ? {} : { from }),
      ...(response === undefined ? {} : { response: { body: response, name: `member "${member}"`, path: formatNormalizedPath([member]) } }),
    });
    if (side.composition !== undefined) checkElements(side.composition, maxElements);
    return side;
  };
  const a = read('a');
  return json(diffSides(a, read('b')));
}

/** The salts kept apart from a composition (SPEC 2.5), joined to it as `runprint sign/verify --salts` does. */
function withSalts(composition: Composition, salts: JsonValue | undefined): Composition {
  if (salts === undefined) return composition;
  if (composition.salts !== undefined) throw usage('the composition has "salts" already; the member "salts" is for salts kept apart from it', 'salts');
  return parseComposition({ ...composition, salts });
}

/** How the capture core's declaration errors end: capture records the call all the same. */
const RECORDED_WITHOUT = '; the run is recorded without them';

/**
 * Declared retrieval in a receipt signed from a saved request and response (`runprint sign
 * --retrieval FILE`, `POST /v1/sign` with a `retrieval` member or a `runprint-retrieval` header): the `retrieval` a
 * receipt of `composition` (the request as read) states for `documents` (the shape every way of
 * declaring shares, declared.ts readDeclared). The documents are checked by the capture core's own
 * check (capture-run.ts, locate) and signed as capture signs a run's (retrievalAsSigned): each
 * found, in declared order, an entry declared twice once; none for none. So the receipt of a
 * request and its documents states the retrieval capture's receipt of that call states. Where
 * capture records the call without what it cannot find, signing refuses, with capture's codes and
 * a message that says nothing is signed: ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST for a text no string
 * of the request's `system` or `input` holds (naming the sources, never a text),
 * ERR_CAPTURE_RETRIEVAL_TOO_LARGE for more documents or text than one call may declare.
 */
export function signedRetrieval(composition: Composition, documents: readonly DeclaredDocument[]): ReceiptRetrieval[] {
  const located = locate(documents, composition);
  if (located.error !== null) throw nothingSigned(located.error);
  return retrievalAsSigned(located.found);
}

/** A declaration error of the capture core's, for a receipt that is not signed: its code, and a message that says so. */
export function nothingSigned(error: RunprintError): RunprintError {
  const message = error.message.endsWith(RECORDED_WITHOUT) ? error.message.slice(0, -RECORDED_WITHOUT.length) : error.message;
  return new RunprintError(error.code, `${message}; nothing is signed`, error.path);
}

/** signedRetrieval of the documents of the member "retrieval": too many or too long is the member's error (with its path: HTTP 413, not a header's 431). */
function memberRetrieval(composition: Composition, documents: readonly DeclaredDocument[]): ReceiptRetrieval[] {
  try {
    return signedRetrieval(composition, documents);
  } catch (error) {
    if (error instanceof RunprintError && error.code === 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE') throw new RunprintError(error.code, error.message, "$['retrieval']");
    throw error;
  }
}

const SIGN_MEMBERS = ['composition', 'from', 'salts', 'output', 'outputBase64', 'outputFormat', 'started', 'finished', 'capture', 'parents', 'retrieval'];

/**
 * The receipt facts `POST /v1/sign` signs, as JSON, built as `runprint sign` builds them
 * (receiptFactsOf); `runprintVersion` is left empty for the server to fill. The output is taken
 * only as exact bytes (a string or base64): its raw digest is of the bytes. `headerDeclared`: the
 * documents of the request's `runprint-retrieval` headers, when it has any (read by the route as
 * the proxy reads them), checked against the request read here, so the body is parsed once; a
 * body that also has the member `retrieval` is refused, even when one of them declares none.
 */
export function signFactsAnswer(body: Uint8Array, maxElements: number, headerDeclared?: readonly DeclaredDocument[]): Uint8Array {
  const members = readMembers(body, SIGN_MEMBERS);
  const document = requiredMember(members, 'composition');
  const output = bytesMember(members, 'output', { objects: false });
  if (output === undefined) throw usage('member "output" (or "outputBase64") is required', 'output');
  const from = inputFormat(members);
  const outputFormat = requestFormat(members, 'outputFormat');
  const capture = optionalString(members, 'capture') ?? 'cli';
  if (!(CAPTURES as readonly string[]).includes(capture)) throw usage('member "capture" must be cli, sdk or proxy', 'capture');
  const times: { startedOn?: string; finishedOn?: string } = {};
  for (const [member, fact] of [['started', 'startedOn'], ['finished', 'finishedOn']] as const) {
    const time = optionalString(members, member);
    if (time === undefined) continue;
    if (!isTimestamp(time)) throw usage(`member "${member}" must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z`, member);
    times[fact] = time;
  }
  const parents = stringList(members, 'parents', { objects: false }) ?? [];
  parents.forEach((parent, index) => {
    if (parseIdentity(parent).kind !== 'run') throw new UsageError('ERR_HTTP_BAD_REQUEST', 'member "parents" must hold run identities (rp-run-…)', formatNormalizedPath(['parents', index]));
  });
  // Declared retrieval (`[{ source, text }]`, as the proxy's header and `runprint sign --retrieval` take it).
  const declared = members['retrieval'] === undefined ? undefined : readDeclared(members['retrieval'], "$['retrieval']", 'ERR_CAPTURE_RETRIEVAL_INVALID');
  const read = compositionFromDocument(document, from === undefined ? {} : { from });
  const composition = withSalts(read.composition, members['salts']);
  checkElements(composition, maxElements);
  const retrieval = declared === undefined ? [] : memberRetrieval(composition, declared);
  const facts = receiptFactsOf(
    { composition, format: read.format },
    { output, capture: capture as Capture, runprintVersion: '', parentRunIds: parents, ...times, ...(outputFormat === undefined ? {} : { outputFormat }) },
  );
  if (headerDeclared !== undefined) {
    // Declared both ways: which one is meant is not guessed.
    if (Object.hasOwn(members, 'retrieval')) throw usage('the retrieval is declared twice: in the member "retrieval" and in runprint-retrieval headers; send one', 'retrieval');
    // The capture core's check, against the request as read (no salts): refused, never left out.
    const fromHeader = signedRetrieval(read.composition, headerDeclared);
    if (fromHeader.length > 0) facts.retrieval = fromHeader;
  }
  if (retrieval.length > 0) facts.retrieval = retrieval;
  return json(facts);
}

const VERIFY_MEMBERS = [
  'receipt', 'keys', 'composition', 'from', 'salts', 'output', 'outputBase64', 'outputFormat',
  'logProof', 'logKey', 'logOrigin', 'witnesses', 'witnessThreshold',
];

/**
 * `POST /v1/verify`: the report `runprint verify --json` prints. `receipt` is the receipt file's
 * text (a DSSE envelope or a Sigstore bundle) or its parsed JSON; with `logProof` it must be the
 * text, byte for byte what was submitted to the log. A receipt that fails a check is an answer
 * (`ok: false`), not an error; inputs of the caller's that cannot be read (a key, a composition)
 * are errors, as in the CLI.
 */
export async function verifyAnswer(body: Uint8Array, maxElements: number): Promise<Uint8Array> {
  const members = readMembers(body, VERIFY_MEMBERS);
  const receipt = requiredMember(members, 'receipt');
  const keyTexts = stringList(members, 'keys', { objects: true });
  if (keyTexts === undefined || keyTexts.length === 0) throw usage('member "keys" must list at least one public key (PEM, JWK or verifier key)', 'keys');
  const from = inputFormat(members);
  const outputFormat = requestFormat(members, 'outputFormat');
  const output = bytesMember(members, 'output', { objects: false });
  const proof = optionalString(members, 'logProof');
  const logKeyText = optionalString(members, 'logKey');
  const logOrigin = optionalString(members, 'logOrigin');
  const witnessTexts = stringList(members, 'witnesses', { objects: false }) ?? [];
  const thresholdValue = members['witnessThreshold'];
  if (proof === undefined && (logKeyText !== undefined || logOrigin !== undefined || witnessTexts.length > 0 || thresholdValue !== undefined)) {
    throw usage('logKey, logOrigin, witnesses and witnessThreshold go with logProof', 'logProof');
  }
  if (members['salts'] !== undefined && members['composition'] === undefined) throw usage('member "salts" goes with "composition"', 'salts');

  const keys = [];
  for (const [index, text] of keyTexts.entries()) keys.push(await atMember(['keys', index], () => parsePublicKey(text)));
  const options: VerifyOptions = { keys };
  if (members['composition'] !== undefined) {
    // Read here to bound its size; handed over as the composition it stands for.
    const read = compositionFromDocument(members['composition'], from === undefined ? {} : { from });
    const composition = withSalts(read.composition, members['salts']);
    checkElements(composition, maxElements);
    if (members['salts'] === undefined) {
      options.composition = members['composition'];
      if (from !== undefined) options.from = from as InputFormat;
    } else {
      options.composition = composition as unknown as JsonValue;
      options.from = 'composition';
    }
  }
  if (output !== undefined) options.output = output;
  if (outputFormat !== undefined) options.outputFormat = outputFormat;
  const receiptBytes = typeof receipt === 'string' ? encoder.encode(receipt) : undefined;
  if (proof !== undefined) {
    if (logKeyText === undefined) throw usage('logProof needs logKey, the log\'s verifier key', 'logKey');
    if (receiptBytes === undefined) throw usage('with logProof, member "receipt" must be the receipt file\'s text, byte for byte what was submitted to the log', 'receipt');
    if (isBundle(safeParse(receipt as string))) throw usage('logProof checks the receipt submitted to the log (a DSSE envelope), not a Sigstore bundle', 'receipt');
    if (logOrigin === '') throw usage('member "logOrigin" must not be empty', 'logOrigin');
    const logKey = await atMember(['logKey'], () => parseNoteVerifier(logKeyText.trim()));
    const witnesses: NoteVerifier[] = [];
    for (const [index, text] of witnessTexts.entries()) {
      const witness = await atMember(['witnesses', index], () => parseCosignerKey(text.trim()));
      if (witnesses.some((other) => other.name === witness.name)) throw usage('each of "witnesses" must have its own name', 'witnesses');
      witnesses.push(witness);
    }
    const threshold = witnessThreshold(thresholdValue, witnesses.length);
    // A checkpoint the key did not sign names the member the key came in, as the CLI names --log-key.
    options.logProof = { proof, entry: receiptBytes, policy: { logKey, witnesses, threshold, ...(logOrigin === undefined ? {} : { origin: logOrigin }) }, logKeyWording: logKeyGivenAs('member "logKey"') };
  }
  return json(await verifyReceipt(receiptBytes ?? (receipt as JsonObject), options));
}

/**
 * `run-identity`: computeIdentity's document of a stored run's composition, read from the run store
 * and written as JSON by serve (run-analysis-routes.ts), as JSON: what `GET /v1/runs/{id}/verify`
 * recomputes for a large run in a worker thread. No route's: serve makes the body.
 */
export function runIdentityAnswer(body: Uint8Array): Uint8Array {
  return json(computeIdentity(JSON.parse(decoder.decode(body)) as unknown));
}

/**
 * What `run-receipt` is asked: verifyReceipt's options as `GET /v1/runs/{id}/verify` checks it
 * (verify-run.ts), the keys as their raw 32 bytes and the output bytes each in base64, as JSON
 * (one line), then a line feed, then a stored run's receipt (its text as stored, UTF-8): not a
 * JSON string, which escaping and reading back took tens of milliseconds of serve's event loop
 * for a 10 MB receipt.
 */
export interface RunReceiptTask {
  keys: string[];
  composition?: JsonValue;
  from?: InputFormat;
  output?: string;
  outputFormat?: VerifyOptions['outputFormat'];
  /** The stored run's facts: when every check passes, the answer has signedFactsDiffer of them and the receipt (`signedFacts`). */
  facts?: StoredRunFacts;
}

/** `run-receipt`: verifyReceipt's report (as JSON) on a stored run's receipt, for a large run in a worker thread. No route's. */
export async function runReceiptAnswer(body: Uint8Array): Promise<Uint8Array> {
  const split = body.indexOf(0x0a);
  if (split < 0) throw new TypeError('run-receipt: no line feed after the task');
  const task = { ...(JSON.parse(decoder.decode(body.subarray(0, split))) as RunReceiptTask), receipt: decoder.decode(body.subarray(split + 1)) };
  const bytes = (text: string): Uint8Array => {
    const decoded = decodeBase64(text);
    if (decoded === undefined) throw new TypeError('run-receipt: not base64');
    return decoded;
  };
  const options: VerifyOptions = { keys: await Promise.all(task.keys.map((raw) => importPublicKey(bytes(raw)))) };
  if (task.composition !== undefined) options.composition = task.composition;
  if (task.from !== undefined) options.from = task.from;
  if (task.output !== undefined) options.output = bytes(task.output);
  if (task.outputFormat !== undefined) options.outputFormat = task.outputFormat;
  const report: VerificationReport = await verifyReceipt(task.receipt, options);
  if (task.facts === undefined || report.runId === undefined) return json(report);
  return json({ ...report, signedFacts: signedFactsDiffer(task.facts, signedPredicate(task.receipt)) });
}

/**
 * `run-diff`: the differences of two stored runs' compositions (diffCompositions, SPEC 10) and the
 * list components aligned inexactly, as JSON `{"differences": [...], "inexact": [...]}`: what
 * `GET /v1/runs/diff` compares large runs by, in a worker thread; the body is serve's JSON of
 * `{"a": composition, "b": composition}`. No route's.
 */
export function runDiffAnswer(body: Uint8Array): Uint8Array {
  const { a, b } = JSON.parse(decoder.decode(body)) as { a: unknown; b: unknown };
  const { differences, inexact } = diffCompositions(a, b);
  return json({ differences, inexact });
}

/**
 * A key read from a member: an error that names no place in the body (a key's reader knows none)
 * is given the member's path (`$['keys'][2]`), as every other member error has one.
 */
async function atMember<T>(place: ReadonlyArray<string | number>, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof RunprintError) || error.path !== undefined) throw error;
    throw new (error.constructor as typeof RunprintError)(error.code, error.message, formatNormalizedPath(place));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** At least this many distinct witnesses: from 1 to their number, all of them when not given (as `verify --witness-threshold`). */
function witnessThreshold(value: JsonValue | undefined, count: number): number {
  if (value === undefined) return count;
  if (count === 0) throw usage('member "witnessThreshold" needs "witnesses"', 'witnessThreshold');
  const threshold = typeof value === 'number' ? value : parseDecimal(String(value));
  if (threshold === undefined || !Number.isInteger(threshold) || threshold < 1 || threshold > count) {
    throw usage('member "witnessThreshold" must be a whole number from 1 to the number of witnesses', 'witnessThreshold');
  }
  return threshold;
}

/**
 * How a client of each operation names the format that `from: auto` could not tell (a FormatError
 * comes with the command line's `--from`, which no HTTP client can pass). `POST /v1/identity`
 * takes it in its query (in either body form); the others as the body's member "from".
 */
const FORMAT_REMEDIES: Record<Operation, string> = {
  identity: 'name the format with the query parameter "from"',
  explain: 'name the format with the member "from"',
  diff: 'name the format with the member "from"',
  'sign-facts': 'name the format with the member "from"',
  verify: 'name the format with the member "from"',
  'run-identity': 'name the format with the member "from"',
  'run-receipt': 'name the format with the member "from"',
  'run-diff': 'name the format with the member "from"',
};

/** One operation's answer; `identity` reads `from` from the query, the others from the body; `declared` is sign-facts' (IdentityCompute). */
export async function operationAnswer(operation: Operation, body: Uint8Array, maxElements: number, from: InputFormat = 'auto', declared?: readonly DeclaredDocument[]): Promise<Uint8Array> {
  try {
    switch (operation) {
      case 'identity':
        return identityAnswer(body, from, maxElements);
      case 'explain':
        return explainAnswer(body, maxElements);
      case 'diff':
        return diffAnswer(body, maxElements);
      case 'sign-facts':
        return signFactsAnswer(body, maxElements, declared);
      case 'verify':
        return await verifyAnswer(body, maxElements);
      case 'run-identity':
        return runIdentityAnswer(body);
      case 'run-receipt':
        return await runReceiptAnswer(body);
      case 'run-diff':
        return runDiffAnswer(body);
    }
  } catch (error) {
    throw error instanceof FormatError ? error.withRemedy(FORMAT_REMEDIES[operation]) : error;
  }
}

/** The in-process compute: for `createApp()` with no pool (tests, embedding). */
export const computeInProcess: IdentityCompute = (body, from, maxElements, operation = 'identity', declared) => operationAnswer(operation, body, maxElements, from, declared);
