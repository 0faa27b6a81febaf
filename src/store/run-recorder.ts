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
import type { HeldJournal } from './held-journal.ts';
import { identityAsStored, identityText } from './identity-text.ts';
import type { TransparencyLog } from './log-service.ts';
import type { RunRecord } from '../capture/run-record.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { identityElements, LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { atOnce, inTurns, nextTurn } from '../io/steps.ts';
import { captureIdTaken, runToStore, runToStoreInSteps, type ContentPolicy, type RunStorage, type RunToStore, type StoredRun } from './run-storage.ts';

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
   * Most records waiting for a commit, held ones included (default 10,000): beyond it a record is
   * refused at once (ERR_CAPTURE_RECORDS_LOST, fail-open), so a slow or stuck store cannot grow
   * memory without bound.
   */
  maxPending?: number;
  /** A commit that takes longer than this counts as failed (default 30 s): a stuck store makes the recorder unhealthy. */
  commitTimeoutMs?: number;
  /**
   * How long a record whose commit failed is held in memory and tried again (default 5 min,
   * RETRY_FOR_MS): past it, it is dropped and counted failed.
   */
  retryForMs?: number;
  /** Most bytes of records held for a retry (default 256 MiB, MAX_HELD_BYTES); a record beyond it is refused. */
  maxHeldBytes?: number;
  /** Called when the store works again after a commit failed, with the number of held records then committed. */
  onRecovered?: (committed: number) => void;
  /**
   * Keeps held records on disk too (held-journal.ts), until a commit stores them: they are then
   * not dropped after retryForMs nor when the recorder closes, those past maxHeldBytes wait on disk
   * alone, and what the journal holds when the recorder starts (a stop or crash while the store
   * failed, here or in another process sharing the journal) is committed then.
   */
  journal?: HeldJournal;
  /** Called as the recorder closes with records held that the journal keeps (not dropped), with their number. */
  onJournalLeft?: (count: number) => void;
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
  /**
   * Checks that `log` is still the log the run store's indexes refer to and keeps its checkpoint
   * in the store (serve: own-log-checkpoint.ts keepOwnLog), about every `keepLogEveryMs` (default
   * 1,000) after receipts were appended: ERR_LOG_CONFIG_MISMATCH stops appending (logStopped), as
   * an index another run holds does; another failure is reported and tried again.
   */
  keepLog?: () => Promise<void>;
  keepLogEveryMs?: number;
}

/**
 * How long the recorder remembers that a piece of content is in the store (its digest committed
 * as kept by a run): within it, a run that keeps the same content names it as kept without making
 * its bytes again or writing them. Sound because the store deletes content only when no unexpired
 * run keeps it, and only runs that ended recently (RECENT_ENDED_MS) are remembered: serve's
 * retention is at least a day, so such a run is not expired for hours yet, whichever process
 * sweeps; the recorder's own `expire` forgets what it remembered. A run that ended long before it
 * was committed (an exchange delivered late from an outbox) may expire at the next sweep of any
 * serve on the store, so what it keeps is not remembered.
 */
export const CONTENT_MEMORY_MS = 10 * 60_000;
/** Damaged runs a recorder remembers having reported (a store with more is reported again after it forgets). */
const MAX_DAMAGED_REMEMBERED = 10_000;
/**
 * Content is remembered only from runs that ended at most this long before their commit (by this
 * process's clock): half of the shortest retention (a day), which leaves hours for clocks that differ.
 */
export const RECENT_ENDED_MS = 12 * 60 * 60_000;
/** Most digests remembered (the oldest are forgotten first). */
export const CONTENT_MEMORY_ENTRIES = 50_000;

