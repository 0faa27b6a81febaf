// The verification panel's checks, run in this browser with runprint's core: the run identity
// recomputed from the stored content, the receipt's signature and statement, and the receipt's
// inclusion in the log. Each check says what it relies on; none trusts the digests the server states.
import { computeIdentity, REQUEST_COMPONENTS } from 'runprint/identity';
import { canonicalize, parseJson } from 'runprint/jcs';
import { MAX_ENTRY_SIZE, parseCosignerKey, parseNoteVerifier } from 'runprint/log';
import { CHECK_LABELS, checkLogProof, parsePublicKey, readReceiptInput, retrievalAgreement, signedFactsDiffer, signedPredicate, verifyReceipt } from 'runprint/receipt';
import { api, pinnedKeys, shown } from './common.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A check's result: state is pass, fail or skip (could not be checked, and why). */
function result(id, title, state, steps, detail, reliesOn) {
  return { id, title, state, steps, detail, reliesOn };
}

/** The key under which the content map holds a salted run's salts (views.js loadContent). */
export const SALTS = 'salts';

/** Stand-ins for parts kept as digests only, so that the stored ones are still hashed (their digests are not compared). */
const STAND_IN = { model: { name: 'kept as a digest only' }, parameters: {}, configuration: {} };

/**
 * The composition the stored content gives: `missing` names the parts kept as digests only
 * (a stand-in takes their place, and their digests are not compared), `unsalted` the salted
 * components whose salts are not stored (their content cannot be checked).
 */
export function storedComposition(run, content) {
  const missing = [];
  const unreadable = [];
  const read = (digest, where, standIn) => {
    const bytes = content.get(digest);
    if (bytes === null || bytes === undefined) {
      missing.push(where);
      return standIn;
    }
    try {
      return parseJson(decoder.decode(bytes));
    } catch (error) {
      unreadable.push(`${where} (${error.code ?? 'not JSON'})`);
      return standIn;
    }
  };
  const composition = { version: 'runprint/v1' };
  for (const name of REQUEST_COMPONENTS) {
    const entry = run.identity.components[name];
    composition[name] = entry.kind === 'list' ? entry.elements.map((digest, index) => read(digest.sha256, `${name}[${index}]`, {})) : read(entry.digest.sha256, name, STAND_IN[name]);
  }
  if (run.record.served !== null) composition.served = run.record.served;
  // Salted components' digests are computed with their salts (SPEC 5.6): without them, their content cannot be checked.
  const salted = REQUEST_COMPONENTS.filter((name) => run.identity.components[name].salted === true);
  let unsalted = [];
  if (salted.length > 0) {
    const salts = content.get(SALTS);
    if (salts === null || salts === undefined) {
      missing.push('the salts');
      unsalted = salted;
    } else {
      composition.salts = salts;
    }
  }
  return { composition, missing, unreadable, unsalted };
}

const IDENTITY_RELIES = 'the content this server stores for each component, hashed in this browser with runprint\'s core (SPEC 5). It relies on no key and on none of the digests the server states';

/** Names joined as a sentence does: "a, b and c". */
const both = (names) => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

const listed = (parts) => (parts.length > 6 ? `${parts.slice(0, 6).join(', ')} and ${parts.length - 6} more` : parts.join(', '));

