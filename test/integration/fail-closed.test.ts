// Fail closed (DESIGN §6): a table in the publication that is not exposed streams to
// nobody, and only exposures answer; exposures of a FOR ALL TABLES publication answer
// right after a (re)start, before any configuration change arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('fail_closed');
  await migrate(db.url);
  await db.sql.query(`
    create table todos (id serial primary key, org_id text not null, title text);
    select walcast.expose('todos', tenant_column => 'org_id');
    create table payroll (id serial primary key, org_id text not null, salary int);
    alter publication walcast add table payroll;
    create schema billing;
    create table billing.invoices (id serial primary key, org_id text not null, total int);
    create table billing.receipts (id serial primary key, org_id text not null, note text);
    create publication billing for tables in schema billing;
    select walcast.expose('billing.receipts', tenant_column => 'org_id', publication => 'billing');
    create publication everything for all tables;
    create table board (id serial primary key, org_id text not null, body text);
    select walcast.expose('board', tenant_column => 'org_id', publication => 'everything');`);
});

afterAll(async () => {
  await db?.drop();
});

async function status(on: TestWalcast, path: string): Promise<number> {
  const response = await fetch(`${on.url}${path}`, { headers: { authorization: `Bearer ${await on.token('acme')}` } });
  await response.body?.cancel();
  return response.status;
}

describe('a published table that is not exposed', () => {
  it('streams to nobody and is not found, on a listed or a schema publication', async () => {
    for (const publication of ['walcast', 'billing']) {
      const walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: `closed_${publication}`, WALCAST_PUBLICATION: publication });
      try {
        await waitUntilReady(walcast);
        for (const table of ['payroll', 'billing.invoices']) {
          expect(await status(walcast, `/v1/tables/${table}/rows`)).toBe(404);
          expect(await status(walcast, `/v1/stream?tables=${table}`)).toBe(404);
        }
        // A stream of every table the tenant may read: whatever the publication carries,
        // only exposures reach it.
        const marker = publication === 'walcast' ? 'todos' : 'billing.receipts';
        const all = await SseClient.open(walcast.streamUrl(await walcast.token('acme')));
        try {
          await db.sql.query(`insert into payroll (org_id, salary) values ('acme', 100000);
                              insert into billing.invoices (org_id, total) values ('acme', 42);`);
          await db.sql.query(`insert into ${marker} (org_id) values ('acme')`);
          expect((await all.next()).data).toMatchObject({ table: marker.includes('.') ? marker : `public.${marker}`, tenant: 'acme' });
          expect(JSON.stringify(all.received)).not.toMatch(/payroll|invoices|100000/);
        } finally {
          all.close();
        }
      } finally {
        await walcast.close();
      }
    }
  });
});

describe('a FOR ALL TABLES publication', () => {
  it('answers for its exposures right after a start and after a restart', async () => {
    for (const attempt of ['start', 'restart']) {
      const walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'everything', WALCAST_PUBLICATION: 'everything' });
      try {
        expect(await status(walcast, '/v1/tables/board/rows'), attempt).toBe(200);
        const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'board' }));
        try {
          await db.sql.query(`insert into board (org_id, body) values ('acme', $1)`, [attempt]);
          expect((await stream.next()).data).toMatchObject({ table: 'public.board', row: { body: attempt } });
          // todos is in the publication (all tables are) but exposed for another one.
          expect(await status(walcast, '/v1/tables/todos/rows')).toBe(404);
        } finally {
          stream.close();
        }
      } finally {
        await walcast.close();
      }
    }
  });
});

describe('an exposed table whose tenant column is gone', () => {
  it('streams to nobody and is not found, live and after a restart, instead of reaching every tenant', async () => {
    await db.sql.query(`create table shared_docs (id serial primary key, team text not null, body text);
                        select walcast.expose('shared_docs', tenant_column => 'team');`);
    const walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'dropped_tenant' });
    try {
      await waitUntilReady(walcast);
      const all = await SseClient.open(walcast.streamUrl(await walcast.token('acme')));
      try {
        // The sql_drop event trigger would refuse this; without it (a non-superuser install), it happens.
        await db.sql.query(`alter event trigger walcast_sql_drop disable;
                            alter table shared_docs drop column team;
                            alter event trigger walcast_sql_drop enable;`);
        await db.sql.query(`insert into shared_docs (body) values ('whose?'); insert into todos (org_id, title) values ('acme', 'marker')`);
        expect((await all.next()).data).toMatchObject({ table: 'public.todos', row: { title: 'marker' } });
        expect(JSON.stringify(all.received.map((event) => event.data))).not.toContain('whose?');
        expect(await status(walcast, '/v1/tables/shared_docs/rows')).toBe(404);
      } finally {
        all.close();
      }
    } finally {
      await walcast.close();
    }
    const restarted = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'dropped_tenant' });
    try {
      expect(await status(restarted, '/v1/tables/shared_docs/rows')).toBe(404);
      expect(await status(restarted, '/v1/stream?tables=shared_docs')).toBe(404);
    } finally {
      await restarted.close();
    }
  });
});
