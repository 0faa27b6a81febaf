/**
 * The HTML form of a batch replay's report (docs/REPLAY.md section 8): one static,
 * self-contained page (no script, no request: its Content-Security-Policy allows only its own
 * inline style) with the verdict counts, the served-model changes, the codes, and one row per run
 * with the `runs diff` command that compares it with its replay (on the batch's run store). Every value is escaped: capture
 * ids and served facts come from the run store and from upstream answers.
 */
import type { JsonValue } from '../jcs/json-value.ts';
import type { BatchReport } from './replay-batch.ts';
import { VERDICTS } from './verdict.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

function value(fact: JsonValue | null): string {
  return fact === null ? '(none)' : escape(typeof fact === 'string' ? fact : JSON.stringify(fact));
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, monospace; word-break: break-all; }
.identical { color: #1a7f37; } .divergent, .same-request-other-server { color: #b35900; }
.variant { color: #0550ae; } .cannot-replay, .error { color: #cf222e; }
`;

/**
 * Where the batch's run store is, for the page's `runs diff` commands: `args`, what follows the
 * two runs on each command line (`--data DIR`, `--runs-db URL`), and `note`, a sentence above the
 * runs (a URL's password is never written: the commands then name RUNPRINT_RUNS_DB, and the note
 * says to set it).
 */
export interface ReportStore {
  args: string;
  note?: string;
}

/** The page, as one string. */
export function formatBatchReportHtml(report: BatchReport, store: ReportStore = { args: '' }): string {
  const out: string[] = [];
  out.push(
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>runprint batch replay ${escape(report.batch)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    '<h1>runprint batch replay</h1>',
    `<p>${report.total} run${report.total === 1 ? '' : 's'} selected by <code>--runs ${escape(report.query)}</code>; started ${escape(report.started)}, report written ${escape(report.finished)}${report.resumed > 0 ? `; ${report.resumed} finished by an earlier, interrupted process of this batch` : ''}. Batch <code>${escape(report.batch)}</code>.</p>`,
    '<h2>Verdicts</h2>',
    '<table id="verdicts"><thead><tr><th>verdict</th><th>runs</th></tr></thead><tbody>',
  );
  for (const verdict of VERDICTS) out.push(`<tr><td class="${verdict}">${verdict}</td><td class="number">${report.counts[verdict]}</td></tr>`);
  if (report.errors > 0) out.push(`<tr><td class="error">error</td><td class="number">${report.errors}</td></tr>`);
  out.push('</tbody></table>');
  out.push('<h2>Served-model changes</h2>');
  if (report.servedChanges.length === 0) out.push('<p id="served-changes">None: no run was served by other facts on replay.</p>');
  else {
    out.push('<table id="served-changes"><thead><tr><th>fact</th><th>original</th><th>replay</th><th>runs</th></tr></thead><tbody>');
    for (const change of report.servedChanges) out.push(`<tr><td>${escape(change.fact)}</td><td>${value(change.a)}</td><td>${value(change.b)}</td><td class="number">${change.count}</td></tr>`);
    out.push('</tbody></table>');
  }
  const codes = Object.entries(report.codes);
  if (codes.length > 0) {
    out.push('<h2>Codes</h2><table id="codes"><thead><tr><th>code</th><th>runs</th></tr></thead><tbody>');
    for (const [code, count] of codes) out.push(`<tr><td><code>${escape(code)}</code></td><td class="number">${count}</td></tr>`);
    out.push('</tbody></table>');
  }
  out.push('<h2>Runs</h2>');
  if (store.note !== undefined) out.push(`<p id="store-note">${escape(store.note)}</p>`);
  out.push('<table id="runs"><thead><tr><th>original</th><th>verdict</th><th>what differs</th><th>compare</th></tr></thead><tbody>');
  for (const row of report.runs) {
    const verdict = row.verdict ?? 'error';
    const details: string[] = [];
    if (row.code !== undefined) details.push(`<code>${escape(row.code)}</code>`);
    for (const fact of row.served ?? []) details.push(`served ${escape(fact.name)}: ${value(fact.a)} → ${value(fact.b)}`);
    if (row.firstDifference !== undefined) details.push(`output first differs at <code>${escape(row.firstDifference)}</code>`);
    const compare = row.replay === null ? '' : `<code>runprint runs diff ${escape(row.original)} ${escape(row.replay)}${escape(store.args)}</code>`;
    out.push(`<tr><td><code>${escape(row.original)}</code></td><td class="${verdict}">${verdict}</td><td>${details.join('<br>')}</td><td>${compare}</td></tr>`);
  }
  out.push('</tbody></table>', '</body></html>', '');
  return out.join('\n');
}
