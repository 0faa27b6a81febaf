/**
 * The outbox from a run store to a remote runprint log (issue: live capture, section 3): receipts
 * committed to the store without a log index are POSTed to the log, and the index it answers is
 * stored. The store is the outbox: a receipt is stored before it is delivered, and its index only
 * after the log answered (and, with the log's key, after a signed checkpoint is seen to include
 * it), so a crash at any point leaves it undelivered or delivered, never lost; what is left is
 * delivered again after a restart, and the log answers an identical entry with the index it
 * already has, so nothing is logged twice. Serves sharing a PostgreSQL run store divide what waits:
 * the store claims what `unlogged` hands each one (postgres-runs.ts), so a receipt is sent by one
 * of them, and another takes it over once the claim lapses (its serve died).
 */
import { LogError, publicMessageOf, RunprintError } from '../errors.ts';
import { equalBytes, toHex } from '../hash/sha256.ts';
import { cappedFetch } from './capped-fetch.ts';
import { fetchCheckpoint, fetchTlogProof, httpTileReader, LogAnswerError, printableUrl, submitReceipt } from '../log/client.ts';
import { parseCheckpoint } from '../log/checkpoint.ts';
import type { NoteVerifier } from '../log/note.ts';
import { formatNote } from '../log/note.ts';
import { consistencyProofFromTiles, inclusionProofFromTiles, leafHashFromTiles, rootFromTiles, type TileReader } from '../log/tiles.ts';
import { parseTlogProof, verifyTlogProof } from '../log/tlog-proof.ts';
import { verifyConsistency } from '../merkle/consistency.ts';
import { verifyInclusion } from '../merkle/inclusion.ts';
import { hashLeaf } from '../merkle/rfc6962.ts';
import type { LogCheckpoint, LoggedRun, RunStorage } from './run-storage.ts';

export interface LogOutboxOptions {
  storage: Pick<RunStorage, 'unlogged' | 'unloggedCount' | 'setLogIndexes' | 'lastLogged' | 'logCheckpoint'>;
  /** The log's URL prefix (logPrefix). */
  url: URL;
  /** The log's write token (Authorization: Bearer). */
  token?: string;
  /**
   * The log's verifier key: a delivered receipt's index is stored only once a checkpoint signed
   * with it is seen to include the receipt there (proved from the log's tiles), and each signed
   * checkpoint must extend the one verified before it (by this process, and the largest any serve
   * on the run store verified, which the store keeps) and hold the store's last delivered receipt
   * (LogOutbox's history check). None: the index is stored as the log answered it (its
   * leafHash checked), unproved, and the log's checkpoints are not read at all.
   */
  logKey?: NoteVerifier;
  /** The log's origin (default the key's name). */
  origin?: string;
  /** Each failure as it happens, with what the outbox does about it. */
  onFailure?: (error: RunprintError, outcome: OutboxOutcome) => void;
  /** Called after receipts were delivered (a failure reported before is over). */
  onDelivered?: () => void;
  /** A look for receipts at least this often, also when not woken (ms; default 5,000). */
  pollMs?: number;
  /** The first wait after a failed delivery (ms; default 500); each failure in a row doubles it, up to `retryMaxMs` (default 10,000). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Longest wait for a signed checkpoint covering delivered receipts (ms; default 10,000). */
  checkpointWaitMs?: number;
  /** Receipts sent at once (default and at most LOG_CONNECTIONS). */
  concurrency?: number;
  /** Longest wait for one answer of the log (ms; default 30,000): a log that hangs is one that cannot be reached. */
  requestTimeoutMs?: number;
}

/**
 * What the outbox does after a failure: `retry` (the log cannot be reached, answers 5xx, 408 or
 * 429, or no checkpoint covers the receipts yet: delivered again after a back-off), `set-aside`
 * (the log refused this one receipt, 4xx ERR_LOG_ENTRY_*: not sent again until a restart), `stop`
 * (any other 4xx, such as a wrong token, a redirect (3xx), or an answer that fails a check: nothing more is sent
 * until a restart).
 */
