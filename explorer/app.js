// The runprint explorer: hash routes (#/runs?..., #/run/ID, #/compare?a&b, #/log, #/verify, #/keys),
// each a shareable URL.
// Everything shown comes from this server's run store and log routes; what can be checked is
// checked in this browser with runprint's core (verify.js). No request leaves this origin.
import { MAX_ENTRY_SIZE, parseCosignerKey, parseNoteVerifier } from 'runprint/log';
import { parsePublicKey } from 'runprint/receipt';
import { api, errorBlock, h, pinnedKeys, short } from './common.js';
import { comparePage } from './compare.js';
import { logPage } from './log-page.js';
import { verifyPage } from './verify-page.js';
import { backToRuns, runPage } from './views.js';

// The filters of GET /v1/runs: a text field, or a choice among the values the server takes.
const FILTERS = [
  ['since', 'Since (RFC 3339, UTC)', 'e.g. 2026-12-05T00:00:00Z'],
  ['until', 'Until (RFC 3339, UTC)', 'e.g. 2026-12-06T00:00:00Z'],
  ['model', 'Requested model', 'e.g. gpt-4o'],
  ['servedModel', 'Served model', 'e.g. gpt-4o-2024-08-06'],
  ['provider', 'Provider', ['openai', 'anthropic']],
  ['status', 'Status', ['complete', 'incomplete', 'failed', 'unidentified']],
  ['parent', 'Parent (run identity)', 'e.g. rp-run-… (its children)'],
  // The runs `runprint replay` replayed with that verdict (not the replays themselves).
  ['verdict', 'Replayed, verdict', ['identical', 'same-request-other-server', 'divergent', 'variant', 'cannot-replay']],
  ['component', 'Component digest', '[NAME=]DIGEST'],
];

const WIDE_FILTERS = ['since', 'until', 'servedModel', 'parent', 'component'];

function filterField([name, label, example], params) {
  const value = params.get(name) ?? '';
  // Digests, identities, times and dated model names are long: on a phone their fields take the
  // whole width, so that the example each shows is not cut.
  if (!Array.isArray(example)) return h('label', { class: WIDE_FILTERS.includes(name) ? 'wide' : undefined }, label, h('input', { name, value, placeholder: example, spellcheck: 'false' }));
  const choices = example.includes(value) || value === '' ? example : [...example, value];
  return h('label', {}, label, h('select', { name }, h('option', { value: '' }, 'any'), choices.map((choice) => h('option', { value: choice, selected: choice === value }, choice))));
}

/** The runs page's link with `params` and one filter set (`value` null: removed); paging starts again. */
function filterLink(params, name, value) {
  const next = new URLSearchParams(params);
  next.delete('before');
  if (value === null) next.delete(name);
  else next.set(name, value);
  return `#/runs${next.size > 0 ? `?${next}` : ''}`;
}

/** How many groups of each count list show before "Show all". */
const COUNT_ROWS = 8;

/** The counts of every run the filters select (GET /v1/runs/counts), each model a link that filters by it. */
async function countsOf(section, params) {
  const query = new URLSearchParams();
  for (const [name] of FILTERS) if (params.has(name)) query.set(name, params.get(name));
  let counts;
  try {
    counts = await api(`/v1/runs/counts${query.size > 0 ? `?${query}` : ''}`);
  } catch (error) {
    section.replaceChildren(errorBlock(error));
    return;
  }
  const n = (count) => count.toLocaleString('en-US');
  // Every row shown whole (a scroll box of a fixed height cut its last row in half): the first
  // COUNT_ROWS, and a button for the others.
  const groups = (title, list, name, key, none) => {
    const rows = h('ul', {}, list.map((group, index) => h('li', { hidden: index >= COUNT_ROWS },
      group[key] === null ? h('span', { class: 'muted' }, none) : params.get(name) === group[key] ? h('strong', {}, group[key]) : h('a', { href: filterLink(params, name, group[key]) }, group[key]),
      ' ', h('span', { class: 'count' }, n(group.runs)))));
    const more = list.length <= COUNT_ROWS ? '' : h('button', { type: 'button', class: 'link', onclick: (event) => {
      for (const item of rows.children) item.hidden = false;
      event.currentTarget.remove();
      // Focus goes on to the first row it showed, not back to the top of the page.
      const first = rows.children[COUNT_ROWS];
      if (first.querySelector('a') === null) first.setAttribute('tabindex', '-1');
      (first.querySelector('a') ?? first).focus();
    } }, `Show all ${list.length}`);
    return h('div', { class: 'count-group' }, h('h3', {}, title), list.length === 0 ? h('p', { class: 'muted' }, 'none') : [rows, more]);
  };
  section.replaceChildren(
    h('p', { class: 'totals' }, h('strong', { 'data-count': 'runs' }, n(counts.runs)), ` run${counts.runs === 1 ? '' : 's'} · `,
      h('strong', { 'data-count': 'requestIdentities' }, n(counts.requestIdentities)), ' distinct request identities · ',
      h('strong', { 'data-count': 'runIdentities' }, n(counts.runIdentities)), ' distinct run identities'),
    h('div', { class: 'count-groups' },
      groups('Requested model', counts.models, 'model', 'model', 'not identified'),
      groups('Served model', counts.servedModels, 'servedModel', 'servedModel', 'none reported')),
  );
  section.dataset.ready = '';
}

