// Before an instance streams: what kind of server this is, and walcast's SQL in place.
// On a physical standby (PostgreSQL 16+ decodes there) the schema and the publication
// arrive from the primary: nothing is installed, and writes (edits, presence) fail there.
import pg from 'pg';
import { migrate } from '../sql/migrate.js';

export interface DatabaseRole {
  readonly standby: boolean;
}

export async function prepareDatabase(pool: pg.Pool, databaseUrl: string, publication: string): Promise<DatabaseRole> {
  const standby = (await pool.query<{ standby: boolean }>('select pg_is_in_recovery() as standby')).rows[0]!.standby;
  if (standby) return { standby };
  await migrate(databaseUrl);
  const existing = await pool.query('select 1 from pg_publication where pubname = $1', [publication]);
  if (existing.rowCount === 0) {
    await pool.query(`create publication ${pg.escapeIdentifier(publication)} with (publish_via_partition_root = true)`);
  }
  return { standby };
}
