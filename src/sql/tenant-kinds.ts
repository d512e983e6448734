// How the exposed tables' tenant columns compare tenants (events/tenant-key): what
// presence rooms, which belong to no table, compare tenant claims by.
import type pg from 'pg';
import { presenceTenantKind, tenantKindOf, type TenantKind } from '../events/tenant-key.js';

export async function presenceKindOf(db: Pick<pg.Pool, 'query'>, publication: string): Promise<TenantKind> {
  const { rows } = await db.query<{ oid: number; name: string }>(
    `select distinct bt.oid::int4 as oid, bt.typname::text as name
       from walcast.exposed_tables e
       join pg_attribute a on a.attrelid = e.relid and a.attnum = e.tenant_attnum
       join pg_type t on t.oid = a.atttypid
       join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
      where e.publication = $1`,
    [publication],
  );
  return presenceTenantKind(rows.map((row) => tenantKindOf(row.oid, row.name)));
}
