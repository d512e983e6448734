// Writes a presence message into the WAL and makes sure it is flushed at once: the
// walsenders only send flushed WAL, and a non-transactional message alone waits for the
// WAL writer (up to wal_writer_delay, 200 ms by default), which is the whole latency goal.
// PostgreSQL 17 can flush the message itself; before, a commit with an xid and
// synchronous_commit on flushes it (at the price of one xid per heartbeat). Each message
// is signed (message-auth.ts): any role can emit one, only walcast's carry a valid MAC.
import type pg from 'pg';
import { signMessage } from './message-auth.js';
import { PRESENCE_MESSAGE_PREFIX, type PresenceMessage } from './rooms.js';

const FLUSH_ARGUMENT_SINCE = 170_000;

export type EmitPresence = (message: PresenceMessage) => Promise<void>;

export async function presenceEmitter(pool: pg.Pool, key: Buffer): Promise<EmitPresence> {
  const version = await pool.query<{ version: number }>(`select current_setting('server_version_num')::int as version`);
  const signed = (message: PresenceMessage) => signMessage(key, JSON.stringify(message));
  if (version.rows[0]!.version >= FLUSH_ARGUMENT_SINCE) {
    return async (message) => {
      await pool.query('select pg_logical_emit_message(false, $1, $2, true)', [PRESENCE_MESSAGE_PREFIX, signed(message)]);
    };
  }
  return async (message) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local synchronous_commit = on`);
      await client.query('select pg_logical_emit_message(false, $1, $2)', [PRESENCE_MESSAGE_PREFIX, signed(message)]);
      await client.query('select pg_current_xact_id()');
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
}