/** #/runs?since&until&model&servedModel&provider&status&parent&verdict&component&limit&before: the newest runs first, a page at a time. */
async function runsPage(main, params) {
  const limit = params.get('limit') ?? '25';
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    FILTERS.map((filter) => filterField(filter, params)),
    h('label', {}, 'Per page', h('select', { name: 'limit' }, [...new Set(['10', '25', '50', '100', limit])].map((n) => h('option', { value: n, selected: n === limit }, n)))),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter'), h('a', { href: '#/runs', class: 'clear' }, 'Clear')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (String(value).trim() !== '' && !(name === 'limit' && value === '25')) next.set(name, String(value).trim());
    location.hash = `#/runs${next.size > 0 ? `?${next}` : ''}`;
  });
  const counts = h('section', { class: 'counts', id: 'counts', 'aria-label': 'Counts of the runs these filters select', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Counting…'));
  main.append(h('h1', {}, 'Runs'), form);
  const query = new URLSearchParams(params);
  query.set('limit', limit);
  let runs;
  try {
    ({ runs } = await api(`/v1/runs?${query}`));
    main.append(counts);
    void countsOf(counts, params);
  } catch (error) {
    main.append(error.code === 'ERR_HTTP_NOT_FOUND' ? h('p', { class: 'error', role: 'alert', id: 'no-capture' }, 'This server does not capture runs (it was started with --no-capture, or capture is off on its address without --capture-token): there is no run store to show. The Log and Verify pages still work.') : errorBlock(error));
    return;
  }
  const filtered = FILTERS.some(([name]) => params.has(name));
  if (runs.length === 0) {
    main.append(h('p', { class: 'muted', id: 'empty' }, params.has('before') ? 'No older runs.' : filtered ? 'No run matches these filters.' : 'No runs captured yet: point a client at this server\'s /openai/v1 or /anthropic base URL.'));
  } else {
    const compare = h('button', { type: 'button', class: 'secondary', id: 'compare', disabled: true }, 'Compare the two ticked runs');
    const table = h('table', { class: 'runs' },
      h('thead', {}, h('tr', {}, ['', '#', 'Started (UTC)', 'Model → served', 'Status', 'Run identity', 'Receipt'].map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, runs.map(runRow)),
    );
    const ticked = () => [...table.querySelectorAll('input[name="pick"]:checked')].map((box) => box.value);
    table.addEventListener('change', () => void (compare.disabled = ticked().length !== 2));
    compare.addEventListener('click', () => {
      const [a, b] = ticked();
      location.hash = `#/compare?${new URLSearchParams({ a, b })}`;
    });
    main.append(table, h('div', { class: 'actions' }, compare));
  }
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of runs' });
  if (params.has('before')) {
    const newest = new URLSearchParams(params);
    newest.delete('before');
    pager.append(h('a', { href: `#/runs${newest.size > 0 ? `?${newest}` : ''}`, rel: 'first' }, '« Newest'));
  }
  if (runs.length === Number(limit)) {
    const older = new URLSearchParams(params);
    older.set('before', String(runs[runs.length - 1].seq));
    pager.append(h('a', { href: `#/runs?${older}`, rel: 'next' }, 'Older runs »'));
  }
  main.append(pager);
}

/** The mark of a run whose request could not be identified (no request or run identity), its error code in its title. */
function unidentifiedBadge(record) {
  if (record.unidentified === null || record.unidentified === undefined) return '';
  const { code, path } = record.unidentified;
  return [' ', h('span', { class: 'badge unidentified', 'data-unidentified': code, title: `Not identified: ${code}${path === null ? '' : ` at ${path}`}, so the run has no request or run identity` }, 'not identified')];
}

/** How many characters of a model name the runs list shows before "show all". */
const MODEL_SHOWN = 60;

/**
 * A model name as the runs list shows it: whole when short, else cut, with the whole name in its
 * title and a button that shows it (a name of hundreds of characters made the list thousands of
 * pixels wide).
 */
function modelName(name) {
  if ([...name].length <= MODEL_SHOWN) return h('bdi', {}, name);
  const whole = h('bdi', { 'data-full': '' }, name);
  const holder = h('span', { class: 'long-name', title: name }, h('bdi', {}, short(name, MODEL_SHOWN)), ' ',
    h('button', { type: 'button', class: 'link', 'aria-label': 'Show the whole model name', onclick: () => holder.replaceChildren(whole) }, 'show all'));
  return holder;
}

function runRow(run) {
  const { record } = run;
  const served = record.served?.model?.value;
  const status = record.incomplete === null ? String(record.response.status) : `${record.response.status ?? '—'} ${record.incomplete.reason}`;
  return h('tr', { 'data-seq': run.seq },
    h('td', { class: 'pick' }, h('input', { type: 'checkbox', name: 'pick', value: run.captureId, 'aria-label': `Tick run ${run.seq} to compare` })),
    h('td', { 'data-label': '#' }, h('a', { href: `#/run/${run.captureId}` }, String(run.seq)),
      run.replayOf == null ? '' : [' ', h('a', { href: `#/run/${run.replayOf.captureId}`, class: 'badge replay', 'data-replay-of': run.replayOf.seq, title: `A replay of run ${run.replayOf.seq}, verdict ${run.replayOf.verdict}` }, `replay of #${run.replayOf.seq}`)],
      (run.replays ?? []).length === 0 ? '' : [' ', h('span', { class: 'muted', 'data-replays': run.replays.length }, `replayed ${run.replays.length}×`)]),
    h('td', { 'data-label': 'Started' }, record.times.started.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')),
    h('td', { 'data-label': 'Model', class: 'model' }, modelName(run.model ?? '—'), typeof served === 'string' && served !== run.model ? h('span', { class: 'muted' }, ' → ', modelName(served)) : ''),
    h('td', { 'data-label': 'Status' }, record.incomplete === null ? status : h('span', { class: 'badge fail' }, status), unidentifiedBadge(record)),
    h('td', { 'data-label': 'Run', class: 'digest' }, record.runId === null ? h('span', { class: 'muted' }, 'none') : h('a', { href: `#/run/${run.captureId}` }, short(record.runId, 34))),
    h('td', { 'data-label': 'Receipt' }, receiptCell(run.receipt)),
  );
}

/**
 * The runs list's receipt cell: its log index, or why it has none. A receipt longer than a log
 * entry can be is in no log for good; one without a log index otherwise may wait to be appended
 * (or serve keeps no log): its page says which.
 */
function receiptCell(receipt) {
  if (receipt === null) return h('span', { class: 'muted' }, '—');
  if (receipt.logIndex !== null) return `log #${receipt.logIndex}`;
  if (receipt.size > MAX_ENTRY_SIZE) {
    return h('span', { class: 'muted', 'data-unlogged': 'too-large', title: `The receipt (${receipt.size.toLocaleString('en-US')} bytes) is longer than a log entry can be (${MAX_ENTRY_SIZE.toLocaleString('en-US')} bytes): no log holds it (ERR_LOG_ENTRY_TOO_LARGE). It verifies with the receipt key alone.` }, 'signed, too large for a log');
  }
  return h('span', { class: 'muted', 'data-unlogged': 'not-yet', title: 'Signed, with no log index: not appended to a log yet, or this server keeps no log (the run\'s page says which).' }, 'signed, not in a log');
}

/** #/keys: keys pinned in this browser, so that the checks do not rely on what this server says its keys are. */
function keysPage(main) {
  const pinned = pinnedKeys();
  const receipt = h('textarea', { rows: 4, name: 'receipt', placeholder: 'a PEM block (-----BEGIN PUBLIC KEY-----), a JWK ({"kty":"OKP","crv":"Ed25519","x":"…"}) or a signed-note verifier key (name+hash+base64)' }, pinned.receipt ?? '');
  const log = h('textarea', { rows: 2, name: 'log', placeholder: 'name+hash+base64' }, pinned.log ?? '');
  const witnesses = h('textarea', { rows: 3, name: 'witnesses', placeholder: 'one witness cosigner key per line: name+hash+base64' }, pinned.witnesses.join('\n'));
  const threshold = h('input', { type: 'number', name: 'threshold', min: 1, value: String(Math.max(pinned.threshold, 1)) });
  const saved = h('div', { role: 'status', class: 'muted', id: 'keys-saved' });
  const fields = [
    ['runprint-receipt-key', receipt, 'Receipt public key'],
    ['runprint-log-key', log, 'Log verifier key'],
    ['runprint-witness-keys', witnesses, 'Witness keys'],
    ['runprint-witness-threshold', threshold, 'How many witnesses at least'],
  ];
  const save = async (event) => {
    event.preventDefault();
    // Each key is read as the checks read it (verify.js, log-page.js): one they cannot use is
    // refused here, naming what is wrong, and nothing is saved (the fields keep what was typed).
    const problems = await keyProblems(receipt.value.trim(), log.value.trim(), witnesses.value, threshold.value.trim());
    for (const [, area, label] of fields) {
      const mine = problems.filter((problem) => problem.field.startsWith(label));
      if (mine.length > 0) area.setAttribute('aria-invalid', 'true');
      else area.removeAttribute('aria-invalid');
    }
    if (problems.length > 0) {
      saved.className = 'error';
      saved.setAttribute('role', 'alert');
      saved.dataset.code = problems[0].code;
      saved.replaceChildren(h('strong', {}, `Not saved (${problems[0].code})`), `: ${problems.length === 1 ? 'this key cannot be used' : `${problems.length} entries cannot be used`}; nothing was saved, and the keys pinned before stay pinned.`,
        h('ul', { id: 'key-problems' }, problems.map((problem) => h('li', { 'data-field': problem.field, 'data-code': problem.code }, h('strong', {}, problem.field), `: ${problem.message} (${problem.code})`))));
      return;
    }
    for (const [name, area] of fields) {
      if (area.value.trim() === '') localStorage.removeItem(name);
      else localStorage.setItem(name, area.value.trim());
    }
    saved.className = 'muted';
    saved.setAttribute('role', 'status');
    delete saved.dataset.code;
    saved.textContent = 'Saved in this browser.';
  };
  main.append(
    h('h1', {}, 'Keys'),
    h('p', {}, 'The verification panel checks receipts with the receipt key and log proofs with the log key. By default it takes them from this server (/v1/receipt-key, /v1/log/key); a key pinned here, obtained another way, is used instead, so a server that swapped its keys is caught. Pinning the keys the server gives now trusts them once, on first use, and catches any later change.'),
    h('form', { class: 'stack', onsubmit: save },
      h('label', {}, 'Receipt public key (PEM, JWK or signed-note verifier key)', receipt),
      h('label', {}, 'Log verifier key (signed-note)', log),
      h('label', {}, 'Witnesses that must cosign the log\'s checkpoints (C2SP tlog-cosignature keys)', witnesses),
      h('label', {}, 'How many of them at least', threshold),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'secondary', id: 'pin-served', onclick: pinServed }, 'Pin the keys this server gives now')), saved),
  );

  /**
   * Trust on first use: the keys the server publishes today, pinned, so a later change of them is
   * caught. Read from the server now (never a copy the browser kept): a server that does not
   * answer pins nothing, and says so.
   */
  async function pinServed(event) {
    try {
      const [receiptKey, logKey] = await Promise.all([api('/v1/receipt-key', 'json', 'no-cache').catch((error) => (error.code === 'ERR_HTTP_NOT_FOUND' ? null : Promise.reject(error))), api('/v1/log/key', 'text', 'no-cache')]);
      if (receiptKey !== null) receipt.value = receiptKey.publicKey;
      log.value = logKey.trim();
      await save(event);
      if (saved.dataset.code === undefined) {
        saved.append(` Pinned what this server gave just now: ${receiptKey === null ? 'no receipt key (it captures no runs)' : `the receipt key ${receiptKey.keyId.slice(0, 16)}…`} and the log key ${log.value.split('+').slice(0, 2).join('+')}.`);
      }
    } catch (error) {
      saved.className = '';
      saved.setAttribute('role', 'alert');
      saved.replaceChildren(errorBlock(error), h('p', {}, 'Nothing was pinned: the keys pinned before, if any, stay pinned.'));
    }
  }
}

