// Reads what is exposed from walcast.exposed_tables at start; afterwards its rows arrive
// through the stream (events/config-rows.ts).
import type pg from 'pg';
import { Exposure } from '../events/exposure.js';

type Queryable = Pick<pg.Pool, 'query'>;

export async function loadExposures(db: Queryable): Promise<Exposure[]> {
  const result = await db.query<{ exposure: unknown }>('select walcast.exposure_of(e) as exposure from walcast.exposed_tables e');
  return result.rows.filter((row) => row.exposure !== null).map((row) => Exposure.parse(row.exposure));
}

/** The OID of walcast.exposed_tables: how the pipeline knows its rows from a look-alike's. */
export async function loadConfigRelid(db: Queryable): Promise<number> {
  const result = await db.query<{ relid: string }>(`select 'walcast.exposed_tables'::regclass::oid::int8 as relid`);
  return Number(result.rows[0]!.relid);
}