export type OutboxOutcome = 'retry' | 'set-aside' | 'stop';

export interface OutboxState {
  /** The log's URL as errors may show it. */
  url: string;
  /**
   * Receipts in the store without a log index when the outbox last looked (as a pass begins, at
   * most once a second, and as it ends, those it read and did not deliver; lowered by each
   * delivery meanwhile), counted up to WAITING_COUNTED (that many means at least that many), null
   * before it looked. On a PostgreSQL store shared by several serves, as a pass ends only those
   * this serve holds (the others' claims are not read).
   */
  waiting: number | null;
  /** Receipts delivered, and of them proved included in a signed checkpoint (with the log key). */
  delivered: number;
  proved: number;
  /** Deliveries that failed and wait for a retry (each attempt counted). */
  retries: number;
  /** Receipts the log refused, set aside until a restart. */
  refused: number;
  /** Why delivery stopped (until a restart), or null. */
  stopped: { code: string; status: number | null; message: string } | null;
  /** The last failure, or null once a delivery succeeded after it or the outbox found nothing waiting. */
  lastError: { code: string; status: number | null; message: string } | null;
}

const encoder = new TextEncoder();
/**
 * Receipts read from the store per pass; with the log key more, since each pass waits for one
 * checkpoint that proves them all (about a second): 512 would cap proved delivery near 200/s.
 */
const BATCH = 512;
const PROVED_BATCH = 4096;
/** Receipts the log answered that wait for a checkpoint to prove them (with the log key), at most. */
const MAX_ANSWERED = PROVED_BATCH;
/** Longest wait for one answer of the log (ms, by default): a log that hangs is one that cannot be reached. */
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Connections to the log an outbox holds at most (capped-fetch.ts: kept open and reused; a request
 * past them waits for one), and receipts it sends at once; the checkpoint and tile reads that
 * prove them come after, one at a time. A log takes 128 connections per client by default
 * (--max-client-connections): three serves on one host sending 32 receipts at once through fetch,
 * which opens more connections than requests in flight, held 147 and were answered 429.
 */
export const LOG_CONNECTIONS = 8;
/** 4xx answers that refuse one entry (any other entry may still be taken). */
const ENTRY_REFUSALS = new Set(['ERR_LOG_ENTRY_INVALID', 'ERR_LOG_ENTRY_TOO_LARGE', 'ERR_HTTP_BODY_TOO_LARGE']);
/**
 * How long a signed checkpoint smaller than the one the outbox verified before (or than the store's
 * last delivered receipt needs) is read again before it counts (ms): processes of one log sharing
 * its storage each serve the latest checkpoint they read, within a quarter of a second by default.
 */
const LAG_MS = 1_000;
/** The receipts waiting for the log are counted at most this often (ms), and up to this many. */
const WAITING_EVERY_MS = 1_000;
const WAITING_COUNTED = 100_000;
/** Failures that pass: the log is down or busy, or has not signed a checkpoint over the entries yet. */
const TRANSIENT = new Set(['ERR_LOG_UNREACHABLE', 'ERR_LOG_ENTRY_NOT_FOUND']);

/** What to do about a failure to deliver or prove a receipt. */
export function outcomeOf(error: RunprintError): OutboxOutcome {
  const status = error instanceof LogAnswerError ? error.status : undefined;
  if (status === undefined) return TRANSIENT.has(error.code) ? 'retry' : 'stop';
  if (status >= 500 || status === 408 || status === 429) return 'retry';
  if (ENTRY_REFUSALS.has(error.code)) return 'set-aside';
  return 'stop';
}

/** The failure as the outbox's state (and so /healthz, which needs no token) shows it: in words for a remote reader, without the server's file paths. */
function failureOf(error: RunprintError): { code: string; status: number | null; message: string } {
  return { code: error.code, status: error instanceof LogAnswerError ? error.status : null, message: publicMessageOf(error) };
}

interface Delivered {
  recordDigest: string;
  leafHash: Uint8Array;
  logIndex: number;
}

