/**
 * Read-only sessions for a PostgreSQL store a command only reads (runs list, show, diff, verify,
 * group; runs verify's log). In a module of its own, imported by implementations only: its
 * signature names pg's types (pg is an optional dependency).
 */
import type pg from 'pg';

/**
 * The pool option that makes every connection read-only (default_transaction_read_only) before
 * the pool hands it out (pg-pool's onConnect, awaited: a connection on which it fails is closed
 * and its caller gets the error). A statement that would write (a bug in a reader) then fails with
 * 25006, ERR_STORE_READ_ONLY, instead of writing. The store checks
 * `current_setting('default_transaction_read_only')` on its first statement as well, so a pool
 * that ignored the option would be refused, not trusted.
 */
export const READ_ONLY_SESSIONS: Pick<pg.PoolConfig, 'onConnect'> = {
  onConnect: async (client) => {
    await client.query('SET default_transaction_read_only = on');
  },
};
