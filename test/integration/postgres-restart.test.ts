// Postgres itself restarting under a running walcast (DESIGN §7): walcast reconnects with
// backoff, open streams stay open and continue with no gap and no duplicate.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../src/embedded/postgres-server.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/sql/migrate.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const log = createLogger('warn');
const SETTINGS = { wal_level: 'logical', fsync: 'off' };
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
                   select walcast.expose('pings', tenant_column => 'org_id');`);
  await sql.end();
  walcast = await startTestWalcast(server.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function ping(n: number): Promise<void> {
  const sql = new pg.Client({ connectionString: server.url });
  await sql.connect();
  await sql.query(`insert into pings (org_id, n) values ('acme', $1)`, [n]);
  await sql.end();
}

describe('Postgres restarting', () => {
  it('is ridden out: the open stream continues with no gap and no duplicate', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'pings' }));
    try {
      await ping(1);
      await stream.next();
      await server.stop();
      server = await startPostgres({ dataDir: path.join(dir, 'pgdata'), port: server.port, binDir: process.env['WALCAST_TEST_PG_BIN'] || undefined, settings: SETTINGS, log });
      await ping(2);
      await ping(3);
      const events = await stream.take(2, 20_000);
      expect(events.map((event) => (event.data['row'] as { n: number }).n)).toEqual([2, 3]);
      expect(stream.connections).toBe(1);
      await waitUntilReady(walcast, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stream.unread()).toEqual([]);
    } finally {
      stream.close();
    }
  });
});
