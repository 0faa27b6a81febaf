/**
 * A durable local outbox of exchanges for a remote runprint server (`RUNPRINT_URL`): each exchange
 * is written to its own file (atomically, fsynced) before it is sent, and deleted only once the
 * server answered that its record is durable. A server that is down, a network failure or a crash
 * at any point loses nothing: what is left is sent on the next pass, or by the next process that
 * opens the outbox. Sending twice is harmless: the server makes the same record from the same
 * exchange and stores it once.
 */
import { readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EXCHANGES_PATH, readRetrievalError, type ExchangeBody, type ExchangeRetrievalError } from '../capture/exchange.ts';
import { RunprintError } from '../errors.ts';
import { writeFileAtomic } from '../store/key-file.ts';
import { makeFolders } from '../store/owner-only.ts';
import { folderError } from './fs-errors.ts';

/** The header a server's capture token goes in (server/proxy-routes.ts CAPTURE_TOKEN_HEADER; the server layer is above this one). */
const CAPTURE_TOKEN_HEADER = 'runprint-capture-token';

/** Files waiting: `<16-digit ms>-<capture id>.json`, oldest first by name. */
const WAITING = /^[0-9]{16}-[0-9a-f-]{36}\.json$/;
/** Where an exchange the server refused for good goes (kept, not resent). */
export const REJECTED_FOLDER = 'rejected';

export interface OutboxCounts {
  /** Exchanges written to the outbox by this process. */
  queued: number;
  /** Exchanges the server took (by any process's file this one sent). */
  delivered: number;
  /** Exchanges the server refused for good (malformed, or 409 ERR_CAPTURE_ID_TAKEN), moved to `rejected/`. */
  rejected: number;
  /**
   * Exchanges the server would not take from this client, kept in the outbox (not lost): it
   * answered 404 (not a runprint serve with capture on, or one too old for the exchanges route),
   * another 4xx but 408 and 429 without a runprint error body (something else answered: a reverse
   * proxy's 405 or 413), or 401/403 (the capture token is missing or refused, or the reason the
   * answer's code names). Each counted once, the first time (recovered when delivered later).
   */
  refused: number;
}

export interface OutboxOptions {
  /** The folder (created owner-only when missing). */
  dir: string;
  /** The server's base URL, no trailing slash. */
  url: string;
  /** `runprint-capture-token`, when the server wants one. */
  token?: string;
  /** The fetch the exchanges are sent with (never the capturing one). */
  fetch: typeof fetch;
  onError: (error: RunprintError) => void;
  /**
   * Called for each exchange the server took (its record durable), with its capture id and the
   * `retrievalError` of the server's answer: declared documents the server's record leaves out,
   * and why (null when none, or an older server did not say). Must not throw (its errors are dropped).
   */
  onRecorded?: (captureId: string, retrievalError: ExchangeRetrievalError | null) => void;
  /** First wait before trying again after a failed send, in ms (doubles up to 30 s). Default 500. */
  retryMs?: number;
  /**
   * Longest wait for the server's whole answer to one exchange, in ms (default SEND_TIMEOUT_MS):
   * a server that takes the connection and does not answer is down, as one that cannot be reached.
   */
  sendTimeoutMs?: number;
}

/**
 * Longest wait for the server's whole answer to one exchange (ms): past it the send is cut, the
 * server counted as down (ERR_CAPTURE_UNAVAILABLE), the exchange left in the outbox and sent again
 * later (the same exchange twice is stored once). A serve answers once the record is durable, within
 * its commit limit (30 s) at worst; on a working server an exchange is answered in milliseconds.
 */
export const SEND_TIMEOUT_MS = 10_000;
/**
 * Longest wait of runprintFetch's flush (and so close) for the outbox's pass (ms): a server that
 * does not answer is cut at SEND_TIMEOUT_MS before it; this bounds a pass that goes on (a slow
 * server, many exchanges), which then goes on in the background until close.
 */
