/**
 * Fresh PostgreSQL schemas for a test file, on the test database (RUNPRINT_TEST_PG, default the
 * local one): each with the URL whose search_path selects it; `drop` drops every one made and
 * closes the admin connection (call it in `after`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgSchemas {
  /** A connection to the test database, for queries a test makes itself. */
  admin: pg.Client;
  fresh(prefix?: string): Promise<{ schema: string; url: string }>;
  drop(): Promise<void>;
}

export async function pgSchemas(): Promise<PgSchemas> {
  const admin = new pg.Client({ connectionString: TEST_PG });
  await admin.connect();
  const made: string[] = [];
  return {
    admin,
    fresh: async (prefix = 'runprint_test') => {
      const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE SCHEMA ${schema}`);
      made.push(schema);
      const url = new URL(TEST_PG);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return { schema, url: url.toString() };
    },
    drop: async () => {
      for (const schema of made) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}