export class LogOutbox {
  readonly #options: LogOutboxOptions;
  readonly #state: OutboxState;
  /** Record digests of receipts the log refused (not sent again by this process). */
  readonly #setAside = new Set<string>();
  /**
   * With the log key: receipts the log answered (record digest: index and leaf hash) that no
   * checkpoint proved yet; a retry proves them again without sending them again.
   */
  readonly #answered = new Map<string, Delivered>();
  /**
   * With the log key: the last signed checkpoint this process verified, which every later one
   * must extend (#checkHistory); none before the first.
   */
  #last: { size: number; rootHash: Uint8Array } | undefined;
  /**
   * With the log key: a receipt (index and record digest) proved included in #last or a checkpoint
   * #last was proved to extend, so every later checkpoint holds it too: a store's last delivered
   * receipt that is this one needs no proof again (#checkHistory).
   */
  #held: { logIndex: number; recordDigest: string } | undefined;
  /**
   * With the log key: the checkpoint the run store holds (RunStorage.logCheckpoint) that #last or
   * a checkpoint #last extends was proved to extend (or is), as `size:roothex`: the same one read
   * again needs no proof again (#checkHistory).
   */
  #storedChecked: string | undefined;
  /** When the receipts waiting were last counted (performance.now()). */
  #countedAt = -Infinity;
  #woken = false;
  /** Ends the current sleep (any), and whether a wake may end it. */
  #endSleep: (() => void) | undefined;
  #wakeable = false;
  #closed = false;
  /** Aborted by close: a delivery in flight ends at once (it is delivered again after a restart). */
  readonly #abort = new AbortController();
  #running: Promise<void> = Promise.resolve();
  /** The wait before the next attempt after a failure (ms); 0 after a success. */
  #backoff = 0;
  readonly #requestTimeoutMs: number;
  /** Every request to the log goes through it: LOG_CONNECTIONS connections at most. */
  readonly #http = cappedFetch(LOG_CONNECTIONS);

  constructor(options: LogOutboxOptions) {
    this.#options = options;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#state = { url: printableUrl(options.url), waiting: null, delivered: 0, proved: 0, retries: 0, refused: 0, stopped: null, lastError: null };
  }