function identityCheck(run, content) {
  const title = `${run.record.runId === null ? 'Request' : 'Run'} identity recomputed from the stored content`;
  if (run.identity === null) return { check: result('identity', title, 'skip', [], `the request was not identified (${run.record.unidentified?.code ?? 'no identity'}), so there is no identity to recompute`, IDENTITY_RELIES) };
  const { composition, missing, unreadable, unsalted } = storedComposition(run, content);
  if (unreadable.length > 0) {
    return { check: result('identity', title, 'fail', [{ label: 'stored content is canonical JSON', ok: false, detail: unreadable.join(', ') }], 'stored content cannot be read', IDENTITY_RELIES) };
  }
  let document;
  try {
    document = computeIdentity(composition);
  } catch (error) {
    if (missing.length > 0) return { check: result('identity', title, 'skip', [], `${missing.length} part${missing.length === 1 ? ' is' : 's are'} not stored (${listed(missing)}): the identity cannot be recomputed from content`, IDENTITY_RELIES) };
    return { check: result('identity', title, 'fail', [{ label: 'the stored content is a valid composition', ok: false, detail: `${error.code ?? ''} ${error.message}` }], 'the stored content is not a valid composition', IDENTITY_RELIES) };
  }
  const differing = [];
  const checked = [];
  for (const name of REQUEST_COMPONENTS) {
    const stored = run.identity.components[name];
    const computed = document.components[name];
    // A part kept as a digest only, or salted with salts not stored, is not compared.
    const compare = (where, ok) => {
      if (missing.includes(where) || unsalted.includes(name)) return;
      checked.push(where);
      if (!ok) differing.push(where);
    };
    if (stored.kind === 'list') stored.elements.forEach((digest, index) => compare(`${name}[${index}]`, computed.elements[index]?.sha256 === digest.sha256));
    else compare(name, computed.digest.sha256 === stored.digest.sha256);
  }
  if (missing.length > 0) {
    // What can be checked is: each stored piece against its digest. The identity needs them all.
    const digestOnly = missing.filter((part) => part !== 'the salts');
    const why = [
      digestOnly.length === 0 ? '' : `${digestOnly.length} part${digestOnly.length === 1 ? ' is' : 's are'} kept as ${digestOnly.length === 1 ? 'a digest' : 'digests'} only (${listed(digestOnly)})`,
      unsalted.length === 0 ? '' : `the salts are not stored, so the salted ${unsalted.join(', ')} cannot be checked against ${unsalted.length === 1 ? 'its' : 'their'} content`,
    ].filter(Boolean).join('; ');
    const gave = checked.length === 0 || differing.length > 0 ? '' : `; the ${checked.length === 1 ? 'one piece' : `${checked.length} pieces`} stored give${checked.length === 1 ? 's its digest' : ' their digests'}`;
    const steps = checked.length === 0 ? [] : [{ label: `each stored piece gives its digest (${checked.length}: ${listed(checked)})`, ok: differing.length === 0, detail: differing.length === 0 ? '' : `content does not match its digest: ${differing.join(', ')}` }];
    return {
      check: { ...result('identity', title, differing.length > 0 ? 'fail' : 'skip', steps,
        differing.length > 0 ? `stored content does not match its digest: ${differing.join(', ')}` : `${why}: the identity cannot be recomputed from content${gave}`, IDENTITY_RELIES), differing },
    };
  }
  const steps = [
    { label: 'each component\'s stored content gives its digest', ok: differing.length === 0, detail: differing.length === 0 ? '' : `content does not match its digest: ${differing.join(', ')}` },
    { label: 'the components give the request identity', ok: document.requestId === run.record.requestId && document.requestId === run.identity.requestId, detail: `computed ${document.requestId}, the record names ${run.record.requestId}` },
  ];
  if (run.record.runId !== null) steps.push({ label: 'with the served facts, the run identity', ok: document.runId === run.record.runId && document.runId === run.identity.runId, detail: `computed ${document.runId}, the record names ${run.record.runId}` });
  const failed = steps.filter((step) => !step.ok);
  return {
    check: { ...result('identity', title, failed.length === 0 ? 'pass' : 'fail', steps, failed.length === 0 ? `computed ${document.runId ?? document.requestId} in this browser` : `${failed[0].label}: no`, IDENTITY_RELIES), differing },
    composition,
  };
}

/** The receipt key: pinned in this browser, else the one this server publishes. */
async function receiptKey() {
  const pinned = pinnedKeys().receipt;
  if (pinned !== null) {
    const key = await parsePublicKey(pinned);
    return { key, pinned: true, relies: `the receipt key ${key.keyId.slice(0, 16)}… pinned in this browser` };
  }
  const served = await api('/v1/receipt-key', 'json', 'no-cache');
  const key = await parsePublicKey(served.publicKey);
  return { key, pinned: false, relies: `the receipt key ${key.keyId.slice(0, 16)}… as this server gives it at /v1/receipt-key (pin your own under Keys to rely on no server)` };
}

/** The key ids a receipt's signatures name (unsigned hints: who says they signed it), or [] when it cannot be read. */
function signerHints(receipt) {
  try {
    const { envelope, bundleKeyHint } = readReceiptInput(receipt);
    return [...new Set([bundleKeyHint, ...envelope.signatures.map((signature) => signature.keyid)].filter((id) => typeof id === 'string' && id !== ''))];
  } catch {
    return [];
  }
}

