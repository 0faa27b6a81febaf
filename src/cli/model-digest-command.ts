/** `runprint model-digest`: the OpenSSF Model Signing v1.0 digest of a model (docs/SPEC.md section 9). */
import { resolve } from 'node:path';
import { ModelDigestError, RunprintError, UsageError } from '../errors.ts';
import { modelNotFound, symlinkNotAllowed } from '../model-digest/model-digest-errors.ts';
import { computeModelDigest } from '../model-digest/index.ts';
import type { ModelDigestOptions } from '../model-digest/index.ts';
import { EXIT } from './io.ts';
import type { CliIo } from './io.ts';
import { givenTwice, unknownOption } from './parse-options.ts';
import { formatCommandHelp } from './usage.ts';
import { fileName } from './read-input.ts';

const OPTION_NAMES = ['json', 'method', 'shard-size', 'allow-symlinks'];

/** Progress on a terminal: redrawn at most this often, in milliseconds. */
const REDRAW_INTERVAL = 100;

/** Runs `runprint model-digest`; returns the exit code. Errors go to stderr as one line. */
export async function modelDigestCommand(args: string[], io: CliIo): Promise<number> {
  let path: string | undefined;
  const progress = io.stderrIsTTY ? progressBar(io) : undefined;
  try {
    const request = parseArguments(args);
    if (request !== 'help') path = request.path;
    if (request === 'help') {
      io.stdout(formatCommandHelp('model-digest')!);
      return EXIT.ok;
    }
    const options: ModelDigestOptions = { ...request.options };
    if (progress !== undefined) {
      options.onProgress = progress.update;
      progress.listing();
    }
    const result = await computeModelDigest(resolve(io.cwd, request.path), options);
    progress?.clear();
    io.stdout(request.json ? `${JSON.stringify(result, null, 2)}\n` : `sha256:${result.digest.sha256}\n`);
    return EXIT.ok;
  } catch (error) {
    progress?.clear();
    if (error instanceof RunprintError) {
      io.stderr(`runprint: ${explained(error, path).toLine()}\n`);
      return exitCodeFor(error);
    }
    // Never a stack trace: a bug is reported by kind only.
    io.stderr(`runprint: ERR_INTERNAL: unexpected failure (${error instanceof Error ? error.name : typeof error})\n`);
    return EXIT.internal;
  }
}

/**
 * The model's own errors never name a path inside the model (its names are attacker-controlled);
 * the CLI names the PATH the user gave when it does not exist, and says how to follow links.
 */
function explained(error: RunprintError, path: string | undefined): RunprintError {
  if (error.message === modelNotFound().message) {
    if (path !== undefined) return new ModelDigestError(error.code, `${error.message}: ${fileName(path)}`);
  }
  if (error.message === symlinkNotAllowed().message) {
    return new ModelDigestError(error.code, `${error.message} (model caches are often links: pass --allow-symlinks to follow links to regular files)`);
  }
  return error;
}

interface Request {
  path: string;
  json: boolean;
  options: ModelDigestOptions;
}

function usage(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

function parseArguments(args: readonly string[]): Request | 'help' {
  const paths: string[] = [];
  let json = false;
  let method: string | undefined;
  let shardSize: string | undefined;
  let allowSymlinks = false;
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg) : [arg, undefined];
    const value = (): string => {
      const given = inline ?? args[++i];
      if (given === undefined) throw usage(`${flag} needs a value`);
      return given;
    };
    // Each option once, as parseCommandLine has it for every other command.
    if (flag.startsWith('--') && OPTION_NAMES.includes(flag.slice(2))) {
      if (seen.has(flag)) throw givenTwice('model-digest', flag.slice(2));
      seen.add(flag);
    }
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--json' && inline === undefined) json = true;
    else if (flag === '--allow-symlinks' && inline === undefined) allowSymlinks = true;
    else if (flag === '--method') method = value();
    else if (flag === '--shard-size') shardSize = value();
    else if (flag === '--') paths.push(...args.slice(i + 1)), (i = args.length);
    else if (flag.startsWith('-') && flag !== '-') throw usage(`${unknownOption('model-digest', flag, OPTION_NAMES)} (run "runprint model-digest --help")`);
    else paths.push(arg);
  }
  if (paths.length === 0) throw usage('model-digest needs a model PATH');
  if (paths.length > 1) throw usage('model-digest takes exactly one model PATH');
  // The empty name is no path (resolved, it would be the working directory, digested as a model).
  if (paths[0] === '') throw usage('model-digest PATH is empty: give the model\'s file or folder');

  if (method !== undefined && method !== 'files' && method !== 'shards') {
    throw usage('--method must be files or shards');
  }
  const options: ModelDigestOptions = { allowSymlinks };
  if (method !== undefined) options.method = method;
  if (shardSize !== undefined) {
    if (method === 'files') throw usage('--shard-size applies only to --method shards');
    const size = /^[1-9][0-9]*$/.test(shardSize) ? Number(shardSize) : Number.NaN;
    if (!Number.isSafeInteger(size)) throw usage('--shard-size must be a positive whole number of bytes');
    options.shardSize = size;
  }
  return { path: paths[0]!, json, options };
}

function splitOnce(arg: string): [string, string] {
  const at = arg.indexOf('=');
  return [arg.slice(0, at), arg.slice(at + 1)];
}

// The same mapping as the dispatcher's (src/cli/main.ts), kept here so that this command reports
// its own errors, after clearing its progress bar.
function exitCodeFor(error: RunprintError): number {
  if (error.code === 'ERR_CLI_USAGE') return EXIT.usage;
  if (error.code === 'ERR_MODEL_NOT_FOUND' || error.code === 'ERR_MODEL_UNREADABLE') return EXIT.io;
  return EXIT.input;
}

/**
 * The progress line on a terminal, from the first moment: "listing files" until the sizes are
 * known, then a bar with bytes done, the rate since hashing began and the time left at that rate.
 * Redrawn in place (carriage return, erase line), never scrolling; cleared at the end.
 */
function progressBar(io: CliIo, now: () => number = Date.now): {
  listing: () => void;
  update: (done: number, total: number) => void;
  clear: () => void;
} {
  let lastDraw = 0;
  let drawn = false;
  let started: number | undefined;
  const draw = (text: string): void => {
    drawn = true;
    io.stderr(`\r\x1b[2K${text}`);
  };
  return {
    listing() {
      draw('model-digest: listing the model\'s files…');
    },
    update(done, total) {
      const time = now();
      started ??= time;
      if (time - lastDraw < REDRAW_INTERVAL && done > 0 && done < total) return;
      lastDraw = time;
      const fraction = total === 0 ? 1 : done / total;
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      const percent = `${Math.floor(fraction * 100)}`.padStart(3);
      const seconds = (time - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const left = done >= total ? '0 s' : rate > 0 ? `${Math.ceil((total - done) / rate)} s` : '…';
      const speed = rate > 0 ? `${formatBytes(rate)}/s` : '… /s';
      draw(`model-digest [${bar}] ${percent}% ${formatBytes(done)} / ${formatBytes(total)}, ${speed}, ${left} left`);
    },
    clear() {
      if (drawn) io.stderr('\r\x1b[2K');
      drawn = false;
    },
  };
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}
