// The compare page (#/compare?a=ID&b=ID): two runs side by side, component by component and
// element by element, by the digests the store holds; values are shown only where they are stored.
import { api, errorBlock, h } from './common.js';

const FOLD = 12;

/** The latest capture an id names, or the error the store answered. */
async function load(id) {
  const { runs } = await api(`/v1/runs/${encodeURIComponent(id)}`);
  return runs[runs.length - 1];
}

async function contentText(digest) {
  try {
    const text = new TextDecoder().decode(await api(`/v1/content/${digest}`, 'bytes'));
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  } catch (error) {
    if (error.code === 'ERR_CONTENT_NOT_FOUND') return null;
    throw error;
  }
}

/** One side's value: its stored content, or a statement that only its digest is kept. */
async function side(digest, label) {
  if (digest === undefined) return h('div', { class: 'digest-only' }, `${label}: not present`);
  const text = await contentText(digest);
  const value = text === null ? h('div', { class: 'digest-only' }, 'Digest only: the content was not kept.') : h('pre', {}, text.split('\n').length > FOLD ? h('details', {}, h('summary', {}, 'Show'), text) : text);
  return h('div', {}, h('div', { class: 'digest' }, `${label} ${digest}`), value);
}

const equalBadge = (equal) => h('span', { class: `badge ${equal ? 'derived' : 'fail'}` }, equal ? 'equal' : 'differs');

/**
 * Whether two salted parts hold the same content: their digests differ by their salts (SPEC 5.6),
 * so the stored content is compared instead; undefined when either side's content is not kept.
 */
async function sameContent(x, y) {
  if (x === undefined || y === undefined) return false;
  const [left, right] = await Promise.all([contentText(x), contentText(y)]);
  return left === null || right === null ? undefined : left === right;
}

const SALTED_NOTE = 'Salted: each run commits to its content with its own salt, so the digests differ; the content the store keeps is compared.';

async function componentRows(a, b) {
  const rows = [];
  const names = Object.keys(a.identity?.components ?? b.identity?.components ?? {});
  for (const name of names) {
    const left = a.identity?.components[name];
    const right = b.identity?.components[name];
    const salted = left?.salted === true || right?.salted === true;
    if (salted && left !== undefined && right !== undefined) {
      rows.push(await saltedRow(name, left, right));
      continue;
    }
    const equal = left !== undefined && right !== undefined && left.digest.sha256 === right.digest.sha256;
    const block = h('div', { class: 'compare-part', 'data-component': name, 'data-equal': String(equal) }, h('h3', {}, name, ' ', equalBadge(equal)));
    if (equal) {
      block.append(h('div', { class: 'digest' }, left.digest.sha256));
    } else if (left?.kind === 'list' || right?.kind === 'list') {
      const count = Math.max(left?.elements.length ?? 0, right?.elements.length ?? 0);
      block.append(h('p', { class: 'muted' }, `${left?.elements.length ?? 0} element(s) in A, ${right?.elements.length ?? 0} in B`));
      for (let index = 0; index < count; index++) {
        const x = left?.elements[index]?.sha256;
        const y = right?.elements[index]?.sha256;
        const same = x !== undefined && x === y;
        const element = h('div', { class: 'element', 'data-element': `${name}[${index}]`, 'data-equal': String(same) }, h('div', {}, h('strong', {}, `${name}[${index}]`), ' ', equalBadge(same)));
        element.append(same ? h('div', { class: 'digest' }, x) : h('div', { class: 'pair' }, await side(x, 'A'), await side(y, 'B')));
        block.append(element);
      }
    } else {
      block.append(h('div', { class: 'pair' }, await side(left?.digest.sha256, 'A'), await side(right?.digest.sha256, 'B')));
    }
    rows.push(block);
  }
  return rows;
}

const contentBadge = (same) => (same === undefined ? h('span', { class: 'badge' }, 'not comparable: content not kept') : equalBadge(same));

/** A salted component of both runs, compared by the content the store keeps (element by element for a list). */
async function saltedRow(name, left, right) {
  const block = h('div', { class: 'compare-part', 'data-component': name, 'data-salted': 'true' });
  if (left.kind === 'list' || right.kind === 'list') {
    const count = Math.max(left.elements?.length ?? 0, right.elements?.length ?? 0);
    let all = (left.elements?.length ?? 0) === (right.elements?.length ?? 0);
    const elements = [];
    for (let index = 0; index < count; index++) {
      const x = left.elements?.[index]?.sha256;
      const y = right.elements?.[index]?.sha256;
      const same = await sameContent(x, y);
      if (same === false) all = false;
      else if (same === undefined && all !== false) all = undefined;
      elements.push(h('div', { class: 'element', 'data-element': `${name}[${index}]`, 'data-equal': String(same) }, h('div', {}, h('strong', {}, `${name}[${index}]`), ' ', contentBadge(same)),
        same === true ? h('div', {}, h('div', { class: 'digest' }, `A ${x}`), h('div', { class: 'digest' }, `B ${y}`)) : h('div', { class: 'pair' }, await side(x, 'A'), await side(y, 'B'))));
    }
    block.dataset.equal = String(all);
    block.append(h('h3', {}, name, ' ', contentBadge(all)), h('p', { class: 'muted' }, SALTED_NOTE), ...elements);
    return block;
  }
  const same = await sameContent(left.digest.sha256, right.digest.sha256);
  block.dataset.equal = String(same);
  block.append(h('h3', {}, name, ' ', contentBadge(same)), h('p', { class: 'muted' }, SALTED_NOTE), h('div', { class: 'pair' }, await side(left.digest.sha256, 'A'), await side(right.digest.sha256, 'B')));
  return block;
}

