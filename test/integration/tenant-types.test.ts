// The tenant claim compared as the tenant column's type on every path (DESIGN §5, issue
// 14): streams, snapshots and presence answer as edits do (edits.test.ts), where Postgres
// compares. With an integer tenant column "007" and 7 are one tenant; with citext, ACME and
// acme; a claim that is no value of the column (abc) is a clean refusal or sees nothing,
// never a 500; a claim a varchar(n) column would cut short is never another tenant.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

/** A token whose tenant claim is a string or, as some identity providers send it, a JSON number. */
const tokenFor = (tenant: string | number, sub = 'viewer') =>
  new SignJWT({ tenant_id: tenant }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET));

async function rowsOf(on: TestWalcast, table: string, tenant: string | number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${on.url}/v1/tables/${table}/rows`, { headers: { authorization: `Bearer ${await tokenFor(tenant)}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const titles = (body: Record<string, unknown>) => ((body['rows'] ?? []) as { title: string }[]).map((row) => row.title).sort();

describe('tenants of every tenant column type', () => {
  let db: TestDatabase;
  let walcast: TestWalcast;

  beforeAll(async () => {
    db = await createTestDatabase('tenant_types');
    await migrate(db.url);
    await db.sql.query(`
      create extension if not exists citext;
      create table by_number (id serial primary key, org_id int not null, title text);
      create table by_text (id serial primary key, org_id text not null, title text);
      create table by_name (id serial primary key, org_id citext not null, title text);
      create table short_names (id serial primary key, org_id varchar(4) not null, title text);
      select walcast.expose(t, tenant_column => 'org_id') from unnest(array['by_number', 'by_text', 'by_name', 'short_names']) t;`);
    walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'types' });
    await waitUntilReady(walcast);
    await eventually('the tables are exposed', async () => (await rowsOf(walcast, 'short_names', 'acme')).status === 200, 5_000);
  });

  afterAll(async () => {
    await walcast?.close();
    await db?.drop();
  });

  it('streams and snapshots make "007" and 7 one tenant of an integer column, and two of a text column', async () => {
    const streams = await Promise.all(
      ['007', 7, '7', '70'].map(async (tenant) => SseClient.open(walcast.streamUrl(await tokenFor(tenant), { tables: 'by_number,by_text' }))),
    );
    try {
      await db.sql.query(`insert into by_number (org_id, title) values (7, 'seven');
                          insert into by_text (org_id, title) values ('7', 'text seven'), ('007', 'text double-oh seven');`);
      const [padded, number, plain, seventy] = streams as [SseClient, SseClient, SseClient, SseClient];
      expect((await padded.take(2)).map((event) => event.data['row'])).toMatchObject([{ title: 'seven' }, { title: 'text double-oh seven' }]);
      expect((await number.take(2)).map((event) => event.data['row'])).toMatchObject([{ title: 'seven' }, { title: 'text seven' }]);
      expect((await plain.take(2)).map((event) => event.data['row'])).toMatchObject([{ title: 'seven' }, { title: 'text seven' }]);
      // Its first event is a later one: the ones before it were not sent to it.
      await db.sql.query(`insert into by_number (org_id, title) values (70, 'seventy')`);
      expect((await seventy.next()).data['row']).toMatchObject({ title: 'seventy' });
    } finally {
      for (const stream of streams) stream.close();
    }
    for (const tenant of ['007', 7, ' +7']) expect(titles((await rowsOf(walcast, 'by_number', tenant)).body), String(tenant)).toEqual(['seven']);
    expect(titles((await rowsOf(walcast, 'by_text', '007')).body)).toEqual(['text double-oh seven']);
  });

  it('streams and snapshots make ACME and acme one tenant of a citext column', async () => {
    const streams = await Promise.all(
      ['ACME', 'acme', 'acme-eu'].map(async (tenant) => SseClient.open(walcast.streamUrl(await tokenFor(tenant), { tables: 'by_name' }))),
    );
    try {
      await db.sql.query(`insert into by_name (org_id, title) values ('Acme', 'mixed case'), ('acme-eu', 'europe')`);
      const [upper, lower, europe] = streams as [SseClient, SseClient, SseClient];
      expect((await upper.next()).data).toMatchObject({ tenant: 'Acme', row: { title: 'mixed case' } });
      expect((await lower.next()).data).toMatchObject({ tenant: 'Acme', row: { title: 'mixed case' } });
      expect((await europe.next()).data).toMatchObject({ row: { title: 'europe' } });
      expect([...upper.unread(), ...lower.unread()]).toEqual([]);
    } finally {
      for (const stream of streams) stream.close();
    }
    for (const tenant of ['ACME', 'acme', 'aCmE']) expect(titles((await rowsOf(walcast, 'by_name', tenant)).body), tenant).toEqual(['mixed case']);
  });

  it('answers a claim that is no value of the column (abc for an integer) with a clean refusal or nothing, never a 500', async () => {
    const snapshot = await rowsOf(walcast, 'by_number', 'abc');
    expect(snapshot.status).toBe(403);
    expect(snapshot.body).toMatchObject({ error: 'forbidden' });
    const stream = await SseClient.open(walcast.streamUrl(await tokenFor('abc'), { tables: 'by_number,by_text' }));
    try {
      await db.sql.query(`insert into by_number (org_id, title) values (0, 'zero'); insert into by_text (org_id, title) values ('abc', 'letters')`);
      expect((await stream.next()).data['row']).toMatchObject({ title: 'letters' });
    } finally {
      stream.close();
    }
  });

  it('never cuts a tenant short to fit a varchar(n) column: acme-eu does not see acme', async () => {
    await db.sql.query(`insert into short_names (org_id, title) values ('acme', 'acme only')`);
    expect(titles((await rowsOf(walcast, 'short_names', 'acme')).body)).toEqual(['acme only']);
    for (const tenant of ['acme-eu', 'acmeco']) {
      const read = await rowsOf(walcast, 'short_names', tenant);
      expect(read.status, tenant).toBeLessThan(500);
      expect(titles(read.body), tenant).toEqual([]);
    }
  });
});

describe('presence rooms', () => {
  let db: TestDatabase;
  let walcast: TestWalcast;

  beforeAll(async () => {
    db = await createTestDatabase('tenant_types_presence');
    await migrate(db.url);
    // Every tenant column of this database is an integer: presence compares tenants as integers too.
    await db.sql.query(`create table orders (id serial primary key, org_id bigint not null);
                        select walcast.expose('orders', tenant_column => 'org_id');`);
    walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'presence_types' });
    await waitUntilReady(walcast);
  });

  afterAll(async () => {
    await walcast?.close();
    await db?.drop();
  });

  it('are one room for "007" and 7 when the tenant columns are integers', async () => {
    const watcher = await SseClient.open(walcast.streamUrl(await tokenFor(7, 'watcher'), { rooms: 'lobby' }));
    try {
      expect((await watcher.next()).data).toMatchObject({ op: 'sync', members: [] });
      const joined = await fetch(`${walcast.url}/v1/presence`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenFor('007', 'ann')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'lobby', state: {} }),
      });
      expect(joined.status).toBe(200);
      expect((await watcher.next()).data).toMatchObject({ op: 'join', member: { user: 'ann' } });
      const listed = await fetch(`${walcast.url}/v1/presence?room=lobby`, { headers: { authorization: `Bearer ${await tokenFor(' 7', 'someone')}` } });
      expect(((await listed.json()) as { members: { user: string }[] }).members.map((member) => member.user)).toEqual(['ann']);
    } finally {
      watcher.close();
    }
  });
});
