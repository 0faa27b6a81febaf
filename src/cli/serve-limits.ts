/** `runprint serve`'s connection limits and timeouts (docs/LOG.md 19.3), and its last-resort guard. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import type { ConnectionCap } from '../server/connection-caps.ts';
import { DEFAULT_MAX_CLIENT_CONNECTIONS, DEFAULT_MAX_CONNECTIONS, type ListenOptions } from '../server/listen.ts';
import type { CliIo } from './io.ts';
import { minuteLine } from './minute-lines.ts';

/** The parseArgs options this file reads. */
export const LIMIT_OPTIONS = {
  'max-connections': { type: 'string' },
  'max-client-connections': { type: 'string' },
  'max-client-requests': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'shutdown-grace': { type: 'string' },
} as const;

/** How long serve lets requests in progress finish once told to stop (SIGTERM, Ctrl-C), by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

type Limits = Omit<ListenOptions, 'host' | 'port'> & {
  /** --shutdown-grace: how long requests in progress may take to finish once serve is told to stop. */
  shutdownGraceMs: number;
};

/** File descriptors kept for the log's database, its workers and the process itself. */
const SPARE_FILES = 64;

/**
 * Default cap on connections: 1000, or fewer when the open-file limit is lower, so that accepting
 * never fails for want of a descriptor (a refused connection is closed at once instead).
 */
export function defaultMaxConnections(): number {
  let soft: number | undefined;
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line !== null && line[1] !== 'unlimited') soft = Number(line[1]);
  } catch {
    // Not Linux: Node's own default limits apply.
  }
  return soft === undefined ? DEFAULT_MAX_CONNECTIONS : Math.max(1, Math.min(DEFAULT_MAX_CONNECTIONS, soft - SPARE_FILES));
}

function count(text: string, flag: string, min: number, max: number): number {
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError('ERR_CLI_USAGE', `${flag} must be a number from ${min} to ${max}`);
  }
  return Number(text);
}

/**
 * The limits from the command line, else the environment, else the defaults. A value that is
 * refused is named as it was given: `--max-connections`, or `RUNPRINT_MAX_CONNECTIONS`.
 */
export function serveLimits(values: Partial<Record<keyof typeof LIMIT_OPTIONS, string>>, env: NodeJS.ProcessEnv): Limits {
  /** The value of --NAME, else of the variable, and the name to refuse it by; undefined when neither is set. */
  const pick = (name: keyof typeof LIMIT_OPTIONS, variable: string): [string, string] | undefined => {
    const given = values[name];
    if (given !== undefined) return [given, `--${name}`];
    const text = env[variable];
    return text === undefined ? undefined : [text, variable];
  };
  const grace = pick('shutdown-grace', 'RUNPRINT_SHUTDOWN_GRACE');
  const limits: Limits = { shutdownGraceMs: grace === undefined ? DEFAULT_SHUTDOWN_GRACE_MS : count(...grace, 0, 600_000) };
  const connections = pick('max-connections', 'RUNPRINT_MAX_CONNECTIONS');
  limits.maxConnections = connections === undefined ? defaultMaxConnections() : count(...connections, 1, 1_000_000);
  const perClient = pick('max-client-connections', 'RUNPRINT_MAX_CLIENT_CONNECTIONS');
  if (perClient !== undefined) limits.maxClientConnections = count(...perClient, 0, 1_000_000);
  const requests = pick('max-client-requests', 'RUNPRINT_MAX_CLIENT_REQUESTS');
  if (requests !== undefined) limits.maxClientRequests = count(...requests, 0, 1_000_000);
  const headers = pick('headers-timeout', 'RUNPRINT_HEADERS_TIMEOUT');
  if (headers !== undefined) limits.headersTimeoutMs = count(...headers, 100, 600_000);
  const request = pick('request-timeout', 'RUNPRINT_REQUEST_TIMEOUT');
  if (request !== undefined) limits.requestTimeoutMs = count(...request, 100, 3_600_000);
  return limits;
}

/**
 * serve's report of the connections refused past --max-connections (503 ERR_HTTP_BUSY) and
 * --max-client-connections (429 ERR_HTTP_TOO_MANY_REQUESTS), told by listen's onRefusedConnection,
 * as the shed line reports load shed: never a line per connection. The first is printed at once,
 * the others counted, by cap, in one line a minute after the line before, which says since when
 * (UTC, to the second: the first connection it counts) and which option to raise; no line when
 * none was refused. `flush` prints what is counted at a stop. `caps`: the caps as serve runs with them.
 */
export function refusedConnectionsReporter(
  write: (text: string) => void,
  caps: { maxConnections: number; maxClientConnections: number },
  now: () => number = () => performance.now(),
  clock: () => number = () => Date.now(),
): { report(cap: ConnectionCap): void; flush(): void } {
  const counts = { connections: 0, clientConnections: 0 };
  const line = minuteLine((since) => {
    const total = counts.connections + counts.clientConnections;
    const parts: string[] = [];
    if (counts.connections > 0) parts.push(`${counts.connections} with 503 ERR_HTTP_BUSY past --max-connections ${caps.maxConnections} (raise it if the machine has room for more connections)`);
    if (counts.clientConnections > 0) parts.push(`${counts.clientConnections} with 429 ERR_HTTP_TOO_MANY_REQUESTS past --max-client-connections ${caps.maxClientConnections} from one client address (raise it if a client needs more at once)`);
    write(`runprint: refused ${total} connection${total === 1 ? '' : 's'} since ${since}: ${parts.join('; ')}; /healthz connections.refused counts them since start\n`);
    counts.connections = 0;
    counts.clientConnections = 0;
  }, now, clock);
  return {
    report(cap) {
      counts[cap] += 1;
      line.counted();
    },
    flush: line.flush,
  };
}

/** The caps serve runs with: its --max-connections, and --max-client-connections or listen's default. */
export function connectionCaps(limits: Pick<ListenOptions, 'maxConnections' | 'maxClientConnections'>): { maxConnections: number; maxClientConnections: number } {
  return { maxConnections: limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS, maxClientConnections: limits.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS };
}

/**
 * Last resort: a failure that escapes every request handler is reported on one line and the
 * service keeps serving, instead of the process dying with a stack trace. Only `serve` installs it,
 * never library code. The line names the failure's code or class, never its message (it might
 * carry request content). Returns the uninstaller.
 */
export function guardProcess(io: CliIo): () => void {
  const report = (error: unknown): void => {
    const code = (error as { code?: unknown } | null)?.code;
    const what = typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : error instanceof Error ? error.constructor.name.slice(0, 64) : typeof error;
    io.stderr(`runprint: ERR_INTERNAL: a failure escaped the request handlers (${what}); still serving\n`);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
  return () => {
    process.off('uncaughtException', report);
    process.off('unhandledRejection', report);
  };
}
