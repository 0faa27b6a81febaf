/**
 * The replay links and batch items of replay-links.ts in PostgreSQL, beside a PostgreSQL run
 * store's tables (`--runs-db`, in the first schema of the URL's search_path): the same tables and
 * answers as in SQLite, so `replay`, `replay --runs` and a resumed batch work the same on both.
 */
import pg from 'pg';
import { LogError } from '../errors.ts';
import { advisoryLockKey, postgresUnavailable } from '../store/postgres-log.ts';
import { requireKeys, shapeFault, type TableKey } from '../store/postgres-keys.ts';
import { postgresTransaction } from '../store/postgres-transaction.ts';
import { connectionRefused, databaseShown, noSuchSchema, pinSslMode } from '../store/postgres-url.ts';
import type { ReplayLink, ReplayLinks } from './replay-links.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS replay_links (
  seq bigserial NOT NULL,
  replay text PRIMARY KEY,
  replay_of text NOT NULL,
  verdict text NOT NULL,
  result text NOT NULL
);
CREATE INDEX IF NOT EXISTS replay_links_of ON replay_links (replay_of, seq);
CREATE INDEX IF NOT EXISTS replay_links_verdict ON replay_links (verdict, replay_of);
CREATE TABLE IF NOT EXISTS replay_batch_items (
  batch text NOT NULL,
  original text NOT NULL,
  replay text,
  verdict text NOT NULL,
  result text NOT NULL,
  PRIMARY KEY (batch, original)
);
`;

const PROBE = 'SELECT seq, replay, replay_of, verdict, result FROM replay_links LIMIT 0; SELECT batch, original, replay, verdict, result FROM replay_batch_items LIMIT 0;';

const INSERT_LINK = 'INSERT INTO replay_links (replay, replay_of, verdict, result) VALUES ($1, $2, $3, $4) ON CONFLICT (replay) DO NOTHING';
const INSERT_ITEM = 'INSERT INTO replay_batch_items (batch, original, replay, verdict, result) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch, original) DO NOTHING';

/** The keys INSERT_LINK's and INSERT_ITEM's ON CONFLICT name (postgres-keys.ts). */
const KEYS: readonly TableKey[] = [
  { table: 'replay_links', columns: ['replay'] },
  { table: 'replay_batch_items', columns: ['batch', 'original'] },
];

const REFUSED = 'replay tables in the PostgreSQL schema are not those of a runprint run store';

const unavailable = (error: unknown): LogError => postgresUnavailable(error, 'run');

type LinkRow = { replay: string; replay_of: string; verdict: string; result: string };
const linkOf = (row: LinkRow): ReplayLink => ({ replay: row.replay, replayOf: row.replay_of, verdict: row.verdict, result: row.result });

export class PostgresReplayLinks implements ReplayLinks {
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Connects (a pool of 2) and creates the tables if missing, as PostgresRuns.open does for the
   * runs: tables of another shape (ERR_STORE_CORRUPT) are refused with nothing made (one transaction).
   */
  static async open(url: string): Promise<PostgresReplayLinks> {
    let database: string;
    try {
      database = databaseShown(url);
    } catch {
      throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL connection URL is not a valid URL');
    }
    const pool = new pg.Pool({ connectionString: pinSslMode(url).url, max: 2, connectionTimeoutMillis: 10_000, statement_timeout: 30_000, application_name: 'runprint-replay' });
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect().catch((error: unknown) => {
        throw connectionRefused(error, url, 'run') ?? unavailable(error);
      });
      // A connection that breaks between two statements must not crash the process.
      let broken = false;
      const onError = () => (broken = true);
      client.on('error', onError);
      try {
        const schema = (await client.query("SELECT current_schema() AS schema, current_setting('search_path') AS search_path")).rows[0] as { schema: unknown; search_path: unknown } | undefined;
        // As for serve: runprint makes the tables, not the schema (postgres-url.ts noSuchSchema).
        if (typeof schema?.schema !== 'string') throw noSuchSchema(String(schema?.search_path ?? ''), database, 'run', false);
        // Two replays starting at once would race on CREATE TABLE IF NOT EXISTS: creation holds a lock.
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${advisoryLockKey('runprint/replay schema', schema.schema)});`);
        await client.query(SCHEMA);
        // In the transaction that made what was missing: tables of another shape, or without the
        // keys the inserts' ON CONFLICT name, are refused with nothing made.
        await client.query(PROBE);
        await requireKeys(client, KEYS, REFUSED);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw shapeFault(error, REFUSED) ?? unavailable(error);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
      return new PostgresReplayLinks(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async #query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.#pool.query(text, values);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** One transaction: every statement commits or none does. */
  async #write(statements: ReadonlyArray<[string, unknown[]]>): Promise<void> {
    await postgresTransaction(this.#pool, 'run', 'BEGIN', async (client) => {
      for (const [text, values] of statements) await client.query(text, values);
    });
  }

  async link(link: ReplayLink, batch?: string): Promise<void> {
    const statements: Array<[string, unknown[]]> = [[INSERT_LINK, [link.replay, link.replayOf, link.verdict, link.result]]];
    if (batch !== undefined) statements.push([INSERT_ITEM, [batch, link.replayOf, link.replay, link.verdict, link.result]]);
    await this.#write(statements);
  }

  async linkAll(links: readonly ReplayLink[], batch: string): Promise<void> {
    await this.#write(links.flatMap((link): Array<[string, unknown[]]> => [
      [INSERT_LINK, [link.replay, link.replayOf, link.verdict, link.result]],
      [INSERT_ITEM, [batch, link.replayOf, link.replay, link.verdict, link.result]],
    ]));
  }

  async finishWithoutReplay(batch: string, original: string, verdict: string, result: string): Promise<void> {
    await this.#write([[INSERT_ITEM, [batch, original, null, verdict, result]]]);
  }

  async batchItems(batch: string): Promise<Map<string, { verdict: string; result: string }>> {
    const rows = (await this.#query('SELECT original, verdict, result FROM replay_batch_items WHERE batch = $1', [batch])).rows as Array<{ original: string; verdict: string; result: string }>;
    return new Map(rows.map((row) => [row.original, { verdict: row.verdict, result: row.result }]));
  }

  async replays(): Promise<Set<string>> {
    return new Set(((await this.#query('SELECT replay FROM replay_links')).rows as Array<{ replay: string }>).map((row) => row.replay));
  }

  async replayOf(replay: string): Promise<ReplayLink | undefined> {
    const row = (await this.#query('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay = $1', [replay])).rows[0] as LinkRow | undefined;
    return row === undefined ? undefined : linkOf(row);
  }

  async replaysOf(original: string): Promise<ReplayLink[]> {
    return ((await this.#query('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay_of = $1 ORDER BY seq', [original])).rows as LinkRow[]).map(linkOf);
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }
}