  /** What /healthz shows: the counts since start, and why delivery waits or stopped. */
  get state(): OutboxState {
    return { ...this.#state };
  }

  /** Starts delivering in the background (what a crash left first). */
  start(): void {
    this.#running = this.#loop();
  }

  /** New receipts were stored: deliver them now, unless a failure's back-off is running. */
  wake(): void {
    this.#woken = true;
    if (this.#wakeable) this.#endSleep?.();
  }

  async #loop(): Promise<void> {
    while (!this.#closed && this.#state.stopped === null) {
      this.#woken = false;
      let failed = false;
      try {
        failed = await this.#pass();
      } catch (error) {
        const known = error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the run store could not be read or written for the log outbox');
        // The store's own failures pass like the log's: delivered again later.
        failed = !this.#fail(known, known.code.startsWith('ERR_STORE_') ? 'retry' : outcomeOf(known));
      }
      if (this.#closed || this.#state.stopped !== null) return;
      if (failed) {
        this.#state.retries++;
        this.#backoff = Math.min(this.#backoff === 0 ? (this.#options.retryMinMs ?? 500) : this.#backoff * 2, this.#options.retryMaxMs ?? 10_000);
        await this.#sleep(this.#backoff, false);
      } else {
        this.#backoff = 0;
        if (!this.#woken) await this.#sleep(this.#options.pollMs ?? 5_000, true);
      }
    }
  }

  /** Waits `ms`, or less when woken and `wakeable`, or until closed. */
  #sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#endSleep = undefined;
        this.#wakeable = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.#endSleep = done;
      this.#wakeable = wakeable;
      if (this.#closed) done();
    });
  }

  /**
   * Reports a failure and acts on it: set aside, stop, or retry. Returns true when the pass may go
   * on (a receipt set aside), false when it must end (retry or stop).
   */
  #fail(error: RunprintError, outcome: OutboxOutcome): boolean {
    // Closing abandons what is in flight: that is no failure of the log.
    if (this.#closed) return false;
    this.#state.lastError = failureOf(error);
    if (outcome === 'stop') {
      this.#state.stopped = failureOf(error);
      // Nothing answered before the stop is proved or stored: a log that failed a check may have
      // answered them too (a log rolled back or replaced answers indexes it gave others before).
      this.#answered.clear();
    }
    try {
      this.#options.onFailure?.(error, outcome);
    } catch {
      // Reporting must not stop delivery.
    }
    return outcome === 'set-aside';
  }

  /**
   * Delivers every receipt without a log index, a batch at a time, each receipt read once per pass
   * (a cursor on the store's order, so receipts set aside are not read again and again); true when
   * one failed and waits for a retry.
   */
  async #pass(): Promise<boolean> {
    if (performance.now() - this.#countedAt >= WAITING_EVERY_MS) {
      this.#countedAt = performance.now();
      this.#state.waiting = await this.#options.storage.unloggedCount(WAITING_COUNTED);
    }
    const logKey = this.#options.logKey;
    const batch = logKey === undefined ? BATCH : PROVED_BATCH;
    let after = 0;
    /** Receipts this pass read from the store, and of them the ones whose index it stored. */
    let read = 0;
    let stored = 0;
    /** Receipts answered before (with the log key) that still wait in the store. */
    const waiting = new Set<string>();
    for (;;) {
      if (this.#closed || this.#state.stopped !== null) return false;
      const page = await this.#options.storage.unlogged(batch, after);
      if (page.length === 0) {
        // Every receipt waiting was read: one answered before that no longer waits got its index otherwise (another serve on the store).
        for (const digest of this.#answered.keys()) if (!waiting.has(digest)) this.#answered.delete(digest);
        // Nothing waits at all (another serve on the store delivered what this one could not): a
        // failure reported before is over, as after a delivery of this outbox's own.
        if (after === 0) this.#state.lastError = null;
        // Every receipt waiting was read, so those read and not stored by this pass are the ones
        // that wait (as the pass looked): counted now, not only at the next pass, which may come
        // seconds later (pollMs) while the count said what waited when this one began.
        this.#state.waiting = Math.min(read - stored, WAITING_COUNTED);
        this.#countedAt = performance.now();
        return false;
      }
      after = page[page.length - 1]!.seq;
      read += page.length;
      const rows = page.filter((row) => !this.#setAside.has(row.recordDigest));
      for (const row of rows) if (this.#answered.has(row.recordDigest)) waiting.add(row.recordDigest);
      // With the log key, a receipt the log answered is not sent again while it waits for a checkpoint
      // to prove it (it is proved again), and no more receipts wait for one than MAX_ANSWERED.
      let send = rows;
      if (logKey !== undefined) {
        send = rows.filter((row) => !this.#answered.has(row.recordDigest));
        const room = Math.max(0, MAX_ANSWERED - this.#answered.size);
        // The ones left out are sent on the next pass, at once.
        if (send.length > room) this.#woken = true;
        send = send.slice(0, room);
      }
      const delivered: Delivered[] = [];
      let ended = false;
      let next = 0;
      const worker = async () => {
        while (!ended && !this.#closed && next < send.length) {
          const row = send[next++]!;
          const entry = encoder.encode(row.receipt);
          try {
            // The log holds an entry once: a receipt delivered before (a crash before its index was stored) gets the index it has.
            const answer = await submitReceipt(this.#options.url, entry, this.#options.token, { signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#requestTimeoutMs)]), fetch: this.#http.fetch });
            const item = { recordDigest: row.recordDigest, leafHash: hashLeaf(entry), logIndex: answer['index'] as number };
            if (logKey === undefined) delivered.push(item);
            else this.#answered.set(row.recordDigest, item);
          } catch (error) {
            const known = error instanceof RunprintError ? error : new LogError('ERR_LOG_UNREACHABLE', 'the receipt could not be sent to the log');
            const outcome = outcomeOf(known);
            if (outcome === 'set-aside') {
              this.#setAside.add(row.recordDigest);
              this.#state.refused++;
            }
            if (!this.#fail(known, outcome)) ended = true;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#options.concurrency ?? LOG_CONNECTIONS, LOG_CONNECTIONS, send.length) }, worker));
      // Closing abandons what was answered but not stored: it is delivered again after a restart.
      if (this.#closed) return false;
      let proving = false;
      /** With the log key, the checkpoint that proved `delivered`, stored with their indexes. */
      let checkpoint: (LogCheckpoint & { origin: string }) | undefined;
      if (logKey !== undefined && this.#state.stopped === null) {
        const answered = rows.flatMap((row) => {
          const item = this.#answered.get(row.recordDigest);
          return item === undefined ? [] : [item];
        });
        if (answered.length > 0) {
          // The store's last delivered receipt, which the checkpoint must still hold: read before
          // every proof (one entry of runs_log_index), since other serves on the store deliver too.
          // Read here, so that a failure of the store is retried as one (#loop), not taken for the log's.
          const seed = await this.#options.storage.lastLogged();
          // And the largest checkpoint any serve on the store verified (one row), which this one must extend.
          const origin = this.#options.origin ?? logKey.name;
          const stored = await this.#options.storage.logCheckpoint(origin);
          try {
            const { proved, signed } = await this.#withinTime(this.#prove(answered, logKey, seed, stored), (this.#options.checkpointWaitMs ?? 10_000) + this.#requestTimeoutMs);
            checkpoint = { origin, ...signed };
            delivered.push(...proved);
            if (proved.length < answered.length) {
              proving = true;
              this.#fail(new LogError('ERR_LOG_ENTRY_NOT_FOUND', `no checkpoint of the log covered ${answered.length - proved.length} of the delivered receipts within ${this.#options.checkpointWaitMs ?? 10_000} ms (they are proved again, not sent again)`), 'retry');
            }
          } catch (error) {
            const known = error instanceof RunprintError ? error : new LogError('ERR_LOG_PROOF_INVALID', 'the log\'s inclusion of the receipts could not be checked');
            // A read of the checkpoint or a tile the log answered with a 4xx refuses no receipt (the
            // log took them): read again after the back-off (a log's reads may lag its writes).
            this.#fail(known, known instanceof LogAnswerError && known.status < 500 ? 'retry' : outcomeOf(known));
            return true;
          }
        }
      }
      if (delivered.length > 0) {
        // With the log key, the checkpoint that proved them is stored with them (one transaction),
        // for every serve on the store to extend.
        await this.#options.storage.setLogIndexes(
          delivered.map(({ recordDigest, logIndex }) => ({ recordDigest, logIndex })),
          checkpoint,
        );
        if (checkpoint !== undefined) this.#storedChecked = `${checkpoint.size}:${toHex(checkpoint.rootHash)}`;
        for (const { recordDigest } of delivered) {
          this.#answered.delete(recordDigest);
          waiting.delete(recordDigest);
        }
        // Counted once stored: a write that failed is proved and stored again, not counted twice.
        this.#state.delivered += delivered.length;
        stored += delivered.length;
        if (this.#state.waiting !== null) this.#state.waiting = Math.max(0, this.#state.waiting - delivered.length);
        if (logKey !== undefined) {
          this.#state.proved += delivered.length;
          // Each was proved under #last: the highest of them is held by every checkpoint that extends it.
          const top = delivered.reduce((a, b) => (b.logIndex > a.logIndex ? b : a));
          if (this.#held === undefined || top.logIndex > this.#held.logIndex) this.#held = { logIndex: top.logIndex, recordDigest: top.recordDigest };
        }
        if (!ended && !proving) this.#state.lastError = null;
        try {
          this.#options.onDelivered?.();
        } catch {
          // Reporting must not stop delivery.
        }
      }
      if (proving) return true;
      if (ended) return this.#state.stopped === null;
    }
  }

  /**
   * Waits for a checkpoint signed with the log key (and of its origin) that covers every answered
   * index, or for as long as `checkpointWaitMs`, checks that it extends what the outbox verified
   * before (by this process, and `stored`, the checkpoint the run store keeps) and holds the
   * store's last delivered receipt (#checkHistory; `seed`), then
   * proves from the log's tiles that each receipt the checkpoint covers is the entry at its index
   * and is included under its root hash; returns those (none covered: ERR_LOG_ENTRY_NOT_FOUND). A
   * log that answered an index it does not hold the receipt at fails here (ERR_LOG_PROOF_INVALID),
   * before the index is stored.
   */
  async #prove(answered: readonly Delivered[], logKey: NoteVerifier, seed: LoggedRun | undefined, stored: LogCheckpoint | undefined): Promise<{ proved: Delivered[]; signed: LogCheckpoint }> {
    const need = Math.max(...answered.map((item) => item.logIndex)) + 1;
    // The size the log had signed before: a smaller checkpoint is read again for LAG_MS (a process
    // of the log that has not read the latest yet) before it counts.
    // And the size the store's last delivered receipt needs, which another serve on the store may
    // have proved with a checkpoint this process never read.
    const floor = Math.max(this.#last?.size ?? 0, seed === undefined ? 0 : seed.logIndex + 1, stored?.size ?? 0);
    const started = performance.now();
    const deadline = started + (this.#options.checkpointWaitMs ?? 10_000);
    const lagDeadline = Math.min(deadline, started + LAG_MS);
    // Every read of the proof ends when the outbox closes or the proof's time is up: an abandoned
    // read would keep the process alive until the HTTP client's own timeout (minutes).
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout((this.#options.checkpointWaitMs ?? 10_000) + this.#requestTimeoutMs)]);
    let signed = await fetchCheckpoint(this.#options.url, logKey, this.#options.origin, signal, this.#http.fetch);
    const short = (size: number, now: number) => (size < need && now <= deadline) || (size < floor && now <= lagDeadline);
    while (short(signed.checkpoint.size, performance.now()) && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      signed = await fetchCheckpoint(this.#options.url, logKey, this.#options.origin, signal, this.#http.fetch);
    }
    const { size, rootHash } = signed.checkpoint;
    const readTile = httpTileReader(this.#options.url, signal, this.#http.fetch);
    await this.#checkHistory(size, rootHash, seed, stored, readTile);
    const covered = answered.filter((item) => item.logIndex < size);
    if (covered.length === 0) {
      throw new LogError('ERR_LOG_ENTRY_NOT_FOUND', `no checkpoint of the log covered the delivered receipts within ${this.#options.checkpointWaitMs ?? 10_000} ms (size ${size}, ${need} needed)`);
    }
    for (const item of covered) {
      if (!equalBytes(await leafHashFromTiles(item.logIndex, size, readTile), item.leafHash)) {
        throw new LogError('ERR_LOG_PROOF_INVALID', `the log answered index ${item.logIndex} for a receipt, but holds another entry there`);
      }
      if (!verifyInclusion(item.leafHash, item.logIndex, size, await inclusionProofFromTiles(item.logIndex, size, readTile), rootHash)) {
        throw new LogError('ERR_LOG_TILE_INVALID', 'the log\'s tiles do not prove a delivered receipt against its signed checkpoint');
      }
    }
    return { proved: covered, signed: { size, rootHash } };
  }

  /**
   * Checks a signed checkpoint against the log's history as this process saw it, as `runprint log
   * monitor` does (log/client.ts checkLogProgress), then keeps it as the last one verified. After a
   * checkpoint verified before: a smaller size is ERR_LOG_DROPPED, the same size with another root
   * hash ERR_LOG_FORK, a larger one needs a consistency proof from the log's tiles leading from the
   * root hash before to this one (else ERR_LOG_REWRITE). And every checkpoint needs, when the
   * store holds a delivered receipt (`seed`, read before each proof), that receipt at its index
   * under this checkpoint (its leaf hash and inclusion proof from the tiles), else ERR_LOG_REWRITE:
   * a log rolled back or replaced (with the same key) would otherwise be taken as it is and answer
   * again indexes it gave other receipts. Not only the first: another serve on the same store may
   * have delivered past every checkpoint this process saw, to a log rolled back since (this
   * process's own history alone would take the smaller log). The proof is made again only when
   * the seed is another receipt than one already proved in this chain of checkpoints (#held): once
   * per pass where other serves deliver, not when this process is the only one. Then the same
   * checks as against #last against the checkpoint the run store keeps (`stored`: the largest a
   * serve on it verified, this process before a restart or another, stored with the indexes it
   * proved), which carries the history across restarts and between serves: smaller is
   * ERR_LOG_DROPPED, the same size with another root hash ERR_LOG_FORK, larger needs a
   * consistency proof (else ERR_LOG_REWRITE); made again only for a kept checkpoint not checked
   * before (#storedChecked). Tiles that do not give the checkpoint's root hash are
   * ERR_LOG_TILE_INVALID. Each of these stops delivery (outcomeOf).
   */
  async #checkHistory(size: number, rootHash: Uint8Array, seed: LoggedRun | undefined, stored: LogCheckpoint | undefined, readTile: TileReader): Promise<void> {
    const last = this.#last;
    const tilesInvalid = () => new LogError('ERR_LOG_TILE_INVALID', 'the log\'s tiles do not give the root hash of its signed checkpoint');
    if (last !== undefined) {
      if (size < last.size) {
        throw new LogError('ERR_LOG_DROPPED', `the log's signed checkpoint has ${size} entr${size === 1 ? 'y' : 'ies'}, the one verified before ${last.size}: it was rolled back or replaced; no index it answers is stored`);
      }
      if (size === last.size && !equalBytes(rootHash, last.rootHash)) {
        throw new LogError('ERR_LOG_FORK', `the log signed two root hashes for size ${size}: it forked, or was replaced; no index it answers is stored`);
      }
      if (size > last.size && !verifyConsistency(last.size, size, await consistencyProofFromTiles(last.size, size, readTile), last.rootHash, rootHash)) {
        if (!equalBytes(await rootFromTiles(size, readTile), rootHash)) throw tilesInvalid();
        throw new LogError('ERR_LOG_REWRITE', `the log's checkpoint of size ${size} is not consistent with the one of size ${last.size} verified before: it rewrote entries it had signed, or was replaced; no index it answers is stored`);
      }
    }
    const held = this.#held;
    if (seed !== undefined && (held === undefined || held.logIndex !== seed.logIndex || held.recordDigest !== seed.recordDigest)) {
      const leafHash = hashLeaf(encoder.encode(seed.receipt));
      if (seed.logIndex >= size || !equalBytes(await leafHashFromTiles(seed.logIndex, size, readTile), leafHash)) {
        // A checkpoint too small was read again for LAG_MS (#prove's floor) before it counts here.
        const lag = seed.logIndex >= size ? ` (read again for ${LAG_MS / 1000} s: a process of the log lagging longer behind the checkpoint another serve on this store proved with is taken for a rollback too)` : '';
        throw new LogError('ERR_LOG_REWRITE', `the capture log no longer holds the run store's last delivered receipt at index ${seed.logIndex} (its signed checkpoint has ${size} entr${size === 1 ? 'y' : 'ies'}): it was rolled back or replaced (or the store's receipts went to another log); no index it answers is stored${lag}`);
      }
      if (!verifyInclusion(leafHash, seed.logIndex, size, await inclusionProofFromTiles(seed.logIndex, size, readTile), rootHash)) throw tilesInvalid();
      this.#held = { logIndex: seed.logIndex, recordDigest: seed.recordDigest };
    }
    const storedKey = stored === undefined ? undefined : `${stored.size}:${toHex(stored.rootHash)}`;
    if (stored !== undefined && storedKey !== this.#storedChecked) {
      // Verified by a serve on the store: this process before a restart, or another.
      const before = 'the run store holds (verified by a serve on it before)';
      if (size < stored.size) {
        throw new LogError('ERR_LOG_DROPPED', `the log's signed checkpoint has ${size} entr${size === 1 ? 'y' : 'ies'}, the one ${before} ${stored.size}: it was rolled back or replaced; no index it answers is stored (read again for ${LAG_MS / 1000} s: a process of the log lagging longer is taken for a rollback too)`);
      }
      if (size === stored.size && !equalBytes(rootHash, stored.rootHash)) {
        throw new LogError('ERR_LOG_FORK', `the log signed two root hashes for size ${size}, its checkpoint's and the one ${before}: it forked, or was replaced; no index it answers is stored`);
      }
      if (size > stored.size && !verifyConsistency(stored.size, size, await consistencyProofFromTiles(stored.size, size, readTile), stored.rootHash, rootHash)) {
        if (!equalBytes(await rootFromTiles(size, readTile), rootHash)) throw tilesInvalid();
        throw new LogError('ERR_LOG_REWRITE', `the log's checkpoint of size ${size} is not consistent with the one of size ${stored.size} ${before}: it rewrote entries it had signed, or was replaced; no index it answers is stored`);
      }
      this.#storedChecked = storedKey;
    }
    this.#last = { size, rootHash };
  }

  /** `work`, or ERR_LOG_UNREACHABLE when it has not settled within `ms` or the outbox closes (it may still finish later, unheeded). */
  #withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const late = new Promise<never>((_, reject) => {
      const fail = () => reject(new LogError('ERR_LOG_UNREACHABLE', `the log did not answer within ${ms} ms`));
      timer = setTimeout(fail, ms);
      onAbort = fail;
      // An abort listener added after the abort never runs.
      if (this.#abort.signal.aborted) fail();
      else this.#abort.signal.addEventListener('abort', onAbort);
    });
    return Promise.race([work, late]).finally(() => {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', onAbort!);
    });
  }

  /** Stops delivering: a delivery in flight is abandoned (what is left is delivered after a restart). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#endSleep?.();
    await this.#running;
    this.#http.close();
  }
}

/**
 * `GET /v1/runs/{id}/tlog-proof` when receipts go to a remote log: the log's tlog-proof of the
 * entry at the stored index, checked before it is passed on: the proof is of that index and its
 * inclusion proof leads from the receipt to the checkpoint's root hash; with the log key also the
 * checkpoint's signature and origin (verifyTlogProof). Undefined when no checkpoint covers it yet.
 */
export function remoteTlogProofs(url: URL, logKey?: NoteVerifier, origin?: string): { tlogProof(index: number, entry: Uint8Array): Promise<{ text: string; checkpoint: string } | undefined> } {
  return {
    async tlogProof(index, entry) {
      let text: string | undefined;
      try {
        // A log that does not answer within 10 s is one that cannot be reached (502), not a request held open.
        text = await fetchTlogProof(url, index, AbortSignal.timeout(10_000));
      } catch (error) {
        // The log's own error is no answer of this service's: the log failed it (502).
        if (error instanceof LogAnswerError) throw new LogError('ERR_LOG_UNREACHABLE', `the log ${printableUrl(url)} answered HTTP ${error.status} (${error.code}) for the tlog-proof`);
        if (error instanceof RunprintError) throw error;
        // The answer cut off or timed out while its body was read.
        throw new LogError('ERR_LOG_UNREACHABLE', `the log ${printableUrl(url)} gave no whole answer for the tlog-proof`);
      }
      if (text === undefined) return undefined;
      const proof = parseTlogProof(text);
      if (proof.index !== index) throw new LogError('ERR_LOG_TLOG_PROOF_INVALID', `the log answered a tlog-proof of index ${proof.index} for index ${index}`);
      if (logKey !== undefined) {
        await verifyTlogProof(proof, entry, { logKey, ...(origin === undefined ? {} : { origin }), witnesses: [], threshold: 0 });
      } else {
        const checkpoint = parseCheckpoint(proof.checkpoint.text);
        if (!verifyInclusion(hashLeaf(entry), index, checkpoint.size, proof.proof, checkpoint.rootHash)) {
          throw new LogError('ERR_LOG_PROOF_INVALID', 'the log\'s tlog-proof does not lead from this run\'s receipt to its checkpoint\'s root hash (the stored index is of another log, or the log is wrong)');
        }
      }
      return { text, checkpoint: formatNote(proof.checkpoint) };
    },
  };
}
