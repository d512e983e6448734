// Configuration in SQL takes effect on a running server (DESIGN §6): expose, conceal,
// ALTER PUBLICATION, ALTER TABLE (add, drop, rename, retype), publication column lists
// and row filters. Events after a change have the new shape; hidden stays hidden.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('live_config');
  await migrate(db.url);
  await db.sql.query(`create table marker (id serial primary key, org_id text not null, note text);
                      select walcast.expose('marker', tenant_column => 'org_id');`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

/** Opens a stream as soon as the server knows the table (a new name resolves within a second). */
async function openWhenKnown(tenant: string, tables: string): Promise<SseClient> {
  const url = walcast.streamUrl(await walcast.token(tenant), { tables });
  await eventually(
    `${tables} answers 200`,
    async () => {
      const probe = await fetch(url);
      await probe.body?.cancel();
      return probe.status === 200;
    },
    3_000,
    50,
  );
  return SseClient.open(url);
}

/** A marker insert: once its event arrives, everything committed before it has been delivered. */
async function mark(stream: SseClient, note: string): Promise<void> {
  await db.sql.query(`insert into marker (org_id, note) values ('acme', $1)`, [note]);
  await stream.until(() => stream.received.some((event) => (event.data['row'] as { note?: string } | undefined)?.note === note), 5_000, `marker ${note}`);
}

describe('expose and conceal, live', () => {
  it('streams a table exposed after start, and stops at conceal', async () => {
    await db.sql.query(`create table notes (id int primary key, org_id text not null, body text, secret text)`);
    await db.sql.query(`select walcast.expose('notes', tenant_column => 'org_id', hidden_columns => '{secret}')`);
    const stream = await openWhenKnown('acme', 'notes,marker');
    try {
      await db.sql.query(`insert into notes values (1, 'acme', 'hello', 'psst')`);
      expect((await stream.next()).data).toMatchObject({ table: 'public.notes', row: { id: 1, body: 'hello' } });
      await db.sql.query(`select walcast.conceal('notes')`);
      await db.sql.query(`insert into notes values (2, 'acme', 'after conceal', 'psst')`);
      await mark(stream, 'after conceal');
      expect(stream.received.filter((event) => event.data['table'] === 'public.notes')).toHaveLength(1);
      expect(JSON.stringify(stream.received)).not.toContain('psst');
    } finally {
      stream.close();
    }
  });

  it('follows ALTER PUBLICATION: a table added without expose streams to nobody; dropping an exposed one stops it', async () => {
    await db.sql.query(`create table announcements (id int primary key, body text)`);
    await db.sql.query(`alter publication walcast add table announcements`);
    const probe = await fetch(walcast.streamUrl(await walcast.token('acme'), { tables: 'announcements' }));
    await probe.body?.cancel();
    expect(probe.status).toBe(404);
    await db.sql.query(`create table bulletins (id int primary key, body text)`);
    await db.sql.query(`select walcast.expose('bulletins')`);
    const acme = await openWhenKnown('acme', 'bulletins,marker');
    try {
      await db.sql.query(`insert into announcements values (1, 'published, not exposed')`);
      await db.sql.query(`insert into bulletins values (1, 'for everyone')`);
      expect((await acme.next()).data).toMatchObject({ table: 'public.bulletins', tenant: null, row: { body: 'for everyone' } });
      await db.sql.query(`alter publication walcast drop table bulletins`);
      await db.sql.query(`insert into bulletins values (2, 'unpublished')`);
      await mark(acme, 'after drop');
      expect(acme.received.filter((event) => event.data['table'] === 'public.bulletins')).toHaveLength(1);
      expect(JSON.stringify(acme.received)).not.toContain('published, not exposed');
    } finally {
      acme.close();
    }
  });
});

describe('ALTER TABLE on an exposed table, live', () => {
  it('sends the new shape after add, rename, retype and drop; a renamed hidden column stays hidden', async () => {
    await db.sql.query(`create table items (id int primary key, org_id text not null, name text, secret text, qty int)`);
    await db.sql.query(`select walcast.expose('items', tenant_column => 'org_id', hidden_columns => '{secret}')`);
    const stream = await openWhenKnown('acme', 'items');
    try {
      await db.sql.query(`insert into items values (1, 'acme', 'a', 's1', 1)`);
      expect((await stream.next()).data['row']).toEqual({ id: 1, org_id: 'acme', name: 'a', qty: 1 });

      await db.sql.query(`alter table items add column color text default 'red'`);
      await db.sql.query(`insert into items values (2, 'acme', 'b', 's2', 2)`);
      expect((await stream.next()).data['row']).toEqual({ id: 2, org_id: 'acme', name: 'b', qty: 2, color: 'red' });

      await db.sql.query(`alter table items rename column secret to whisper`);
      await db.sql.query(`alter table items rename column name to label`);
      await db.sql.query(`alter table items alter column qty type bigint`);
      await db.sql.query(`insert into items values (3, 'acme', 'c', 's3', 3)`);
      expect((await stream.next()).data['row']).toEqual({ id: 3, org_id: 'acme', label: 'c', qty: '3', color: 'red' });

      await db.sql.query(`alter table items drop column color`);
      await db.sql.query(`insert into items values (4, 'acme', 'd', 's4', 4)`);
      expect((await stream.next()).data['row']).toEqual({ id: 4, org_id: 'acme', label: 'd', qty: '4' });
      expect(JSON.stringify(stream.received)).not.toMatch(/"s\d"/);
    } finally {
      stream.close();
    }
  });

  it('keeps a renamed table subscribed and names it as it is now', async () => {
    await db.sql.query(`create table drafts (id int primary key, org_id text not null)`);
    await db.sql.query(`select walcast.expose('drafts', tenant_column => 'org_id')`);
    const stream = await openWhenKnown('acme', 'drafts');
    try {
      await db.sql.query(`insert into drafts values (1, 'acme')`);
      expect((await stream.next()).data).toMatchObject({ table: 'public.drafts' });
      await db.sql.query(`alter table drafts rename to papers`);
      await db.sql.query(`insert into papers values (2, 'acme')`);
      expect((await stream.next()).data).toMatchObject({ table: 'public.papers', row: { id: 2 } });
      const renamed = await openWhenKnown('acme', 'papers');
      renamed.close();
    } finally {
      stream.close();
    }
  });

  it('refuses to drop the tenant column of an exposed table, saying what to do', async () => {
    await expect(db.sql.query(`alter table marker drop column org_id`)).rejects.toThrow(/tenant column of an exposed table/);
  });
});

describe('native publication column lists and row filters (PG15+)', () => {
  it('honours a column list and a row filter, a row leaving the filter arriving as a delete', async () => {
    await db.sql.query(`create table tickets (org_id text, id int, title text, internal text, primary key (org_id, id))`);
    await db.sql.query(`select walcast.expose('tickets', tenant_column => 'org_id')`);
    await db.sql.query(`begin;
      alter publication walcast drop table tickets;
      alter publication walcast add table tickets (org_id, id, title) where (id < 100);
      commit;`);
    const stream = await openWhenKnown('acme', 'tickets');
    try {
      await db.sql.query(`insert into tickets values ('acme', 1, 'visible', 'not published'), ('acme', 500, 'filtered out', 'x')`);
      await db.sql.query(`update tickets set id = 600 where org_id = 'acme' and id = 1`);
      const [insert, leave] = await stream.take(2);
      expect(insert!.data).toMatchObject({ op: 'insert', row: { org_id: 'acme', id: 1, title: 'visible' } });
      expect(insert!.data['row']).not.toHaveProperty('internal');
      expect(leave!.data).toMatchObject({ op: 'delete', tenant: 'acme', key: { org_id: 'acme', id: 1 } });
      await db.sql.query(`insert into tickets values ('acme', 2, 'second', 'x')`);
      expect((await stream.next()).data).toMatchObject({ op: 'insert', row: { id: 2 } });
    } finally {
      stream.close();
    }
  });
});
