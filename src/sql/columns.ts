// A table as clients may see it, from the catalog (never from the request): its name as
// SQL, its visible columns with their types, and its key. Hidden columns are left out.
import pg from 'pg';
import { tableName, type ExposureCatalog, type TableName } from '../events/exposure.js';
import { WalcastError } from '../errors.js';
import { decoderFor, type ColumnType } from '../events/values.js';
import type { TypeStore } from './type-store.js';

export interface VisibleColumn {
  readonly name: string;
  readonly type: ColumnType;
  /** `format_type()`: what a parameter is cast to so Postgres compares as for the column. */
  readonly sqlType: string;
  /**
   * The type a written value is cast to: the column's without its modifier, so a value
   * too long for varchar(n) or bit(n) fails as in the app's own INSERT (22001) instead of
   * being cut short by an explicit cast (`'alice-mallory'::varchar(5)` is `alice`).
   */
  readonly paramType: string;
}

export interface TableDescription {
  /** `schema.table`, as events name it. */
  readonly name: TableName;
  /** Schema-qualified and quoted, ready for SQL. */
  readonly sqlName: string;
  readonly columns: readonly VisibleColumn[];
  /** The hidden columns: never sent, but a row policy or set_on_insert may use them. */
  readonly hiddenColumns: readonly VisibleColumn[];
  readonly keyColumns: readonly string[];
  /**
   * The key is unique and never null (a primary key or replica identity index, none of it
   * hidden), not every column of a table that has neither: only such a key pages a read.
   */
  readonly uniqueKey: boolean;
}

export async function describeTable(db: Pick<pg.Pool, 'query'>, types: TypeStore, catalog: ExposureCatalog, relid: number): Promise<TableDescription> {
  const table = await db.query<{ schema: string; name: string; key: string[]; unique: boolean }>(
    `select n.nspname as schema, c.relname as name, walcast.key_columns(c.oid) as key,
            exists (select from pg_index i where i.indrelid = c.oid and (i.indisprimary or i.indisreplident)) as unique
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = $1`,
    [relid],
  );
  // bit without a length is bit(1): varbit takes a bit(n) value of any length.
  const { rows } = await db.query<{ name: string; type: number; sql_type: string; param_type: string }>(
    `select attname as name, atttypid::int4 as type, format_type(atttypid, atttypmod) as sql_type,
            case atttypid when 'bit'::regtype then 'bit varying' when '_bit'::regtype then 'bit varying[]'
                          else format_type(atttypid, -1) end as param_type
       from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum`,
    [relid],
  );
  await types.resolve(rows.map((row) => row.type));
  const columnOf = (row: (typeof rows)[number]): VisibleColumn => ({
    name: row.name,
    type: types.typeOf(row.type),
    sqlType: row.sql_type,
    paramType: row.param_type,
  });
  const hidden = new Set(catalog.exposureOf(relid)?.hiddenColumns ?? []);
  const found = table.rows[0];
  if (!found) throw new WalcastError('TABLE_NOT_FOUND', 'the table no longer exists');
  return {
    name: tableName(found.schema, found.name),
    sqlName: `${pg.escapeIdentifier(found.schema)}.${pg.escapeIdentifier(found.name)}`,
    columns: rows.filter((row) => !hidden.has(row.name)).map(columnOf),
    hiddenColumns: rows.filter((row) => hidden.has(row.name)).map(columnOf),
    keyColumns: found.key.filter((name) => !hidden.has(name)),
    uniqueKey: found.unique && found.key.every((name) => !hidden.has(name)),
  };
}

/** Rows read as text → JSON text, in the same shape and value format as events' `row`. */
export function rowWriter(table: TableDescription): (values: readonly (string | null)[]) => string {
  const keys = table.columns.map((column) => `${JSON.stringify(column.name)}:`);
  const decoders = table.columns.map((column) => decoderFor(column.type));
  return (values) => {
    let row = '';
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      row += `${i === 0 ? '' : ','}${keys[i]!}${value === null || value === undefined ? 'null' : decoders[i]!(value)}`;
    }
    return `{${row}}`;
  };
}