function factsTable(a, b) {
  const facts = (run) => run.record.served ?? {};
  const names = [...new Set([...Object.keys(facts(a)), ...Object.keys(facts(b))])].sort();
  if (names.length === 0) return h('p', { class: 'muted' }, 'Neither run has served facts.');
  const value = (fact) => (fact === undefined ? '—' : `${JSON.stringify(fact.value)} (${fact.source})`);
  return h('table', { class: 'facts compare' }, h('thead', {}, h('tr', {}, h('th', {}, 'fact'), h('th', {}, 'A'), h('th', {}, 'B'))),
    h('tbody', {}, names.map((name) => {
      const [x, y] = [value(facts(a)[name]), value(facts(b)[name])];
      return h('tr', { 'data-fact': name, 'data-equal': String(x === y) }, h('th', { scope: 'row' }, name, ' ', equalBadge(x === y)), h('td', { 'data-label': 'A' }, h('code', {}, x)), h('td', { 'data-label': 'B' }, h('code', {}, y)));
    })));
}

function summaryTable(a, b) {
  const rows = [
    ['Run identity', (run) => run.record.runId ?? 'none'],
    ['Request identity', (run) => run.record.requestId ?? 'none'],
    ['Model', (run) => run.model ?? '—'],
    ['Status', (run) => String(run.record.response.status ?? 'no response')],
    ['Output digest', (run) => run.record.output?.digest.sha256 ?? 'none'],
  ];
  return h('table', { class: 'facts compare', id: 'compare-summary' }, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, h('a', { href: `#/run/${a.captureId}` }, `A: run #${a.seq}`)), h('th', {}, h('a', { href: `#/run/${b.captureId}` }, `B: run #${b.seq}`)))),
    h('tbody', {}, rows.map(([name, of]) => {
      // Two runs without an identity are not equal in it: neither has one to compare.
      const neither = of(a) === 'none' && of(b) === 'none';
      return h('tr', { 'data-equal': neither ? 'none' : String(of(a) === of(b)) }, h('th', { scope: 'row' }, name, ' ', neither ? h('span', { class: 'badge' }, 'neither has one') : equalBadge(of(a) === of(b))), h('td', { class: 'digest', 'data-label': 'A' }, of(a)), h('td', { class: 'digest', 'data-label': 'B' }, of(b)));
    })));
}

/** Why there are no components to compare: each unidentified run ([label, run]), its code and where. */
function noComponents(unidentified) {
  const why = ([, run]) => {
    const { code, path } = run.record.unidentified ?? { code: 'no identity', path: null };
    return `${code}${path === null || path === undefined ? '' : ` at ${path}`}`;
  };
  const [first, second] = unidentified;
  const text = second === undefined
    ? `Run ${first[0]} has no components: its request was not identified (${why(first)}), so there is nothing to compare component by component.`
    : `Neither run has components: neither request was identified (A: ${why(first)}; B: ${why(second)}), so there is nothing to compare component by component.`;
  return h('p', { class: 'muted', id: 'compare-no-components', 'data-unidentified': unidentified.map(([label]) => label).join(' ') }, text);
}

export async function comparePage(main, params) {
  const form = h('form', { class: 'filters', 'aria-label': 'Runs to compare' },
    h('label', {}, 'Run A (capture id or run identity)', h('input', { name: 'a', value: params.get('a') ?? '', spellcheck: 'false' })),
    h('label', {}, 'Run B', h('input', { name: 'b', value: params.get('b') ?? '', spellcheck: 'false' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Compare')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/compare?${new URLSearchParams({ a: form.elements.a.value.trim(), b: form.elements.b.value.trim() })}`;
  });
  main.append(h('h1', {}, 'Compare runs'), form);
  if (!params.get('a') || !params.get('b')) {
    main.append(h('p', { class: 'muted' }, 'Tick two runs in the runs list and choose Compare, or give two ids here.'));
    return;
  }
  let a;
  let b;
  try {
    [a, b] = await Promise.all([load(params.get('a')), load(params.get('b'))]);
  } catch (error) {
    main.append(errorBlock(error));
    return;
  }
  const same = a.record.runId !== null && a.record.runId === b.record.runId;
  const sameRequest = a.record.requestId !== null && a.record.requestId === b.record.requestId;
  // A run whose request was not identified has no components: said once, with its code, rather
  // than each component "differing" from nothing.
  const unidentified = [['A', a], ['B', b]].filter(([, run]) => run.identity === null);
  const verdict = same ? 'The same run: equal request and served facts.' : sameRequest ? 'The same request, served differently.'
    : unidentified.length > 0 ? `Not comparable by identity: ${unidentified.length === 2 ? 'neither request was' : `the request of run ${unidentified[0][0]} was not`} identified.` : 'Different requests.';
  main.append(h('p', { class: 'summary', id: 'compare-verdict' }, verdict),
    h('p', { class: 'muted' }, 'Compared by the digests the store holds; open each run to have its page recompute and verify them.'),
    summaryTable(a, b),
    h('h2', {}, 'Components'), ...(unidentified.length > 0 ? [noComponents(unidentified)] : await componentRows(a, b)),
    h('h2', {}, 'Served facts'), factsTable(a, b));
}
