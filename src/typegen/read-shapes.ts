// The exposed tables' columns as clients see them, from the catalog: the publication's
// exposures (hidden columns left out; a table published without expose() streams to
// nobody, so it has no type), each column's type with domains unwrapped, enum labels in
// their order, and whether it can be null.
import type pg from 'pg';
import { DROPPED_TENANT_COLUMN, type Exposure } from '../events/exposure.js';
import { loadExposures } from '../sql/exposure-store.js';
import { WalcastError } from '../errors.js';
import type { ColumnShape, TableShape, ValueType } from './typescript-types.js';

type Queryable = Pick<pg.Pool, 'query'>;

interface TypeRow {
  readonly oid: number;
  readonly name: string;
  readonly schema: string;
  readonly typtype: string;
  readonly typcategory: string;
  readonly typbasetype: number;
  readonly typelem: number;
  readonly labels: string[] | null;
}

interface AttributeRow {
  readonly relid: number;
  readonly name: string;
  readonly type: number;
  readonly not_null: boolean;
  readonly dimensions: number;
}

const TYPES = `
  select t.oid::int4 as oid, t.typname as name, n.nspname as schema, t.typtype, t.typcategory,
         t.typbasetype::int4 as typbasetype, t.typelem::int4 as typelem,
         (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels
    from pg_type t join pg_namespace n on n.oid = t.typnamespace
   where t.oid = any($1::oid[])`;

/** Every type the columns name, and the bases and elements those name, in as few queries as nesting needs. */
async function loadTypes(db: Queryable, oids: readonly number[]): Promise<Map<number, TypeRow>> {
  const types = new Map<number, TypeRow>();
  let next = [...new Set(oids)];
  while (next.length > 0) {
    const { rows } = await db.query<TypeRow>(TYPES, [next]);
    for (const row of rows) types.set(row.oid, row);
    next = [...new Set(rows.flatMap((row) => [row.typbasetype, row.typelem]))].filter((oid) => oid !== 0 && !types.has(oid));
  }
  return types;
}

function valueType(oid: number, types: ReadonlyMap<number, TypeRow>, dimensions: number): ValueType {
  let type = types.get(oid);
  // A domain over a domain over … a base type; bounded so a broken catalog cannot loop us.
  for (let depth = 0; type?.typtype === 'd' && depth < 32; depth++) type = types.get(type.typbasetype);
  if (!type) return { kind: 'builtin', name: 'text' };
  if (type.typcategory === 'A' && type.typelem !== 0) return { kind: 'array', element: valueType(type.typelem, types, 0), dimensions };
  if (type.typtype === 'e') return { kind: 'enum', labels: type.labels ?? [] };
  return { kind: 'builtin', name: type.schema === 'pg_catalog' ? type.name : 'text' };
}

/** Tables exposed in `publication`; `only` narrows them to the names given (`todos`, `schema.table`). */
export async function readShapes(db: Queryable, publication: string, only: readonly string[] = []): Promise<TableShape[]> {
  const exposures = (await loadExposures(db)).filter((exposure) => exposure.publication === publication && exposure.tenantColumn !== DROPPED_TENANT_COLUMN);
  const tables = new Map<number, { table: string; exposure: Exposure }>();
  for (const exposure of exposures) tables.set(exposure.relid, { table: exposure.table, exposure });
  const wanted = new Set(only.map((name) => (name.includes('.') ? name : `public.${name}`)));
  for (const name of wanted) {
    if (![...tables.values()].some((entry) => entry.table === name)) {
      throw new WalcastError('INVALID_CONFIG', `--table ${name}: no table of that name is exposed in publication ${publication}`);
    }
  }
  const chosen = [...tables].filter(([, entry]) => wanted.size === 0 || wanted.has(entry.table));
  const { rows } = await db.query<AttributeRow>(
    `select attrelid::int4 as relid, attname as name, atttypid::int4 as type, attnotnull as not_null, attndims as dimensions
       from pg_attribute where attrelid = any($1::oid[]) and attnum > 0 and not attisdropped order by attrelid, attnum`,
    [chosen.map(([relid]) => relid)],
  );
  const types = await loadTypes(
    db,
    rows.map((row) => row.type),
  );
  return chosen.map(([relid, { table, exposure }]) => {
    const hidden = new Set(exposure.hiddenColumns);
    const columns: ColumnShape[] = rows
      .filter((row) => row.relid === relid && !hidden.has(row.name))
      .map((row) => ({ name: row.name, type: valueType(row.type, types, row.dimensions), notNull: row.not_null }));
    return { table, columns };
  });
}