function noReceiptReason(run) {
  if (run.record.runId === null) return 'no receipt: the run has no run identity';
  if (run.record.output === null) return 'no receipt: the run has no whole output (a failed or cut-off call)';
  return 'no receipt yet: it is signed right after the run is stored';
}

/**
 * Who signs the receipt of a run captured at `capture`: the service for a run its proxy captured;
 * for one captured in process (runprintFetch, `sdk`), the application's runprint (its process,
 * with the data directory's key, or the runprint server it sends its calls to).
 */
function signerOf(capture, replay) {
  // A replay is stored unsigned by runprint replay (it holds no key); serve signs it (docs/REPLAY.md).
  if (replay) return 'by the service (serve signs the replays runprint replay stores)';
  if (capture === 'proxy') return 'by the service';
  if (capture === 'sdk') return 'by the application\'s runprint (in-process capture)';
  return `at capture (${capture})`;
}

/** The receipt check's title, by who signs the receipt of the run's capture point, as a receipt verified here signs it. */
export function receiptTitle(capture, replay = false) {
  return `Receipt signed ${signerOf(capture, replay)}, about this run`;
}

/**
 * The receipt check's title while no signature verified here says who signed it: the run store's
 * capture column is its word alone, said as such (none is named for a run without a receipt).
 */
export function unverifiedReceiptTitle(run) {
  if (run.receipt === null) return 'Receipt about this run';
  return `Receipt about this run, not verified: the run store says it is signed ${signerOf(run.capture, run.replayOf !== null && run.replayOf !== undefined)}`;
}

/** A value as a mismatch names it: text as it is (controls escaped), anything else as JSON; cut when long. */
export const factText = (value) => (value === undefined ? 'nothing' : shown(typeof value === 'string' ? value : canonicalize(value), 160));

/** What the run page shows of a run that no receipt signs, whatever the receipt says: named in the receipt check. */
const UNSIGNED = 'the HTTP status, method, path and response size are the run store\'s word (no receipt states them)';

