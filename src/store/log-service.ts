/**
 * The log service over any LogStorage: a sequencer that batches appends, and a signer that never
 * signs two inconsistent checkpoints, even with several processes sharing one storage.
 */
import { LogError } from '../errors.ts';
import { printable } from '../io/printable.ts';
import { equalBytes } from '../hash/sha256.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../log/checkpoint.ts';
import { formatEntryBundle, MAX_ENTRY_SIZE } from '../log/entry-bundle.ts';
import { noteSigner, noteVerifier, noteVerifierKey } from '../log/note-keys.ts';
import { addCosignatures } from '../log/cosignature.ts';
import { formatNote, parseNote, signNote, verifyNote, type NoteSignature, type NoteSigner, type NoteVerifier } from '../log/note.ts';
import { consistencyProofFromTiles, rootFromTiles, TILE_HEIGHT, TILE_WIDTH, tileAt, tileSubtreeHashes, type TileCoordinates, type TileReader } from '../log/tiles.ts';
import { formatTlogProof } from '../log/tlog-proof.ts';
import { completeSubtrees, inclusionProofRanges, verifyConsistency, type SubtreeNode } from '../merkle/consistency.ts';
import { hashChildren, hashLeaf, rootFromLeafHashes } from '../merkle/rfc6962.ts';
import { requireOptions, requireSigningKey, requireString } from '../keys/key-arguments.ts';
import type { SigningKey } from '../keys/keys.ts';
import { SqliteLog } from './sqlite-log.ts';
import { storeCorrupt, type LogStorage, type NewEntry, type StoredEntry } from './storage.ts';

/**
 * Adds witness cosignatures to a signed checkpoint: a freshly signed one, or (`again`) the latest
 * stored one, asked again for the cosignatures it lacks. `proof(oldSize)` gives the consistency
 * proof from an older size of this log to the checkpoint. Resolves to the note with whatever
 * cosignatures arrived (the note unchanged when none did); it must not reject. For a note asked
 * again, the lines it added and those it left out (a witness's that does not verify, its valid one
 * in its place) are added to and removed from the note stored by then, by the rule of
 * addCosignatures (src/log/cosignature.ts), which witnessCollector follows too; the log's own
 * signature always stays.
 * With `lacks`, the log asks again, later, for the latest checkpoint whose note `lacks` says
 * misses a cosignature (TransparencyLog, "Asked again"); without it, each checkpoint is asked once.
 */
export interface Cosigner {
  (signed: { checkpoint: Checkpoint; note: string; again?: boolean }, proof: (oldSize: number) => Promise<Uint8Array[]>): Promise<string>;
  lacks?: (note: string) => Promise<boolean>;
}

/** The first wait before a checkpoint lacking a cosignature is asked again, in ms; each later wait doubles it. */
export const COSIGN_AGAIN_FIRST_MS = 1_000;
/** The longest wait between two asks of one checkpoint, in ms. */
export const COSIGN_AGAIN_MAX_MS = 30_000;

export interface LogServiceOptions {
  /** Where the log lives. The service closes it on close(). */
  storage: LogStorage;
  /** The checkpoint origin, also the key name (default `localhost/runprint`). */
  origin: string;
  /** The log's Ed25519 key. Every process sharing a storage must use the same one. */
  key: SigningKey;
  /** Longest wait from an append to the checkpoint that covers it, in ms (default 500, at most 1000). */
  checkpointDelayMs?: number;
  /** How old the served checkpoint may get before it is re-read from storage, in ms (default 250). */
  refreshMs?: number;
  /** Entries per sequencing transaction at most (default 10,000). */
  maxBatch?: number;
  /** Collects witness cosignatures for each new checkpoint (and again for the latest, when it lacks some: Cosigner.lacks). */
  cosign?: Cosigner;
  /**
   * What open() checks of the stored hashes (default `full`). `full`: every stored hash is
   * recomputed from the entries, one pass over the log (about 3 s per million entries). `tiles`:
   * the root recomputed from the stored tiles must equal the last checkpoint's, and only what was
   * stored after it is recomputed (entries from the start of the checkpoint's last partial tile,
   * and every tile hash covering them); a log with no checkpoint gets the full check. Hashes inside
   * the checkpointed tree that the root does not depend on are then trusted: a damaged one makes
   * the proofs served from it fail verification at the client, it cannot make a false proof pass.
   */
  check?: 'full' | 'tiles';
  /** Tiles kept in memory for inclusion proofs, with every subtree inside them (16 KiB each; default 2,048; 0: none). */
  proofCacheTiles?: number;
}