export interface RecorderCounts {
  /** Records committed (held ones too, once their retry committed them). */
  recorded: number;
  /** Of those, records of calls whose request could not be identified (SPEC 11: `unidentified` in the record). */
  unidentified: number;
  /**
   * Records that could not be committed: refused (too many waiting), or held for a retry and
   * dropped after retryForMs or at close. Records held now are not counted (RunRecorder.held).
   */
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

/** How long a record whose commit failed is held and tried again, by default (ms). */
export const RETRY_FOR_MS = 5 * 60_000;
/** Most bytes of records held for a retry, by default. */
export const MAX_HELD_BYTES = 256 * 1024 * 1024;
/** The first retry of a failed commit comes this long after it (ms); each failed retry doubles the wait, up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 5_000;

/** What signing a run needs: the stored record and identity (StoredRun's fields of them). */
type ToSign = Pick<StoredRun, 'recordDigest' | 'record' | 'identity' | 'model' | 'capture'> & {
  /** A large run's document as captured, to sign as the store gives it back (identityAsStored) when it is signed. */
  capturedIdentity?: true;
};

interface Pending {
  run: RunToStore;
  resolve: () => void;
  reject: (error: RunprintError) => void;
}

/** A record whose commit failed (its caller was told so), held to be committed by a retry. */
interface Held {
  run: RunToStore;
  /** When it was first held (performance clock, ms). */
  since: number;
  /** What it holds in memory, about: its record's JSON and its content. */
  bytes: number;
  /** True once the journal holds it too: it is then never dropped. */
  journaled: boolean;
}

/** What #commitIsolating did with a batch. */
interface Isolated {
  /** The first `settled` records were committed, refused or set aside; the others were not committed. */
  settled: number;
  /** Record digests the store refused (#commit). */
  refused: Set<string>;
  /** Record digests set aside (#setAside), with the error for their callers. */
  invalid: Map<string, RunprintError>;
  /** Why the records after `settled` were not committed: the store failed. */
  failure?: RunprintError;
}

/** Why a settled record of a commit (#commitIsolating) was not stored: set aside, or its capture id another record's; undefined when it was. */
function refusalOf(result: Isolated, recordDigest: string): RunprintError | undefined {
  return result.invalid.get(recordDigest) ?? (result.refused.has(recordDigest) ? captureIdTaken() : undefined);
}

const sizeOf = (run: RunToStore): number => run.recordJson.length + run.content.reduce((sum, piece) => sum + piece.bytes.byteLength, 0);

export class RunRecorder {
  readonly counts: RecorderCounts = { recorded: 0, unidentified: 0, failed: 0, signed: 0, logged: 0 };
  readonly #options: RecorderOptions;
  readonly #maxBatch: number;
  #pending: Pending[] = [];
  #flushing = false;
  /**
   * A commit failed and the store has not worked since: new records are held at once (their
   * callers are not kept waiting), and a retry (#retryPass) commits the held ones, or probes the
   * store when none is held, every RETRY_FIRST_MS to RETRY_MAX_MS until it works. Cleared by the
   * first commit of a retry that works: new records are then queued and committed as usual while
   * the retry commits the rest of the held ones.
   */
  #failing = false;
  /** A record was refused because too many wait: unhealthy until the next commit. */
  #behind = false;
  /** Records whose commit failed, oldest first, and the bytes they hold. */
  #held: Held[] = [];
  #heldBytes = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_FIRST_MS;
  /** The retry pass running, if any. */
  #retrying: Promise<void> | undefined;
  /**
   * A store call that timed out (commitTimeoutMs) and has not settled yet: no retry starts before
   * it does, so a slow store is never sent the same records twice at once.
   */
  readonly #inFlight = new Set<Promise<void>>();
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
  /** close() has begun: no new signing pass or sweep starts (a locked store would hold up the stop). */
  #closing = false;
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
    if (options.keepLog !== undefined && options.log !== undefined) {
      this.#keepInterval = setInterval(() => void this.#keepLogTick(options.keepLog!), options.keepLogEveryMs ?? 1_000);
      this.#keepInterval.unref?.();
    }
    // What a stop or a crash left in the journal is committed now (a retry pass loads it); the
    // records the store refused are kept apart in it, not tried again.
    if (options.journal !== undefined) {
      setImmediate(() => {
        if (this.#closed) return;
        try {
          this.#refusedKept = options.journal!.refusedCount();
        } catch {
          // Reported by #journalRows, which reads the same file.
        }
        if (this.#journalRows() > 0) void this.#retryPass();
      });
    }
  }

  /** Set while the journal cannot be read (a damaged file, say): it may hold records not yet committed, so the recorder is unhealthy. */
  #journalUnreadable = false;

  /** The journal's rows; 0 when it cannot be read (reported, and unhealthy until it can). */
  #journalRows(): number {
    try {
      const rows = this.#options.journal?.count() ?? 0;
      this.#journalUnreadable = false;
      return rows;
    } catch (error) {
      this.#journalUnreadable = true;
      this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the held-records journal could not be read'));
      return 0;
    }
  }

  /** True when a run committed within CONTENT_MEMORY_MS before `now` keeps this content. */
  #known(digest: string, now: number): boolean {
    const at = this.#stored.get(digest);
    return at !== undefined && now - at < CONTENT_MEMORY_MS;
  }

