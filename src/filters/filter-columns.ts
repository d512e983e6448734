// A table's columns as filters need them, from the catalog: each column's base type (its
// domains unwrapped), that type's name without modifier, whether it is an enum, and
// whether its collation is deterministic. Every column is listed, hidden ones too: a
// client's `where=` is checked against the visible ones, a policy against all.
import type pg from 'pg';
import type { FilterColumn } from './column-kinds.js';

interface ColumnRow {
  readonly name: string;
  readonly oid: number;
  readonly typtype: string;
  readonly is_array: boolean;
  readonly element: number;
  readonly sql_type: string;
  readonly deterministic: boolean;
}

// A domain over a domain over … a base type: the walk is bounded so a broken catalog cannot loop it.
const COLUMNS = `
  with recursive base as (
    select a.attnum, a.atttypid as oid, 0 as depth
      from pg_attribute a where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
    union all
    select b.attnum, t.typbasetype, b.depth + 1
      from base b join pg_type t on t.oid = b.oid where t.typtype = 'd' and b.depth < 32
  )
  select a.attname as name, t.oid::int4 as oid, t.typtype::text as typtype,
         (t.typcategory = 'A' and t.typelem <> 0) as is_array, t.typelem::int4 as element,
         format_type(t.oid, -1) as sql_type, coalesce(c.collisdeterministic, true) as deterministic
    from pg_attribute a
    join lateral (select b.oid from base b where b.attnum = a.attnum order by b.depth desc limit 1) b on true
    join pg_type t on t.oid = b.oid
    left join pg_collation c on c.oid = a.attcollation
   where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
   order by a.attnum`;

export async function describeFilterColumns(db: Pick<pg.Pool, 'query'>, relid: number): Promise<FilterColumn[]> {
  const { rows } = await db.query<ColumnRow>(COLUMNS, [relid]);
  return rows.map((row) => ({
    name: row.name,
    type: row.is_array ? { kind: 'array', elementOid: row.element } : { kind: 'scalar', oid: row.oid },
    sqlType: row.sql_type,
    isEnum: row.typtype === 'e',
    deterministic: row.deterministic,
  }));
}
