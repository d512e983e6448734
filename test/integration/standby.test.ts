// Scaling past one primary (issue 8): a walcast instance decoding from a physical standby
// (logical decoding on standby, PostgreSQL 16+) gives every change the same ID and the
// same event as an instance on the primary. The standby is built from the primary with
// the low-level base backup API (the embedded binaries ship no pg_basebackup).
import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../src/embedded/postgres-server.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/sql/migrate.js';
import { queryOnce } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const run = promisify(execFile);
const log = createLogger('warn');
const binDir = process.env['WALCAST_TEST_PG_BIN'] || undefined;
const SETTINGS = { wal_level: 'logical', fsync: 'off', wal_keep_size: '256MB', hot_standby: 'on', hot_standby_feedback: 'on' };

let dir: string;
let primary: PostgresServer;
let standby: PostgresServer | undefined;
let version = 0;
const instances: TestWalcast[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'walcast-standby-'));
  await chmod(dir, 0o755);
  primary = await startPostgres({ dataDir: path.join(dir, 'primary'), binDir, settings: SETTINGS, log });
  version = Number((await queryOnce(primary.url, `select current_setting('server_version_num') as v`)).rows[0].v);
  if (version < 160_000) return;
  await migrate(primary.url);
  await queryOnce(
    primary.url,
    `create table orders (id serial primary key, org_id text not null, total numeric);
                          select walcast.expose('orders', tenant_column => 'org_id');`,
  );

  // Low-level base backup: start, copy the data directory, stop, label the copy.
  const backup = new pg.Client({ connectionString: primary.url });
  await backup.connect();
  await backup.query(`select pg_backup_start('walcast-standby', true)`);
  const standbyDir = path.join(dir, 'standby');
  await run('cp', ['-a', path.join(dir, 'primary'), standbyDir]);
  const { rows } = await backup.query<{ labelfile: string }>('select labelfile from pg_backup_stop(true)');
  await backup.end();
  await rm(path.join(standbyDir, 'postmaster.pid'), { force: true });
  for (const file of await readdir(path.join(standbyDir, 'pg_wal'))) {
    if (file !== 'archive_status') await rm(path.join(standbyDir, 'pg_wal', file), { recursive: true, force: true });
  }
  await writeFile(path.join(standbyDir, 'backup_label'), rows[0]!.labelfile);
  await writeFile(path.join(standbyDir, 'standby.signal'), '');
  await appendFile(path.join(standbyDir, 'postgresql.auto.conf'), `\nprimary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres'\n`);
  await run('chown', ['-R', '--reference', path.join(dir, 'primary'), standbyDir]).catch(() => undefined);
  standby = await startPostgres({ dataDir: standbyDir, binDir, settings: SETTINGS, log });

  // A logical slot on a standby waits for the primary's next running-transactions record.
  let starting = true;
  const nudge = (async () => {
    while (starting) {
      await queryOnce(primary.url, 'select pg_log_standby_snapshot()').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  try {
    instances.push(await startTestWalcast(primary.url, { WALCAST_INSTANCE: 'on_primary' }));
    instances.push(await startTestWalcast(standby.url, { WALCAST_INSTANCE: 'on_standby' }));
    await Promise.all(instances.map((instance) => waitUntilReady(instance, 20_000)));
  } finally {
    starting = false;
    await nudge;
  }
}, 120_000);

afterAll(async () => {
  for (const instance of instances) await instance.close();
  await standby?.stop();
  await primary?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('an instance on a physical standby', () => {
  it('streams the same events, with the same IDs, as an instance on the primary', async (context) => {
    // Logical decoding on a standby needs PostgreSQL 16: reported as skipped on 15.
    if (version < 160_000) context.skip();
    const [onPrimary, onStandby] = instances as [TestWalcast, TestWalcast];
    const fromPrimary = await SseClient.open(onPrimary.streamUrl(await onPrimary.token('acme'), { tables: 'orders' }));
    const fromStandby = await SseClient.open(onStandby.streamUrl(await onStandby.token('acme'), { tables: 'orders' }));
    try {
      for (let i = 1; i <= 5; i++) await queryOnce(primary.url, `insert into orders (org_id, total) values ('acme', $1)`, [i * 10]);
      await queryOnce(primary.url, `update orders set total = total + 1 where id = 3`);
      const primaryEvents = await fromPrimary.take(6);
      const standbyEvents = await fromStandby.take(6, 15_000);
      expect(standbyEvents.map((event) => event.id)).toEqual(primaryEvents.map((event) => event.id));
      expect(standbyEvents.map((event) => event.raw)).toEqual(primaryEvents.map((event) => event.raw));
      expect((standbyEvents[5]!.data['row'] as { total: string }).total).toBe('31');
      const { rows } = await queryOnce(standby!.url, 'select pg_is_in_recovery() as standby');
      expect(rows[0]).toEqual({ standby: true });

      // Snapshots read on the standby too, and hand off to its stream exactly.
      const token = await onStandby.token('acme');
      const snapshot = (await (await fetch(`${onStandby.url}/v1/tables/orders/rows?access_token=${token}`)).json()) as { rows: unknown[]; cursor: string };
      expect(snapshot.rows).toHaveLength(5);
      const resumed = await SseClient.open(onStandby.streamUrl(token, { tables: 'orders', lastEventId: snapshot.cursor }));
      try {
        await queryOnce(primary.url, `insert into orders (org_id, total) values ('acme', 60)`);
        expect((await resumed.next(10_000)).data).toMatchObject({ op: 'insert', row: { total: '60' } });
        expect(resumed.unread()).toEqual([]);
      } finally {
        resumed.close();
      }
      // Writes belong to instances on the primary.
      const edit = await fetch(`${onStandby.url}/v1/tables/orders/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(edit.status).toBe(503);
      expect(await edit.json()).toMatchObject({ error: 'read_only_instance' });
    } finally {
      fromPrimary.close();
      fromStandby.close();
    }
  });
});
