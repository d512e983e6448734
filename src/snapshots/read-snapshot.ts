// One consistent read of a table, streamed in batches so memory stays constant at any
// size, with the cursor that hands off to the stream exactly (events/resume-point).
import type pg from 'pg';
import { WalcastError } from '../errors.js';
import { cursorFromSnapshot, formatCursor } from '../events/resume-point.js';
import { TEXT_FORMAT } from '../events/values.js';
import { parseLsn } from '../replication/lsn.js';
import type { Sql } from './snapshot-sql.js';

const BATCH_ROWS = 500;
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

export interface SnapshotRead {
  readonly cursor: string;
  /** Batches of rows, each row its columns' text (null for NULL); stops at `limit`. */
  batches(): AsyncGenerator<(string | null)[][]>;
  /** Ends the read transaction and returns the connection; safe to call twice. */
  close(): Promise<void>;
}

/** Postgres errors a bad filter value causes (22xxx: data exceptions) are the client's. */
function asClientError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('22')) {
    return new WalcastError('INVALID_PARAMETER', `where: ${(error as Error).message}`);
  }
  return error;
}

export async function openSnapshot(pool: pg.Pool, query: Sql, limit: number | undefined): Promise<SnapshotRead> {
  const client = await pool.connect();
  let open = true;
  const close = async (error?: unknown) => {
    if (!open) return;
    open = false;
    await client.query('rollback').catch(() => undefined);
    client.release(error instanceof Error && !(error instanceof WalcastError) ? error : undefined);
  };
  try {
    // Read before the snapshot: no transaction the snapshot misses commits earlier.
    const low = await client.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
    await client.query('begin isolation level repeatable read read only');
    // The first statement takes the snapshot, so the LSN read within it comes after it;
    // it also sets, for this transaction, the text format the value decoders expect.
    const settings = Object.entries(TEXT_FORMAT);
    const taken = await client.query<{ snapshot: string; lsn: string }>(
      `select ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')},
              pg_current_snapshot()::text as snapshot, pg_current_wal_insert_lsn()::text as lsn`,
      settings.flat(),
    );
    const cursor = formatCursor(cursorFromSnapshot(taken.rows[0]!.snapshot, parseLsn(low.rows[0]!.lsn), parseLsn(taken.rows[0]!.lsn)));
    await client.query({ text: `declare walcast_snapshot no scroll cursor for ${query.text}`, values: query.values });
    const first = await client.query<string[]>({ text: `fetch ${BATCH_ROWS} from walcast_snapshot`, rowMode: 'array', types: RAW_TEXT });
    return {
      cursor,
      async *batches() {
        let left = limit ?? Number.POSITIVE_INFINITY;
        let rows = first.rows;
        while (rows.length > 0 && left > 0) {
          const batch = rows.length > left ? rows.slice(0, left) : rows;
          left -= batch.length;
          yield batch;
          if (rows.length < BATCH_ROWS || left <= 0) break;
          rows = (await client.query<string[]>({ text: `fetch ${BATCH_ROWS} from walcast_snapshot`, rowMode: 'array', types: RAW_TEXT })).rows;
        }
      },
      close: () => close(),
    };
  } catch (error) {
    await close(error);
    throw asClientError(error);
  }
}