/**
 * What is wrong with the keys of the Keys form, read with the parsers the checks use: the receipt
 * key as parsePublicKey reads it (PEM, JWK or signed-note verifier key), the log key as
 * parseNoteVerifier, each witness line as parseCosignerKey; the threshold a whole number from 1 to
 * the witness keys given (ERR_WITNESS_THRESHOLD_INVALID: it is no key). Empty: all can be used.
 */
async function keyProblems(receipt, log, witnessText, threshold) {
  const problems = [];
  const read = async (field, parse, text) => {
    try {
      await parse(text);
    } catch (error) {
      problems.push({ field, code: error.code ?? 'ERR_KEY_INVALID', message: error.message });
    }
  };
  if (receipt !== '') await read('Receipt public key', parsePublicKey, receipt);
  if (log !== '') await read('Log verifier key', parseNoteVerifier, log);
  const lines = witnessText.split('\n').map((line, index) => [line.trim(), index + 1]).filter(([line]) => line !== '');
  for (const [line, number] of lines) await read(`Witness keys, line ${number}`, parseCosignerKey, line);
  if (lines.length > 0 && !(/^[0-9]+$/.test(threshold) && Number(threshold) >= 1 && Number(threshold) <= lines.length)) {
    problems.push({ field: 'How many witnesses at least', code: 'ERR_WITNESS_THRESHOLD_INVALID', message: `"${threshold}" is not a whole number from 1 to ${lines.length} (the witness keys given), so no checkpoint could meet it` });
  }
  return problems;
}

