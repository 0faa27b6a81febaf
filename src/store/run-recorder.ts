/**
 * Records captured runs (issue: live capture, section 3): commits each record durably in batches,
 * then signs a receipt from the durable record and appends it to the log. A crash at any point
 * loses no committed record and duplicates no log entry: signing resumes from the store at start
 * (runs with no receipt yet), and a receipt signed again is the same bytes (Ed25519 is
 * deterministic and the facts come from the stored record), which the log stores once.
 */
import { MAX_ENTRY_SIZE } from '../log/entry-bundle.ts';
import type { CapturedRun } from '../capture/capture-run.ts';
import { isReceiptable, receiptFactsOfRecord } from '../capture/run-receipt.ts';
import { LogError, RunprintError } from '../errors.ts';
import type { SigningKey } from '../keys/keys.ts';
import { formatEnvelope } from '../receipt/envelope.ts';
import { signReceipt } from '../receipt/sign.ts';
import type { TransparencyLog } from './log-service.ts';
import type { RunRecord } from '../capture/run-record.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { runToStore, type ContentPolicy, type RunStorage, type RunToStore, type StoredRun } from './run-storage.ts';

export type Durability = 'sync' | 'async';

export interface RecorderOptions {
  storage: RunStorage;
  policy: ContentPolicy;
  /** Signs each receiptable run's receipt with this key; none: records only. */
  sign?: { key: SigningKey; runprintVersion: string };
  /** Appends each receipt to this log (needs `sign`). */
  log?: TransparencyLog;
  /** Most records in one transaction (default 512). */
  maxBatch?: number;
  /**
   * Most records waiting for a commit (default 10,000): beyond it a record is refused at once
   * (ERR_STORE_UNAVAILABLE, fail-open), so a slow or stuck store cannot grow memory without bound.
   */
  maxPending?: number;
  /** A commit that takes longer than this counts as failed (default 30 s): a stuck store makes the recorder unhealthy. */
  commitTimeoutMs?: number;
  /** Sign only runs of this capture point (in-process capture signs its own; serve signs the rest). Default: all. */
  signCapture?: 'proxy' | 'sdk';
  /** A claim older than this is taken over by another signer (its process died), in ms (default 60 s). */
  claimStaleMs?: number;
  /**
   * Who this signer is when it claims runs: stable across restarts of one service (it takes over
   * its own claims at once), different between services that may share a store and a key (serve
   * and in-process capture), so that they never both sign one run. Default `key:KEYID`.
   */
  claimant?: string;
  /** Runprint's own failures (a store that cannot be written, a receipt that cannot be logged), each as it happens. */
  onFailure?: (error: RunprintError) => void;
  /** The clock of the content memory (ms; default Date.now). */
  now?: () => number;
  /**
   * Appends to `log` the receipts other signers stored without a log (in-process capture on the
   * same store), in every sweep, and stores their log index.
   */
  logOthers?: boolean;
  /** A sweep at least this often (ms), also when no run is committed; none by default. */
  sweepEveryMs?: number;
  /** Called after receipts were stored (a remote log's outbox delivers the ones without a log index). */
  onReceipts?: () => void;
}

/**
 * How long the recorder remembers that a piece of content is in the store (its digest committed
 * as kept by a run): within it, a run that keeps the same content names it as kept without making
 * its bytes again or writing them. Sound because the store deletes content only when no unexpired
 * run keeps it, and a run committed this recently is not expired: serve's retention is at least a
 * day, and the recorder's own `expire` forgets what it remembered.
 */
export const CONTENT_MEMORY_MS = 10 * 60_000;
/** Most digests remembered (the oldest are forgotten first). */
export const CONTENT_MEMORY_ENTRIES = 50_000;

export interface RecorderCounts {
  /** Records committed. */
  recorded: number;
  /** Records that could not be committed (the calls went on: fail-open). */
  failed: number;
  /** Receipts signed, and of those appended to the log. */
  signed: number;
  logged: number;
}

const encoder = new TextEncoder();

/** A sweep (claiming runs without a receipt) runs at most this often after commits (ms). */
const SWEEP_INTERVAL_MS = 1_000;

/** Most runs held in memory to sign again after their receipt could not be logged. */
const MAX_RETRY = 1_024;