export const FLUSH_SEND_WAIT_MS = 15_000;

/**
 * Answers that refuse the exchange itself, for good: sending it again cannot help. 400, 413, 415
 * and 422 with a runprint error body say it is malformed; 409 ERR_CAPTURE_ID_TAKEN that its capture
 * id already names another record on the server (it stays so: the server keeps the first). The
 * same statuses without a runprint error body come from something else (clientRefusal).
 */
function isRefusal(status: number, code: string | undefined): boolean {
  if (code === undefined) return false;
  return status === 400 || status === 413 || status === 415 || status === 422 || (status === 409 && code === 'ERR_CAPTURE_ID_TAKEN');
}

/**
 * Answers that refuse this client rather than an exchange: a configuration to fix, not a server
 * that is down. 404, or any other 4xx but 401, 403, 408 and 429 without a runprint error body (a
 * reverse proxy's 405 for a POST, or its own 413 body limit): the address is not a runprint serve
 * taking exchanges (not runprint, capture off, a version without the route, or something in front
 * of it); 401 or 403: the capture token is missing or wrong, or the server refuses this client for
 * the reason its code names. The exchanges stay in the outbox (a fixed configuration delivers them)
 * and are tried again later.
 */
function clientRefusal(status: number, code: string | undefined, message: string | undefined, url: string, token: boolean, left: string): RunprintError | undefined {
  const answer = `${status}${code === undefined ? '' : ` ${code}`}`;
  const kept = `${left} in the outbox, kept until a server takes them`;
  const address = `or ${url} is not its address (its root address, such as http://127.0.0.1:8480, or the path prefix a reverse proxy serves it under)`;
  if (status === 404) {
    return new RunprintError('ERR_CAPTURE_SERVER_MISMATCH', `the server at ${url} answered ${answer} to POST ${url}${EXCHANGES_PATH}: it is not a runprint serve that takes exchanges (not runprint, capture off, or a version without the route), ${address}: ${kept}`);
  }
  if (status === 401 || status === 403) {
    // A 403 with another runprint code (ERR_HTTP_CROSS_ORIGIN, ERR_HTTP_HOST_NOT_ALLOWED) is not about the token: its own message says why.
    if (code !== undefined && code !== 'ERR_HTTP_UNAUTHORIZED') {
      return new RunprintError('ERR_CAPTURE_TOKEN_REFUSED', `the runprint server at ${url} answered ${answer}: it refused this client${message === undefined ? '' : ` (${message})`}: ${kept}`);
    }
    return new RunprintError('ERR_CAPTURE_TOKEN_REFUSED', `the runprint server at ${url} answered ${answer}: ${token ? 'it refused the capture token (runprint-capture-token) this process sends' : 'it needs a capture token, and this process sends none'}; give serve's --capture-token as the token option or RUNPRINT_CAPTURE_TOKEN: ${kept}`);
  }
  if (code === undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new RunprintError('ERR_CAPTURE_SERVER_MISMATCH', `the server at ${url} answered ${status} to POST ${url}${EXCHANGES_PATH} without a runprint error: it is not a runprint serve that takes exchanges (another server, or a reverse proxy in front of the serve that refuses the POST or its size), ${address}: ${kept}`);
  }
  return undefined;
}

