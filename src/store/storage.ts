/** What the log service needs from a storage backend (SQLite by default, PostgreSQL to scale out). */
import { LogError } from '../errors.ts';
import type { TileCoordinates } from '../log/tiles.ts';

/** One stored entry as an append reports it. */
export interface StoredEntry {
  index: number;
  leafHash: Uint8Array;
  /** False when an identical entry was already in the log (its index is returned). */
  created: boolean;
}

/**
 * An entry to append: its bytes, its RFC 6962 leaf hash SHA-256(0x00 || entry) (computed once, by
 * the service, with hashLeaf; it also finds a resubmission: equal leaf hashes are equal bytes),
 * and an optional run identity.
 */
export interface NewEntry {
  entry: Uint8Array;
  leafHash: Uint8Array;
  runId?: string;
}

/** A signed checkpoint as stored: its tree size and the signed note (with any cosignatures). */
export interface StoredCheckpoint {
  size: number;
  note: string;
}

/**
 * A log's storage. Every method reads or writes the shared database, never a cache, so several
 * processes can use one storage: `append` and `saveCheckpoint` are serialized across all of them
 * (one sequencer at a time), and everything else reads committed state.
 */
export interface LogStorage {
  /** "SQLite" or "PostgreSQL", for messages. */
  readonly kind: string;
  /**
   * Sequences a batch in one durable transaction, holding the storage's sequencing lock: reads the
   * current size, gives each new entry the next index (an identical entry, stored or earlier in the
   * batch, gets its existing index), and stores the tile hashes the batch completes.
   */
  append(batch: ReadonlyArray<NewEntry>): Promise<StoredEntry[]>;
  /** Number of stored entries (acknowledged appends, checkpointed or not). */
  size(): Promise<number>;
  /** `count` hashes at tile level `level` from position `start` (level 0: leaf hashes); missing ones are ERR_STORE_CORRUPT. */
  hashes(level: number, start: number, count: number): Promise<Uint8Array[]>;
  /** The bytes of a hash tile (32 bytes per hash). */
  tileData(tile: TileCoordinates): Promise<Uint8Array>;
  /** Entries start .. start + count - 1. */
  entries(start: number, count: number): Promise<Uint8Array[]>;
  /** Indexes of the entries whose receipt names this run identity, in log order. */
  indexesOfRun(runId: string): Promise<number[]>;
  getMeta(key: string): Promise<string | undefined>;
  /** Stores `value` unless the key has one; returns the value stored now. */
  setMetaOnce(key: string, value: string): Promise<string>;
  /** The largest signed checkpoint, or undefined if none was signed yet. */
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /**
   * Stores a new checkpoint only if the largest stored one still has size `previousSize` (-1: there
   * is none), atomically across processes; false when another signer got there first. Durable
   * when it returns true.
   */
  saveCheckpoint(previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean>;
  /**
   * Replaces the note of the largest stored checkpoint, of size `size`, by `replacement` (the
   * service passes the same checkpoint with the same log signature and more cosignatures), only if
   * the stored note is still `note`, atomically across processes; false when another checkpoint
   * was stored since, or another process replaced the note first. Durable when it returns true.
   */
  replaceCheckpointNote(size: number, note: string, replacement: string): Promise<boolean>;
  /**
   * Recomputes every stored hash from the entries: each leaf hash from its entry, each level >= 1
   * hash from the level below. Any difference is ERR_STORE_CORRUPT. One pass over the log.
   */
  checkHashes(): Promise<void>;
  /** The checkpoint this storage holds as a witness for the log `origin`, if any. */
  witnessed(origin: string): Promise<StoredCheckpoint | undefined>;
  /**
   * Stores a witnessed checkpoint if the stored one for `origin` still has size `previousSize`
   * (-1: none), atomically; false when it changed meanwhile. Durable when it returns true.
   */
  saveWitnessed(origin: string, previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * ERR_STORE_CORRUPT with a message that names no file of the server (what the log's and the run
 * store's consistency checks say): the HTTP API answers it as it is (its public message,
 * RunprintError.publicMessage), so a client learns which check failed. A message that names a
 * path is made with storage-faults.ts instead, which keeps the path out of the public one.
 */
export function storeCorrupt(message: string): LogError {
  return new LogError('ERR_STORE_CORRUPT', message, undefined, { publicMessage: message });
}
