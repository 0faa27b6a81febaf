/**
 * The keys a PostgreSQL store's inserts rely on: an `ON CONFLICT (columns)` needs a unique index
 * on exactly those columns (PostgreSQL otherwise fails the statement with 42P10, "there is no
 * unique or exclusion constraint matching the ON CONFLICT specification"), and an `ON CONFLICT DO
 * NOTHING` without columns skips a row only where a key makes it a conflict. Column probes
 * (`SELECT columns ... LIMIT 0`) do not see keys: a table with the right columns and no such key
 * would pass an open and fail at its first write. Opens check them with requireKeys, in the
 * transaction that makes the tables, so a store without them is refused unchanged.
 */
import type pg from 'pg';
import type { LogError } from '../errors.ts';
import { storeCorrupt } from './storage.ts';

/**
 * SQLSTATEs of a statement that met a table of another shape: an undefined column (42703) or table
 * (42P01), a column of another type (42804), an operator that does not take a column's type (42883).
 */
const OTHER_SHAPE = new Set(['42703', '42P01', '42804', '42883']);

/** ERR_STORE_CORRUPT `refusal` when `error` is a statement's meeting a table of another shape, else undefined. */
export function shapeFault(error: unknown, refusal: string): LogError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && OTHER_SHAPE.has(code) ? storeCorrupt(refusal) : undefined;
}

/** A table (as the store's statements name it, found through search_path) and the columns of a key it must have. */
export interface TableKey {
  table: string;
  columns: readonly string[];
}

/**
 * The keys (of `keys`) no index gives: a unique index that ON CONFLICT can infer as its arbiter,
 * that is valid, not deferrable, not partial, on columns (no expression) that are exactly these.
 * A table that is not there has none.
 */
const MISSING = `
SELECT k.tbl AS "table", k.cols AS columns FROM unnest($1::text[], $2::text[]) AS k(tbl, cols)
WHERE NOT EXISTS (
  SELECT 1 FROM pg_index i
  WHERE i.indrelid = to_regclass(quote_ident(k.tbl)) AND i.indisunique AND i.indisvalid AND i.indimmediate
    AND i.indpred IS NULL AND i.indexprs IS NULL
    AND i.indnkeyatts = cardinality(string_to_array(k.cols, ','))
    AND (SELECT count(*) FROM pg_attribute a
         WHERE a.attrelid = i.indrelid AND a.attname = ANY (string_to_array(k.cols, ','))
           AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) = cardinality(string_to_array(k.cols, ',')))`;

/**
 * Throws ERR_STORE_CORRUPT `refusal` (naming the first key missing) when a table of `keys` lacks
 * its key; run it on the client of the open's transaction, after the tables are made.
 */
export async function requireKeys(client: pg.ClientBase, keys: readonly TableKey[], refusal: string): Promise<void> {
  const missing = (await client.query(MISSING, [keys.map((key) => key.table), keys.map((key) => key.columns.join(','))])).rows as Array<{ table: string; columns: string }>;
  const first = missing[0];
  if (first !== undefined) throw storeCorrupt(`${refusal}: ${first.table} has no unique key on (${first.columns.split(',').join(', ')}), which its writes need`);
}
