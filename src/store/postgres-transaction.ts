/**
 * A transaction on a pooled PostgreSQL connection, for the run store and the replay links. In a
 * module of its own, imported by implementations only: its signature names pg's types, which the
 * package's public type declarations must not need (pg is an optional dependency).
 */
import type pg from 'pg';
import type { LogError } from '../errors.ts';
import { postgresUnavailable } from './postgres-log.ts';

/**
 * One transaction on a connection from `pool`: `begin` opens it (BEGIN and what goes with it, in
 * one round trip), `work` runs in it, then COMMIT. A failure, of the connection too, rolls it back
 * and is thrown as `fault` names it, else as postgresUnavailable makes it; the connection goes back to the pool, or, when it
 * broke (the server closed it: a restart, `pg_terminate_backend`), is closed. A connection that
 * breaks between two statements must not crash the process (an 'error' event nobody listens to):
 * the next statement fails instead.
 */
export async function postgresTransaction<T>(pool: pg.Pool, what: 'log' | 'run', begin: string, work: (client: pg.PoolClient) => Promise<T>, fault?: (error: unknown) => LogError | undefined): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw postgresUnavailable(error, what);
  }
  let broken = false;
  const onError = () => (broken = true);
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw fault?.(error) ?? postgresUnavailable(error, what);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
