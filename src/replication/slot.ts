// The instance's permanent replication slot: read for its confirmed position, or, when it
// is missing, copied from the walcast slot of this database whose window reaches furthest
// back (DESIGN §7): a new instance in a rolling deploy then rebuilds the window the fleet
// serves from the WAL, and clients moving to it resume with no reset. Created fresh only
// when there is nothing to copy.
import pg from 'pg';
import { WalcastError } from '../errors.js';
import { parseLsn, ZERO_LSN, type Lsn } from './lsn.js';

export interface SlotState {
  readonly confirmedFlush: Lsn;
  readonly created: boolean;
  /** The slot it was copied from, when it was. */
  readonly copiedFrom?: string;
}

/** What every walcast slot is called: `walcast_<instance>`. */
export const SLOT_PREFIX = 'walcast_';

const DUPLICATE_OBJECT = '42710';

/** Makes sure `slotName` exists as a pgoutput slot in this database and returns where it stands. */
export async function ensureSlot(connectionString: string, slotName: string): Promise<SlotState> {
  const client = new pg.Client({ connectionString });
  // A backend ended meanwhile fails the query in flight; unheard, its 'error' would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const existing = await readSlot(client, slotName);
    if (existing) return { confirmedFlush: existing, created: false };
    const copiedFrom = await copyDeepestSlot(client, slotName);
    if (!copiedFrom) {
      try {
        await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
      } catch (error) {
        // Another process with the same instance name created it first: use theirs.
        if ((error as { code?: string }).code !== DUPLICATE_OBJECT) throw error;
      }
    }
    return { confirmedFlush: (await readSlot(client, slotName)) ?? ZERO_LSN, created: true, ...(copiedFrom ? { copiedFrom } : {}) };
  } finally {
    await client.end();
  }
}

/**
 * Copies the walcast slot of this database that reaches furthest back (the oldest
 * confirmed position, so the widest window) to `slotName`; returns its name, or undefined
 * when there is none or every copy failed (a source dropped meanwhile, a lost slot).
 * `pg_copy_logical_replication_slot` works while the source is in use (FACTS.md).
 */
async function copyDeepestSlot(client: pg.Client, slotName: string): Promise<string | undefined> {
  const candidates = await client.query<{ slot_name: string }>(
    `select slot_name from pg_replication_slots
      where database = current_database() and plugin = 'pgoutput' and slot_type = 'logical' and not temporary
        and starts_with(slot_name, $1) and slot_name <> $2 and confirmed_flush_lsn is not null
        and coalesce(wal_status, 'reserved') <> 'lost'
      order by confirmed_flush_lsn, slot_name`,
    [SLOT_PREFIX, slotName],
  );
  for (const { slot_name: source } of candidates.rows) {
    try {
      await client.query('select pg_copy_logical_replication_slot($1, $2)', [source, slotName]);
      return source;
    } catch (error) {
      // Someone else made our slot meanwhile: it is ours to use.
      if ((error as { code?: string }).code === DUPLICATE_OBJECT) return undefined;
    }
  }
  return undefined;
}

const CANNOT_CONNECT_NOW = '57P03';

/** Postgres refuses new connections with 57P03 while it shuts down. */
export async function serverIsStopping(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return false;
  } catch (error) {
    return (error as { code?: string }).code === CANNOT_CONNECT_NOW;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Replaces a lost slot (dropped, or invalidated and useless) with a new one; returns its position. */
export async function recreateSlot(connectionString: string, slotName: string): Promise<Lsn> {
  const client = new pg.Client({ connectionString });
  // A backend ended meanwhile fails the query in flight; unheard, its 'error' would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active`, [slotName]);
  } finally {
    await client.end();
  }
  return (await ensureSlot(connectionString, slotName)).confirmedFlush;
}

async function readSlot(client: pg.Client, slotName: string): Promise<Lsn | undefined> {
  const result = await client.query<{ plugin: string; database: string; confirmed_flush_lsn: string | null }>(
    `select plugin, database, confirmed_flush_lsn::text
       from pg_replication_slots where slot_name = $1`,
    [slotName],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const current = await client.query<{ db: string }>('select current_database() as db');
  if (row.plugin !== 'pgoutput' || row.database !== current.rows[0]?.db) {
    throw new WalcastError(
      'INVALID_CONFIG',
      `replication slot ${slotName} exists but is not a pgoutput slot of this database; set WALCAST_INSTANCE to another name or drop the slot`,
    );
  }
  return row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : ZERO_LSN;
}