interface Pending {
  item: NewEntry;
  resolve: (stored: StoredEntry) => void;
  reject: (error: unknown) => void;
}

interface Latest {
  checkpoint: Checkpoint;
  note: string;
  /** Date.now() when read from storage or signed here. */
  at: number;
}

/** The default log name, the checkpoint origin of a log started with no --log-name. */
export const DEFAULT_LOG_NAME = 'localhost/runprint';

const NONE: Checkpoint = { origin: '', size: -1, rootHash: new Uint8Array(32) };

/** Satisfies the server's LogService interface (structurally: the store sits below the server). */
export class TransparencyLog {
  readonly verifierKey: string;
  readonly origin: string;
  readonly #storage: LogStorage;
  readonly #signer: NoteSigner;
  readonly #verifier: NoteVerifier;
  readonly #delay: number;
  readonly #refresh: number;
  readonly #maxBatch: number;
  readonly #cosign: Cosigner | undefined;
  #latest: Latest;
  #pending: Pending[] = [];
  #flushing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #publishing: Promise<void> = Promise.resolve();
  #reloading: Promise<void> | undefined;
  #waiters: Array<{ index: number; done: () => void }> = [];
  #closed = false;
  /** Set when signing was refused: the log then takes no more entries (fail closed). */
  #broken = false;
  /** The checkpoint asked again for cosignatures it lacks: its size, the next wait, and the timer. */
  #again: { size: number; delayMs: number; timer: ReturnType<typeof setTimeout> | undefined } | undefined;
  readonly #tiles: TileCache;

  private constructor(options: LogServiceOptions, latest: Latest) {
    this.#storage = options.storage;
    this.origin = options.origin;
    this.#signer = noteSigner(options.origin, options.key);
    this.#verifier = noteVerifier(options.origin, options.key.publicKey);
    this.verifierKey = noteVerifierKey(options.origin, options.key.publicKey);
    this.#delay = Math.min(options.checkpointDelayMs ?? 500, 1000);
    this.#refresh = options.refreshMs ?? 250;
    this.#maxBatch = options.maxBatch ?? 10_000;
    this.#cosign = options.cosign;
    this.#latest = latest;
    this.#tiles = new TileCache(options.storage, options.proofCacheTiles ?? 2048);
  }

