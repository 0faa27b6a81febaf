/**
 * `runprint replay RUN [--data DIR] [--upstream NAME=URL]... [--model M] [--param K=V]... [--json]`:
 * a stored run's request rebuilt from the run store and sent again through the capture core; the
 * replay is stored as a run of its own, linked to the original, and the verdict printed
 * (docs/REPLAY.md). Exit 0 `identical`; 1 `same-request-other-server`, `divergent`, `variant`;
 * 3 `cannot-replay`.
 */
import { UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { providerFor } from '../providers/registry.ts';
import { REQUEST_FORMATS } from '../providers/request-format.ts';
import { ReplayLinks } from '../replay/replay-links.ts';
import { replayRun, type ReplayResult } from '../replay/replay-run.ts';
import { findRuns } from '../server/run-routes.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable } from './printable.ts';
import { openStore, runStorePath } from './runs-command.ts';
import { formatCommandHelp } from './usage.ts';

const OPTIONS = {
  data: { type: 'string' },
  upstream: { type: 'string', multiple: true },
  model: { type: 'string' },
  param: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The environment variable holding each upstream's API key, and how it is sent. */
const CREDENTIALS: Record<string, { env: string; headers(key: string): Record<string, string> }> = {
  openai: { env: 'OPENAI_API_KEY', headers: (key) => ({ authorization: `Bearer ${key}` }) },
  anthropic: { env: 'ANTHROPIC_API_KEY', headers: (key) => ({ 'x-api-key': key, 'anthropic-version': '2023-06-01' }) },
};

/** `--upstream NAME=URL` as serve reads it. */
export function upstreamOptions(values: readonly string[]): { [name: string]: string } {
  const names = new Set(REQUEST_FORMATS.map((format) => providerFor(format).upstream.name));
  const upstreams: { [name: string]: string } = {};
  for (const value of values) {
    const split = value.indexOf('=');
    const name = value.slice(0, split);
    let url: URL | undefined;
    try {
      url = split > 0 ? new URL(value.slice(split + 1)) : undefined;
    } catch {
      url = undefined;
    }
    if (!names.has(name) || url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
      throw new UsageError('ERR_CLI_USAGE', `--upstream must be NAME=URL: NAME one of ${[...names].join(', ')}, URL an http(s) base URL without query (the recorded path, /v1/..., is appended)`);
    }
    if (url.username !== '' || url.password !== '') throw new UsageError('ERR_CLI_USAGE', '--upstream URL must not carry a user name or password');
    upstreams[name] = url.href.replace(/\/+$/, '');
  }
  return upstreams;
}

/** `--param K=V`: V is read as JSON when it is JSON (`0.2`, `true`, `null`, `{"a":1}`), else taken as a string. */
export function paramOption(text: string): [string, JsonValue] {
  const split = text.indexOf('=');
  if (split <= 0) throw new UsageError('ERR_CLI_USAGE', '--param must be K=V: a request member name, =, and its value (JSON, or else a string)');
  const raw = text.slice(split + 1);
  let value: JsonValue;
  try {
    value = parseJson(new TextEncoder().encode(raw));
  } catch {
    value = raw;
  }
  return [text.slice(0, split), value];
}

function formatResult(result: ReplayResult): string {
  const lines = [result.verdict === 'cannot-replay' ? `cannot-replay ${result.reason!.code}: ${result.reason!.message}` : result.verdict];
  lines.push(`  original ${result.original.captureId}  ${result.original.runId ?? result.original.requestId ?? ''}`);
  if (result.replay !== null) {
    lines.push(`  replay   ${result.replay.captureId}  ${result.replay.runId ?? result.replay.requestId ?? `(no identity)`}  status ${result.replay.status ?? 'none'}`);
    lines.push(`  sent to  ${printable(result.replay.url, 120)} (${result.replay.body === 'exact' ? 'the exact bytes stored' : result.replay.body === 'rebuilt' ? 'the request rebuilt from its components' : 'the request with the overrides'})`);
  }
  for (const change of result.overrides?.changed ?? []) lines.push(`  ${change.change.padEnd(8)} ${change.component.padEnd(14)} ${change.path}`);
  if (result.overrides !== undefined && result.overrides.changed.length === 0) lines.push('  the overrides change nothing in the request: compared as a replay');
  for (const fact of result.served) {
    const value = (side: typeof fact.a) => (side === null ? '(none)' : printable(typeof side.value === 'string' ? side.value : JSON.stringify(side.value)));
    lines.push(`  served ${fact.name}: ${value(fact.a)} -> ${value(fact.b)}`);
  }
  if (result.output !== null) {
    if (result.output.equal === true) lines.push(`  output equal ${result.output.a}`);
    else {
      lines.push(`  output differs\n    a ${result.output.a ?? '(none)'}\n    b ${result.output.b ?? '(none)'}`);
      const first = result.output.firstDifference;
      if (first !== undefined) {
        const text = first.text === undefined ? '' : ` at character ${first.text.offset}, words ${first.text.words.from}..${first.text.words.from + Math.max(first.text.words.a, first.text.words.b)}${first.text.similarity === null ? '' : `, word similarity ${first.text.similarity}`}`;
        lines.push(`  first difference ${first.change} ${printable(first.path, 120)}${text}`);
      } else if (result.output.firstDifferenceUnknown !== undefined) lines.push(`  first difference unknown: ${result.output.firstDifferenceUnknown}`);
    }
  }
  for (const caveat of result.caveats ?? []) lines.push(`  caveat: ${caveat}`);
  return `${lines.join('\n')}\n`;
}

export async function replayCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('replay', args, OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('replay')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'replay takes one RUN: a capture id, a record digest or a run identity (run "runprint replay --help")');
  const upstreams = upstreamOptions(values.upstream ?? []);
  if (values.model !== undefined && values.model === '') throw new UsageError('ERR_CLI_USAGE', '--model must not be empty');
  const params = (values.param ?? []).map(paramOption);
  const store = openStore(values.data, io);
  let links: ReplayLinks | undefined;
  try {
    const runs = await findRuns(store, positionals[0]!);
    // A run identity may name several captures: the latest is replayed (its capture id is printed).
    const original = runs[runs.length - 1]!;
    links = ReplayLinks.open(runStorePath(values.data, io));
    const result = await replayRun(original, {
      storage: store,
      links,
      upstreams,
      overrides: { ...(values.model === undefined ? {} : { model: values.model }), params },
      headers: (upstream) => {
        const credential = CREDENTIALS[upstream];
        const key = credential === undefined ? undefined : process.env[credential.env];
        return key === undefined || key === '' ? {} : credential!.headers(key);
      },
    });
    io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
    if (result.verdict === 'identical') return EXIT.ok;
    return result.verdict === 'cannot-replay' ? EXIT.input : EXIT.differs;
  } finally {
    links?.close();
    await store.close();
  }
}
