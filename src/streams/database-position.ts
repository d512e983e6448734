// "Can this resume point come from this database?" (DESIGN §7). A Last-Event-ID or cursor
// past the database's own WAL position was handed out by another database (a restore, a
// new cluster): waiting for it would be silence forever, so it gets `reset`. One that is
// only past this instance's head came from a faster instance and waits; telling the two
// apart takes the server's position, asked only for points past the head.
import type pg from 'pg';
import { parseLsn, type Lsn } from '../replication/lsn.js';
import { WAL_INSERT_POSITION } from '../sql/wal-position.js';

export interface DatabasePosition {
  /** Whether `lsn` is past everything this database has written. False when unknown. */
  isAhead(lsn: Lsn): Promise<boolean>;
}

/**
 * The insert position (every LSN this database handed out, in an event ID or a cursor, is
 * at or below it). Undefined on a standby: instances on the primary run ahead of its
 * replay, so it cannot tell another database from a primary it lags behind.
 */
export async function readDatabasePosition(db: Pick<pg.Pool, 'query'>): Promise<Lsn | undefined> {
  const { rows } = await db.query<{ standby: boolean; lsn: string }>(`select pg_is_in_recovery() as standby, (${WAL_INSERT_POSITION})::text as lsn`);
  const row = rows[0]!;
  return row.standby ? undefined : parseLsn(row.lsn);
}

/**
 * The server's position only grows, so one read answers "not ahead" for every LSN at or
 * below it from then on: a storm of clients resuming from a faster instance costs one
 * query. "Ahead" is only believed from a read that began after the client asked (an ID
 * committed a moment ago is past any older read), and every client asking while a read is
 * under way shares the next one: one query in flight, ever.
 */
export function createDatabasePosition(read: () => Promise<Lsn | undefined>): DatabasePosition {
  let known: Lsn | undefined;
  let reading: Promise<Lsn | undefined> | undefined;
  let queued: Promise<Lsn | undefined> | undefined;

  async function readOnce(): Promise<Lsn | undefined> {
    try {
      const lsn = await read();
      if (lsn !== undefined && (known === undefined || lsn > known)) known = lsn;
      return lsn;
    } catch {
      // The database is unreachable: no answer, so the client waits (the old behaviour).
      return undefined;
    } finally {
      reading = undefined;
    }
  }

  /** The read in flight, or a new one when none is. */
  function startRead(): Promise<Lsn | undefined> {
    if (!reading) reading = readOnce();
    return reading;
  }

  /** A read that starts after this call. */
  function freshRead(): Promise<Lsn | undefined> {
    if (!reading) return startRead();
    queued ??= reading.then(() => {
      queued = undefined;
      return startRead();
    });
    return queued;
  }

  return {
    async isAhead(lsn) {
      if (known !== undefined && lsn <= known) return false;
      const position = await freshRead();
      return position !== undefined && lsn > position;
    },
  };
}