export class Outbox {
  readonly counts: OutboxCounts = { queued: 0, delivered: 0, rejected: 0, refused: 0 };
  /** The files counted in counts.refused (each once), until delivered. */
  readonly #refused = new Set<string>();
  #recovered = 0;
  readonly #options: OutboxOptions;
  readonly #ready: Promise<void>;
  #sending: Promise<void> = Promise.resolve();
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #retryMs: number;
  #closed = false;
  /** True while a pass runs. */
  #passing = false;
  /** Cuts the send in progress (close). */
  #cut: AbortController | undefined;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#retryMs = options.retryMs ?? 500;
    // One level at a time: Node's recursive mkdir loops for ever where a file system refuses a new
    // entry with ENOENT (a data directory under /proc), and every put and send would wait on it.
    this.#ready = makeFolders(join(options.dir, REJECTED_FOLDER), 0o700).then(
      () => undefined,
      (error: unknown) => {
        throw folderError('the outbox folder', options.dir, error);
      },
    );
    // What an earlier process left is sent now.
    void this.send();
  }

  /** Writes the exchange to its file (durable when this resolves), then sends in the background. */
  async put(body: ExchangeBody): Promise<void> {
    await this.#ready;
    const name = `${String(Date.now()).padStart(16, '0')}-${body.captureId}.json`;
    try {
      await writeFileAtomic(join(this.#options.dir, name), JSON.stringify(body), 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new RunprintError(code === 'ENOSPC' ? 'ERR_STORE_NO_SPACE' : 'ERR_STORE_UNAVAILABLE', 'an exchange cannot be written to the outbox');
    }
    this.counts.queued++;
    // While a retry is pending (the server is down), a new exchange waits for it: no attempt per call.
    if (this.#retry === undefined) void this.send();
  }

  /**
   * One pass over the outbox, oldest first, after the pass in progress (a call during a pass makes
   * one more pass after it); stops at the first send that fails and tries again later.
   */
  send(): Promise<void> {
    if (this.#again) return this.#sending;
    this.#again = true;
    // Asked for during a pass: when that pass finds the server down, it was this attempt (its
    // retry comes later), not one more right after it (one more time limit for a silent server).
    const during = this.#passing;
    this.#sending = this.#sending.then(async () => {
      this.#again = false;
      if (this.#closed || (during && this.#retry !== undefined)) return;
      this.#passing = true;
      try {
        await this.#ready;
        await this.#pass();
      } catch (error) {
        this.#report(error);
      } finally {
        this.#passing = false;
      }
    });
    return this.#sending;
  }

  async #pass(): Promise<void> {
    const names = (await readdir(this.#options.dir)).filter((name) => WAITING.test(name)).sort();
    for (const [index, name] of names.entries()) {
      if (this.#closed) return;
      const left = `${names.length - index} exchange${names.length - index === 1 ? ' waits' : 's wait'}`;
      const path = join(this.#options.dir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        // Sent and deleted by another process meanwhile.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      // The whole answer, within the send's time limit: a server that takes the connection and
      // never answers is down, as one that cannot be reached; close cuts the send too.
      const limitMs = this.#options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
      const cut = new AbortController();
      this.#cut = cut;
      const timer = setTimeout(() => cut.abort(), limitMs);
      timer.unref();
      let response: Response;
      let answer: string;
      try {
        response = await this.#options.fetch(`${this.#options.url}${EXCHANGES_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.#options.token === undefined ? {} : { [CAPTURE_TOKEN_HEADER]: this.#options.token }) },
          body: text,
          signal: cut.signal,
        });
        answer = await response.text().catch((error: unknown) => {
          // An answer cut short by the limit was not had; any other failure reading it: none.
          if (cut.signal.aborted) throw error;
          return '';
        });
      } catch {
        // Cut by close: the exchange waits for the next process, as close says.
        if (this.#closed) return;
        const why = cut.signal.aborted ? `did not answer within ${limitMs / 1000} s` : 'cannot be reached';
        this.#later(new RunprintError('ERR_CAPTURE_UNAVAILABLE', `the runprint server at ${this.#options.url} ${why}: ${left} in the outbox, sent again later`));
        return;
      } finally {
        clearTimeout(timer);
        this.#cut = undefined;
      }
      if (response.ok) {
        await unlink(path).catch(() => undefined);
        this.counts.delivered++;
        if (this.#refused.delete(name)) this.#recovered++;
        this.#retryMs = this.#options.retryMs ?? 500;
        this.#recorded(name, answer);
        continue;
      }
      const code = codeOf(answer);
      if (isRefusal(response.status, code)) {
        const kept = join(this.#options.dir, REJECTED_FOLDER, name);
        await rename(path, kept).catch(() => undefined);
        this.counts.rejected++;
        // Its own code: not the server being down (ERR_CAPTURE_UNAVAILABLE), and never recorded.
        this.#report(new RunprintError('ERR_CAPTURE_EXCHANGE_REJECTED', `the runprint server at ${this.#options.url} refused an exchange (${response.status}${code === undefined ? '' : ` ${code}`}): it is not recorded, and is kept as ${kept}; the exchanges after it are sent`));
        continue;
      }
      const refusal = clientRefusal(response.status, code, messageOf(answer), this.#options.url, this.#options.token !== undefined, left);
      if (refusal !== undefined) {
        // Every exchange waiting would get the same answer: all are counted (once), none is sent.
        for (const waiting of names.slice(index)) {
          if (this.#refused.has(waiting)) continue;
          this.#refused.add(waiting);
          this.counts.refused++;
        }
        this.#later(refusal);
        return;
      }
      this.#later(new RunprintError('ERR_CAPTURE_UNAVAILABLE', `the runprint server answered ${response.status}${code === undefined ? '' : ` ${code}`} to POST ${this.#options.url}${EXCHANGES_PATH}: ${left} in the outbox, sent again later`));
      return;
    }
  }

  /**
   * Of counts.refused, the exchanges this outbox delivered after all (a configuration fixed, or a
   * server that answered 404 while it started): recorded, no longer a failure.
   */
  get recovered(): number {
    return this.#recovered;
  }

  /** Hands the server's answer for the exchange in file `name` to onRecorded. */
  #recorded(name: string, answer: string): void {
    if (this.#options.onRecorded === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch {
      parsed = undefined;
    }
    try {
      // The file's name holds the capture id: `<16-digit ms>-<capture id>.json`.
      this.#options.onRecorded(name.slice(17, -'.json'.length), readRetrievalError(parsed));
    } catch {
      // Reporting must not fail sending.
    }
  }

  /** Reports why sending stopped and tries again after the back-off (a timer that does not keep the process alive). */
  #later(error: RunprintError): void {
    this.#report(error);
    if (this.#retry !== undefined || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.send();
    }, this.#retryMs);
    this.#retry.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
  }

  #report(error: unknown): void {
    try {
      this.#options.onError(error instanceof RunprintError ? error : new RunprintError('ERR_STORE_UNAVAILABLE', 'the outbox cannot be read'));
    } catch {
      // Reporting must not fail sending.
    }
  }

  /** Number of exchanges waiting in the outbox (from any process). */
  async waiting(): Promise<number> {
    await this.#ready.catch(() => undefined);
    try {
      return (await readdir(this.#options.dir)).filter((name) => WAITING.test(name)).length;
    } catch {
      return 0;
    }
  }

  /**
   * Waits for the pass in progress (a send it makes, and any after it, within `withinMs`): true
   * when it ended, false when it was still sending then (it goes on).
   */
  async settle(withinMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((done) => {
      timer = setTimeout(() => done(false), withinMs);
      timer.unref();
    });
    try {
      return await Promise.race([this.send().then(() => true as const), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends no more: the send in progress is cut (its exchange not deleted), and what is left
   * waits for the next process.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cut?.abort();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    await this.#sending;
  }
}

function codeOf(answer: string): string | undefined {
  try {
    const code = (JSON.parse(answer) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** The message of a runprint error body, made safe to quote (one line, at most 300 characters). */
function messageOf(answer: string): string | undefined {
  try {
    const message = (JSON.parse(answer) as { error?: { message?: unknown } }).error?.message;
    if (typeof message !== 'string' || message === '') return undefined;
    const line = message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
    return line.length > 300 ? `${line.slice(0, 300)}...` : line;
  } catch {
    return undefined;
  }
}
