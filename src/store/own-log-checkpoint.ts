/**
 * Which log a run store's log indexes refer to, when serve appends receipts to its own log
 * (docs/CAPTURE.md, "Several servers on one run store"). An index means something only in one log:
 * serves sharing a run store must share one log (--log-db), or the indexes one stores would be of
 * another log than those the others store. So the store keeps, as the capture log's outbox has it
 * keep (log-outbox.ts), the largest checkpoint of serve's log that a serve on it verified
 * (run_log_checkpoints, by the log's origin), and serve's log must be that log: at serve's start,
 * then about every second while it appends, the log's latest checkpoint must extend the kept one
 * (the log's root hash at the kept size is the kept root hash) and the log must hold the store's
 * last logged receipt at its index; then its checkpoint is kept (a compare-and-set: only a larger
 * one replaces the kept one, one of its size with another root hash is refused). Anything else is
 * ERR_LOG_CONFIG_MISMATCH naming both logs: serve refuses to start, and a running serve stops
 * appending (RunRecorder.logStopped).
 *
 * The log's latest checkpoint may lag behind what it holds: entries are stored when appended, and
 * their checkpoint only when the log's storage takes it (half a second later, or once a database
 * that failed or refused it takes it again). So when no checkpoint covering what the store needs is
 * read within LAG_MS, the log's stored entries are compared instead, as exactly: the store's
 * last logged receipt must be the entry stored at its index, and the kept checkpoint's root hash
 * that of the first entries stored. A log that holds fewer entries, or others there, is another
 * log (ERR_LOG_CONFIG_MISMATCH); a lagging checkpoint of serve's own log is none, and the largest
 * checkpoint the log has is returned to keep (one smaller than the store keeps leaves that as it is).
 *
 * A store an older runprint wrote keeps no checkpoint of serve's log: its last logged receipt
 * decides (the log must hold it), and the log's checkpoint is kept from then on.
 *
 * Those checks compare what the store holds, so two serves started at the same moment on a store
 * that holds nothing of a log yet (no checkpoint kept, no run logged) would both pass them, each
 * with its own log. So at start, after the checks and before anything is appended, the store is
 * bound to serve's log (bindOwnLog): its verifier key (the log's origin and public key) goes in the
 * store's one binding row with an insert only the first can make (run_log_binding, in one
 * transaction with reading the row back), and a serve whose log is not the bound one is refused
 * like the others. A store an older runprint wrote has no binding: the first start whose log
 * passes the checks above (it extends the kept checkpoint and holds the last logged receipt)
 * binds it, so the binding is derived from what the store holds.
 */
import { LogError } from '../errors.ts';
import { equalBytes, toHex } from '../hash/sha256.ts';
import { hashLeaf } from '../merkle/rfc6962.ts';
import type { TransparencyLog } from './log-service.ts';
import type { LogCheckpoint, RunStorage } from './run-storage.ts';

/** What is read of serve's own log. */
export type OwnLog = Pick<TransparencyLog, 'origin' | 'verifierKey' | 'checkpoint' | 'waitForCheckpoint' | 'inclusionProof' | 'rootHash' | 'stored'>;

/** How the two are named in an error: where serve's log is (`log.sqlite in DIR`, the --log-db database) and the run store. */
export interface OwnLogNames {
  log: string;
  store: string;
}

/**
 * How long a checkpoint of serve's log smaller than the store needs is read again (ms): serves
 * sharing one log (--log-db) each serve the latest checkpoint they read, a quarter of a second old
 * at most, and one appended has a checkpoint within half a second. After that, what the log's
 * storage holds decides (TransparencyLog.stored): a checkpoint the log could not store for a while
 * (its database failed or refused it) lags, and the entries appended meanwhile are there.
 */
const LAG_MS = 1_500;

const encoder = new TextEncoder();

const entries = (size: number): string => `${size} entr${size === 1 ? 'y' : 'ies'}`;

/** The log's name and key ID as its verifier key begins (`NAME+KEYID`). */
const keyName = (verifierKey: string): string => verifierKey.split('+').slice(0, 2).join('+');

function mismatch(names: OwnLogNames, log: OwnLog, found: string): LogError {
  return new LogError(
    'ERR_LOG_CONFIG_MISMATCH',
    `serve's log ${keyName(log.verifierKey)} (${names.log}) is not the log the run store's log indexes refer to: ${found}. The store's indexes are of another log (another serve's own log, or this log before it was replaced or rolled back); nothing was stored. Serves sharing a run store must share one log: give each the same --log-db, or start this serve with the data directory whose log the store's runs went to (or restore that log database from a backup)`,
  );
}

/**
 * Checks that serve's log is the one the run store's indexes refer to (the module's comment), and
 * returns its latest checkpoint, to keep. ERR_LOG_CONFIG_MISMATCH otherwise; the store's own
 * failures as they are.
 */
