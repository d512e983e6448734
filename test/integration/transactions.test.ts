// Transaction shapes (DESIGN §2, §3): order across tables, partitions under their root,
// other schemas, TRUNCATE, rollbacks and two-phase commit, and transactions larger than
// WALCAST_MAX_TXN_CHANGES becoming `invalidate` events while other streams flow on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('transactions');
  await migrate(db.url);
  await db.sql.query(`
    create table projects (id int primary key, org_id text not null, name text);
    create table tasks (id int primary key, org_id text not null, project_id int, title text);
    create table events (org_id text not null, id int not null, body text, primary key (org_id, id)) partition by list (org_id);
    create table events_acme partition of events for values in ('acme');
    create table events_rest partition of events default;
    create schema billing;
    create table billing.invoices (id int primary key, org_id text not null, total numeric);
    select walcast.expose(t, tenant_column => 'org_id')
      from unnest(array['projects', 'tasks', 'events', 'billing.invoices']::regclass[]) t;`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function open(tenant: string, tables?: string): Promise<SseClient> {
  return SseClient.open(walcast.streamUrl(await walcast.token(tenant), tables ? { tables } : {}));
}

describe('order and placement', () => {
  it('keeps change order across tables within a transaction, under one commit LSN', async () => {
    const acme = await open('acme', 'projects,tasks');
    try {
      await db.sql.query(`begin;
        insert into projects values (1, 'acme', 'p');
        insert into tasks values (1, 'acme', 1, 'first');
        update projects set name = 'p2' where id = 1;
        insert into tasks values (2, 'acme', 1, 'second');
        commit;`);
      const events = await acme.take(4);
      expect(events.map((event) => [event.data['table'], event.data['op']])).toEqual([
        ['public.projects', 'insert'],
        ['public.tasks', 'insert'],
        ['public.projects', 'update'],
        ['public.tasks', 'insert'],
      ]);
      const ids = events.map((event) => event.id);
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids.map((id) => id.slice(0, 16))).size).toBe(1);
      expect(new Set(events.map((event) => event.data['xid'])).size).toBe(1);
    } finally {
      acme.close();
    }
  });

  it('shows a partitioned table under its root name, for every partition', async () => {
    const acme = await open('acme', 'events');
    const globex = await open('globex', 'public.events');
    try {
      await db.sql.query(`insert into events values ('acme', 1, 'a'), ('globex', 1, 'g')`);
      expect((await acme.next()).data).toMatchObject({ table: 'public.events', tenant: 'acme', key: { org_id: 'acme', id: 1 } });
      expect((await globex.next()).data).toMatchObject({ table: 'public.events', tenant: 'globex' });
      // A row moving partition (its tenant changes) leaves one tenant and arrives at the other.
      await db.sql.query(`update events set org_id = 'globex', id = 2 where org_id = 'acme' and id = 1`);
      expect((await acme.next()).data).toMatchObject({ op: 'delete', tenant: 'acme', key: { org_id: 'acme', id: 1 } });
      expect((await globex.next()).data).toMatchObject({ op: 'insert', tenant: 'globex', row: { id: 2, body: 'a' } });
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('streams a table in another schema by its qualified name', async () => {
    const acme = await open('acme', 'billing.invoices');
    try {
      const notFound = await fetch(walcast.streamUrl(await walcast.token('acme'), { tables: 'invoices' }));
      expect(notFound.status).toBe(404);
      await db.sql.query(`insert into billing.invoices values (1, 'acme', 99999999999999999999.99)`);
      expect((await acme.next()).data).toMatchObject({ table: 'billing.invoices', row: { total: '99999999999999999999.99' } });
    } finally {
      acme.close();
    }
  });
});

describe('truncate, rollback, two-phase commit', () => {
  it('sends a truncate to every tenant of the table', async () => {
    const acme = await open('acme', 'tasks');
    const globex = await open('globex', 'tasks');
    const other = await open('acme', 'projects');
    try {
      await db.sql.query(`truncate tasks`);
      await db.sql.query(`insert into projects values (100, 'acme', 'after')`);
      expect(await acme.next()).toMatchObject({ type: 'truncate', data: { table: 'public.tasks' } });
      expect(await globex.next()).toMatchObject({ type: 'truncate', data: { table: 'public.tasks' } });
      expect((await other.next()).data).toMatchObject({ row: { name: 'after' } });
      expect(other.received.map((event) => event.type)).toEqual(['change']);
    } finally {
      acme.close();
      globex.close();
      other.close();
    }
  });

  it('never shows a rolled-back or prepared-then-rolled-back transaction; shows a prepared-then-committed one', async () => {
    const acme = await open('acme', 'projects');
    const prepared = await import('pg').then(({ default: pg }) => new pg.Client({ connectionString: db.url }));
    await prepared.connect();
    try {
      await db.sql.query(`begin; insert into projects values (200, 'acme', 'rolled back'); rollback;`);
      await prepared.query(`begin; insert into projects values (201, 'acme', 'prepared, rolled back'); prepare transaction 'walcast_test_a'`);
      await prepared.query(`rollback prepared 'walcast_test_a'`);
      await prepared.query(`begin; insert into projects values (202, 'acme', 'prepared, committed'); prepare transaction 'walcast_test_b'`);
      await db.sql.query(`insert into projects values (203, 'acme', 'plain')`);
      await prepared.query(`commit prepared 'walcast_test_b'`);
      const events = await acme.take(2);
      expect(events.map((event) => (event.data['row'] as Record<string, unknown>)['name'])).toEqual(['plain', 'prepared, committed']);
      await db.sql.query(`insert into projects values (204, 'acme', 'marker')`);
      expect((await acme.next()).data).toMatchObject({ row: { name: 'marker' } });
    } finally {
      acme.close();
      await prepared.end();
    }
  });
});

describe('a transaction larger than WALCAST_MAX_TXN_CHANGES', () => {
  it('becomes one invalidate per (tenant, table) while other streams keep flowing', async () => {
    const acme = await open('acme');
    const globex = await open('globex');
    const initech = await open('initech', 'projects');
    try {
      await db.sql.query(`insert into projects values (300, 'initech', 'before')`);
      await db.sql.query(`begin;
        insert into tasks select 1000 + i, 'acme', null, 'bulk' from generate_series(1, 5000) i;
        insert into projects values (301, 'acme', 'in the big one');
        insert into tasks select 10000 + i, case when i % 2 = 0 then 'acme' else 'globex' end, null, 'bulk'
          from generate_series(1, 7000) i;
        commit;`);
      await db.sql.query(`insert into projects values (302, 'initech', 'after')`);
      await db.sql.query(`insert into projects values (303, 'acme', 'after')`);

      const acmeEvents = await acme.take(3, 15_000);
      expect(acmeEvents.map((event) => [event.type, event.data['table'], event.data['tenant']])).toEqual([
        ['invalidate', 'public.tasks', 'acme'],
        ['invalidate', 'public.projects', 'acme'],
        ['change', 'public.projects', 'acme'],
      ]);
      expect(acmeEvents[0]!.data).toMatchObject({ reason: 'transaction_too_large' });
      const globexEvents = await globex.take(1, 15_000);
      expect(globexEvents.map((event) => [event.type, event.data['table'], event.data['tenant']])).toEqual([['invalidate', 'public.tasks', 'globex']]);
      const initechEvents = await initech.take(2, 15_000);
      expect(initechEvents.map((event) => (event.data['row'] as Record<string, unknown>)['name'])).toEqual(['before', 'after']);
      expect(acme.unread()).toEqual([]);
      expect(globex.unread()).toEqual([]);
    } finally {
      acme.close();
      globex.close();
      initech.close();
    }
  });
});