/** Renders the page the hash names. */
async function route() {
  // Each render gets a main of its own: a render still waiting on the network when the hash
  // changes again (a run page's checks) then writes into a main that is out of the page, and
  // cannot add its content, title or data-ready to the newer render's.
  const old = document.getElementById('main');
  const main = old.cloneNode(false);
  main.removeAttribute('data-ready');
  old.replaceWith(main);
  const rendering = location.hash;
  const hash = location.hash.replace(/^#/, '') || '/runs';
  const [path, search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  const page = path.split('/')[1] ?? 'runs';
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === page || (page === 'run' && link.dataset.page === 'runs')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  try {
    if (page === 'runs') await runsPage(main, params);
    else if (page === 'run' && path.split('/')[2]) await runPage(main, decodeURIComponent(path.split('/')[2]));
    else if (page === 'compare') await comparePage(main, params);
    else if (page === 'log') await logPage(main);
    else if (page === 'verify') verifyPage(main);
    else if (page === 'keys') keysPage(main);
    else main.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/runs' }, 'Back to the runs')));
  } catch (error) {
    // A page that failed before its heading still has one, and a way back.
    if (main.querySelector('h1') === null) main.prepend(h('h1', {}, 'Page not shown'));
    main.append(errorBlock(error), backToRuns());
  }
  // Which location this render is of: a page that changes its hash can wait for the new render.
  main.setAttribute('data-ready', rendering);
  if (!main.isConnected) return undefined;
  document.title = `${main.querySelector('h1')?.textContent ?? 'runprint'} · runprint explorer`;
  return main;
}

window.addEventListener('hashchange', () => {
  void route().then((main) => main?.focus({ preventScroll: true }));
});
void route();
