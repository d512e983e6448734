// A table's columns as a client may filter them: from the catalog, never from the request;
// hidden columns left out.
import type pg from 'pg';
import type { ExposureCatalog } from '../events/exposure.js';
import type { FilterColumn } from '../streams/where.js';
import type { TypeStore } from './type-store.js';

export async function filterableColumns(db: Pick<pg.Pool, 'query'>, types: TypeStore, catalog: ExposureCatalog, relid: number): Promise<FilterColumn[]> {
  const { rows } = await db.query<{ name: string; type: number }>(
    'select attname as name, atttypid::int4 as type from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum',
    [relid],
  );
  await types.resolve(rows.map((row) => row.type));
  const hidden = new Set(catalog.exposureOf(relid)?.hiddenColumns ?? []);
  return rows.filter((row) => !hidden.has(row.name)).map((row) => ({ name: row.name, type: types.typeOf(row.type) }));
}
