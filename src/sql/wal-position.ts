// "Where is the WAL now?", asked of the server: on a primary, where it is written; on a
// physical standby, where replay has reached (its snapshots and walsenders follow replay).
import type pg from 'pg';
import { parseLsn, type Lsn } from '../replication/lsn.js';

/**
 * The insert position: a commit record can be inserted before the flush position moves
 * past it, so a snapshot's cursor must use this, or a transaction it missed could sort
 * before the cursor (its first version duplicated events: test snapshot.test.ts).
 */
export const WAL_INSERT_POSITION = 'case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_insert_lsn() end';

/** The flush position: what a walsender can send now (catch-up targets, lag). */
export const WAL_FLUSH_POSITION = 'case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_flush_lsn() end';

export async function walFlushPosition(db: Pick<pg.Pool, 'query'>): Promise<Lsn> {
  const result = await db.query<{ lsn: string }>(`select (${WAL_FLUSH_POSITION})::text as lsn`);
  return parseLsn(result.rows[0]!.lsn);
}

/** Past every commit record written so far (flushed or not: synchronous_commit=off returns first). */
export async function walInsertPosition(db: Pick<pg.Pool, 'query'>): Promise<Lsn> {
  const result = await db.query<{ lsn: string }>(`select (${WAL_INSERT_POSITION})::text as lsn`);
  return parseLsn(result.rows[0]!.lsn);
}