export async function checkOwnLog(storage: Pick<RunStorage, 'logCheckpoint' | 'lastLogged'>, log: OwnLog, names: OwnLogNames): Promise<LogCheckpoint & { origin: string }> {
  let size = (await log.checkpoint()).size;
  /** The log's size once it is past `index` or LAG_MS went by. */
  const reaching = async (index: number): Promise<number> => {
    if (index >= size) {
      await log.waitForCheckpoint(index, LAG_MS);
      size = (await log.checkpoint()).size;
    }
    return size;
  };
  const kept = await storage.logCheckpoint(log.origin);
  if (kept !== undefined) {
    const what = `the run store (${names.store}) keeps a checkpoint of ${entries(kept.size)} of the log ${log.origin} (root hash ${toHex(kept.rootHash).slice(0, 16)}...), which a serve on it verified`;
    if (kept.size > 0 && (await reaching(kept.size - 1)) < kept.size) {
      // No checkpoint of the kept size read yet: this log's, late, when its storage holds the kept tree.
      const stored = await log.stored({ size: kept.size });
      if (stored.rootHash === undefined) throw mismatch(names, log, `${what}, and this log has ${entries(stored.size)}`);
      if (!equalBytes(stored.rootHash, kept.rootHash)) throw mismatch(names, log, `${what}, and this log holds other entries in its first ${kept.size}`);
    } else if (!equalBytes(await log.rootHash(kept.size), kept.rootHash)) {
      throw mismatch(names, log, `${what}, and this log holds other entries in its first ${kept.size}`);
    }
  }
  const last = await storage.lastLogged();
  if (last !== undefined) {
    const what = `the run store (${names.store}) holds run ${last.recordDigest} at log index ${last.logIndex}`;
    let leafHash: Uint8Array;
    if ((await reaching(last.logIndex)) > last.logIndex) leafHash = (await log.inclusionProof(last.logIndex, size)).leafHash;
    else {
      // No checkpoint covering the index read yet: this log's, late (appended, its checkpoint not
      // stored yet: the log's storage failed or refused it meanwhile), when its storage holds the
      // store's receipt there.
      const stored = await log.stored({ index: last.logIndex });
      if (stored.leafHash === undefined) throw mismatch(names, log, `${what}, and this log has ${entries(stored.size)}`);
      leafHash = stored.leafHash;
    }
    if (!equalBytes(leafHash, hashLeaf(encoder.encode(last.receipt)))) throw mismatch(names, log, `${what}, and this log holds another entry there`);
  }
  return { origin: log.origin, size, rootHash: await log.rootHash(size) };
}

/** The log a run store is bound to (run_log_binding): its verifier key, and when the binding was made (RFC 3339). */
export interface LogBinding {
  verifierKey: string;
  boundAt: string;
}

/** A run store that can be bound to serve's own log (SqliteRuns, PostgresRuns). */
export interface BindsLog {
  /**
   * Binds the store to the log of `verifierKey` when it is bound to none yet, and returns the
   * binding it has then: an insert that only the first of the processes sharing the store can
   * make, and the row read back, in one transaction.
   */
  bindLog(verifierKey: string): Promise<LogBinding>;
}

/**
 * serve's start with its own log: checkOwnLog, then binds the run store to the log (the module's
 * comment) and keeps the log's checkpoint, before anything is appended. A store bound to another
 * log is ERR_LOG_CONFIG_MISMATCH naming both.
 */
export async function bindOwnLog(storage: Pick<RunStorage, 'logCheckpoint' | 'lastLogged' | 'setLogIndexes'> & BindsLog, log: OwnLog, names: OwnLogNames): Promise<void> {
  const checkpoint = await checkOwnLog(storage, log, names);
  const bound = await storage.bindLog(log.verifierKey);
  if (bound.verifierKey !== log.verifierKey) {
    throw mismatch(names, log, `the run store (${names.store}) is bound to the log ${keyName(bound.verifierKey)} (since ${bound.boundAt}, by the first serve that started on it with its own log)`);
  }
  await keepChecked(storage, log, names, checkpoint);
}

/**
 * checkOwnLog, then keeps the log's checkpoint in the run store (RunStorage.setLogIndexes with no
 * index: a compare-and-set). A checkpoint of the kept size with another root hash kept meanwhile
 * (another serve's log of the same origin) is ERR_LOG_CONFIG_MISMATCH too.
 */
export async function keepOwnLog(storage: Pick<RunStorage, 'logCheckpoint' | 'lastLogged' | 'setLogIndexes'>, log: OwnLog, names: OwnLogNames): Promise<void> {
  await keepChecked(storage, log, names, await checkOwnLog(storage, log, names));
}

async function keepChecked(storage: Pick<RunStorage, 'setLogIndexes'>, log: OwnLog, names: OwnLogNames, checkpoint: LogCheckpoint & { origin: string }): Promise<void> {
  try {
    await storage.setLogIndexes([], checkpoint);
  } catch (error) {
    if (!(error instanceof LogError && error.code === 'ERR_LOG_FORK')) throw error;
    throw mismatch(names, log, `another serve on the run store kept a checkpoint of ${entries(checkpoint.size)} of the log ${log.origin} with another root hash than this log's meanwhile`);
  }
}
