/**
 * Named steps (`runprint-steps`, docs/CAPTURE.md "Links between runs") kept in the PostgreSQL run
 * store's schema, so that every serve on one store links an agent's calls, whichever serve each
 * call reaches, and a restart forgets none. One row per name: the run identities its calls that
 * ended since a call of it last started stand for (`ended`, with how many calls `ended_calls`),
 * and what that call followed from (`last`). Each change is one statement on one row, so calls
 * started together on several serves take the same runs.
 */
import pg from 'pg';
import { LogError } from '../errors.ts';
import type { StepsStore } from '../capture/steps.ts';
import { postgresUnavailable } from './postgres-log.ts';
import { databaseShown, pinSslMode } from './postgres-url.ts';
import { shapeFault } from './postgres-keys.ts';

/** A name no call used for this long is forgotten (its next call follows from nothing). */
export const STEPS_KEPT_HOURS = 24;
/** How often serve forgets such names. */
const SWEEP_MS = 60 * 60 * 1000;

/** The table, made with the run store's tables in PostgresRuns.open's transaction. */
export const STEPS_TABLE = `
CREATE TABLE IF NOT EXISTS run_steps (
  name text PRIMARY KEY,
  ended text[] NOT NULL,
  ended_calls integer NOT NULL,
  last text[] NOT NULL,
  used timestamptz NOT NULL
)`;

/** Fails (42703 a column, 42883 an operator, 42804 a type) on a run_steps table of another shape. */
export const STEPS_PROBE = "SELECT name, ended || '{}'::text[], ended_calls + 1, last || '{}'::text[], used < now() FROM run_steps LIMIT 0";

const TAKE = `
INSERT INTO run_steps AS s (name, ended, ended_calls, last, used) VALUES ($1, '{}', 0, '{}', now())
ON CONFLICT (name) DO UPDATE SET last = CASE WHEN s.ended_calls > 0 THEN s.ended ELSE s.last END, ended = '{}', ended_calls = 0, used = now()
RETURNING last`;

const END = `
INSERT INTO run_steps AS s (name, ended, ended_calls, last, used) VALUES ($1, $2::text[], 1, '{}', now())
ON CONFLICT (name) DO UPDATE SET ended = s.ended || $2::text[], ended_calls = s.ended_calls + 1, used = now()`;

const SWEEP = `DELETE FROM run_steps WHERE used < now() - interval '${STEPS_KEPT_HOURS} hours'`;

function openFault(error: unknown): LogError {
  return shapeFault(error, 'tables in the PostgreSQL schema are not those of a runprint run store') ?? postgresUnavailable(error, 'run');
}

export class PostgresSteps implements StepsStore {
  readonly #pool: pg.Pool;
  readonly #sweep: ReturnType<typeof setInterval>;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#sweep = setInterval(() => void pool.query(SWEEP).catch(() => undefined), SWEEP_MS);
    this.#sweep.unref();
  }

  /**
   * Connects (a pool of 2) to the run store at `url`, whose open (PostgresRuns.open, before this)
   * made run_steps with its other tables and checked its shape, and forgets names unused for
   * STEPS_KEPT_HOURS.
   */
  static async open(url: string): Promise<PostgresSteps> {
    try {
      databaseShown(url);
    } catch {
      throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL connection URL is not a valid URL');
    }
    // query_timeout: a server that stops answering (statement_timeout is its own) frees the connection.
    const pool = new pg.Pool({ connectionString: pinSslMode(url).url, max: 2, connectionTimeoutMillis: 10_000, statement_timeout: 30_000, query_timeout: 10_000, application_name: 'runprint-steps' });
    pool.on('error', () => undefined);
    try {
      // The run store's open made run_steps and checked its shape in its transaction: one sweep
      // here is the pool's first connection and forgets names unused for STEPS_KEPT_HOURS.
      await pool.query(SWEEP).catch((error: unknown) => {
        throw openFault(error);
      });
      return new PostgresSteps(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async take(name: string): Promise<string[]> {
    try {
      const row = (await this.#pool.query(TAKE, [name])).rows[0] as { last: string[] };
      return row.last;
    } catch (error) {
      throw postgresUnavailable(error, 'run');
    }
  }

  async end(name: string, ids: readonly string[]): Promise<void> {
    try {
      await this.#pool.query(END, [name, ids]);
    } catch (error) {
      throw postgresUnavailable(error, 'run');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await this.#pool.end().catch(() => undefined);
  }
}
