// A Postgres of our own, to restart and to misconfigure (DESIGN §7): walcast rides out a
// server restart with no gap and no duplicate, and recovers from a slot that Postgres
// invalidated (max_slot_wal_keep_size), telling its clients to refetch.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../src/embedded/postgres-server.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/sql/migrate.js';
import { queryOnce } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const log = createLogger('warn');
// A tiny max_slot_wal_keep_size, so a slot held back by retained events is invalidated
// as soon as enough other WAL is written.
const SETTINGS = { wal_level: 'logical', fsync: 'off', max_slot_wal_keep_size: '1MB', max_wal_size: '32MB' };
let dir: string;
let server: PostgresServer;
let walcast: TestWalcast;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'walcast-restart-'));
  await chmod(dir, 0o755);
  server = await startPostgres({ dataDir: path.join(dir, 'pgdata'), binDir: process.env['WALCAST_TEST_PG_BIN'] || undefined, settings: SETTINGS, log });
  await migrate(server.url);
  const sql = new pg.Client({ connectionString: server.url });
  await sql.connect();
  await sql.query(`create table pings (id serial primary key, org_id text not null, n int);
                   select walcast.expose('pings', tenant_column => 'org_id');
                   create table bulk (id serial primary key, filler text);`);
  await sql.end();
  walcast = await startTestWalcast(server.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const execute = (text: string, values: unknown[] = []) => queryOnce(server.url, text, values);

async function ping(n: number): Promise<void> {
  await execute(`insert into pings (org_id, n) values ('acme', $1)`, [n]);
}

describe('Postgres restarting', () => {
  it('is ridden out: the open stream continues with no gap and no duplicate', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'pings' }));
    try {
      await ping(1);
      await stream.next();
      await server.stop();
      server = await startPostgres({
        dataDir: path.join(dir, 'pgdata'),
        port: server.port,
        binDir: process.env['WALCAST_TEST_PG_BIN'] || undefined,
        settings: SETTINGS,
        log,
      });
      await ping(2);
      await ping(3);
      const events = await stream.take(2, 20_000);
      expect(events.map((event) => (event.data['row'] as { n: number }).n)).toEqual([2, 3]);
      expect(stream.connections).toBe(1);
      await waitUntilReady(walcast, 20_000);
      // The next event is the next row: a duplicate would arrive before it.
      await ping(4);
      expect((await stream.next(10_000)).data).toMatchObject({ row: { n: 4 } });
      expect(stream.unread()).toEqual([]);
    } finally {
      stream.close();
    }
  });

  it('recovers from a slot Postgres invalidated: reset to its streams, then live again', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'pings' }));
    try {
      await ping(10);
      await stream.next(); // retained: the slot is held back to it
      // Far more WAL than max_slot_wal_keep_size, then a checkpoint: Postgres invalidates the slot.
      for (let i = 0; i < 4; i++) await execute(`insert into bulk (filler) select repeat('x', 500) from generate_series(1, 20000)`);
      await execute('checkpoint');
      const reset = await stream.next(30_000);
      expect(reset.type).toBe('reset');
      await waitUntilReady(walcast, 20_000);
      const { rows } = await execute(`select wal_status from pg_replication_slots where slot_name = $1`, [walcast.config.slotName]);
      expect(rows[0]!.wal_status).not.toBe('lost');
      await ping(11);
      expect((await stream.next(10_000)).data).toMatchObject({ row: { n: 11 } });
    } finally {
      stream.close();
    }
  });
});
