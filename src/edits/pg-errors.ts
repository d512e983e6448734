// A write Postgres refused → a 422 that names the column (DESIGN §4): data exceptions
// (22xxx: bad type, out of range, too long), not-null, check, unique and foreign-key
// violations. Which column a data exception was about Postgres does not say, so each
// value is tried alone (only on this error path).
import type pg from 'pg';
import { WalcastError } from '../errors.js';

interface PgError {
  readonly code?: string;
  readonly message?: string;
  readonly column?: string;
  readonly constraint?: string;
  readonly table?: string;
}

export function isPgError(error: unknown): error is PgError & Error {
  return error instanceof Error && typeof (error as PgError).code === 'string';
}

/** Columns of a named constraint on the table, from the catalog. */
async function constraintColumns(client: pg.ClientBase, sqlName: string, constraint: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select a.attname as name
       from pg_constraint c
       cross join lateral unnest(c.conkey) as k(attnum)
       join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
      where c.conrelid = $1::regclass and c.conname = $2`,
    [sqlName, constraint],
  );
  return rows.map((row) => row.name);
}

/**
 * Maps a Postgres error from an edit to a 422, or returns undefined for anything that is
 * not the client's doing. `probe(column)` re-checks one value alone: true if it is bad.
 */
export async function validationError(
  error: unknown,
  client: pg.ClientBase,
  sqlName: string,
  columns: readonly string[],
  probe: (column: string) => Promise<boolean>,
): Promise<WalcastError | undefined> {
  if (!isPgError(error) || !error.code) return undefined;
  const reject = (column: string | undefined, extra: Record<string, unknown> = {}) =>
    new WalcastError('VALIDATION_FAILED', column ? `${column}: ${error.message}` : (error.message ?? 'rejected by Postgres'), {
      details: { ...(column ? { column } : {}), ...extra },
    });
  if (error.code.startsWith('22')) {
    for (const column of columns) if (await probe(column)) return reject(column);
    return reject(undefined);
  }
  if (error.code === '23502') return reject(error.column);
  if (['23505', '23514', '23503', '23P01'].includes(error.code) && error.constraint) {
    const names = await constraintColumns(client, sqlName, error.constraint);
    return reject(names[0], { constraint: error.constraint, columns: names });
  }
  return undefined;
}
