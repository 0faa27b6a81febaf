// The run page (#/run/ID): identities, components with their digests and stored content, declared
// retrieval (and whether the receipt signs it), served facts, output, the agent graph (graph.js),
// parents and children, replays (and the run a replay replays), receipt, and the verification
// panel (verify.js).
import { api, downloadLink, errorBlock, h, short, shown } from './common.js';
import { agentGraph } from './graph.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalize, parseJson } from 'runprint/jcs';
import { MAX_ENTRY_SIZE } from 'runprint/log';
import { runOutputFrom } from 'runprint/providers/run-output';
import { retrievalAgreement } from 'runprint/receipt';
import { factText, SALTS, verifyRun } from './verify.js';

const text = new TextDecoder();
const FOLD_LINES = 24;

/**
 * Whether the store holds a part's content, as the run view's `content` summary says (the element
 * `index` of a list part): false only where it says not stored, so what it does not name is asked for.
 */
export function isStored(run, part, index) {
  const state = run.content?.[part];
  if (state === undefined) return true;
  if (index !== undefined && Array.isArray(state.elements)) return state.elements[index] !== 'none';
  return state.none === 0 || (state.kept ?? 0) + (state.elsewhere ?? 0) > 0;
}

/**
 * Reads these digests' stored bytes into `content`, four at a time: null where the store has none.
 * `progress(read, all)`, when given, is told after each.
 */
