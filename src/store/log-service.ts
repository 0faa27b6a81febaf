/** The log service on SQLite: a sequencer that batches appends, and a signer that never signs two inconsistent checkpoints. */
import { LogError } from '../errors.ts';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../log/checkpoint.ts';
import { formatEntryBundle } from '../log/entry-bundle.ts';
import { noteSigner, noteVerifier, noteVerifierKey } from '../log/note-keys.ts';
import { signNote, verifyNote, type NoteSigner, type NoteVerifier } from '../log/note.ts';
import { consistencyProofFromTiles, inclusionProofFromTiles, rootFromTiles, tileAt, type TileCoordinates, type TileReader } from '../log/tiles.ts';
import { verifyConsistency } from '../merkle/consistency.ts';
import type { SigningKey } from '../receipt/keys.ts';
import { equalBytes, SqliteLog, storeCorrupt, type NewEntry, type StoredEntry } from './sqlite-log.ts';

export interface LogServiceOptions {
  /** The SQLite database file. */
  path: string;
  /** The checkpoint origin, also the key name (default `localhost/runprint`). */
  origin: string;
  /** The log's Ed25519 key. */
  key: SigningKey;
  /** Longest wait from an append to the checkpoint that covers it, in ms (default 500, at most 1000). */
  checkpointDelayMs?: number;
}

interface Pending {
  item: NewEntry;
  resolve: (stored: StoredEntry) => void;
  reject: (error: unknown) => void;
}

/** The default log name, the checkpoint origin of a log started with no --log-name. */
export const DEFAULT_LOG_NAME = 'localhost/runprint';

/** Satisfies the server's LogService interface (structurally: the store sits below the server). */
export class SqliteLogService {
  readonly verifierKey: string;
  readonly #store: SqliteLog;
  readonly #origin: string;
  readonly #signer: NoteSigner;
  readonly #delay: number;
  #latest: { checkpoint: Checkpoint; note: string };
  #pending: Pending[] = [];
  #flushScheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #publishing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Set when signing was refused: the log then takes no more entries (fail closed). */
  #broken = false;

  private constructor(store: SqliteLog, options: LogServiceOptions, latest: { checkpoint: Checkpoint; note: string }) {
    this.#store = store;
    this.#origin = options.origin;
    this.#signer = noteSigner(options.origin, options.key);
    this.verifierKey = noteVerifierKey(options.origin, options.key.publicKey);
    this.#delay = Math.min(options.checkpointDelayMs ?? 500, 1000);
    this.#latest = latest;
  }

  /**
   * Opens the store and checks it before serving anything: the last checkpoint must be signed by
   * this log's key under this origin, the store must hold at least its size entries, every stored
   * hash must match the entries, and the root recomputed from them must equal the checkpoint's.
   * Any failure is ERR_STORE_CORRUPT and the store is closed. Entries appended after the last
   * checkpoint (acknowledged, not yet signed) are kept and signed now.
   */
  static async open(options: LogServiceOptions): Promise<SqliteLogService> {
    const store = SqliteLog.open(options.path);
    try {
      const verifier = noteVerifier(options.origin, options.key.publicKey);
      const stored = store.getMeta('origin');
      if (stored !== undefined && stored !== options.origin) throw storeCorrupt('log database belongs to a log of another name');
      store.checkHashes();
      const last = store.latestCheckpoint();
      let latest: { checkpoint: Checkpoint; note: string } | undefined;
      if (last !== undefined) {
        const checkpoint = await openCheckpoint(last.note, verifier, options.origin);
        if (checkpoint.size !== last.size) throw storeCorrupt('stored checkpoint size does not match its note');
        if (checkpoint.size > store.size) throw storeCorrupt(`log database is truncated: it holds ${store.size} entries, its last checkpoint ${checkpoint.size}`);
        const root = await rootFromTiles(checkpoint.size, readerOf(store));
        if (!equalBytes(root, checkpoint.rootHash)) throw storeCorrupt('stored tree does not match the root hash of the last signed checkpoint');
        latest = { checkpoint, note: last.note };
      } else if (stored === undefined) {
        store.setMeta('origin', options.origin);
      }
      const service = new SqliteLogService(store, options, latest ?? { checkpoint: { origin: options.origin, size: -1, rootHash: new Uint8Array(32) }, note: '' });
      if (latest === undefined || store.size > latest.checkpoint.size) await service.publishCheckpoint();
      return service;
    } catch (error) {
      store.close();
      throw error;
    }
  }