async function receiptCheck(run, receipt, composition, content) {
  // Who signed is what a receipt whose signature verified here says, never the store's capture column alone.
  let title = unverifiedReceiptTitle(run);
  if (run.receipt === null || receipt instanceof Error) {
    return result('receipt', title, 'skip', [], receipt instanceof Error ? `${receipt.code}: ${receipt.message}` : noReceiptReason(run), 'the receipt key');
  }
  let key;
  try {
    key = await receiptKey();
  } catch (error) {
    return result('receipt', title, 'fail', [{ label: 'the receipt key can be read', ok: false, detail: `${error.code ?? ''} ${error.message}` }], 'no usable receipt key', 'the receipt key');
  }
  const options = { keys: [key.key] };
  if (composition !== undefined) {
    options.composition = composition;
    options.from = 'composition';
  }
  const output = run.record.response.rawDigest === null ? null : content.get(run.record.response.rawDigest.sha256);
  if (output instanceof Uint8Array) {
    options.output = output;
    options.outputFormat = run.record.format;
  }
  let report;
  try {
    report = await verifyReceipt(decoder.decode(receipt), options);
  } catch (error) {
    return result('receipt', title, 'fail', [{ label: 'the receipt can be read', ok: false, detail: `${error.code ?? ''} ${error.message}` }], 'the receipt cannot be read', key.relies);
  }
  // Signed by another key than the one this server gives now (serve restarted with another
  // --capture-key since): this server does not give the key that would check it, so the receipt
  // is not checked, and says by which key it says it is signed. Under a key the reader pinned, it fails.
  const unknownKey = report.checks.find((check) => check.name === 'signature' && check.code === 'ERR_SIGNATURE_UNKNOWN_KEY');
  if (unknownKey !== undefined && !key.pinned) {
    const hints = signerHints(receipt);
    const signer = hints.length === 0 ? 'another key' : `key ${hints.map((id) => `${id.slice(0, 16)}…`).join(', ')}`;
    return { ...result('receipt', title, 'skip', [], `not checked: signed by ${signer}, not the key this server gives (${key.key.keyId.slice(0, 16)}…); pin the key that signed it under Keys, obtained another way, to check it here`, key.relies), unknownKey: true };
  }
  const steps = report.checks.map((check) => ({ label: CHECK_LABELS[check.name] ?? check.name, name: check.name, ok: check.ok, detail: check.ok ? '' : `${check.code ?? ''}: ${check.message ?? ''}` }));
  // The signature and the predicate's shape verified (a later check, the composition say, may
  // still fail): the signer the predicate names is signed; the title takes it when the signed
  // run identity is this run's.
  const passed = (name) => report.checks.some((check) => check.name === name && check.ok);
  if (passed('signature') && passed('predicate')) {
    try {
      const { capture, runId } = signedPredicate(receipt).buildDefinition.externalParameters;
      if (runId === run.record.runId) title = receiptTitle(capture, run.replayOf !== null && run.replayOf !== undefined);
    } catch {
      // Unreadable after all: the title stays unverified.
    }
  }
  if (report.ok) steps.push({ label: 'the receipt names this run\'s identity', name: 'this-run', ok: report.runId === run.record.runId, detail: report.runId });
  // The declared retrieval the verified receipt signs (RECEIPTS 13.2), against the record's: only a
  // receipt that verified here and is about this run says anything about it.
  let signedRetrieval;
  let signedFacts;
  if (report.ok && report.runId === run.record.runId) {
    // Every other fact of the run the page shows and the receipt signs: the run store's copy must be
    // the signed one, else the page would show a changed fact under a passing check.
    const predicate = signedPredicate(receipt);
    signedFacts = signedFactsDiffer(run, predicate);
    steps.push({ label: 'the run\'s facts shown here are the ones the receipt signs', name: 'signed-facts', ok: signedFacts.length === 0,
      detail: signedFacts.map((fact) => `${fact.fact}: the run store says ${factText(fact.stored)}, the receipt signs ${factText(fact.signed)}`).join('; ') });
    // Null: the receipt has no runDetails.retrieval member (signed before receipts carried
    // declarations, or none declared), which says nothing of them: not checked, as runs verify says.
    signedRetrieval = report.retrieval ?? null;
    const agreement = retrievalAgreement(run.record.retrieval ?? [], report.retrieval, run.identity ?? undefined);
    if (agreement === 'signed' || agreement === 'differs') {
      steps.push({ label: 'the receipt signs the record\'s declared retrieval', name: 'retrieval', ok: agreement === 'signed',
        detail: agreement === 'signed' ? '' : 'the receipt declares other documents than the record' });
    }
  }
  const notChecked = [composition === undefined ? 'the identity from content (parts kept as digests only)' : '', output instanceof Uint8Array ? '' : 'the output digest from the output (not stored)'].filter(Boolean);
  const failed = steps.find((step) => !step.ok);
  return {
    ...result('receipt', title, failed === undefined ? 'pass' : 'fail', steps,
      failed === undefined ? `signature and statement verified; the model, capture point, parents, times and output facts shown are the ones it signs; ${UNSIGNED}${notChecked.length > 0 ? `; not checked: ${notChecked.join(', ')}` : ''}`
        : failed.name === 'signed-facts' ? `signed-facts failed: what the run store says of the ${both(signedFacts.map((fact) => fact.fact))} is not what the receipt signs`
          : `${failed.name ?? ''} failed: ${failed.label}`, key.relies),
    signedRetrieval,
    signedFacts,
  };
}


/**
 * The log serve sends captured runs' receipts to instead of its own (serve --capture-log), as
 * /healthz names it, or null. Read once per page.
 */
let captureLog;
function captureLogOf() {
  captureLog ??= api('/healthz').then((health) => health.capture?.log?.url ?? null, () => null);
  return captureLog;
}

/**
 * Why a receipt has no log index: longer than a log entry can be (no log ever holds it), not
 * delivered to the capture log yet, not appended to this server's log yet, or this server keeps
 * no log (its log key route is not found).
 */
export async function unloggedReason(receipt, remote) {
  if (receipt.length > MAX_ENTRY_SIZE) {
    return `ERR_LOG_ENTRY_TOO_LARGE: the receipt (${receipt.length.toLocaleString('en-US')} bytes) is longer than a log entry can be (${MAX_ENTRY_SIZE.toLocaleString('en-US')} bytes), so no log holds it; it verifies with the receipt key alone`;
  }
  if (remote !== null) return `the receipt is not delivered to the log this server sends receipts to (${remote}) yet`;
  try {
    await api('/v1/log/key', 'text', 'no-cache');
  } catch (error) {
    if (error.code === 'ERR_HTTP_NOT_FOUND') return 'the receipt is not in a log: this server keeps none (serve --no-log)';
    return `the receipt is not in a log; whether this server keeps one is not known (${error.code ?? 'no answer'}: ${error.message})`;
  }
  return 'the receipt is not appended to this server\'s log yet (serve appends each receipt once signed); reload in a second';
}

