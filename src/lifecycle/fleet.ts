// The instances of a fleet, as Postgres sees them (DESIGN §7): each live instance records
// its slot in walcast.instances every few seconds; one live instance at a time (an
// advisory lock) drops the inactive slot of an instance of the same publication that has
// not been seen for WALCAST_SLOT_ORPHAN_AFTER seconds, so a rollout never leaves WAL
// pinned. Never an active slot, never one without a record (another application's, or an
// instance that never ran this version: doctor names those).
import type pg from 'pg';
import type { Logger } from '../log.js';
import { WAL_FLUSH_POSITION } from '../sql/wal-position.js';

/** An arbitrary constant: the advisory lock of the one instance that reaps at a time. */
const REAPER_LOCK = 0x7761_6c72;
const OBJECT_IN_USE = '55006';
const UNDEFINED_OBJECT = '42704';

export interface Instance {
  readonly slotName: string;
  readonly publication: string;
  readonly instance: string;
}

export interface SlotReport {
  readonly slot: string;
  readonly active: boolean;
  /** WAL the slot makes Postgres keep, in bytes. */
  readonly retainedBytes: number;
  /** Seconds since its instance was last seen; undefined when no instance records it. */
  readonly unseenSeconds: number | undefined;
}

/** This instance is alive: its record's `seen_at` moves to now. */
export async function announce(db: Pick<pg.Pool, 'query'>, self: Instance): Promise<void> {
  await db.query(
    `insert into walcast.instances (slot_name, publication, instance) values ($1, $2, $3)
     on conflict (slot_name) do update set publication = excluded.publication, instance = excluded.instance, seen_at = now()`,
    [self.slotName, self.publication, self.instance],
  );
}

/** Drops the orphaned slots of `self`'s publication, if this instance holds the reaper's lock now. */
export async function reapOrphans(pool: pg.Pool, self: Instance, orphanAfterSeconds: number, log: Logger): Promise<string[]> {
  const client = await pool.connect();
  const dropped: string[] = [];
  try {
    await client.query('begin');
    const { rows: lock } = await client.query<{ held: boolean }>('select pg_try_advisory_xact_lock($1) as held', [REAPER_LOCK]);
    if (!lock[0]!.held) return dropped;
    const { rows } = await client.query<{ slot_name: string; unseen: number }>(
      `select s.slot_name, extract(epoch from now() - i.seen_at)::float8 as unseen
         from pg_replication_slots s
         join walcast.instances i on i.slot_name = s.slot_name
        where s.database = current_database() and s.slot_type = 'logical' and not s.active
          and i.publication = $1 and s.slot_name <> $2
          and i.seen_at < now() - make_interval(secs => $3)`,
      [self.publication, self.slotName, orphanAfterSeconds],
    );
    for (const { slot_name: slot, unseen } of rows) {
      await client.query('savepoint drop_slot');
      try {
        await client.query('select pg_drop_replication_slot($1)', [slot]);
        await client.query('delete from walcast.instances where slot_name = $1', [slot]);
        dropped.push(slot);
        log.info({ slot, unseenSeconds: Math.round(unseen) }, 'dropped the slot of a departed instance');
      } catch (error) {
        await client.query('rollback to savepoint drop_slot');
        // In use again (its instance came back), or dropped by someone else meanwhile.
        const code = (error as { code?: string }).code;
        if (code !== OBJECT_IN_USE && code !== UNDEFINED_OBJECT) throw error;
      }
    }
    return dropped;
  } finally {
    await client.query('commit').catch(() => undefined);
    client.release();
  }
}

/** walcast's slots in this database, for /metrics and doctor. */
export async function slotReports(db: Pick<pg.Pool, 'query'>): Promise<SlotReport[]> {
  const { rows } = await db.query<{ slot_name: string; active: boolean; retained: string | null; unseen: number | null }>(
    `select s.slot_name, s.active, pg_wal_lsn_diff(${WAL_FLUSH_POSITION}, s.restart_lsn)::int8::text as retained,
            case when s.active then 0 else extract(epoch from now() - i.seen_at)::float8 end as unseen
       from pg_replication_slots s
       left join walcast.instances i on i.slot_name = s.slot_name
      where s.database = current_database() and s.slot_type = 'logical' and starts_with(s.slot_name, 'walcast_')
      order by s.slot_name`,
  );
  return rows.map((row) => ({
    slot: row.slot_name,
    active: row.active,
    retainedBytes: Number(row.retained ?? 0),
    unseenSeconds: row.unseen === null ? undefined : Math.max(0, row.unseen),
  }));
}
