// Reads the current exposures from walcast.exposed_tables (at start; later changes arrive
// through the WAL as walcast.config messages).
import type pg from 'pg';
import { Exposure } from '../events/exposure.js';

export async function loadExposures(db: pg.Pool | pg.Client): Promise<Exposure[]> {
  const result = await db.query<{ exposure: unknown }>(
    'select walcast.exposure_json(relid) as exposure from walcast.exposed_tables',
  );
  return result.rows.filter((row) => row.exposure !== null).map((row) => Exposure.parse(row.exposure));
}
