// A write Postgres refused → a 422 that names the column (DESIGN §4): data exceptions
// (22xxx: bad type, out of range, too long), not-null, check, unique, exclusion and
// foreign-key violations. Which column a data exception was about Postgres does not say,
// so each value is tried alone (only on this error path).
//
// The message is ours, built from the visible columns only: Postgres's own text and its
// DETAIL carry other rows' values (`Key (email)=(someone@else.com) already exists`, the
// failing row with its hidden columns), and a constraint's name often spells a hidden
// column (`users_secret_key`). Neither reaches a client.
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

/** The table an edit wrote, as the client may see it. */
export interface EditedTable {
  readonly sqlName: string;
  readonly visible: ReadonlySet<string>;
}

/** Columns of a named constraint on the table, from the catalog; empty when it is another table's. */
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

const CONSTRAINT_MESSAGES: Readonly<Record<string, string>> = {
  '23505': 'another row already has this value',
  '23P01': 'this value conflicts with another row',
  '23514': 'this value fails a check',
  '23503': 'this value must refer to an existing row',
};

function reject(message: string, details: Record<string, unknown> = {}): WalcastError {
  return new WalcastError('VALIDATION_FAILED', message, { details });
}

/**
 * Maps a Postgres error from an edit to a 422, or returns undefined for anything that is
 * not the client's doing. `probe(column)` re-checks one value alone: true if it is bad.
 */
export async function validationError<Column extends { readonly name: string }>(
  error: unknown,
  client: pg.ClientBase,
  table: EditedTable,
  columns: readonly Column[],
  probe: (column: Column) => Promise<boolean>,
): Promise<WalcastError | undefined> {
  if (!isPgError(error) || !error.code) return undefined;
  if (error.code.startsWith('22')) {
    // The message is about the client's own value (`invalid input syntax for type integer: "high"`).
    for (const column of columns) {
      if (!(await probe(column))) continue;
      // A hidden column set from the token (set_on_insert) is not named.
      if (!table.visible.has(column.name)) return reject('a value taken from your token for this insert is not one this table takes');
      return reject(`${column.name}: ${error.message}`, { column: column.name });
    }
    return reject('a value in this request is not one Postgres accepts');
  }
  if (error.code === '23502') {
    const column = error.column;
    if (column !== undefined && table.visible.has(column)) return reject(`${column}: a value is required`, { column });
    return reject('the table needs a value this request cannot give (a column you cannot write has no default)');
  }
  const generic = CONSTRAINT_MESSAGES[error.code];
  if (generic === undefined || !error.constraint) return undefined;
  const names = await constraintColumns(client, table.sqlName, error.constraint);
  if (names.length === 0) {
    // A constraint of another table: rows there refer to this one (a delete, or a changed key).
    return error.code === '23503' ? reject('other rows refer to this row: it cannot be deleted or rekeyed') : reject(generic);
  }
  const visible = names.filter((name) => table.visible.has(name));
  const allVisible = visible.length === names.length;
  return reject(visible.length > 0 ? `${visible.join(', ')}: ${generic}` : generic, {
    ...(visible.length > 0 ? { column: visible[0], columns: visible } : {}),
    ...(allVisible ? { constraint: error.constraint } : {}),
  });
}