  /**
   * Opens the log and checks its storage before serving anything: the last checkpoint must be
   * signed by this log's key under this origin, the storage must hold at least its size entries,
   * every stored hash must match the entries, and the root recomputed from them must equal the
   * checkpoint's. Any failure is ERR_STORE_CORRUPT and the storage is closed, but for a storage
   * of another log than the options name (another origin stored at its first start, or a last
   * checkpoint another key of this origin signed): ERR_LOG_CONFIG_MISMATCH, the store being
   * whole. Entries appended after the last checkpoint (acknowledged, not yet signed) are kept and
   * signed now.
   */
  static async open(options: LogServiceOptions): Promise<TransparencyLog> {
    requireOptions(options, 'TransparencyLog.open options');
    const storage = options.storage;
    try {
      requireLogKey(options, 'TransparencyLog.open');
      const verifier = noteVerifier(options.origin, options.key.publicKey);
      const stored = await storage.setMetaOnce('origin', options.origin);
      if (stored !== options.origin) throw otherLogName(stored, options.origin);
      const last = await storage.latestCheckpoint();
      if ((options.check ?? 'full') === 'full' || last === undefined) await storage.checkHashes();
      let latest: Latest = { checkpoint: NONE, note: '', at: Date.now() };
      if (last !== undefined) {
        const checkpoint = await openCheckpoint(last.note, verifier, options.origin);
        if (checkpoint.size !== last.size) throw storeCorrupt('stored checkpoint size does not match its note');
        const size = await storage.size();
        if (checkpoint.size > size) throw storeCorrupt(`log database is truncated: it holds ${size} entries, its last checkpoint ${checkpoint.size}`);
        const root = await rootFromTiles(checkpoint.size, readerOf(storage));
        if (!equalBytes(root, checkpoint.rootHash)) throw storeCorrupt('stored tree does not match the root hash of the last signed checkpoint');
        if (options.check === 'tiles') await checkHashesAfter(storage, checkpoint.size, size);
        latest = { checkpoint, note: last.note, at: Date.now() };
      }
      const service = new TransparencyLog(options, latest);
      if (latest.checkpoint.size < 0 || (await storage.size()) > latest.checkpoint.size) await service.publishCheckpoint();
      // A stored checkpoint that lacks a cosignature (a witness was down when it was made) is asked again.
      else await service.#cosignLater(service.#latest);
      return service;
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  append(entry: Uint8Array, runId?: string): Promise<StoredEntry> {
    if (this.#closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the log is closed'));
    if (this.#broken) return Promise.reject(storeCorrupt('stored tree does not extend the last signed checkpoint; the log takes no entries'));
    // A data tile writes each entry's length in two bytes: a longer entry could never be served.
    if (entry.length > MAX_ENTRY_SIZE) return Promise.reject(new LogError('ERR_LOG_ENTRY_TOO_LARGE', `entry is larger than ${MAX_ENTRY_SIZE} bytes`));
    return new Promise<StoredEntry>((resolve, reject) => {
      const leafHash = hashLeaf(entry);
      const item: NewEntry = runId === undefined ? { entry, leafHash } : { entry, leafHash, runId };
      this.#pending.push({ item, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /**
   * Commits what is pending, one transaction at a time: appends that arrive while a transaction
   * runs wait for the next one, so the batch grows with the load (up to maxBatch).
   */
  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      let results: StoredEntry[];
      try {
        results = await this.#storage.append(batch.map((pending) => pending.item));
      } catch (error) {
        // A named storage fault (corrupt, no space, read-only, ...) is reported as it is.
        const failure = error instanceof LogError && error.code.startsWith('ERR_STORE_') ? error : new LogError('ERR_STORE_UNAVAILABLE', 'the log could not store the entry');
        for (const pending of batch) pending.reject(failure);
        continue;
      }
      batch.forEach((pending, i) => pending.resolve(results[i]!));
      if (results.some((result) => result.index >= this.#latest.checkpoint.size)) this.#schedulePublish();
    }
    this.#flushing = false;
  }

  /**
   * Signs a checkpoint `checkpointDelayMs` from now, unless one is already due. When that publish
   * fails (the storage was unavailable, or other signers kept winning) and entries are still
   * unsigned, it is tried again after the same delay: an acknowledged entry is never left out of
   * every checkpoint while the log runs. Only a refusal to sign (ERR_LOG_INCONSISTENT) stops it.
   */
  #schedulePublish(): void {
    if (this.#timer !== undefined || this.#closed || this.#broken) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.publishCheckpoint()
        .catch(() => undefined)
        .then(async () => {
          if (this.#closed || this.#broken) return;
          if ((await this.#storage.size()) > this.#latest.checkpoint.size) this.#schedulePublish();
        })
        .catch(() => this.#schedulePublish());
    }, this.#delay);
  }

  /**
   * Signs and persists a checkpoint of every stored entry, then serves it. Before signing, the new
   * tree is checked to extend the last signed one (read from storage: another process may have
   * signed) through a consistency proof built from the stored tiles; a failure refuses to sign
   * (ERR_LOG_INCONSISTENT). The checkpoint is stored only if no other checkpoint was stored since
   * that one was read; otherwise this signature is dropped and the newer checkpoint is served.
   */
  publishCheckpoint(): Promise<void> {
    this.#publishing = this.#publishing.then(() => this.#publish(), () => this.#publish());
    return this.#publishing;
  }

  async #publish(): Promise<void> {
    for (let attempt = 0; attempt < 5 && !this.#closed; attempt++) {
      const previous = await this.#reload();
      const size = await this.#storage.size();
      if (size <= previous.checkpoint.size) return;
      const read = readerOf(this.#storage);
      const rootHash = await rootFromTiles(size, read);
      if (previous.checkpoint.size >= 0) {
        const proof = await consistencyProofFromTiles(previous.checkpoint.size, size, read);
        if (!verifyConsistency(previous.checkpoint.size, size, proof, previous.checkpoint.rootHash, rootHash)) {
          this.#broken = true;
          throw new LogError('ERR_LOG_INCONSISTENT', 'new tree does not extend the last signed checkpoint; not signing');
        }
      }
      const checkpoint: Checkpoint = { origin: this.origin, size, rootHash };
      let note = await signNote(formatCheckpoint(checkpoint), this.#signer);
      // Witnesses cosign before the checkpoint is stored, so that no reader (this process, or
      // another sharing the storage) ever serves it without the cosignatures that arrived. A
      // checkpoint a witness saw but that is then not stored (another signer won, or a crash) is
      // harmless: every later one extends the same stored entries, so it is consistent with it.
      if (this.#cosign !== undefined) note = await this.#cosign({ checkpoint, note }, (oldSize) => consistencyProofFromTiles(oldSize, size, read));
      if (this.#closed) return;
      if (!(await this.#storage.saveCheckpoint(previous.checkpoint.size, { size, note }))) continue;
      this.#setLatest({ checkpoint, note, at: Date.now() });
      await this.#cosignLater(this.#latest);
      return;
    }
  }

  /**
   * Asked again: when the checkpoint this process stored (or found stored at open) lacks the valid
   * cosignature of a configured witness (down, slow or restarting when it was made), the same
   * checkpoint is sent again to the witnesses it lacks, after 1 s, 2 s, 4 s, .. then every 30 s,
   * until none is missing, the log grows (the next checkpoint is asked anyway) or it closes. The
   * cosignatures that arrive are added to the stored note (storage.replaceCheckpointNote, a
   * compare-and-swap on the note: processes sharing the storage add theirs to whatever another
   * added first, never twice a witness's, none lost), and it is served like any stored note.
   */
  async #cosignLater(latest: Latest): Promise<void> {
    const lacks = this.#cosign?.lacks;
    if (lacks === undefined || this.#closed || this.#broken || latest.checkpoint.size < 0) return;
    if (this.#again?.size === latest.checkpoint.size) return;
    this.#stopAsking();
    if (await lacks(latest.note).catch(() => false)) this.#askAgainIn(latest.checkpoint.size, COSIGN_AGAIN_FIRST_MS);
  }

  #askAgainIn(size: number, delayMs: number): void {
    if (this.#closed || this.#broken) return;
    const again = { size, delayMs, timer: undefined as ReturnType<typeof setTimeout> | undefined };
    again.timer = setTimeout(() => {
      again.timer = undefined;
      // In turn with publishing: this process never asks a witness about two checkpoints at once.
      this.#publishing = this.#publishing
        .then(
          () => this.#cosignAgain(size),
          () => this.#cosignAgain(size),
        )
        .then((more) => {
          if (more && this.#again === again) this.#askAgainIn(size, Math.min(delayMs * 2, COSIGN_AGAIN_MAX_MS));
        });
    }, delayMs);
    again.timer.unref?.();
    this.#again = again;
  }

  #stopAsking(): void {
    if (this.#again?.timer !== undefined) clearTimeout(this.#again.timer);
    this.#again = undefined;
  }

  /** One ask again (#cosignLater) of the checkpoint of `size`; true when it still lacks a cosignature. Never rejects. */
  async #cosignAgain(size: number): Promise<boolean> {
    const cosign = this.#cosign;
    if (cosign?.lacks === undefined || this.#closed || this.#broken || this.#again?.size !== size) return false;
    try {
      let latest = await this.#reload();
      if (latest.checkpoint.size !== size || !(await cosign.lacks(latest.note))) return false;
      const read = readerOf(this.#storage);
      const asked = latest.note;
      const cosigned = await cosign({ checkpoint: latest.checkpoint, note: asked, again: true }, (oldSize) => consistencyProofFromTiles(oldSize, size, read));
      if (this.#closed) return false;
      // What the cosigner changed, lines compared whole (key and signature): the lines it added,
      // and those it left out (a witness's line that did not verify, its valid one in their place;
      // never the log's own). The same change is made to the note stored now (addCosignatures):
      // another process may have replaced it meanwhile.
      const had = parseNote(asked).signatures;
      const returned = parseNote(cosigned).signatures;
      const hadLines = new Set(had.map(signatureLine));
      const returnedLines = new Set(returned.map(signatureLine));
      const arrived = returned.filter((signature) => !hadLines.has(signatureLine(signature)));
      const ownKey = signatureKey(this.#verifier);
      const leftOut = new Set(had.filter((signature) => !returnedLines.has(signatureLine(signature)) && signatureKey(signature) !== ownKey).map(signatureLine));
      for (let attempt = 0; arrived.length > 0 && attempt < 5; attempt++) {
        const merged = addCosignatures(parseNote(latest.note), arrived, (signature) => leftOut.has(signatureLine(signature)));
        if (merged === undefined) break;
        const replacement = formatNote(merged);
        if (await this.#storage.replaceCheckpointNote(size, latest.note, replacement)) {
          this.#setLatest({ checkpoint: latest.checkpoint, note: replacement, at: Date.now() });
          break;
        }
        // Another process added cosignatures (or stored a larger checkpoint) first: add these to its note.
        latest = await this.#reload();
        if (latest.checkpoint.size !== size) return false;
      }
      return this.#latest.checkpoint.size === size && (await cosign.lacks(this.#latest.note));
    } catch {
      // The storage failed, or holds a checkpoint this log did not sign (#reload: the log is then broken).
      return !this.#broken && !this.#closed;
    }
  }

  /**
   * Re-reads the largest stored checkpoint. One this process did not sign must still verify with
   * the log's key under its origin (another process sharing the storage with another key would
   * otherwise be served); if it does not, the log stops taking entries and keeps serving the last
   * checkpoint it verified (ERR_LOG_CONFIG_MISMATCH when another key of this origin signed it,
   * else ERR_STORE_CORRUPT).
   */
  async #reload(): Promise<Latest> {
    const stored = await this.#storage.latestCheckpoint();
    if (stored !== undefined && stored.note !== this.#latest.note && stored.size >= this.#latest.checkpoint.size) {
      let checkpoint: Checkpoint;
      try {
        checkpoint = await openCheckpoint(stored.note, this.#verifier, this.origin);
      } catch (error) {
        this.#broken = true;
        throw error;
      }
      this.#setLatest({ checkpoint, note: stored.note, at: Date.now() });
    } else {
      this.#latest.at = Date.now();
    }
    return this.#latest;
  }

  #setLatest(latest: Latest): void {
    if (latest.checkpoint.size < this.#latest.checkpoint.size) return;
    this.#latest = latest;
    const ready = this.#waiters.filter((waiter) => waiter.index < latest.checkpoint.size);
    this.#waiters = this.#waiters.filter((waiter) => waiter.index >= latest.checkpoint.size);
    for (const waiter of ready) waiter.done();
  }

  /** The latest signed checkpoint, re-read from storage when the one in hand is older than refreshMs. */
  async checkpoint(): Promise<{ size: number; note: string }> {
    // A storage that cannot be read, or holds a checkpoint this log did not sign, leaves the last
    // verified checkpoint served (it is still true); the failure is the signer's and the next
    // reader's to see.
    if (Date.now() - this.#latest.at > this.#refresh && !this.#closed) {
      // One re-read at a time: requests arriving meanwhile wait for it instead of each querying.
      this.#reloading ??= this.#reload()
        .then(() => undefined, () => undefined)
        .finally(() => (this.#reloading = undefined));
      await this.#reloading;
    }
    return { size: this.#latest.checkpoint.size, note: this.#latest.note };
  }

  /**
   * Resolves once a checkpoint covers `index`, or after `timeoutMs`; true when covered. A checkpoint
   * signed by another process sharing the storage is seen within refreshMs.
   */
  async waitForCheckpoint(index: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.checkpoint()).size <= index) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) return false;
      await new Promise<void>((resolve) => {
        const waiter = {
          index,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          resolve();
        }, Math.min(left, this.#refresh + 1));
        this.#waiters.push(waiter);
      });
    }
    return true;
  }

  /** Tiles as the latest checkpoint publishes them: a width up to the one its tree has. */
  async tile(tile: TileCoordinates): Promise<Uint8Array | undefined> {
    const published = tileAt(tile.level, tile.index, (await this.checkpoint()).size);
    if (published === undefined || published.width < tile.width) return undefined;
    return this.#storage.tileData(tile);
  }

  async entryBundle(bundle: { index: number; width: number }): Promise<Uint8Array | undefined> {
    const published = tileAt(0, bundle.index, (await this.checkpoint()).size);
    if (published === undefined || published.width < bundle.width) return undefined;
    return formatEntryBundle(await this.#storage.entries(bundle.index * 256, bundle.width));
  }

  async indexesOfRun(runId: string): Promise<number[]> {
    const size = (await this.checkpoint()).size;
    return (await this.#storage.indexesOfRun(runId)).filter((index) => index < size);
  }

  async inclusionProof(index: number, size: number): Promise<{ leafHash: Uint8Array; proof: Uint8Array[] }> {
    if (size > (await this.checkpoint()).size || index >= size) throw new RangeError('index and size must lie within the latest checkpoint');
    const leafHash = await this.#tiles.nodeHash({ level: 0, index }, size);
    return { leafHash, proof: await this.#inclusionProof(index, size) };
  }

  /**
   * The root hash of the tree of the log's first `size` entries, from the stored tiles (whose
   * hashes open() checked): `size` at most the latest checkpoint's. serve compares it with the
   * checkpoint of its log the run store keeps (own-log-checkpoint.ts).
   */
  async rootHash(size: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(size) || size < 0 || size > (await this.checkpoint()).size) throw new RangeError('size must lie within the latest checkpoint');
    // The latest checkpoint's size (serve keeps that one, every second it appends): its root hash, checked when it was read.
    if (size === this.#latest.checkpoint.size) return this.#latest.checkpoint.rootHash;
    return rootFromTiles(size, readerOf(this.#storage));
  }

  /**
   * What the log's storage holds now, signed into a checkpoint or not yet (entries appended whose
   * checkpoint has not been stored: the storage failed, or refused it, meanwhile): its number of
   * entries, the leaf hash at `index` when it holds one, and the root hash of its first `size`
   * entries when it holds that many (from the stored tiles, as a checkpoint would be made). serve
   * tells by them a checkpoint of its own log that lags from another log (own-log-checkpoint.ts).
   */
  async stored(query: { index?: number; size?: number } = {}): Promise<{ size: number; leafHash?: Uint8Array; rootHash?: Uint8Array }> {
    const size = await this.#storage.size();
    const answer: { size: number; leafHash?: Uint8Array; rootHash?: Uint8Array } = { size };
    if (query.index !== undefined && query.index >= 0 && query.index < size) answer.leafHash = (await this.#storage.hashes(0, query.index, 1))[0]!;
    if (query.size !== undefined && query.size >= 0 && query.size <= size) answer.rootHash = await rootFromTiles(query.size, readerOf(this.#storage));
    return answer;
  }

  /**
   * PATH(index, D[0:size]) from the stored tiles, as inclusionProofFromTiles builds it, but with
   * each node inside a full tile read from the tile cache instead of rehashed per proof.
   */
  async #inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    const proof: Uint8Array[] = [];
    for (const range of inclusionProofRanges(index, size)) {
      const nodes = completeSubtrees(range.start, range.end);
      let hash = await this.#tiles.nodeHash(nodes[nodes.length - 1]!, size);
      for (let i = nodes.length - 2; i >= 0; i--) hash = hashChildren(await this.#tiles.nodeHash(nodes[i]!, size), hash);
      proof.push(hash);
    }
    return proof;
  }

  /** The C2SP tlog-proof of entry `index` against the latest checkpoint (with its cosignatures), or undefined when none covers it. */
  async tlogProof(index: number): Promise<{ text: string; checkpoint: string } | undefined> {
    await this.checkpoint();
    const latest = this.#latest;
    if (index >= latest.checkpoint.size) return undefined;
    const proof = await this.#inclusionProof(index, latest.checkpoint.size);
    return { text: formatTlogProof({ index, proof, checkpoint: parseNote(latest.note) }), checkpoint: latest.note };
  }

  /** Commits and publishes what is pending, then closes the storage. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopAsking();
    while (this.#flushing) await new Promise((resolve) => setImmediate(resolve));
    await this.publishCheckpoint().catch(() => undefined);
    this.#closed = true;
    this.#stopAsking();
    for (const waiter of this.#waiters) waiter.done();
    this.#waiters = [];
    await this.#storage.close();
  }
}

/** Opens the default log: SQLite at `path`. */
export async function openSqliteLog(options: Omit<LogServiceOptions, 'storage'> & { path: string }): Promise<TransparencyLog> {
  // Checked before the database file is created: a PEM text as key is a programmer error.
  requireOptions(options, 'openSqliteLog options');
  requireString(options.path, 'openSqliteLog options.path');
  requireLogKey(options, 'openSqliteLog');
  const { path, ...rest } = options;
  return TransparencyLog.open({ ...rest, storage: SqliteLog.open(path) });
}

/** The log's name and key: a string and a signing key object (parsePrivateKey), not key text. */
function requireLogKey(options: { origin: unknown; key: unknown }, what: string): void {
  requireString(options.origin, `${what} options.origin`);
  requireSigningKey(options.key, `${what} options.key`);
}

/** A signature line's key: its name and key ID (a witness's cosignature is added at most once). */
function signatureKey(signature: { name: string; keyHash: string }): string {
  return `${signature.name} ${signature.keyHash}`;
}

/** A signature line as a whole: its key and its signature. */
function signatureLine(signature: NoteSignature): string {
  return `${signatureKey(signature)} ${encodeBase64(signature.signature)}`;
}

function readerOf(storage: LogStorage): TileReader {
  return (tile) => storage.tileData(tile);
}

/**
 * Tiles read for proofs, least recently used first out. The tile at level L, index N with width
 * W never changes (the log only grows: a wider tile of the same N starts with the same hashes), so
 * one read from storage serves every later proof. With each tile the subtrees inside it are kept
 * (rows of W, W/2, .., hashes, at most 511 x 32 bytes), so a proof node at any tree level is a
 * lookup instead of up to 255 hashes. Partial tiles of older sizes simply age out.
 */
class TileCache {
  readonly #storage: LogStorage;
  readonly #capacity: number;
  readonly #tiles = new Map<string, Promise<Uint8Array>>();

  constructor(storage: LogStorage, capacity: number) {
    this.#storage = storage;
    this.#capacity = capacity;
  }

  /** The hash of a complete subtree of the tree of `size` leaves. */
  async nodeHash(node: SubtreeNode, size: number): Promise<Uint8Array> {
    const level = Math.floor(node.level / TILE_HEIGHT);
    const row = node.level % TILE_HEIGHT;
    const count = 2 ** row;
    const first = node.index * count;
    const offset = first % TILE_WIDTH;
    const tile = tileAt(level, Math.floor(first / TILE_WIDTH), size);
    if (tile === undefined || offset + count > tile.width) throw new RangeError('node is not a complete subtree of the tree');
    if (this.#capacity > 0) {
      const tree = await this.#tree(tile);
      const at = TREE_ROW_START[row]! + offset / count;
      return tree.subarray(at * 32, at * 32 + 32);
    }
    const data = await this.#read(tile);
    const hashes: Uint8Array[] = [];
    for (let i = offset; i < offset + count; i++) hashes.push(data.subarray(i * 32, i * 32 + 32));
    return rootFromLeafHashes(hashes);
  }

  async #read(tile: TileCoordinates): Promise<Uint8Array> {
    const data = await this.#storage.tileData(tile);
    if (data.length !== tile.width * 32) throw storeCorrupt(`stored tile ${tile.level}/${tile.index} does not hold 32 bytes per hash`);
    return data;
  }

  #tree(tile: TileCoordinates): Promise<Uint8Array> {
    const key = `${tile.level}/${tile.index}/${tile.width}`;
    let tree = this.#tiles.get(key);
    if (tree !== undefined) {
      this.#tiles.delete(key);
      this.#tiles.set(key, tree);
      return tree;
    }
    const stored = tile.width === TILE_WIDTH && hasTileNodes(this.#storage) ? this.#storage.tileNodes(tile.level, tile.index) : Promise.resolve(undefined);
    tree = Promise.all([this.#read(tile), stored]).then(([data, nodes]) => {
      const out = new Uint8Array(TREE_ROW_START[TILE_HEIGHT + 1]! * 32);
      out.set(data);
      // Stored with the tile hash (SQLite): no hashing. A damaged copy only makes proofs fail to verify.
      out.set(nodes ?? tileSubtreeHashes(Array.from({ length: tile.width }, (_, i) => data.subarray(i * 32, i * 32 + 32))), TILE_WIDTH * 32);
      return out;
    });
    const settled = tree;
    settled.catch(() => {
      if (this.#tiles.get(key) === settled) this.#tiles.delete(key);
    });
    this.#tiles.set(key, tree);
    if (this.#tiles.size > this.#capacity) this.#tiles.delete(this.#tiles.keys().next().value!);
    return tree;
  }
}

/** A storage that keeps the subtree hashes inside complete tiles (SqliteLog). */
interface TileNodeStorage extends LogStorage {
  tileNodes(level: number, index: number): Promise<Uint8Array | undefined>;
}

function hasTileNodes(storage: LogStorage): storage is TileNodeStorage {
  return typeof (storage as Partial<TileNodeStorage>).tileNodes === 'function';
}

/** Where row r (subtrees of 2^r hashes) starts in a cached tile's tree, in hashes: 0, 256, 384, .., 510, and 511 (the end). */
const TREE_ROW_START = Array.from({ length: TILE_HEIGHT + 2 }, (_, row) => 2 * TILE_WIDTH - 2 ** (TILE_HEIGHT + 1 - row));

/**
 * The `tiles` check's second half: recomputes every hash stored for entries `from` (the checkpoint
 * size) .. size - 1, from the start of the tile holding entry `from` at each level: leaf hashes
 * from the entries, each level >= 1 hash from the 256 below it.
 */
async function checkHashesAfter(storage: LogStorage, from: number, size: number): Promise<void> {
  const CHUNK = 4096;
  const first = Math.floor(from / TILE_WIDTH) * TILE_WIDTH;
  for (let start = first; start < size; start += CHUNK) {
    const count = Math.min(CHUNK, size - start);
    const [entries, stored] = await Promise.all([storage.entries(start, count), storage.hashes(0, start, count)]);
    for (let i = 0; i < count; i++) {
      if (!equalBytes(hashLeaf(entries[i]!), stored[i]!)) throw storeCorrupt(`stored leaf hash of entry ${start + i} does not match its entry`);
    }
  }
  for (let level = 1; ; level++) {
    const span = 2 ** (TILE_HEIGHT * level);
    const end = Math.floor(size / span);
    if (end === 0) break;
    for (let index = Math.floor(from / span); index < end; index++) {
      const [hash] = await storage.hashes(level, index, 1);
      const nodes = tileSubtreeHashes(await storage.hashes(level - 1, index * TILE_WIDTH, TILE_WIDTH));
      if (!equalBytes(nodes.subarray(nodes.length - 32), hash!)) {
        throw storeCorrupt(`stored tile hash ${index} at level ${level} does not match the level below`);
      }
      const kept = hasTileNodes(storage) ? await storage.tileNodes(level - 1, index) : undefined;
      if (kept !== undefined && !equalBytes(kept, nodes)) {
        throw storeCorrupt(`stored subtree hashes of tile ${index} at level ${level - 1} do not match the tile`);
      }
    }
  }
}

/**
 * When a checkpoint note is signed under this log's name by another key and not by this one (a
 * server given another log key than the others sharing its database: a configuration mismatch,
 * configMismatch), what to say of it; else '' (a signature of this key that does not verify, or
 * no signature of this name: damage, ERR_STORE_CORRUPT).
 */
function otherKeyOf(note: string, verifier: NoteVerifier): string {
  let signatures: ReadonlyArray<{ name: string; keyHash: string }>;
  try {
    signatures = parseNote(note).signatures;
  } catch {
    return '';
  }
  const named = signatures.filter((signature) => signature.name === verifier.name);
  if (named.length === 0 || named.some((signature) => signature.keyHash === verifier.keyHash)) return '';
  return `: it is signed by another key of this log's name (key ID ${named[0]!.keyHash}, this key's ${verifier.keyHash}); every server sharing a log database needs the same log key (serve --log-key, docs/LOG.md 19.5)`;
}

/**
 * ERR_LOG_CONFIG_MISMATCH: a log database that is whole but belongs to another log than the one
 * this server's options name (its name, or its key). Not ERR_STORE_CORRUPT: an operator told
 * "corrupt" may delete or restore a healthy log, where the remedy is the right option. The
 * message names no file (both names, or both key IDs), so a remote client may read it as it is.
 */
function configMismatch(message: string): LogError {
  return new LogError('ERR_LOG_CONFIG_MISMATCH', message, undefined, { publicMessage: message });
}

/**
 * The error of a log database that belongs to a log of another name than this server's (the
 * origin stored at its first start): a configuration mismatch, said as the wrong-key one is
 * (otherKeyOf), with the same code: both names (printable, cut), and how to give the stored one.
 * Nothing is read or changed past the stored name.
 */
function otherLogName(stored: string, origin: string): LogError {
  const name = (text: string) => `"${printable(text, 100)}"`;
  return configMismatch(`the log database belongs to the log ${name(stored)}, and this server's log name is ${name(origin)}: give serve the log's name (--log-name or RUNPRINT_LOG_NAME; without either it is ${DEFAULT_LOG_NAME}), or another log database; every server sharing a log database needs the same log name (docs/LOG.md 19.5)`);
}

async function openCheckpoint(note: string, verifier: NoteVerifier, origin: string): Promise<Checkpoint> {
  let text: string;
  try {
    ({ text } = await verifyNote(note, [verifier]));
  } catch {
    const otherKey = otherKeyOf(note, verifier);
    if (otherKey !== '') throw configMismatch(`last stored checkpoint is not signed by this log's key${otherKey}`);
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