  append(entry: Uint8Array, runId?: string): Promise<StoredEntry> {
    if (this.#closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the log is closed'));
    if (this.#broken) return Promise.reject(storeCorrupt('stored tree does not extend the last signed checkpoint; the log takes no entries'));
    return new Promise<StoredEntry>((resolve, reject) => {
      const contentHash = globalThis.crypto.subtle.digest('SHA-256', Uint8Array.from(entry));
      void contentHash.then(
        (hash) => {
          const item: NewEntry = runId === undefined ? { entry, contentHash: new Uint8Array(hash) } : { entry, contentHash: new Uint8Array(hash), runId };
          this.#pending.push({ item, resolve, reject });
          this.#scheduleFlush();
        },
        reject,
      );
    });
  }

  /** Appends arriving in the same turn of the event loop are committed in one transaction. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#pending;
      this.#pending = [];
      let results: StoredEntry[];
      try {
        results = this.#store.append(batch.map((pending) => pending.item));
      } catch {
        const error = new LogError('ERR_STORE_UNAVAILABLE', 'the log could not store the entry');
        for (const pending of batch) pending.reject(error);
        return;
      }
      batch.forEach((pending, i) => pending.resolve(results[i]!));
      if (this.#store.size > this.#latest.checkpoint.size && this.#timer === undefined) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.publishCheckpoint().catch(() => undefined);
        }, this.#delay);
      }
    });
  }

  /**
   * Signs and persists a checkpoint of every stored entry, then serves it. Before signing, the new
   * tree is checked to extend the last signed one through a consistency proof built from the
   * stored tiles; a failure refuses to sign (ERR_LOG_INCONSISTENT). Calls run one at a time.
   */
  publishCheckpoint(): Promise<void> {
    this.#publishing = this.#publishing.then(() => this.#publish(), () => this.#publish());
    return this.#publishing;
  }

  async #publish(): Promise<void> {
    if (this.#closed) return;
    const size = this.#store.size;
    const previous = this.#latest.checkpoint;
    if (size === previous.size) return;
    const read = readerOf(this.#store);
    const rootHash = await rootFromTiles(size, read);
    if (previous.size >= 0) {
      const proof = await consistencyProofFromTiles(previous.size, size, read);
      if (!verifyConsistency(previous.size, size, proof, previous.rootHash, rootHash)) {
        this.#broken = true;
        throw new LogError('ERR_LOG_INCONSISTENT', 'new tree does not extend the last signed checkpoint; not signing');
      }
    }
    const checkpoint: Checkpoint = { origin: this.#origin, size, rootHash };
    const note = await signNote(formatCheckpoint(checkpoint), this.#signer);
    if (this.#closed) return;
    this.#store.saveCheckpoint(size, note);
    this.#latest = { checkpoint, note };
  }

  checkpoint(): { size: number; note: string } {
    return { size: this.#latest.checkpoint.size, note: this.#latest.note };
  }

  /** Tiles as the latest checkpoint publishes them: a width up to the one its tree has. */
  tile(tile: TileCoordinates): Uint8Array | undefined {
    const published = tileAt(tile.level, tile.index, this.#latest.checkpoint.size);
    if (published === undefined || published.width < tile.width) return undefined;
    return this.#store.tileData(tile);
  }

  entryBundle(bundle: { index: number; width: number }): Uint8Array | undefined {
    const published = tileAt(0, bundle.index, this.#latest.checkpoint.size);
    if (published === undefined || published.width < bundle.width) return undefined;
    return formatEntryBundle(this.#store.entries(bundle.index * 256, bundle.width));
  }

  indexesOfRun(runId: string): number[] {
    const size = this.#latest.checkpoint.size;
    return this.#store.indexesOfRun(runId).filter((index) => index < size);
  }

  async inclusionProof(index: number, size: number): Promise<{ leafHash: Uint8Array; proof: Uint8Array[] }> {
    if (size > this.#latest.checkpoint.size || index >= size) throw new RangeError('index and size must lie within the latest checkpoint');
    const read = readerOf(this.#store);
    const [leafHash] = this.#store.hashes(0, index, 1);
    return { leafHash: leafHash!, proof: await inclusionProofFromTiles(index, size, read) };
  }

  /** Publishes what is pending, then closes the database. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await new Promise((resolve) => setImmediate(resolve));
    await this.publishCheckpoint().catch(() => undefined);
    this.#closed = true;
    this.#store.close();
  }
}

function readerOf(store: SqliteLog): TileReader {
  return (tile) => store.tileData(tile);
}

async function openCheckpoint(note: string, verifier: NoteVerifier, origin: string): Promise<Checkpoint> {
  let text: string;
  try {
    ({ text } = await verifyNote(note, [verifier]));
  } catch {
    throw storeCorrupt("last stored checkpoint is not signed by this log's key");
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(text);
  } catch {
    throw storeCorrupt('last stored checkpoint is not a checkpoint');
  }
  if (checkpoint.origin !== origin) throw storeCorrupt('last stored checkpoint has another origin');
  return checkpoint;
}