/** What signing a run needs: the stored record and identity (StoredRun's fields of them). */
type ToSign = Pick<StoredRun, 'recordDigest' | 'record' | 'identity' | 'model' | 'capture'>;

interface Pending {
  run: RunToStore;
  resolve: () => void;
  reject: (error: RunprintError) => void;
}

export class RunRecorder {
  readonly counts: RecorderCounts = { recorded: 0, failed: 0, signed: 0, logged: 0 };
  readonly #options: RecorderOptions;
  readonly #maxBatch: number;
  #pending: Pending[] = [];
  #flushing = false;
  /** The last commit failed: a fail-closed proxy refuses calls until one succeeds. */
  #unhealthy = false;
  #signing: Promise<void> = Promise.resolve();
  #signQueued = false;
  /** Runs this recorder claimed as it committed them: signed from memory, without reading them back. */
  #fresh: ToSign[] = [];
  /** Runs whose receipt could not be logged: still claimed by this recorder, signed again from #retryAt on. */
  #retry: ToSign[] = [];
  #retryAt = 0;
  /**
   * When this recorder started (RFC 3339): its own claims from before it are an earlier process's,
   * for its sweep to take over; those since are its own, signed from #fresh or #retry.
   */
  readonly #startedAt = new Date().toISOString();
  /** When a sweep last ran (ms, performance clock); a sweep is due on the next pass when set. */
  #lastSweep = Number.NEGATIVE_INFINITY;
  #sweepDue = true;
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepInterval: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /**
   * This recorder's name when it claims runs to sign: its key. A process restarted with the same
   * key takes over what it claimed before it stopped; two processes with one key may both sign a
   * run, and make the same bytes, which the log stores once; two keys never sign one run.
   */
  readonly #claimant: string;
  /** Content digests committed as kept, with the time of that commit (oldest first). */
  readonly #stored = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: RecorderOptions) {
    if (options.log !== undefined && options.sign === undefined) throw new TypeError('a recorder that logs receipts needs a signing key');
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? 512;
    this.#claimant = options.claimant ?? `key:${options.sign?.key.keyId ?? 'none'}`;
    this.#now = options.now ?? Date.now;
    if (options.sweepEveryMs !== undefined && options.sign !== undefined) {
      this.#sweepInterval = setInterval(() => void this.#signPass(true), options.sweepEveryMs);
      this.#sweepInterval.unref?.();
    }
  }

  /** True when a run committed within CONTENT_MEMORY_MS before `now` keeps this content. */
  #known(digest: string, now: number): boolean {
    const at = this.#stored.get(digest);
    return at !== undefined && now - at < CONTENT_MEMORY_MS;
  }

  #remember(batch: readonly Pending[]): void {
    const at = this.#now();
    for (const item of batch) {
      for (const digest of item.run.kept) {
        this.#stored.delete(digest);
        this.#stored.set(digest, at);
      }
    }
    for (const digest of this.#stored.keys()) {
      if (this.#stored.size <= CONTENT_MEMORY_ENTRIES) break;
      this.#stored.delete(digest);
    }
  }

  /**
   * Deletes the content of runs that ended before `before` (the store's expire), forgetting what
   * the recorder remembered as stored first.
   */
  async expire(before: string): Promise<number> {
    this.#stored.clear();
    try {
      return await this.#options.storage.expire(before);
    } finally {
      this.#stored.clear();
    }
  }

  /** False after a commit failed, until the next one succeeds. */
  get healthy(): boolean {
    return !this.#unhealthy && !this.#closed;
  }

  /**
   * Queues a captured run; resolves when its record is durable (committed with its batch), rejects
   * with the store's error when it could not be. Signing follows the commit, in the background.
   */
  record(run: CapturedRun, bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array }, capture: 'proxy' | 'sdk'): Promise<void> {
    if (this.#closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the run store is closed'));
    if (this.#pending.length >= (this.#options.maxPending ?? 10_000)) {
      this.counts.failed++;
      this.#unhealthy = true;
      const behind = new LogError('ERR_STORE_UNAVAILABLE', 'the run store is behind: too many records wait for a commit; this one was not recorded');
      this.#report(behind);
      return Promise.reject(behind);
    }
    const now = this.#now();
    const prepared = runToStore(run, bytes, this.#options.policy, capture, this.#options.sign !== undefined && isReceiptable(run), (digest) => this.#known(digest, now));
    // This recorder signs it: claimed in the same transaction that stores it.
    if (prepared.receiptable && (this.#options.signCapture === undefined || this.#options.signCapture === capture)) prepared.claimedBy = this.#claimant;
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ run: prepared, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      try {
        await withTimeout(this.#options.storage.put(batch.map((item) => item.run)), this.#options.commitTimeoutMs ?? 30_000);
      } catch (error) {
        const failure = error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the run store could not store the record');
        this.#unhealthy = true;
        this.counts.failed += batch.length;
        this.#report(failure);
        for (const item of batch) item.reject(failure);
        continue;
      }
      this.#unhealthy = false;
      this.#remember(batch);
      this.counts.recorded += batch.length;
      for (const item of batch) item.resolve();
      for (const { run } of batch) {
        // As the store gives it back (the record's canonical JSON, the identity's JSON), so a receipt
        // signed again after a crash, from the store, is the same bytes.
        if (run.claimedBy !== undefined) this.#fresh.push({ recordDigest: run.recordDigest, record: JSON.parse(run.recordJson) as RunRecord, identity: run.identity === null ? null : (JSON.parse(JSON.stringify(run.identity)) as IdentityDocument), model: run.model, capture: run.capture });
      }
      if (batch.some((item) => item.run.receiptable)) this.#signPass(false);
    }
    this.#flushing = false;
  }

  #report(error: RunprintError): void {
    try {
      this.#options.onFailure?.(error);
    } catch {
      // Reporting must not fail recording.
    }
  }

  /**
   * Signs and logs every stored run that has no receipt yet (at start, this picks up what a
   * crash left). One pass at a time; a call during a pass makes one more pass after it.
   */
  signPending(): Promise<void> {
    return this.#signPass(true);
  }

  /**
   * One pass: the runs this recorder claimed as it committed them, then, when `sweep` or when the
   * last sweep is SWEEP_INTERVAL_MS old, a sweep that claims every other run without a receipt it
   * may sign (another signer's stale claims, what a crash left); a sweep put off is run by a timer.
   */
  #signPass(sweep: boolean): Promise<void> {
    if (this.#options.sign === undefined) return Promise.resolve();
    if (sweep) this.#sweepDue = true;
    if (this.#signQueued) return this.#signing;
    this.#signQueued = true;
    this.#signing = this.#signing.then(async () => {
      this.#signQueued = false;
      try {
        const fresh = this.#fresh.splice(0);
        if (this.#retry.length > 0) {
          // Not due yet: a pass when it is (a timer due sooner makes its own pass come back here).
          if (performance.now() >= this.#retryAt) fresh.push(...this.#retry.splice(0));
          else this.#sweepLater(this.#retryAt - performance.now());
        }
        if (fresh.length > 0 && !this.#closed) await this.#signAll(fresh);
        const now = performance.now();
        if (!this.#sweepDue && now - this.#lastSweep < SWEEP_INTERVAL_MS) {
          this.#sweepLater(SWEEP_INTERVAL_MS - (now - this.#lastSweep));
          return;
        }
        this.#sweepDue = false;
        this.#lastSweep = now;
        if (this.#options.logOthers === true && this.#options.log !== undefined) await this.#logOthers(this.#options.log);
        for (;;) {
          const stale = new Date(Date.now() - (this.#options.claimStaleMs ?? 60_000)).toISOString();
          const runs = await this.#options.storage.claimUnsigned(256, this.#claimant, stale, this.#options.signCapture, this.#startedAt);
          if (runs.length === 0 || this.#closed) return;
          if (!(await this.#signAll(runs))) return;
        }
      } catch (error) {
        this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'receipts could not be signed or stored'));
        this.#sweepLater(SWEEP_INTERVAL_MS);
      }
    });
    return this.#signing;
  }

  /** Appends the receipts stored without a log index to the log, and stores their indexes. */
  async #logOthers(log: TransparencyLog): Promise<void> {
    let after = 0;
    for (;;) {
      const unlogged = await this.#options.storage.unlogged(256, after);
      if (unlogged.length === 0 || this.#closed) return;
      after = unlogged.at(-1)!.seq;
      const indexes: { recordDigest: string; logIndex: number }[] = [];
      for (const run of unlogged) {
        const entry = encoder.encode(run.receipt);
        // Longer than a log entry can be (reported when it was signed): it stays stored, unlogged.
        if (entry.length > MAX_ENTRY_SIZE) continue;
        try {
          // The log holds an entry once: a receipt appended twice gets the index it has.
          const stored = await log.append(entry, run.runId ?? undefined);
          indexes.push({ recordDigest: run.recordDigest, logIndex: stored.index });
          this.counts.logged++;
        } catch (error) {
          this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'a receipt could not be logged'));
          break;
        }
      }
      await this.#options.storage.setLogIndexes(indexes);
      if (indexes.length < unlogged.length) return this.#sweepLater(SWEEP_INTERVAL_MS);
    }
  }

  /** A sweep in `ms` (one at a time; none once closed; it does not keep the process alive). */
  #sweepLater(ms: number): void {
    if (this.#closed || this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      if (!this.#closed) void this.#signPass(true);
    }, ms);
    this.#sweepTimer.unref?.();
  }

  /**
   * Signs and logs `runs`, and stores their receipts where this signer still holds the claim and
   * no receipt was set meanwhile; false when a receipt could not be logged (that run stays unsigned).
   */
  async #signAll(runs: readonly ToSign[]): Promise<boolean> {
    const done = await Promise.all(runs.map((run) => this.#signOne(run)));
    const receipts = done.filter((item) => item !== undefined);
    await this.#options.storage.setReceipts(receipts, this.#claimant);
    if (receipts.length > 0) this.#options.onReceipts?.();
    if (receipts.length === runs.length) return true;
    // A run whose receipt cannot be logged stays unsigned, claimed by this recorder: signed again a
    // second later (not by a sweep, which leaves this recorder's own claims to it). At most
    // MAX_RETRY are held (a log down for long): the sweep takes the others once their claim is stale.
    runs.forEach((run, i) => void (done[i] === undefined && this.#retry.length < MAX_RETRY && this.#retry.push(run)));
    this.#retryAt = performance.now() + SWEEP_INTERVAL_MS;
    this.#sweepLater(SWEEP_INTERVAL_MS);
    return false;
  }

  async #signOne(run: ToSign): Promise<{ recordDigest: string; receipt: string; logIndex: number | null } | undefined> {
    const sign = this.#options.sign!;
    const facts = receiptFactsOfRecord(run.record, run.identity, run.model ?? '', run.capture, sign.runprintVersion);
    const receipt = formatEnvelope(await signReceipt(facts, sign.key));
    this.counts.signed++;
    let logIndex: number | null = null;
    if (this.#options.log !== undefined) {
      try {
        const stored = await this.#options.log.append(encoder.encode(receipt), run.record.runId ?? undefined);
        logIndex = stored.index;
        this.counts.logged++;
      } catch (error) {
        if (error instanceof RunprintError && error.code === 'ERR_LOG_ENTRY_TOO_LARGE') {
          // No log takes it, now or later: the receipt is stored without a log index (it still
          // verifies with the key), and the run is not signed again.
          this.#report(new LogError('ERR_LOG_ENTRY_TOO_LARGE', `a receipt of ${receipt.length} bytes is longer than a log entry can be (${MAX_ENTRY_SIZE} bytes: a request of many hundreds of messages or parents); it is stored, not logged`));
          return { recordDigest: run.recordDigest, receipt, logIndex: null };
        }
        this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'a receipt could not be logged'));
        return undefined;
      }
    }
    return { recordDigest: run.recordDigest, receipt, logIndex };
  }

  /** Commits what is queued, finishes signing, and takes no more records. */
  async close(): Promise<void> {
    while (this.#flushing || this.#pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.#signing;
    this.#closed = true;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    clearInterval(this.#sweepInterval);
  }
}

/** `work`, or ERR_STORE_UNAVAILABLE when it has not settled within `ms` (it may still finish later). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LogError('ERR_STORE_UNAVAILABLE', `the run store did not commit within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
