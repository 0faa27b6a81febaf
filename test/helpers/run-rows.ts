/** The run store's rows as a test reads them from the tables itself, to check what the stores read. */
import type { RunDigest, RunRowOf } from '../../src/store/run-storage.ts';

/** A run row (RUN_COLUMNS): SQLite's 0/1 or PostgreSQL's boolean, and `seq` PostgreSQL's bigint as text from a plain pg client. */
export type RunRowRead = Omit<RunRowOf<number | boolean>, 'seq'> & { seq: number | string };

/** A run_digests row (part, position, digest, kept): `kept` is SQLite's 0/1 or PostgreSQL's boolean. */
export type DigestRowRead = Omit<RunDigest, 'part' | 'kept'> & { part: string; kept: number | boolean };
