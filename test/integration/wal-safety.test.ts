// WAL safety and faults (DESIGN §7): the slot advances while the rest of the database is
// busy; a dropped replication connection is reconnected with no gap; a lost slot is
// recreated, clients get `reset`, and /readyz says so until walcast has recovered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually, metric } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;
const MAX_WAL = 8 * 1024 * 1024;

beforeAll(async () => {
  db = await createTestDatabase('wal_safety');
  await migrate(db.url);
  await db.sql.query(`
    create table feed (id serial primary key, org_id text not null, body text);
    select walcast.expose('feed', tenant_column => 'org_id');
    create table app_log (id serial primary key, line text);`);
  walcast = await startTestWalcast(db.url, { WALCAST_RETAIN_WAL_BYTES: String(MAX_WAL) });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function slot(): Promise<{ lag: number; retained: number; pid: number | null }> {
  const { rows } = await db.sql.query<{ lag: string; retained: string; pid: number | null }>(
    `select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8::text as lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8::text as retained, active_pid as pid
       from pg_replication_slots where slot_name = $1`,
    [walcast.config.slotName],
  );
  return { lag: Number(rows[0]?.lag ?? Number.NaN), retained: Number(rows[0]?.retained ?? Number.NaN), pid: rows[0]?.pid ?? null };
}

async function feedRow(body: string): Promise<void> {
  await db.sql.query(`insert into feed (org_id, body) values ('acme', $1)`, [body]);
}

describe('WAL safety', () => {
  it('keeps the slot moving while only unexposed tables are written, even with events retained', async () => {
    await feedRow('retained');
    await eventually('the event is retained', async () => (await metric(walcast.url, 'walcast_retained_events')) > 0);
    for (let i = 0; i < 4; i++) {
      await db.sql.query(`insert into app_log (line) select repeat('x', 200) from generate_series(1, 40000)`);
    }
    // ~40 MB of WAL the publication never sees: walcast must not pin it.
    await eventually('the slot is confirmed near the WAL end', async () => (await slot()).lag < MAX_WAL + 2 * 1024 * 1024);
    expect(await metric(walcast.url, 'walcast_retained_events')).toBe(0);
    // What the slot makes Postgres keep follows once decoding passes a running-xacts
    // record (a checkpoint writes one).
    await db.sql.query('checkpoint');
    await eventually('the WAL the slot retains is bounded', async () => (await slot()).retained < MAX_WAL + 2 * 1024 * 1024);
  });
});

describe('faults', () => {
  it('reconnects a dropped replication connection; open streams go on with no gap', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'feed' }));
    try {
      await feedRow('before the drop');
      expect((await stream.next()).data).toMatchObject({ row: { body: 'before the drop' } });
      const { pid } = await slot();
      await db.sql.query('select pg_terminate_backend($1)', [pid]);
      await feedRow('during the drop');
      await feedRow('after the drop');
      const events = await stream.take(2, 15_000);
      expect(events.map((event) => (event.data['row'] as { body: string }).body)).toEqual(['during the drop', 'after the drop']);
      await eventually('ready again', async () => (await fetch(`${walcast.url}/readyz`)).status === 200);
      expect(stream.connections).toBe(1);
      // The next event is the next row: a duplicate would arrive before it.
      await feedRow('after reconnecting');
      expect((await stream.next()).data).toMatchObject({ row: { body: 'after reconnecting' } });
      expect(stream.unread()).toEqual([]);
    } finally {
      stream.close();
    }
  });

  it('recreates a dropped slot, sends reset, and reports the loss on /readyz', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'feed' }));
    try {
      await feedRow('seen');
      const seen = await stream.next();
      // A DBA drops the slot (the walsender must be stopped first, and walcast reconnects fast).
      await eventually(
        'the slot is dropped',
        async () => {
          const { pid } = await slot();
          if (pid !== null) await db.sql.query('select pg_terminate_backend($1)', [pid]);
          const dropped = await db.sql.query('select pg_drop_replication_slot($1)', [walcast.config.slotName]).then(
            () => true,
            () => false,
          );
          return dropped;
        },
        10_000,
        100,
      );
      await feedRow('maybe lost');

      const reset = await stream.next(15_000);
      expect(reset.type).toBe('reset');
      await eventually('ready again', async () => (await fetch(`${walcast.url}/readyz`)).status === 200);
      const ready = (await (await fetch(`${walcast.url}/readyz`)).json()) as Record<string, unknown>;
      expect(ready['slotLostAt']).toEqual(expect.any(String));

      await feedRow('after recovery');
      await stream.until(
        () => stream.received.some((event) => (event.data['row'] as { body?: string } | undefined)?.body === 'after recovery'),
        10_000,
        'live again',
      );

      // A client that comes back with a position from before the loss is told to refetch.
      const returning = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'feed', lastEventId: seen.id }));
      try {
        expect((await returning.next()).type).toBe('reset');
      } finally {
        returning.close();
      }
    } finally {
      stream.close();
    }
  });
});
