// Reads what is exposed and published from the catalog: at start, on a short poll, and
// when a change names a relation the server does not know yet.
import type pg from 'pg';
import { Exposure, tableName, type PublishedTable } from '../events/exposure.js';

type Queryable = Pick<pg.Pool, 'query'>;

export async function loadExposures(db: Queryable): Promise<Exposure[]> {
  const result = await db.query<{ exposure: unknown }>(
    'select walcast.exposure_json(relid) as exposure from walcast.exposed_tables',
  );
  return result.rows.filter((row) => row.exposure !== null).map((row) => Exposure.parse(row.exposure));
}

/**
 * Tables the publication lists by name or by schema. A FOR ALL TABLES publication lists
 * none: only what walcast.expose() scoped is streamed from it, so a tenant table is never
 * broadcast by accident. walcast's own tables never are.
 */
export async function loadListedTables(db: Queryable, publication: string): Promise<PublishedTable[]> {
  const result = await db.query<{ relid: number; schema: string; name: string }>(
    `select c.oid::int4 as relid, n.nspname as schema, c.relname as name
       from pg_publication p
       join pg_publication_tables pt on pt.pubname = p.pubname
       join pg_namespace n on n.nspname = pt.schemaname
       join pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
      where p.pubname = $1 and not p.puballtables and n.nspname <> 'walcast'`,
    [publication],
  );
  return result.rows.map((row) => ({ relid: row.relid, table: tableName(row.schema, row.name) }));
}
