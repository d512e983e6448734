// One consistent read of a table, streamed in batches so memory stays constant at any
// size, with the cursor that hands off to the stream exactly (events/resume-point). A
// paged read's first page exports its snapshot; later pages read inside it.
import pg from 'pg';
import { WalcastError } from '../errors.js';
import { cursorFromSnapshot, formatCursor } from '../events/resume-point.js';
import { parseLsn } from '../replication/lsn.js';
import { RAW_TEXT, textFormatSelect } from '../sql/text-format.js';
import { WAL_INSERT_POSITION } from '../sql/wal-position.js';
import type { Sql } from '../sql/statement.js';

const BATCH_ROWS = 500;
/** What pg_export_snapshot() returns, e.g. `00000003-0000001B-1`: checked before it is spliced into SQL. */
const SNAPSHOT_ID = /^[0-9A-F]{8}-[0-9A-F]{8}-[0-9]{1,10}$/;

type Row = (string | null)[];

export interface SnapshotRequest {
  readonly query: Sql;
  readonly limit: number | undefined;
  /** Continue a paged read inside the snapshot its first page exported. */
  readonly continueIn?: { readonly snapshotId: string; readonly cursor: string };
  /** Export the snapshot (on a connection of its own) so later pages can read inside it. */
  readonly exportSnapshot: boolean;
}

export interface SnapshotRead {
  readonly cursor: string;
  readonly snapshotId: string | undefined;
  /** Batches of rows, each row its columns' text (null for NULL); stops at `limit`. */
  batches(): AsyncGenerator<Row[]>;
  /** Once the batches are read: whether rows remain past `limit`. */
  more(): boolean;
  /** Ends the read; safe to call twice. */
  close(): Promise<void>;
  /** Hands over the still-open connection of an exporting read, to be held for later pages. */
  detach(): pg.Client;
}

/** Postgres errors a bad filter value causes (22xxx: data exceptions) are the client's. */
function asClientError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('22')) {
    return new WalcastError('INVALID_PARAMETER', `where: ${(error as Error).message}`);
  }
  return error;
}

interface Connection {
  readonly client: pg.ClientBase;
  release(error?: Error): Promise<void>;
}

async function connect(pool: pg.Pool, connectionString: string, own: boolean): Promise<Connection & { own?: pg.Client }> {
  if (!own) {
    const client = await pool.connect().catch((error: unknown) => {
      // Every read connection is busy for longer than the pool waits (lifecycle/connections).
      throw new WalcastError('SERVER_BUSY', 'every snapshot connection of this instance is busy; retry shortly', {
        cause: error,
        headers: { 'retry-after': '5' },
      });
    });
    // A checked-out client has no pool listening for its errors: a backend ended while the
    // read waits on a slow reader (idle_in_transaction_session_timeout, a failover) would
    // otherwise be an uncaught 'error', the end of the process. The client is then discarded.
    let failure: Error | undefined;
    const failed = (error: Error) => {
      failure = error;
    };
    client.on('error', failed);
    return {
      client,
      release: async (error) => {
        client.off('error', failed);
        client.release(error ?? failure);
      },
    };
  }
  const client = new pg.Client({ connectionString });
  // As above; a held snapshot whose backend ended is dropped (HeldSnapshots), its next page 410.
  client.on('error', () => undefined);
  await client.connect();
  return { client, own: client, release: () => client.end().catch(() => undefined) };
}

export async function openSnapshot(pool: pg.Pool, connectionString: string, request: SnapshotRequest): Promise<SnapshotRead> {
  const connection = await connect(pool, connectionString, request.exportSnapshot);
  const { client } = connection;
  let open = true;
  const close = async (error?: unknown) => {
    if (!open) return;
    open = false;
    await client.query('rollback').catch(() => undefined);
    await connection.release(error instanceof Error && !(error instanceof WalcastError) ? error : undefined);
  };
  try {
    const { sql: setFormat, values: formatValues } = textFormatSelect();
    let cursor: string;
    let snapshotId: string | undefined;
    if (request.continueIn) {
      if (!SNAPSHOT_ID.test(request.continueIn.snapshotId)) throw new WalcastError('INVALID_PARAMETER', 'page: not a page token');
      await client.query('begin isolation level repeatable read read only');
      try {
        await client.query(`set transaction snapshot '${request.continueIn.snapshotId}'`);
      } catch (error) {
        throw new WalcastError('SNAPSHOT_EXPIRED', 'the snapshot of this paged read is no longer held; read again from the first page', { cause: error });
      }
      await client.query(`select ${setFormat}`, formatValues);
      cursor = request.continueIn.cursor;
    } else {
      // Read before the snapshot: no transaction the snapshot misses commits earlier.
      const low = await client.query<{ lsn: string }>(`select ${WAL_INSERT_POSITION}::text as lsn`);
      await client.query('begin isolation level repeatable read read only');
      // The first statement takes the snapshot, so the LSN read within it comes after it;
      // it also sets, for this transaction, the text format the value decoders expect.
      const taken = await client.query<{ snapshot: string; lsn: string; exported: string | null }>(
        `select ${setFormat}, pg_current_snapshot()::text as snapshot, ${WAL_INSERT_POSITION}::text as lsn,
                ${request.exportSnapshot ? 'pg_export_snapshot()' : 'null'} as exported`,
        formatValues,
      );
      const row = taken.rows[0]!;
      cursor = formatCursor(cursorFromSnapshot(row.snapshot, parseLsn(low.rows[0]!.lsn), parseLsn(row.lsn)));
      snapshotId = row.exported ?? undefined;
    }
    await client.query({ text: `declare walcast_snapshot no scroll cursor for ${request.query.text}`, values: request.query.values });
    const fetch = async (count: number) => (await client.query<Row>({ text: `fetch ${count} from walcast_snapshot`, rowMode: 'array', types: RAW_TEXT })).rows;
    const first = await fetch(BATCH_ROWS);
    let more = false;
    return {
      cursor,
      snapshotId,
      async *batches() {
        let left = request.limit ?? Number.POSITIVE_INFINITY;
        let rows = first;
        while (rows.length > 0) {
          if (left <= 0) {
            more = true;
            return;
          }
          const batch = rows.length > left ? rows.slice(0, left) : rows;
          left -= batch.length;
          yield batch;
          if (rows.length > batch.length) {
            more = true;
            return;
          }
          if (rows.length < BATCH_ROWS) return;
          rows = await fetch(left > 0 ? BATCH_ROWS : 1);
        }
      },
      more: () => more,
      close: () => close(),
      detach() {
        if (!connection.own) throw new WalcastError('INTERNAL', 'only an exporting read can be held');
        open = false;
        return connection.own;
      },
    };
  } catch (error) {
    await close(error);
    throw asClientError(error);
  }
}