async function logCheck(run, receipt) {
  const title = 'Receipt included in the transparency log';
  const relies = 'the log key';
  if (run.receipt === null || receipt instanceof Error) return result('log', title, 'skip', [], 'no receipt, so no log entry', relies);
  const remote = await captureLogOf();
  if (run.receipt.logIndex === null) return result('log', title, 'skip', [], await unloggedReason(receipt, remote), relies);
  let proof;
  let keyLine;
  try {
    if (remote !== null) {
      // The receipts are in another log, whose proofs this server passes on: its key is not this server's log key.
      keyLine = pinnedKeys().log;
      if (keyLine === null) return result('log', title, 'skip', [], `the receipt is in the log this server sends receipts to (${remote}), not in its own: pin that log's key (Keys) to check it here`, `the key of the log at ${remote}`);
    } else {
      keyLine = pinnedKeys().log ?? (await api('/v1/log/key', 'text', 'no-cache')).trim();
      // An entry appended after the latest checkpoint has no proof yet: asked for, it would be a 404.
      // The checkpoint read here is not trusted: the proof below is checked against its own.
      const size = Number((await api('/checkpoint', 'text')).split('\n')[1]);
      if (!(run.receipt.logIndex < size)) {
        return result('log', title, 'skip', [], 'ERR_LOG_ENTRY_NOT_FOUND: no signed checkpoint covers the receipt yet; reload in a second', relies);
      }
    }
    proof = await api(`/v1/runs/${encodeURIComponent(run.captureId)}/tlog-proof`, 'text');
  } catch (error) {
    return result('log', title, error.code === 'ERR_LOG_ENTRY_NOT_FOUND' ? 'skip' : 'fail', [], `${error.code}: ${error.message}`, relies);
  }
  const { witnesses, threshold } = pinnedKeys();
  const witnessRelies = witnesses.length === 0
    ? 'no witnesses are pinned, so a log that shows readers different trees is not caught here'
    : `at least ${threshold} of the ${witnesses.length} witness${witnesses.length === 1 ? '' : 'es'} pinned in this browser (${witnesses.map((line) => line.split('+')[0]).join(', ')}) must have cosigned the checkpoint`;
  const keyRelies = `the log key ${keyLine.split('+')[0]}+${keyLine.split('+')[1] ?? ''} ${pinnedKeys().log === null ? 'as this server gives it at /v1/log/key' : 'pinned in this browser'}; ${witnessRelies}`;
  let checked;
  try {
    checked = await checkLogProof({ proof, entry: receipt, policy: { logKey: await parseNoteVerifier(keyLine), witnesses: await Promise.all(witnesses.map((line) => parseCosignerKey(line))), threshold } });
  } catch (error) {
    return result('log', title, 'fail', [{ label: 'the proof and key can be read', ok: false, detail: `${error.code ?? ''} ${error.message}` }], 'the proof cannot be checked', keyRelies);
  }
  const steps = checked.checks.map((check) => ({ label: CHECK_LABELS[check.name] ?? check.name, name: check.name, ok: check.ok, detail: check.ok ? '' : `${check.code ?? ''}: ${check.message ?? ''}` }));
  if (checked.summary !== undefined) steps.push({ label: 'at the log index the run store names', name: 'log-index', ok: checked.summary.index === run.receipt.logIndex, detail: `index ${checked.summary.index} of ${checked.summary.treeSize}` });
  const failed = steps.find((step) => !step.ok);
  return result('log', title, failed === undefined ? 'pass' : 'fail', steps,
    failed === undefined ? `entry ${checked.summary.index} of a tree of ${checked.summary.treeSize}, checkpoint of ${checked.summary.origin}` : `${failed.name} failed: ${failed.label}`, keyRelies);
}

/** Every check of a run, in order. `receipt` is the receipt's exact bytes, an error, or null. */
export async function verifyRun(run, content, receipt) {
  const { check: identity, composition } = identityCheck(run, content);
  const [receiptResult, log] = await Promise.all([receiptCheck(run, receipt, composition, content), logCheck(run, receipt)]);
  return [identity, receiptResult, log];
}