  /** Remembers the content `runs` keep as stored (#known): in one go, or in steps for many digests (large runs). */
  #remember(runs: readonly RunToStore[]): Promise<void> | undefined {
    const steps = this.#rememberSteps(runs);
    let kept = 0;
    for (const run of runs) kept += run.kept.length;
    if (kept < LARGE_RUN_ELEMENTS) return void atOnce(steps);
    return inTurns(steps);
  }

  /** #remember, yielding after every STEP_ELEMENTS digests. */
  *#rememberSteps(runs: readonly RunToStore[]): Generator<void, void, void> {
    const at = this.#now();
    let done = 0;
    for (const run of runs) {
      const ended = Date.parse(run.record.times.ended);
      if (!(at - ended <= RECENT_ENDED_MS)) continue;
      for (const digest of run.kept) {
        this.#stored.delete(digest);
        this.#stored.set(digest, at);
        if (++done % STEP_ELEMENTS === 0) yield;
      }
    }
    for (const digest of this.#stored.keys()) {
      if (this.#stored.size <= CONTENT_MEMORY_ENTRIES) break;
      this.#stored.delete(digest);
      if (++done % STEP_ELEMENTS === 0) yield;
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

  /**
   * False after a commit failed, until a retry committed every record held since or, with none
   * held, a probe of the store (a write transaction that writes nothing) worked; and after a
   * record was refused because too many wait, until the next commit.
   */
  get healthy(): boolean {
    // Records held (a commit failed, or the journal gave them at start) are not recorded yet.
    // A journal that cannot be read may hold what a stopped or crashed serve could not commit.
    return !this.#failing && !this.#behind && !this.#closed && this.#held.length === 0 && !this.#journalUnreadable;
  }

  /** Records held in memory after their commit failed, for a retry to commit. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * Queues a captured run; resolves when its record is durable (committed with its batch), rejects
   * with the store's error when it could not be. Signing follows the commit, in the background.
   * A record whose commit failed, or that comes while the store is failing (rejected at once,
   * without a commit attempt), is held in memory and committed by a retry once the store works
   * again, for up to retryForMs. With `captureIdOnce` (an exchange, whose sender chose the capture
   * id), the store stores it only while no other record has its capture id, and it rejects with
   * ERR_CAPTURE_ID_TAKEN otherwise (RunToStore.captureIdOnce).
   */
  record(run: CapturedRun, bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array }, capture: 'proxy' | 'sdk', options: { captureIdOnce?: boolean } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the run store is closed'));
    if (this.#pending.length + this.#held.length + this.#largeCount >= (this.#options.maxPending ?? 10_000)) {
      this.counts.failed++;
      this.#behind = true;
      const behind = new LogError('ERR_CAPTURE_RECORDS_LOST', `the run store is behind: too many records wait for a commit (${this.#options.maxPending ?? 10_000}); this one was not recorded`);
      this.#report(behind);
      return Promise.reject(behind);
    }
    const now = this.#now();
    const receiptable = this.#options.sign !== undefined && isReceiptable(run);
    const known = (digest: string) => this.#known(digest, now);
    if (identityElements(run.identity) < LARGE_RUN_ELEMENTS) return this.#queue(runToStore(run, bytes, this.#options.policy, capture, receiptable, known), capture, options);
    // A large run's rows are made in steps (the event loop answers other calls between them) and
    // committed on their own, outside the queue: the records that come meanwhile pass it, each
    // committed with its batch while the large run is made and stored (one large run at a time).
    // (The first step in a turn of its own: the record was made in this one.)
    this.#largeCount++;
    const done = this.#large.then(async () => {
      try {
        await nextTurn();
        return await this.#commitLarge(await runToStoreInSteps(run, bytes, this.#options.policy, capture, receiptable, known), capture, options);
      } finally {
        this.#largeCount--;
      }
    });
    this.#large = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** The last large run recorded (record): settled once it is committed, refused or held. */
  #large: Promise<void> = Promise.resolve();
  /** Large runs recorded and not yet committed, refused or held. */
  #largeCount = 0;

  /** This recorder signs it: claimed in the same transaction that stores it. */
  #claim(prepared: RunToStore, capture: 'proxy' | 'sdk', options: { captureIdOnce?: boolean }): void {
    if (prepared.receiptable && (this.#options.signCapture === undefined || this.#options.signCapture === capture)) prepared.claimedBy = this.#claimant;
    if (options.captureIdOnce === true) prepared.captureIdOnce = true;
  }

  /** The record comes while the store fails: held (or refused, past maxHeldBytes without a journal), and the error for its caller. */
  #heldAtOnce(prepared: RunToStore): RunprintError {
    return this.#hold(prepared) ?? new LogError('ERR_STORE_UNAVAILABLE', `the run store failed its last commit: this record is held ${this.#options.journal === undefined ? 'in memory' : 'in memory and in the journal'} and committed when the store works again`);
  }

  /**
   * Commits a large run's rows in a transaction of their own, beside the batches of the queue
   * (#flush); as #flush does, a store that fails holds it, and every record queued, for a retry.
   */
  async #commitLarge(prepared: RunToStore, capture: 'proxy' | 'sdk', options: { captureIdOnce?: boolean }): Promise<void> {
    this.#claim(prepared, capture, options);
    if (this.#failing) throw this.#heldAtOnce(prepared);
    const result = await this.#commitIsolating([prepared]);
    if (result.failure !== undefined) {
      let held: RunprintError = result.failure;
      this.#storeFailed(result.failure, [{ run: prepared, resolve: () => undefined, reject: (error) => (held = error) }]);
      throw held;
    }
    const refused = refusalOf(result, prepared.recordDigest);
    if (refused !== undefined) throw refused;
  }

  /** Queues a run's rows for the next commit (record's second half). */
  #queue(prepared: RunToStore, capture: 'proxy' | 'sdk', options: { captureIdOnce?: boolean }): Promise<void> {
    this.#claim(prepared, capture, options);
    if (this.#failing) return Promise.reject(this.#heldAtOnce(prepared));
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ run: prepared, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0 && !this.#failing) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      const result = await this.#commitIsolating(batch.map((item) => item.run));
      for (const item of batch.slice(0, result.settled)) {
        const refused = refusalOf(result, item.run.recordDigest);
        if (refused !== undefined) item.reject(refused);
        else item.resolve();
      }
      if (result.failure === undefined) continue;
      this.#storeFailed(result.failure, batch.slice(result.settled));
    }
    this.#flushing = false;
  }

  /**
   * The store failed a commit: `uncommitted` and every record waiting in the queue are held for a
   * retry, and their callers are told now (a proxy in sync durability releases their answers,
   * or, fail-closed, cuts them), not after another commit attempt each.
   */
  #storeFailed(failure: RunprintError, uncommitted: readonly Pending[]): void {
    this.#failing = true;
    this.#report(failure);
    for (const item of [...uncommitted, ...this.#pending.splice(0)]) item.reject(this.#hold(item.run) ?? failure);
    this.#retryLater();
  }

  /**
   * Commits `runs` in one transaction (bounded by commitTimeoutMs) and, once committed, counts
   * them and queues their signing, and gives the record digests the store refused (captureIdOnce
   * runs whose capture id another record has: not stored, not counted); the failure otherwise
   * (nothing is counted).
   */
  async #commit(batch: RunToStore[]): Promise<RunprintError | Set<string>> {
    let refused: Set<string>;
    let existing: Set<string>;
    try {
      const result = await this.#bounded(this.#options.storage.put(batch));
      refused = new Set(result.refused);
      existing = new Set(result.existing);
    } catch (error) {
      return error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the run store could not store the record');
    }
    this.#behind = false;
    // One record twice in a batch (an exchange sent again while the first was held) is one run.
    const seen = new Set<string>();
    const runs = batch.filter((run) => !refused.has(run.recordDigest) && !seen.has(run.recordDigest) && seen.add(run.recordDigest) !== undefined);
    const remembering = this.#remember(runs);
    if (remembering !== undefined) await remembering;
    this.counts.recorded += runs.length;
    for (const run of runs) if (run.record.unidentified !== null) this.counts.unidentified++;
    for (const run of runs) {
      // A record the store held already, signed or claimed by another (an exchange sent again,
      // perhaps to another serve), is signed by that one, not again here: another key's receipt
      // would be a second log entry for one run.
      if (existing.has(run.recordDigest)) continue;
      // As the store gives it back (the record's canonical JSON, the identity's JSON: the text the
      // SQLite store wrote, identity-text.ts), so a receipt signed again after a crash, from the
      // store, is the same bytes.
      if (run.claimedBy === undefined) continue;
      // A large run's identity is read so when it is signed, in steps (JSON.parse of its 8 MB text
      // held the event loop 50 to 100 ms).
      const record = JSON.parse(run.recordJson) as RunRecord;
      if (identityElements(run.identity) >= LARGE_RUN_ELEMENTS) this.#fresh.push({ recordDigest: run.recordDigest, record, identity: run.identity, model: run.model, capture: run.capture, capturedIdentity: true });
      else {
        const identity = identityText(run.identity);
        this.#fresh.push({ recordDigest: run.recordDigest, record, identity: identity === null ? null : (JSON.parse(identity) as IdentityDocument), model: run.model, capture: run.capture });
      }
    }
    if (runs.some((run) => run.receiptable)) this.#signPass(false);
    return refused;
  }

  /**
   * Commits `batch` as #commit does; when the store refuses a record for what it holds
   * (ERR_STORE_RECORD_REFUSED: no retry would store it), commits each half on its own, and so on,
   * down to the records that fail alone, which are set aside (#setAside): one such record never
   * holds up the others. The first `settled` records of the batch were committed, refused as
   * #commit gives them (`refused`) or set aside (`invalid`, by record digest, with the error for
   * their callers); the others were not committed: the store failed (`failure`).
   */
  async #commitIsolating(batch: RunToStore[]): Promise<Isolated> {
    const result = await this.#commit(batch);
    if (result instanceof Set) return { settled: batch.length, refused: result, invalid: new Map() };
    if (result.code !== 'ERR_STORE_RECORD_REFUSED') return { settled: 0, refused: new Set(), invalid: new Map(), failure: result };
    if (batch.length === 1) return { settled: 1, refused: new Set(), invalid: new Map([[batch[0]!.recordDigest, this.#setAside(batch[0]!, result)]]) };
    const half = Math.ceil(batch.length / 2);
    const first = await this.#commitIsolating(batch.slice(0, half));
    if (first.failure !== undefined) return first;
    const second = await this.#commitIsolating(batch.slice(half));
    return { ...second, settled: half + second.settled, refused: new Set([...first.refused, ...second.refused]), invalid: new Map([...first.invalid, ...second.invalid]) };
  }

  /**
   * A record the store refused for what it holds, alone: counted failed and reported once, moved
   * to the journal's refused records (HeldJournal.refuse: kept, never tried again, by this
   * recorder or one started later), and the error for its caller.
   */
  #setAside(run: RunToStore, refused: RunprintError): RunprintError {
    // One record twice in a batch (an exchange sent again) is set aside once.
    const again = this.#setAsideDigests.has(run.recordDigest);
    if (!again) this.counts.failed++;
    this.#setAsideDigests.add(run.recordDigest);
    const journal = this.#options.journal;
    let kept = false;
    if (journal !== undefined) {
      try {
        journal.refuse([{ run, code: refused.code, reason: refused.message }]);
        kept = true;
        this.#refusedKept = journal.refusedCount();
      } catch (error) {
        this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the held-records journal could not be written'));
      }
    }
    const where = kept
      ? `it is kept with the refused records of the held-records journal ${journal!.path}, not tried again`
      : journal === undefined
        ? 'it is lost'
        : 'the held-records journal could not keep it: it is lost, unless the journal held it already (then it is tried again at the next start)';
    const error = new LogError('ERR_STORE_RECORD_REFUSED', `${refused.message}: the record of capture id ${run.record.captureId} is not stored, the records committed with it are; ${where}`);
    if (!again) this.#report(error);
    return error;
  }

  /**
   * Records set aside (#setAside) by this recorder: not taken from the journal again (one is left
   * there only when the journal could not move it to its refused records).
   */
  readonly #setAsideDigests = new Set<string>();

  /** Refused records the journal keeps (read at start and after each refusal). */
  #refusedKept = 0;

  /**
   * Records the run store refused for what they hold (ERR_STORE_RECORD_REFUSED) that the journal
   * keeps apart, not tried again: those of earlier starts too, and of other processes sharing the
   * journal, as of the start and this recorder's last refusal. They do not make it unhealthy.
   */
  get refused(): number {
    return this.#refusedKept;
  }

  /** `work` within commitTimeoutMs; when it times out, it is #inFlight until it settles. */
  #bounded<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const end = work.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    return withTimeout(work, this.#options.commitTimeoutMs ?? 30_000).catch((error: unknown) => {
      if (!settled) {
        this.#inFlight.add(end);
        void end.then(() => this.#inFlight.delete(end));
      }
      throw error;
    });
  }

  /**
   * Holds a record for a retry, and queues it for the journal; the error to give its caller
   * instead when the held records' bytes would pass maxHeldBytes and no journal takes it (counted
   * failed). With a journal, a record past maxHeldBytes waits there alone.
   */
  #hold(run: RunToStore): RunprintError | undefined {
    const bytes = sizeOf(run);
    const max = this.#options.maxHeldBytes ?? MAX_HELD_BYTES;
    const inMemory = this.#heldBytes + bytes <= max;
    if (!inMemory && this.#options.journal === undefined) {
      this.counts.failed++;
      const full = new LogError('ERR_CAPTURE_RECORDS_LOST', `the run store is failing and the records held for it fill ${Math.round(max / 1048576)} MiB: this one was not recorded`);
      this.#report(full);
      return full;
    }
    let held: Held | undefined;
    if (inMemory) {
      held = { run, since: performance.now(), bytes, journaled: false };
      this.#held.push(held);
      this.#heldBytes += bytes;
    }
    if (this.#options.journal !== undefined) {
      this.#toJournal.push({ run, held });
      if (this.#toJournal.length === 1) setImmediate(() => this.#writeJournal());
    }
    return undefined;
  }

  /** Records held since the last journal write, to write in one transaction (the held entry when kept in memory too). */
  #toJournal: Array<{ run: RunToStore; held: Held | undefined }> = [];

  /**
   * Writes the records held since the last write to the journal, in one durable transaction. When
   * it fails (reported), those kept in memory are held as without a journal, and those that were
   * not are lost (counted failed).
   */
  #writeJournal(): void {
    const items = this.#toJournal.splice(0);
    if (items.length === 0 || this.#options.journal === undefined) return;
    try {
      this.#options.journal.add(items.map((item) => item.run));
    } catch (error) {
      this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the held-records journal could not be written'));
      const lost = items.filter((item) => item.held === undefined).length;
      if (lost > 0) {
        this.counts.failed += lost;
        this.#report(new LogError('ERR_CAPTURE_RECORDS_LOST', `${lost} record${lost === 1 ? '' : 's'} held past ${Math.round((this.#options.maxHeldBytes ?? MAX_HELD_BYTES) / 1048576)} MiB could not be written to the journal either: not recorded`));
      }
      return;
    }
    for (const item of items) if (item.held !== undefined) item.held.journaled = true;
  }

  /**
   * With nothing held in memory, takes what the journal holds (oldest first, up to maxHeldBytes)
   * to commit next; a journal that cannot be read is reported and left for the next pass.
   */
  #loadJournal(): void {
    const journal = this.#options.journal;
    if (journal === undefined || this.#held.length > 0) return;
    // A record queued for the journal and not written yet is not held in memory: it waits there.
    this.#writeJournal();
    try {
      for (const found of journal.load(this.#options.maxHeldBytes ?? MAX_HELD_BYTES)) {
        if (this.#setAsideDigests.has(found.run.recordDigest)) continue;
        this.#held.push({ run: found.run, since: performance.now(), bytes: found.bytes, journaled: true });
        this.#heldBytes += found.bytes;
      }
    } catch (error) {
      this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the held-records journal could not be read'));
    }
  }

  /**
   * Takes committed (or refused) records out of the journal; false when that failed (reported:
   * they would be committed once more, which stores nothing twice).
   */
  #unjournal(runs: readonly Held[]): boolean {
    if (this.#options.journal === undefined) return true;
    try {
      this.#options.journal.remove(runs.map((item) => item.run.recordDigest));
      return true;
    } catch (error) {
      this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the held-records journal could not be written'));
      return false;
    }
  }

  /**
   * Drops the held records older than retryForMs (counted failed), or all of them; those the
   * journal holds are never dropped (at close they are left to it).
   */
  #dropHeld(all: boolean): void {
    const oldest = performance.now() - (this.#options.retryForMs ?? RETRY_FOR_MS);
    let count = 0;
    while (this.#held.length > count && (all || this.#held[count]!.since <= oldest)) count++;
    if (count === 0) return;
    const dropped = this.#held.splice(0, count);
    const kept = dropped.filter((item) => item.journaled);
    // Journaled ones stay held, unless the recorder closes: the journal keeps them then.
    if (!all) this.#held.unshift(...kept);
    for (const item of dropped) if (all || !item.journaled) this.#heldBytes -= item.bytes;
    const lost = count - kept.length;
    if (lost > 0) {
      this.counts.failed += lost;
      const why = all ? 'the recorder closed while the run store was failing' : `the run store did not work again within ${Math.round((this.#options.retryForMs ?? RETRY_FOR_MS) / 1000)} s`;
      this.#report(new LogError('ERR_CAPTURE_RECORDS_LOST', `${lost} held record${lost === 1 ? ' was' : 's were'} dropped, not recorded: ${why}`));
    }
  }

  /** The next retry, RETRY_FIRST_MS after a failure, then twice as long after each failed retry, up to RETRY_MAX_MS. */
  #retryLater(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(delay * 2, RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryPass();
    }, delay);
    // A process may end with records held (they are then lost, as a crash loses them).
    this.#retryTimer.unref?.();
  }

  /**
   * Commits the held records, oldest first, in batches of maxBatch, or, with none held, probes
   * the store; from its first batch committed, new records are committed as usual (not held), and
   * when everything held is committed the store works again (healthy). A failure ends the pass:
   * the records held past retryForMs are dropped and the next pass is scheduled.
   */
  #retryPass(): Promise<void> {
    if (this.#retrying !== undefined) return this.#retrying;
    const pass = this.#retryOnce().finally(() => {
      if (this.#retrying === pass) this.#retrying = undefined;
    });
    this.#retrying = pass;
    return pass;
  }

  async #retryOnce(): Promise<void> {
    this.#dropHeld(false);
    // A store call that timed out is still running: no retry before it settles.
    if (this.#inFlight.size > 0) return void this.#retryLater();
    let committed = 0;
    this.#loadJournal();
    if (this.#held.length === 0) {
      try {
        await this.#bounded(this.#options.storage.probe());
      } catch {
        return void this.#retryLater();
      }
    }
    while (this.#held.length > 0) {
      const result = await this.#commitIsolating(this.#held.slice(0, this.#maxBatch).map((item) => item.run));
      // Records held meanwhile were added after these. One the store refused (an exchange whose
      // capture id was taken meanwhile) had its caller answered when it was held: it is dropped.
      // One set aside was moved to the journal's refused records (#setAside).
      const batch = this.#held.splice(0, result.settled);
      for (const item of batch) this.#heldBytes -= item.bytes;
      const unjournaled = this.#unjournal(batch.filter((item) => !result.invalid.has(item.run.recordDigest)));
      committed += batch.filter((item) => !result.invalid.has(item.run.recordDigest) && !result.refused.has(item.run.recordDigest)).length;
      if (result.refused.size > 0) {
        // Its sender was told to send it again (the store failed); sent again, it gets 409 then.
        const count = result.refused.size;
        this.#report(new RunprintError('ERR_CAPTURE_ID_TAKEN', `${count} held exchange${count === 1 ? ' was' : 's were'} not stored when the run store worked again: ${count === 1 ? 'its capture id names' : 'their capture ids name'} another record stored meanwhile`));
      }
      if (result.failure !== undefined) {
        // Failing (as when this pass began with what the journal held at start).
        this.#failing = true;
        this.#dropHeld(false);
        return void this.#retryLater();
      }
      // The store works again: new records take the usual path (committed in their own batches,
      // their answers held in sync durability) while this pass commits the rest of what is held.
      // Held at once instead, as while it failed, they would pass the durability the store can
      // give again, and under load grow what is held faster than a pass commits it.
      this.#failing = false;
      // Then what waits in the journal alone (past maxHeldBytes, or from before a restart); not
      // when the journal could not be written: it would give these back.
      if (unjournaled) this.#loadJournal();
    }
    this.#failing = false;
    this.#retryDelay = RETRY_FIRST_MS;
    try {
      this.#options.onRecovered?.(committed);
    } catch {
      // Reporting must not fail recording.
    }
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
    // Closing: the pass under way is finished (close waits for it), no new one starts.
    if (this.#options.sign === undefined || this.#closing) return this.#signing;
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
        else if (this.#unstored.length > 0 && !(await this.#storeReceipts([]))) return;
        // The store is failing: a claim would fail too, after waiting for the lock; sweeps wait.
        if (this.#failing) return this.#sweepLater(SWEEP_INTERVAL_MS);
        const now = performance.now();
        if (!this.#sweepDue && now - this.#lastSweep < SWEEP_INTERVAL_MS) {
          this.#sweepLater(SWEEP_INTERVAL_MS - (now - this.#lastSweep));
          return;
        }
        this.#sweepDue = false;
        this.#lastSweep = now;
        if (this.#options.logOthers === true && this.#options.log !== undefined) await this.#logOthers(this.#options.log);
        // The damaged runs this sweep met: a claim of nothing else but those ends it.
        const metDamaged = new Set<string>();
        for (;;) {
          const stale = new Date(Date.now() - (this.#options.claimStaleMs ?? 60_000)).toISOString();
          const runs = await this.#options.storage.claimUnsigned(256, this.#claimant, stale, this.#options.signCapture, this.#startedAt);
          // A damaged run is not signed (its record is not what was stored); the others are. It
          // stays claimed by this recorder, so the next claim goes past it; once its claim is
          // stale it is claimed again, and reported once by this recorder all the same.
          const damaged = (runs.damaged ?? []).filter((error) => !metDamaged.has(error.message));
          for (const error of damaged) {
            metDamaged.add(error.message);
            this.#reportDamaged(error);
          }
          if (this.#closed || (runs.length === 0 && damaged.length === 0)) return;
          if (runs.length > 0 && !(await this.#signAll(runs))) return;
        }
      } catch (error) {
        this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'receipts could not be signed or stored'));
        this.#sweepLater(SWEEP_INTERVAL_MS);
      }
    });
    return this.#signing;
  }

  /** The damaged runs this recorder reported (by message: it names the run), at most MAX_DAMAGED_REMEMBERED. */
  readonly #damagedReported = new Set<string>();

  /** Reports a damaged run left out of a claim, once per run (a sweep claims it again every minute). */
  #reportDamaged(error: LogError): void {
    if (this.#damagedReported.has(error.message)) return;
    if (this.#damagedReported.size >= MAX_DAMAGED_REMEMBERED) this.#damagedReported.clear();
    this.#damagedReported.add(error.message);
    this.#report(error);
  }

  /**
   * Set once the log answered an index another run holds in the store (ERR_LOG_REWRITE from
   * setReceipts or setLogIndexes: the log was replaced, rolled back or forked, or the store's
   * receipts went to another log): no receipt is appended to the log again by this recorder, and
   * receipts are stored without a log index, waiting in the store as the capture log's outbox
   * leaves them when it stops. Reported once; a restart appends what waits (logOthers).
   */
  #logStopped: RunprintError | undefined;

  /** Why this recorder stopped appending to its log (ERR_LOG_REWRITE, or ERR_LOG_CONFIG_MISMATCH from keepLog), or undefined while it appends. */
  get logStopped(): RunprintError | undefined {
    return this.#logStopped;
  }

  #keepInterval: ReturnType<typeof setInterval> | undefined;
  /** The keep under way (#keepLogTick), awaited by close. */
  #keeping: Promise<void> | undefined;
  /** counts.logged when the log's checkpoint was last kept: no keep before more are appended. */
  #keptAt = 0;

  /** Keeps the log's checkpoint in the store (RecorderOptions.keepLog) when receipts were appended since the last keep. */
  #keepLogTick(keep: () => Promise<void>): void {
    if (this.#keeping !== undefined || this.#logStopped !== undefined || this.#closing || this.counts.logged === this.#keptAt) return;
    const logged = this.counts.logged;
    this.#keeping = keep()
      .then(
        () => void (this.#keptAt = logged),
        (error: unknown) => {
          if (error instanceof RunprintError && error.code === 'ERR_LOG_CONFIG_MISMATCH') return this.#stopLogging(error);
          this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the log\'s checkpoint could not be kept in the run store'));
        },
      )
      .finally(() => (this.#keeping = undefined));
  }

  /** Stops appending to the log for good (#logStopped), reported once. */
  #stopLogging(held: RunprintError): void {
    if (this.#logStopped !== undefined) return;
    // Another log than the store's (own-log-checkpoint.ts): its own words say what to do.
    if (held.code === 'ERR_LOG_CONFIG_MISMATCH') {
      this.#logStopped = new LogError('ERR_LOG_CONFIG_MISMATCH', `${held.message}. Appending to the log stopped: receipts are stored without a log index and wait in the run store`);
      this.#report(this.#logStopped);
      return;
    }
    const why = held.message.replace(/; no (index|receipt) of this batch is stored$/, '');
    this.#logStopped = new LogError(
      'ERR_LOG_REWRITE',
      `${why}. Appending to the log stopped: receipts are stored without a log index and wait in the run store; after a restart serve appends them again, to a log that must hold the receipts logged before (restore its database from a backup)`,
    );
    this.#report(this.#logStopped);
  }

  /** Appends the receipts stored without a log index to the log, and stores their indexes. */
  async #logOthers(log: TransparencyLog): Promise<void> {
    let after = 0;
    for (;;) {
      if (this.#logStopped !== undefined) return;
      // A receipt longer than a log entry can be stays stored, unlogged (reported when it was signed): not read.
      const unlogged = await this.#options.storage.unlogged(256, after, MAX_ENTRY_SIZE);
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
      try {
        await this.#options.storage.setLogIndexes(indexes);
      } catch (error) {
        // An index another run holds: none of these is stored, and the sweep goes on to its claims.
        if (!(error instanceof RunprintError && error.code === 'ERR_LOG_REWRITE')) throw error;
        return this.#stopLogging(error);
      }
      if (indexes.length < unlogged.length) return this.#sweepLater(SWEEP_INTERVAL_MS);
    }
  }

  /** A sweep in `ms` (one at a time; none once closed; it does not keep the process alive). */
  #sweepLater(ms: number): void {
    if (this.#closed || this.#closing || this.#sweepTimer !== undefined) return;
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
    const stored = await this.#storeReceipts(receipts);
    if (receipts.length === runs.length) return stored;
    // A run whose receipt cannot be logged stays unsigned, claimed by this recorder: signed again a
    // second later (not by a sweep, which leaves this recorder's own claims to it). At most
    // MAX_RETRY are held (a log down for long): the sweep takes the others once their claim is stale.
    runs.forEach((run, i) => void (done[i] === undefined && this.#retry.length < MAX_RETRY && this.#retry.push(run)));
    this.#retryAt = performance.now() + SWEEP_INTERVAL_MS;
    this.#sweepLater(SWEEP_INTERVAL_MS);
    return false;
  }

  /**
   * Stores receipts signed (and logged) where this signer still holds the claim, with those an
   * earlier try could not store first; false when the store failed: they are kept (up to
   * MAX_RETRY) and stored by the pass a second later, not signed again, and not left to a sweep,
   * which takes this recorder's own claims only once they are stale.
   */
  async #storeReceipts(receipts: ReadonlyArray<{ recordDigest: string; receipt: string; logIndex: number | null }>): Promise<boolean> {
    let all = [...this.#unstored.splice(0), ...receipts];
    if (all.length === 0) return true;
    // Once appending stopped, no index the log answered is stored, one answered before the stop neither.
    const unlogged = () => all.map((item) => ({ ...item, logIndex: null }));
    if (this.#logStopped !== undefined) all = unlogged();
    try {
      try {
        await this.#options.storage.setReceipts(all, this.#claimant);
      } catch (error) {
        // An index another run holds (none of the batch stored): appending stops, and the receipts
        // are stored without their indexes, so the runs are not left unsigned.
        if (!(error instanceof RunprintError && error.code === 'ERR_LOG_REWRITE') || all.every((item) => item.logIndex === null)) throw error;
        this.#stopLogging(error);
        all = unlogged();
        await this.#options.storage.setReceipts(all, this.#claimant);
      }
    } catch (error) {
      this.#report(error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', 'receipts could not be stored'));
      this.#unstored.push(...all.slice(0, MAX_RETRY));
      this.#sweepLater(SWEEP_INTERVAL_MS);
      return false;
    }
    this.#options.onReceipts?.();
    return true;
  }

  /** Receipts signed and logged whose storing failed, to store in the next pass (#storeReceipts). */
  #unstored: Array<{ recordDigest: string; receipt: string; logIndex: number | null }> = [];

  async #signOne(run: ToSign): Promise<{ recordDigest: string; receipt: string; logIndex: number | null } | undefined> {
    const sign = this.#options.sign!;
    const identity = run.capturedIdentity === true ? await identityAsStored(run.identity, nextTurn) : run.identity;
    const facts = receiptFactsOfRecord(run.record, identity, run.model ?? '', run.capture, sign.runprintVersion);
    // A large run's receipt (about 100 bytes per list element) is made in steps: the same bytes.
    const large = identityElements(identity) >= LARGE_RUN_ELEMENTS;
    const envelope = await signReceipt(facts, sign.key, large ? nextTurn : undefined);
    if (large) await nextTurn();
    const receipt = formatEnvelope(envelope);
    if (large) await nextTurn();
    this.counts.signed++;
    let logIndex: number | null = null;
    if (this.#options.log !== undefined && this.#logStopped === undefined) {
      try {
        // Longer than a log entry can be in UTF-16 code units, so in bytes too: refused as the log
        // refuses it, without encoding it first (about 10 MB for a run of 100,000 messages).
        if (receipt.length > MAX_ENTRY_SIZE) throw new LogError('ERR_LOG_ENTRY_TOO_LARGE', 'longer than a log entry can be');
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

  /**
   * Commits what is queued, tries once more to commit what is held (dropping what still cannot
   * be, counted failed), finishes signing, and takes no more records.
   */
  async close(): Promise<void> {
    while (this.#largeCount > 0 || this.#flushing || this.#pending.length > 0) await (this.#largeCount > 0 ? this.#large : new Promise((resolve) => setImmediate(resolve)));
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#retrying;
    // The runs committed until now are signed by the passes already queued (awaited below); no
    // sweep or pass starts after this.
    this.#closing = true;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    clearInterval(this.#keepInterval);
    await this.#keeping;
    this.#writeJournal();
    // What the journal holds is committed by the next start: no last try, which would wait for a
    // locked store (5 s, or a commit timeout) and hold up a stop. Without one, a last try.
    if (this.#held.length > 0 && !this.#held.every((item) => item.journaled)) {
      // A store call that timed out may still finish: it is given one more commit timeout.
      if (this.#inFlight.size > 0) await withTimeout(Promise.all(this.#inFlight), this.#options.commitTimeoutMs ?? 30_000).catch(() => undefined);
      if (this.#inFlight.size === 0) await this.#retryPass();
    }
    if (this.#held.length > 0) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#dropHeld(true);
    }
    // Records in memory and those past maxHeldBytes, which waited in the journal alone.
    const left = this.#options.journal === undefined ? 0 : this.#journalRows();
    if (left > 0) {
      try {
        this.#options.onJournalLeft?.(left);
      } catch {
        // Reporting must not fail closing.
      }
    }
    this.#options.journal?.close();
    await this.#signing;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
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