export async function fetchStored(content, digests, progress) {
  const queue = [...digests];
  const all = queue.length;
  let read = 0;
  const worker = async () => {
    for (let digest = queue.shift(); digest !== undefined; digest = queue.shift()) {
      try {
        content.set(digest, await api(`/v1/content/${digest}`, 'bytes'));
      } catch (error) {
        if (error.code !== 'ERR_CONTENT_NOT_FOUND') throw error;
        content.set(digest, null);
      }
      progress?.(++read, all);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

const encoder = new TextEncoder();
/** Runs of more pieces than this are read as one composition when the store holds every piece. */
const COMPOSITION_OVER = 40;

/**
 * A large run's stored content in one request (GET /v1/runs/{id}/composition: every piece, checked by
 * the server against its digest), put in `content` by each piece's digest as canonical JSON, as
 * the piece is stored; the salts of a salted run with them. False, with nothing put, when the
 * server does not answer it (a piece kept as a digest only, content that does not give its digest,
 * no identity) or it is not the shape of the run's identity: then each piece is read on its own.
 * The page checks what it reads either way: it trusts none of the server's checks.
 */
async function readComposition(run, content) {
  if (run.identity === null || run.contentExpired) return false;
  const components = Object.entries(run.identity.components);
  // A run of a few pieces is read piece by piece: a piece whose content does not give its digest
  // is then named by the check, where the composition would be refused whole (500).
  if (components.reduce((pieces, [, entry]) => pieces + (entry.kind === 'list' ? entry.elements.length : 1), 0) <= COMPOSITION_OVER) return false;
  // Not asked for when the run view says a piece (or the salts of a salted run) is not stored: it would be refused.
  const stored = components.every(([name, entry]) => (entry.kind === 'list' ? entry.elements.every((_, index) => isStored(run, name, index)) : isStored(run, name)));
  if (!stored || (components.some(([, entry]) => entry.salted === true) && !isStored(run, 'salts'))) return false;
  let composition;
  try {
    composition = parseJson(await api(`/v1/runs/${encodeURIComponent(run.captureId)}/composition`, 'bytes'));
  } catch {
    return false;
  }
  const pieces = new Map();
  for (const [name, entry] of components) {
    const value = composition?.[name];
    if (entry.kind === 'list') {
      if (!Array.isArray(value) || value.length !== entry.elements.length) return false;
      entry.elements.forEach((digest, index) => pieces.set(digest.sha256, value[index]));
    } else {
      if (value === undefined) return false;
      pieces.set(entry.digest.sha256, value);
    }
  }
  for (const [digest, value] of pieces) content.set(digest, encoder.encode(canonicalize(value)));
  if (Object.values(run.identity.components).some((entry) => entry.salted === true)) content.set(SALTS, composition.salts ?? null);
  return true;
}

/**
 * The stored content the page shows and checks: a large run's composition in one request when the
 * server gives it, else each piece on its own, four at a time (`progress` told of each), null
 * where only the digest is kept; and the response bytes. What the run view says is not stored is
 * not asked for.
 */
async function loadContent(run, progress) {
  const content = new Map();
  const digests = [];
  const want = (digest, stored) => {
    if (stored) digests.push(digest);
    else if (!content.has(digest)) content.set(digest, null);
  };
  const whole = await readComposition(run, content);
  if (!whole) {
    for (const [name, entry] of Object.entries(run.identity?.components ?? {})) {
      if (entry.kind === 'list') entry.elements.forEach((digest, index) => want(digest.sha256, isStored(run, name, index)));
      else want(entry.digest.sha256, isStored(run, name));
    }
  }
  // An unidentified request's bytes are shown in place of its components.
  if (run.identity === null) want(run.record.request.rawDigest.sha256, isStored(run, 'request'));
  // The store keeps the body of a 2xx answer only (an error body may echo part of a credential).
  const status = run.record.response.status;
  if (run.record.response.rawDigest !== null && status !== null && status >= 200 && status <= 299) want(run.record.response.rawDigest.sha256, isStored(run, 'response'));
  await fetchStored(content, new Set(digests), progress);
  if (whole) return content;
  // A salted run's content gives its digests only with its salts (SPEC 5.6), kept in the store as
  // content is, and read on their own (GET /v1/runs/{id}/salts): the composition is not answered
  // while any piece is kept as a digest only, and the pieces that are stored are still checked.
  if (Object.values(run.identity?.components ?? {}).some((entry) => entry.salted === true)) {
    if (!isStored(run, 'salts')) {
      content.set(SALTS, null);
    } else {
      try {
        content.set(SALTS, await api(`/v1/runs/${encodeURIComponent(run.captureId)}/salts`));
      } catch (error) {
        if (error.code !== 'ERR_REPLAY_CONTENT_NOT_STORED' && error.code !== 'ERR_CONTENT_NOT_FOUND') throw error;
        content.set(SALTS, null);
      }
    }
  }
  return content;
}

/** JSON text pretty-printed, or the text as it is. */
function pretty(value) {
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

/** A block of text, folded behind a summary when it is long (unless `fold` is false: it then scrolls). */
function textBlock(value, fold = true) {
  const lines = value.split('\n').length;
  const pre = h('pre', {}, value);
  return fold && lines > FOLD_LINES ? h('details', {}, h('summary', {}, `Show ${lines} lines`), pre) : pre;
}

/** Stored content, or a plain statement that only its digest is kept: never a blank that looks like content. */
function contentOf(run, content, digest, fold = true) {
  const bytes = content.get(digest);
  if (bytes === null || bytes === undefined) {
    return h('div', { class: 'digest-only' }, run.contentExpired ? 'Digest only: the content passed its retention period and was deleted.' : 'Digest only: the content was not kept (capture policy), so only its digest is known.');
  }
  let value;
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return h('div', { class: 'digest-only' }, `${bytes.length} bytes, not UTF-8 text`);
  }
  return textBlock(pretty(value), fold);
}

const row = (name, ...value) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, ...value));
/** A row of a fact a receipt may sign: `fact` names it for the marks signedFacts adds. */
const factRow = (fact, name, ...value) => h('tr', { 'data-fact': fact }, h('th', { scope: 'row' }, name), h('td', {}, ...value));
const digestText = (digest) => h('span', { class: 'digest' }, digest);

/** Why a run has no run identity, in the words of the page's other "none: …" lines. */
function noRunIdentity(record) {
  if (record.unidentified !== null && record.unidentified !== undefined) return 'none: the request was not identified';
  if (record.response.status === null) return 'none: no answer';
  // A run identity is the request with what served it: a call that failed or was cut has none.
  const status = record.response.status;
  if (record.incomplete?.reason === 'http-status' || status < 200 || status > 299) return `none: the call failed (HTTP ${status}), so nothing was served`;
  if (record.incomplete?.reason === 'cut') return 'none: the response was cut off before its end';
  if (record.incomplete !== null && record.incomplete !== undefined) return `none: the response did not complete (${record.incomplete.reason}${record.incomplete.code === null ? '' : ` ${record.incomplete.code}`})`;
  return 'none: the response gave no served facts';
}

function identities(run) {
  const { record } = run;
  const status = record.response.status === null ? 'no response' : String(record.response.status);
  return h('table', { class: 'facts', id: 'identities' },
    row('Run identity', record.runId === null ? h('span', { class: 'muted' }, noRunIdentity(record)) : digestText(record.runId)),
    factRow('request identity', 'Request identity', record.requestId === null ? h('span', { class: 'muted' }, `none: ${record.unidentified?.code ?? ''} ${record.unidentified?.path ?? ''}`) : digestText(record.requestId)),
    row('Capture id', digestText(run.captureId)),
    row('Record digest', digestText(run.recordDigest.sha256)),
    factRow('model', 'Model', run.model ?? '—'),
    factRow('call', 'Call', `${record.format} · ${record.method} ${record.path} · ${run.capture}`),
    factRow('status', 'Status', status, record.response.stream ? ' · streamed' : '', record.incomplete === null ? '' : [' ', h('span', { class: 'badge fail' }, `${record.incomplete.reason}${record.incomplete.code === null ? '' : ` ${record.incomplete.code}`}`)]),
    factRow('times', 'Times (UTC)', `started ${record.times.started}, ended ${record.times.ended}`),
  );
}

/** A list longer than FOLD_OVER elements shows its first and last FOLD_END; the others FOLD_STEP at a time, on demand. */
const FOLD_OVER = 20;
const FOLD_END = 5;
const FOLD_STEP = 100;

const mismatchBadge = (part) => h('span', { class: 'badge fail', 'data-mismatch': part }, 'content does not match its digest');

/**
 * The elements of a list component: every one when the list is short; else the first and last
 * FOLD_END, and between them a fold that says how many are hidden and shows them FOLD_STEP at a
 * time, or all, when asked (a run of 5,000 messages drew a page 666,139 px tall). `mismatched`
 * names the pieces the checks found not to give their digest, marked as they are drawn.
 */
function listElements(run, content, name, entry, find, mismatched) {
  const element = (index) => {
    const digest = entry.elements[index];
    const part = `${name}[${index}]`;
    return h('div', { class: 'element', 'data-element': part, tabindex: '-1' },
      h('div', {}, h('strong', {}, part), mismatched.has(part) ? [' ', mismatchBadge(part)] : '', ' ', digestText(digest.sha256), ' · ', find(digest.sha256)),
      contentOf(run, content, digest.sha256));
  };
  const count = entry.elements.length;
  if (count <= FOLD_OVER) return entry.elements.map((_, index) => element(index));
  const last = count - FOLD_END;
  let next = FOLD_END;
  const said = h('span', {});
  const step = h('button', { type: 'button', class: 'secondary' });
  const fold = h('div', { class: 'fold', 'data-fold': name }, said, ' ', step, ' ', h('button', { type: 'button', class: 'secondary', onclick: () => show(last - next) }, 'Show them all'));
  const say = () => {
    const hidden = last - next;
    said.replaceChildren(`${hidden.toLocaleString('en-US')} element${hidden === 1 ? '' : 's'} not shown: ${name}[${next}] to ${name}[${last - 1}]`);
    step.replaceChildren(`Show the next ${Math.min(FOLD_STEP, hidden).toLocaleString('en-US')}`);
  };
  const show = (how) => {
    const end = Math.min(next + how, last);
    const shown = [];
    for (let index = next; index < end; index++) shown.push(element(index));
    fold.before(...shown);
    next = end;
    if (next >= last) fold.remove();
    else say();
    // Focus goes on to the first element shown, not back to the top of the page.
    shown[0]?.focus();
  };
  step.addEventListener('click', () => show(FOLD_STEP));
  say();
  return [...entry.elements.slice(0, FOLD_END).map((_, index) => element(index)), fold, ...entry.elements.slice(last).map((_, offset) => element(last + offset))];
}

/**
 * Whether an unidentified run's stored request bytes give the request's recorded digest and size,
 * hashed in this browser: the server answers a content row as it is stored, so a row changed in
 * the store would otherwise be shown under the digest of what was received. True when no bytes
 * are stored (there is nothing to show).
 */
function requestBytesMatch(run, content) {
  const { rawDigest, size } = run.record.request;
  const bytes = content.get(rawDigest.sha256);
  if (bytes === null || bytes === undefined) return true;
  // @noble/hashes, as the core hashes in the browser: crypto.subtle is missing from a page served over plain http but on loopback.
  const hex = Array.from(sha256(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('');
  return hex === rawDigest.sha256 && bytes.length === size;
}

/**
 * A request runprint could not identify has no components; the store keeps its bytes, the only
 * copy of what was asked: shown as text, as received (every control or reordering character
 * escaped), with why it was not identified. Bytes that do not give the recorded digest and size
 * (`mismatched` has 'request') are marked so, and not said to be what was received.
 */
function unidentifiedRequest(run, content, mismatched) {
  const { record } = run;
  const why = record.unidentified === null || record.unidentified === undefined ? 'no identity' : `${record.unidentified.code}${record.unidentified.path === null ? '' : ` at ${record.unidentified.path}`}`;
  const digest = record.request.rawDigest.sha256;
  const bytes = content.get(digest);
  let shownBytes;
  if (bytes === null || bytes === undefined) {
    shownBytes = h('div', { class: 'digest-only' }, run.contentExpired ? 'Digest only: the request passed its retention period and was deleted.' : 'Digest only: the request bytes were not kept (capture policy), so only their digest is known.');
  } else {
    try {
      shownBytes = textBlock(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      shownBytes = h('div', { class: 'digest-only' }, `${bytes.length} bytes, not UTF-8 text`);
    }
  }
  const changed = mismatched.has('request') && bytes !== null && bytes !== undefined;
  const said = changed
    ? ` The request was not identified (${why}), so it has no components. The bytes stored for it do not give its recorded digest and size, so they are not what was received:`
    : ` The request was not identified (${why}), so it has no components. What was asked, as received:`;
  const size = changed && bytes.length !== record.request.size
    ? ` · ${record.request.size.toLocaleString('en-US')} bytes recorded, ${bytes.length.toLocaleString('en-US')} stored`
    : ` · ${record.request.size.toLocaleString('en-US')} bytes`;
  return [h('p', { class: 'muted', id: 'unidentified' }, h('span', { class: 'badge unidentified', 'data-unidentified': record.unidentified?.code ?? '' }, 'not identified'), said),
    h('div', { class: 'component', id: 'request-bytes' }, h('h3', {}, 'Request bytes', h('span', { class: 'muted' }, size), changed ? [' ', mismatchBadge('request')] : ''), h('div', {}, digestText(digest)), shownBytes)];
}

function components(run, content, mismatched = new Set()) {
  const section = [h('h2', { id: 'components' }, 'Components')];
  if (run.identity === null) return [...section, ...unidentifiedRequest(run, content, mismatched)];
  for (const [name, entry] of Object.entries(run.identity.components)) {
    const component = h('div', { class: 'component', 'data-component': name });
    const find = (digest) => h('a', { href: `#/runs?component=${name}%3D${digest}`, title: `Runs whose ${name} has this digest` }, 'runs with this');
    // A salted component's digests are commitments: hashed with this run's own salt, so equal content in another run has other digests.
    const salted = entry.salted === true ? [' ', h('span', { class: 'badge reported', 'data-salted': name, title: 'a salted commitment (SPEC 5.6)' }, 'salted')] : '';
    const saltedNote = entry.salted === true ? h('p', { class: 'muted salted-note' }, 'Salted: each digest here is a commitment, computed with a random salt of this run (SPEC 5.6), so it gives nothing away of the content; the same content has other digests in another run ("runs with this" finds only this run), and only the salts open it.') : '';
    if (entry.kind === 'list') {
      component.append(h('h3', {}, name, h('span', { class: 'muted' }, ` · ${entry.count} element${entry.count === 1 ? '' : 's'}`), salted), saltedNote, h('div', { class: 'digest' }, `digest ${entry.digest.sha256} · root ${entry.root.sha256}`));
      component.append(...listElements(run, content, name, entry, find, mismatched));
    } else {
      component.append(h('h3', {}, name, salted), saltedNote, h('div', {}, digestText(entry.digest.sha256), ' · ', find(entry.digest.sha256)), contentOf(run, content, entry.digest.sha256));
    }
    section.push(component);
  }
  if (run.identity.excluded.length > 0) section.push(h('p', {}, 'Left out of identity (kept for replay): ', run.identity.excluded.join(', ')));
  return section;
}

/**
 * Declared documents as a list: each source (the caller's text, shown as text), where it was
 * found, its digest and (with `links`, where there is a run store to ask) the runs that declared it.
 */
export function documentList(documents, id, kind = '', links = true) {
  return h('ul', { class: `retrieval${kind}`, id }, documents.map((document) => h('li', {},
    h('div', {}, h('strong', { class: 'source' }, shown(document.source)), ' ', h('span', { class: 'muted' }, 'found in '), h('code', {}, `${document.component}[${document.element}]`)),
    h('div', {}, digestText(document.digest.sha256), ...(links ? [' · ', h('a', { href: `#/runs?component=retrieval%3D${document.digest.sha256}`, title: 'Runs that declared this document' }, 'runs with this')] : [])))));
}

/**
 * The documents the caller declared the run rests on (record.retrieval: runprint-retrieval or
 * withRetrieval, docs/CAPTURE.md "Declared retrieval"), and a line the verification fills in:
 * whether the receipt, verified in this browser, signs them (signedRetrieval below).
 */
function retrieval(run) {
  const documents = run.record.retrieval ?? [];
  // Nothing declared and no receipt: there is nothing to say about signing.
  const signed = run.receipt === null && documents.length === 0 ? '' : h('p', { id: 'retrieval-signed', class: 'muted' }, 'Checking what the receipt signs…');
  return [h('h2', { id: 'retrieval' }, 'Declared retrieval'),
    documents.length === 0 ? h('p', { class: 'muted', id: 'retrieval-none' }, 'None declared: the caller named no document this run rests on.') : documentList(documents, 'retrieval-list'),
    signed];
}

/** Says whether the receipt's signed runDetails.retrieval is the record's, from the receipt check run in this browser. */
function signedRetrieval(main, run, check) {
  const line = main.querySelector('#retrieval-signed');
  if (line === null) return;
  const say = (state, ...children) => {
    line.className = state === 'none' || state === 'unchecked' ? 'muted' : '';
    line.dataset.signed = state;
    line.replaceChildren(...children);
  };
  if (check.signedRetrieval === undefined) {
    return say('unchecked', h('span', { class: 'badge' }, 'not checked'), ' ', run.receipt === null ? 'This run has no receipt, so nothing signs its declared retrieval.' : 'The receipt did not verify in this browser (see the verification panel), so what it signs is not known.');
  }
  const documents = run.record.retrieval ?? [];
  const state = retrievalAgreement(documents, check.signedRetrieval ?? undefined, run.identity ?? undefined);
  // Documents in a salted component are left out of receipts by design (docs/RECEIPTS.md 13.2): their
  // source and digest would give away what the salted commitment hides.
  const salted = [...new Set(documents.filter((document) => run.identity?.components[document.component]?.salted === true).map((document) => `${document.component}[${document.element}]`))];
  const saltedWhy = (count) => `${count === 1 ? 'it is' : 'they are'} in ${salted.length === 1 ? 'a salted component' : 'salted components'} (${salted.join(', ')}), and a receipt never states a document of a salted component: its source and digest would give away what the salted commitment hides`;
  if (state === 'none') return say(state, 'The receipt, verified in this browser, declares none either.');
  if (state === 'withheld') return say(state, h('span', { class: 'badge' }, 'not in the receipt'), ` The receipt, verified in this browser, leaves ${documents.length === 1 ? 'this document' : 'these documents'} out by design: ${saltedWhy(documents.length)}. ${documents.length === 1 ? 'It rests' : 'They rest'} on the run store's word alone.`);
  if (state === 'signed') {
    const signedAll = (check.signedRetrieval ?? []).length === documents.length;
    return say(state, h('span', { class: 'badge pass' }, 'signed'), signedAll || salted.length === 0 ? ' The receipt, verified in this browser, signs exactly these documents.'
      : ` The receipt, verified in this browser, signs the documents of components that are not salted; the others are left out by design: ${saltedWhy(salted.length)}.`);
  }
  if (state === 'receipt-none') return say(state, h('span', { class: 'badge' }, 'not checked'), ' The receipt, verified in this browser, states no declared retrieval (it was signed before receipts carried declarations, or none was declared then): these documents rest on the run store\'s word alone.');
  say(state, h('span', { class: 'badge fail' }, 'differs from the record'), ' The receipt, verified in this browser, signs other documents:');
  line.after(documentList(check.signedRetrieval ?? [], 'retrieval-receipt', ' receipt'));
}

function served(run) {
  const facts = run.record.served;
  const section = [h('h2', { id: 'served' }, 'Served facts')];
  if (facts === null) return [...section, h('p', { class: 'muted' }, 'None: the response gave no served facts.')];
  const names = Object.keys(facts).sort();
  if (names.length === 0) return [...section, h('p', { class: 'muted' }, 'The response reported none.')];
  section.push(h('table', { class: 'facts' }, names.map((name) => row(name, h('code', {}, JSON.stringify(facts[name].value)), ' ', h('span', { class: `badge ${facts[name].source}`, title: facts[name].source === 'derived' ? 'computed by runprint from bytes' : 'stated by the provider' }, facts[name].source)))));
  if (run.identity?.served !== null && run.identity?.served !== undefined) section.push(h('p', { class: 'digest' }, `served digest ${run.identity.served.digest.sha256}`));
  return section;
}

function output(run, content) {
  const { record } = run;
  const section = [h('h2', { id: 'output' }, 'Output')];
  const facts = [];
  if (record.output !== null) {
    facts.push(factRow('output digest', 'Output digest', digestText(record.output.digest.sha256)), factRow('finish reason', 'Finish reason', record.output.finishReason ?? '—'));
    facts.push(factRow('usage', 'Usage', record.output.usage === null ? h('span', { class: 'muted' }, 'none reported') : h('code', {}, JSON.stringify(record.output.usage))));
  }
  if (record.response.rawDigest !== null) facts.push(factRow('response digest', 'Response bytes', `${record.response.size} bytes · `, digestText(record.response.rawDigest.sha256)));
  if (facts.length === 0) return [...section, h('p', { class: 'muted' }, 'No response arrived.')];
  section.push(h('table', { class: 'facts' }, facts));
  if (record.response.rawDigest === null) return section;
  const body = content.get(record.response.rawDigest.sha256);
  // A stream is shown as the output its events assemble (SPEC 12, as its output digest is
  // computed), its events as received behind a summary; a JSON answer as it is.
  let assembled = null;
  if (record.response.stream && body instanceof Uint8Array) {
    try {
      assembled = runOutputFrom(body, record.format).output;
    } catch {
      assembled = null;
    }
  }
  if (assembled === null) return [...section, contentOf(run, content, record.response.rawDigest.sha256, false)];
  return [...section, h('h3', { id: 'output-assembled' }, 'Output, assembled from the stream'), textBlock(JSON.stringify(assembled, null, 2), false),
    h('details', { id: 'output-stream' }, h('summary', {}, `The stream as received (${record.response.size.toLocaleString('en-US')} bytes)`), contentOf(run, content, record.response.rawDigest.sha256, false))];
}

function parents(run) {
  const list = run.record.parents;
  return [h('h2', { id: 'parents' }, 'Parents'), list.length === 0 ? h('p', { class: 'muted' }, 'None: this run names no run it follows from.') : h('ul', { class: 'family' }, list.map((id) => h('li', {}, h('a', { href: `#/run/${id}`, class: 'digest' }, id))))];
}

const CHILDREN_SHOWN = 100;

/** The runs that name this run's identity as their parent (GET /v1/runs?parent=), newest first. */
function children(run, found) {
  const section = [h('h2', { id: 'children' }, 'Children')];
  if (run.record.runId === null) return [...section, h('p', { class: 'muted' }, 'None: a run without a run identity cannot be named as a parent.')];
  if (found instanceof Error) return [...section, errorBlock(found)];
  if (found.length === 0) return [...section, h('p', { class: 'muted' }, 'None: no stored run names this run as its parent.')];
  const all = `#/runs?${new URLSearchParams({ parent: run.record.runId })}`;
  section.push(h('ul', { class: 'family' }, found.map((child) => h('li', {},
    h('a', { href: `#/run/${child.captureId}` }, `#${child.seq}`), ' ',
    h('span', { class: 'digest' }, child.record.runId === null ? 'no run identity' : short(child.record.runId, 40)), ' ',
    h('span', { class: 'muted' }, h('bdi', {}, child.model ?? '—'), ` · ${child.record.times.started.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')}`)))));
  section.push(h('p', {}, h('a', { href: all }, found.length === CHILDREN_SHOWN ? `The first ${CHILDREN_SHOWN} are shown: all children in the runs list` : 'The children in the runs list')));
  return section;
}

/** A replay's verdict (docs/REPLAY.md section 3) as a badge: identical passes, divergent and cannot-replay fail, the others differ by design. */
export function verdictBadge(verdict) {
  const tone = verdict === 'identical' ? 'pass' : verdict === 'divergent' || verdict === 'cannot-replay' ? 'fail' : 'reported';
  return h('span', { class: `badge ${tone}`, 'data-verdict': verdict, title: 'the verdict of runprint replay (docs/REPLAY.md section 3)' }, verdict);
}

const compareLink = (a, b, label) => h('a', { href: `#/compare?${new URLSearchParams({ a, b })}` }, label);

/** The run this run replays, named at the top of its page: a link to it, the verdict, and the two compared. */
function replayOfNote(run) {
  const link = run.replayOf;
  if (link === null || link === undefined) return '';
  return h('p', { id: 'replay-of', class: 'replay-note' }, 'A replay of ', h('a', { href: `#/run/${link.captureId}` }, `run #${link.seq}`),
    ' (runprint replay) · verdict ', verdictBadge(link.verdict), ' · ', compareLink(link.captureId, run.captureId, 'compare the two'));
}

/** The replays of this run (runprint replay links each to its original in the run store), oldest first. */
function replays(run) {
  const section = [h('h2', { id: 'replays' }, 'Replays')];
  if ((run.replays ?? []).length === 0) return [...section, h('p', { class: 'muted' }, 'None: runprint replay has not replayed this run on this store.')];
  section.push(h('ul', { class: 'family', id: 'replay-list' }, run.replays.map((replay) => h('li', { 'data-replay': replay.captureId },
    h('a', { href: `#/run/${replay.captureId}` }, `#${replay.seq}`), ' ', verdictBadge(replay.verdict), ' ',
    h('span', { class: 'digest' }, replay.captureId), ' · ', compareLink(run.captureId, replay.captureId, 'compare with this run')))));
  return section;
}

function receiptSection(run, receipt) {
  const section = [h('h2', { id: 'receipt' }, 'Receipt')];
  if (run.receipt === null) return [...section, h('p', { class: 'muted' }, 'None for this run (see the verification panel for why).')];
  if (receipt instanceof Error) return [...section, errorBlock(receipt)];
  // A receipt with no log index has no tlog-proof to offer: why it has none is said instead.
  const logIndex = run.receipt.logIndex;
  section.push(h('p', { id: 'receipt-links' }, logIndex === null ? '' : `Log index ${logIndex} · `,
    downloadLink(`/v1/runs/${run.captureId}/receipt`, `${run.captureId}.receipt.json`, 'download'),
    logIndex === null ? '' : [' · ', downloadLink(`/v1/runs/${run.captureId}/tlog-proof`, `${run.captureId}.tlog-proof`, 'tlog-proof')]));
  if (logIndex === null) {
    section.push(h('p', { class: 'muted', id: 'receipt-unlogged' }, receipt.length > MAX_ENTRY_SIZE
      ? `Not in a log, and never will be: this receipt (${receipt.length.toLocaleString('en-US')} bytes) is longer than a log entry can be (${MAX_ENTRY_SIZE.toLocaleString('en-US')} bytes, ERR_LOG_ENTRY_TOO_LARGE), so no log holds it; it verifies with the receipt key alone.`
      : 'Not in a log yet, so no tlog-proof: see the verification panel for why.'));
  }
  const envelopeText = text.decode(receipt);
  try {
    const statement = new TextDecoder().decode(Uint8Array.from(atob(JSON.parse(envelopeText).payload), (c) => c.charCodeAt(0)));
    section.push(h('h3', {}, 'Statement (the signed payload, decoded)'), textBlock(pretty(statement)));
  } catch {
    section.push(h('p', { class: 'muted' }, 'The payload cannot be decoded (see the verification panel).'));
  }
  section.push(h('details', {}, h('summary', {}, 'The envelope as stored'), h('pre', {}, envelopeText)));
  return section;
}

/** Where each fact signedFactsDiffer compares is shown on the run page (views.js). */
const FACT_PLACES = {
  model: '[data-fact="model"] td', capture: '[data-fact="call"] td', format: '[data-fact="call"] td', 'request identity': '[data-fact="request identity"] td',
  started: '[data-fact="times"] td', ended: '[data-fact="times"] td', stream: '[data-fact="status"] td',
  'output digest': '[data-fact="output digest"] td', 'finish reason': '[data-fact="finish reason"] td', usage: '[data-fact="usage"] td', 'response digest': '[data-fact="response digest"] td',
  parents: '#parents + *', 'served facts': '#served', 'served digest': '#served',
};

/**
 * Marks each fact the page shows that the verified receipt does not sign as shown, where it is
 * shown, with what the receipt signs instead: the run store was changed after signing.
 */
function markUnsigned(main, differs) {
  for (const { fact, signed } of differs) {
    const component = /^([a-z]+)(?:\[(\d+)\])? digest$/.exec(fact);
    const place = FACT_PLACES[fact] !== undefined ? main.querySelector(FACT_PLACES[fact])
      : component === null ? null : main.querySelector(`[data-element="${component[1]}[${component[2]}]"] strong`) ?? main.querySelector(`[data-component="${component[1]}"] h3`);
    const mark = h('span', { class: 'badge fail unsigned', 'data-unsigned': fact }, `${fact}: the receipt signs ${Array.isArray(signed) && signed.length === 0 ? 'none' : factText(signed)}`);
    if (place === null) continue;
    if (place.tagName === 'H2' || place.tagName === 'UL' || place.tagName === 'P') place.after(h('p', {}, mark));
    else place.append(' ', mark);
  }
}

/** The rows of the identities table whose facts a receipt signs and the run store also keeps in a column of its own. */
const STORE_FACTS = ['model', 'call', 'times'];

/**
 * With no receipt verified here to compare them with (none, or it did not verify), the facts a
 * receipt would sign are the run store's word: marked "not checked" where shown, as the declared
 * retrieval is, and said once under the identities.
 */
function markUnchecked(main, run) {
  for (const fact of STORE_FACTS) {
    main.querySelector(`#identities [data-fact="${fact}"] td`)?.append(' ', h('span', { class: 'badge', 'data-unchecked': fact, title: 'the run store\'s word alone: no receipt verified in this browser signs it' }, 'not checked'));
  }
  const facts = 'the model, capture point, parents, times and output facts shown';
  const why = run.receipt === null ? `This run has no receipt, so nothing signs ${facts}` : `The receipt was not verified in this browser (see the verification panel), so ${facts} are not compared with what it signs`;
  main.querySelector('#identities')?.after(h('p', { class: 'muted', id: 'facts-unchecked' }, h('span', { class: 'badge' }, 'not checked'), ` ${why}: they are the run store's word alone.`));
}

/** The verification panel: each check passing, failing or not run, with its steps and what it relies on. */
export function renderChecks(panel, checks) {
  const failed = checks.filter((check) => check.state === 'fail');
  const passed = checks.filter((check) => check.state === 'pass');
  const verdict = failed.length > 0 ? 'fail' : passed.length > 0 ? 'pass' : 'none';
  panel.replaceChildren(
    h('h2', { id: 'verification-title' }, 'Verification in this browser'),
    h('p', { class: `summary ${verdict}`, role: 'status' },
      verdict === 'fail' ? `Failed: ${failed.map((check) => check.title).join('; ')}`
        : verdict === 'none' ? 'No check could run: nothing here is verified'
          : `${passed.length} of ${checks.length} checks passed${passed.length < checks.length ? ' (the others could not run)' : ''}`),
    ...checks.map((check) => h('div', { class: `check ${check.state}`, id: `check-${check.id}`, 'data-state': check.state },
      h('div', { class: 'head' }, h('span', { class: 'state' }, { pass: 'PASS', fail: 'FAIL', skip: 'NOT CHECKED' }[check.state]), h('strong', {}, check.title)),
      h('p', { class: 'detail' }, check.detail),
      check.steps.length === 0 ? '' : h('ul', {}, check.steps.map((step) => h('li', { class: step.ok ? 'pass' : 'fail', 'data-step': step.name ?? '' }, step.ok ? '✓ ' : '✗ ', step.label, step.ok || step.detail === '' ? '' : ` — ${step.detail}`))),
      h('p', { class: 'relies' }, `Relies on: ${check.reliesOn}.`))),
  );
  panel.dataset.done = verdict;
}

/** A link back to the runs list, under an error that leaves nothing else on the page. */
export const backToRuns = () => h('p', { class: 'back' }, h('a', { href: '#/runs' }, '← Back to the runs'));

export async function runPage(main, id) {
  let runs;
  try {
    ({ runs } = await api(`/v1/runs/${encodeURIComponent(id)}`));
  } catch (error) {
    // The page says what it is (its heading is the tab's title) and where to go from here.
    const heading = error.code === 'ERR_RUN_NOT_FOUND' ? 'Run not found' : error.status === 400 ? 'Not a run id' : 'Run not shown';
    main.append(h('h1', {}, heading), errorBlock(error), backToRuns());
    return;
  }
  const run = runs[runs.length - 1];
  main.append(h('h1', {}, run.record.runId === null ? 'Run (no run identity)' : `Run ${short(run.record.runId, 40)}`),
    h('p', {}, h('a', { href: `#/compare?a=${run.captureId}` }, 'Compare with another run')), replayOfNote(run));
  if ((run.replays ?? []).length > 0) {
    main.append(h('p', { id: 'replayed', class: 'replay-note' }, `Replayed ${run.replays.length} time${run.replays.length === 1 ? '' : 's'}: `,
      run.replays.map((replay, index) => [index > 0 ? ', ' : '', h('a', { href: `#/run/${replay.captureId}` }, `#${replay.seq}`), ' ', verdictBadge(replay.verdict)]),
      ' (see Replays below)'));
  }
  if (runs.length > 1) {
    main.append(h('p', {}, `This run identity was captured ${runs.length} times; the latest is shown. Captures: `,
      runs.map((capture, index) => [index > 0 ? ', ' : '', h('a', { href: `#/run/${capture.captureId}` }, `#${capture.seq}`)])));
  }
  // What is read is said as it is read: a run of thousands of pieces the store cannot give in one
  // composition takes a while.
  const loading = h('p', { class: 'muted', id: 'loading', role: 'status' }, 'Reading the run\'s stored content…');
  main.append(loading);
  const [content, receipt, childRuns] = await Promise.all([
    loadContent(run, (read, all) => loading.replaceChildren(`Reading the run's stored content: ${read.toLocaleString('en-US')} of ${all.toLocaleString('en-US')} pieces…`)),
    run.receipt === null ? null : api(`/v1/runs/${encodeURIComponent(run.captureId)}/receipt`, 'bytes').catch((error) => error),
    run.record.runId === null ? [] : api(`/v1/runs?${new URLSearchParams({ parent: run.record.runId, limit: String(CHILDREN_SHOWN) })}`).then((answer) => answer.runs, (error) => error),
  ]);
  const panel = h('section', { class: 'verification', id: 'verification', 'aria-labelledby': 'verification-title', 'aria-live': 'polite' },
    h('h2', { id: 'verification-title' }, 'Verification in this browser'), h('p', { class: 'muted' }, 'Checking…'));
  loading.remove();
  const mismatched = new Set();
  if (run.identity === null && !requestBytesMatch(run, content)) mismatched.add('request');
  main.append(identities(run), panel, ...components(run, content, mismatched), ...retrieval(run), ...served(run), ...output(run, content), ...agentGraph(run), ...parents(run), ...children(run, childRuns), ...replays(run), ...receiptSection(run, receipt));
  const checks = await verifyRun(run, content, receipt);
  renderChecks(panel, checks);
  signedRetrieval(main, run, checks[1]);
  if (checks[1].signedFacts === undefined) markUnchecked(main, run);
  else markUnsigned(main, checks[1].signedFacts);
  // The parts whose stored content does not give their digest are marked where they are shown.
  for (const part of checks[0].differing ?? []) {
    mismatched.add(part);
    const [, name, index] = /^([a-z]+)(?:\[(\d+)\])?$/.exec(part) ?? [];
    const shown = main.querySelector(index === undefined ? `[data-component="${name}"] h3` : `[data-element="${name}[${index}]"] strong`);
    // A folded element is marked on its fold, and again when it is shown.
    if (shown === null && index !== undefined) main.querySelector(`[data-fold="${name}"]`)?.append(' ', h('span', { class: 'badge fail', 'data-mismatch-hidden': part }, `${part} does not match its digest`));
    shown?.after(' ', mismatchBadge(part));
  }
}
