// Snapshots and the hand-off to the stream (DESIGN §4): GET /v1/tables/:table/rows, then
// GET /v1/stream?lastEventId=<cursor> delivers exactly the changes the snapshot did not
// see, also while writers commit concurrently (and so out of LSN order).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

interface Snapshot {
  readonly table: string;
  readonly cursor: string;
  readonly rows: Record<string, unknown>[];
  readonly next: string | null;
}

beforeAll(async () => {
  db = await createTestDatabase('snapshot');
  await migrate(db.url);
  await db.sql.query(`
    create table cards (id int primary key, org_id text not null, title text, done boolean not null default false,
                        due timestamptz, secret text);
    select walcast.expose('cards', tenant_column => 'org_id', hidden_columns => '{secret}');
    create table counters (id int primary key, org_id text not null, n int not null default 0);
    select walcast.expose('counters', tenant_column => 'org_id');
    insert into counters select i, 'acme', 0 from generate_series(1, 20) i;
    create table pages (id int primary key, org_id text not null, v int not null default 0);
    select walcast.expose('pages', tenant_column => 'org_id');
    insert into pages select i, 'acme', 0 from generate_series(1, 1200) i;
    insert into pages select i, 'globex', 0 from generate_series(1201, 1300) i;`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function snapshot(
  tenant: string,
  table: string,
  query: Record<string, string> = {},
  on: TestWalcast = walcast,
): Promise<{ status: number; body: Snapshot; header: string | null }> {
  const params = new URLSearchParams({ access_token: await on.token(tenant), ...query });
  const response = await fetch(`${on.url}/v1/tables/${table}/rows?${params.toString()}`);
  return { status: response.status, header: response.headers.get('walcast-cursor'), body: (await response.json()) as Snapshot };
}

describe('GET /v1/tables/:table/rows', () => {
  it("returns the caller's tenant rows, typed like events, without hidden columns, with a cursor", async () => {
    await db.sql.query(`insert into cards values (1, 'acme', 'one', false, '2026-11-23 06:00:00.000001+00', 's'),
                                                (2, 'acme', 'two', true, null, 's'), (3, 'globex', 'theirs', false, null, 's')`);
    const { status, body, header } = await snapshot('acme', 'cards');
    expect(status).toBe(200);
    expect(body.table).toBe('public.cards');
    expect(body.cursor).toBe(header);
    expect(body.cursor).toMatch(/^S[0-9A-F]{16}-[0-9A-F]{16}-[0-9A-F]+/);
    expect(body.rows).toEqual([
      { id: 1, org_id: 'acme', title: 'one', done: false, due: '2026-11-23T06:00:00.000001Z' },
      { id: 2, org_id: 'acme', title: 'two', done: true, due: null },
    ]);
  });

  it('filters with where=, truncates with limit, and refuses what it cannot read', async () => {
    expect((await snapshot('acme', 'cards', { where: 'done=eq.false' })).body.rows.map((row) => row['id'])).toEqual([1]);
    expect((await snapshot('acme', 'cards', { limit: '1' })).body.rows.map((row) => row['id'])).toEqual([1]);
    expect((await snapshot('globex', 'public.cards')).body.rows.map((row) => row['id'])).toEqual([3]);
    const bad = await snapshot('acme', 'cards', { where: 'secret=eq.s' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_parameter' });
    expect((await snapshot('acme', 'nope')).status).toBe(404);
    expect((await snapshot('acme', 'cards', { limit: '0' })).status).toBe(400);
    const unauthenticated = await fetch(`${walcast.url}/v1/tables/cards/rows`);
    expect(unauthenticated.status).toBe(401);
  });

  it('hands off to the stream: exactly the changes the snapshot did not see', async () => {
    const inFlight = new pg.Client({ connectionString: db.url });
    await inFlight.connect();
    try {
      await inFlight.query(`begin; insert into cards values (10, 'acme', 'in flight', false, null, null)`);
      await db.sql.query(`insert into cards values (11, 'acme', 'committed before', false, null, null)`);
      const { body } = await snapshot('acme', 'cards');
      expect(body.rows.map((row) => row['id'])).toEqual([1, 2, 11]);
      await inFlight.query('commit');
      await db.sql.query(`update cards set title = 'after' where id = 11`);

      const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'cards', lastEventId: body.cursor }));
      try {
        const events = await stream.take(2);
        expect(events.map((event) => [event.data['op'], (event.data['row'] as Record<string, unknown>)['title']])).toEqual([
          ['insert', 'in flight'],
          ['update', 'after'],
        ]);
        await db.sql.query(`insert into cards values (12, 'acme', 'live', false, null, null)`);
        expect((await stream.next()).data).toMatchObject({ op: 'insert', row: { id: 12 } });
        expect(stream.unread()).toEqual([]);
      } finally {
        stream.close();
      }
    } finally {
      await inFlight.end();
    }
  });

  it('loses and repeats nothing while writers commit concurrently', async () => {
    const writers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return client;
      }),
    );
    let writing = true;
    let committed = 0;
    const commits = writers.map(async (client) => {
      while (writing) {
        const id = 1 + Math.floor(Math.random() * 20);
        await client.query(`update counters set n = n + 1 where id = $1`, [id]);
        committed++;
      }
    });

    // Snapshots taken while commits land, each after BATCH more of them, each followed by
    // a stream from its cursor; the writers stop BATCH commits after the last one.
    const BATCH = 25;
    const views: { rows: Map<number, number>; stream: SseClient }[] = [];
    for (let i = 1; i <= 6; i++) {
      await eventually(`${i * BATCH} commits`, () => committed >= i * BATCH, 30_000, 5);
      if (i === 6) break;
      const { body } = await snapshot('acme', 'counters');
      const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'counters', lastEventId: body.cursor }));
      views.push({ rows: new Map(body.rows.map((row) => [row['id'] as number, row['n'] as number])), stream });
    }
    writing = false;
    await Promise.all(commits);
    await Promise.all(writers.map((client) => client.end()));

    const { rows: final } = await db.sql.query<{ id: number; n: number }>('select id, n from counters order by id');
    const total = final.reduce((sum, row) => sum + row.n, 0);
    try {
      for (const view of views) {
        const before = [...view.rows.values()].reduce((sum, n) => sum + n, 0);
        // Every update adds exactly one: applying the stream to the snapshot must step
        // each counter by one (a duplicate or a gap would skip or repeat a value).
        const events = await view.stream.take(total - before, 15_000);
        for (const event of events) {
          const row = event.data['row'] as { id: number; n: number };
          expect(row.n).toBe(view.rows.get(row.id)! + 1);
          view.rows.set(row.id, row.n);
        }
        expect(Object.fromEntries(view.rows)).toEqual(Object.fromEntries(final.map((row) => [row.id, row.n])));
      }
      // One more commit: in stream order it comes right after the last, so a duplicate
      // still on its way would arrive before it.
      await db.sql.query(`update counters set n = n + 1 where id = 1`);
      for (const view of views) expect((await view.stream.next(15_000)).data['row']).toEqual({ id: 1, org_id: 'acme', n: view.rows.get(1)! + 1 });
      expect(views.flatMap((view) => view.stream.unread())).toEqual([]);
      expect(total).toBeGreaterThanOrEqual(6 * BATCH);
    } finally {
      for (const view of views) view.stream.close();
    }
  });

  it('pages a large table inside one snapshot, across instances, and hands off exactly', async () => {
    const other = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'pager' });
    try {
      const first = await snapshot('acme', 'pages', { limit: '500' });
      expect(first.body.rows.map((row) => row['id'])).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      expect(first.body.next).toEqual(expect.any(String));
      // Writers go on between pages; pages must still show the first page's snapshot.
      await db.sql.query(`update pages set v = v + 1 where id in (10, 700, 1100)`);
      await db.sql.query(`insert into pages values (1201 + 1000, 'acme', 5)`);

      const second = await snapshot('acme', 'pages', { limit: '500', page: first.body.next! }, other);
      expect(second.status).toBe(200);
      expect(second.body.cursor).toBe(first.body.cursor);
      expect(second.body.rows.map((row) => row['id'])).toEqual(Array.from({ length: 500 }, (_, i) => i + 501));
      expect(second.body.rows.find((row) => row['id'] === 700)).toMatchObject({ v: 0 });
      const third = await snapshot('acme', 'pages', { limit: '500', page: second.body.next! });
      expect(third.body.rows.map((row) => row['id'])).toEqual(Array.from({ length: 200 }, (_, i) => i + 1001));
      expect(third.body.rows.find((row) => row['id'] === 1100)).toMatchObject({ v: 0 });
      expect(third.body.next).toBeNull();

      const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'pages', lastEventId: first.body.cursor }));
      try {
        const events = await stream.take(4);
        expect(events.map((event) => [event.data['op'], (event.data['row'] as { id: number }).id])).toEqual([
          ['update', 10],
          ['update', 700],
          ['update', 1100],
          ['insert', 2201],
        ]);
      } finally {
        stream.close();
      }

      // The held snapshot was released with the last page: its token is now expired.
      const expired = await snapshot('acme', 'pages', { limit: '500', page: first.body.next! });
      expect(expired.status).toBe(410);
      expect(expired.body).toMatchObject({ error: 'snapshot_expired' });
      // A token is bound to its table and tenant, and carries its own filter.
      const fresh = await snapshot('acme', 'pages', { limit: '100' });
      expect((await snapshot('globex', 'pages', { page: fresh.body.next! })).status).toBe(400);
      expect((await snapshot('acme', 'cards', { page: fresh.body.next! })).status).toBe(400);
      expect((await snapshot('acme', 'pages', { page: fresh.body.next!, where: 'v=eq.0' })).status).toBe(400);
      expect((await snapshot('acme', 'pages', { page: 'garbage' })).body).toMatchObject({ error: 'invalid_parameter' });
    } finally {
      await other.close();
    }
  });

  it('holds at most 8 paged snapshots per instance (503 too_many_snapshots), 2 per tenant (its others read whole)', async () => {
    const pager = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'holder' });
    await db.sql.query(`insert into pages select 2000 + i, 'h' || (i % 4), 0 from generate_series(1, 40) i`);
    try {
      for (const tenant of ['acme', 'h0', 'h1', 'h2']) {
        for (let i = 0; i < 2; i++) expect((await snapshot(tenant, 'pages', { limit: '1' }, pager)).body.next, tenant).toEqual(expect.any(String));
      }
      // acme holds its share: its next first page is one the client reads whole (no next page).
      const third = await snapshot('acme', 'pages', { limit: '1' }, pager);
      expect([third.status, third.body.rows.length, third.body.next]).toEqual([200, 1, null]);
      const ninth = await snapshot('h3', 'pages', { limit: '1' }, pager);
      expect(ninth.status).toBe(503);
      expect(ninth.body).toMatchObject({ error: 'too_many_snapshots' });
      // Unpaged reads hold nothing and still work, `limit` with paged=false too (the first rows, no next page).
      expect((await snapshot('acme', 'cards', {}, pager)).status).toBe(200);
      const window = await snapshot('acme', 'pages', { limit: '3', paged: 'false' }, pager);
      expect([window.status, window.body.rows.length, window.body.next]).toEqual([200, 3, null]);
    } finally {
      await pager.close();
    }
  });

  it('pages only by a unique key: a table without one is read whole, never with rows falling between pages', async () => {
    await db.sql.query(`create table logs (org_id text not null, level text, msg text);
                        select walcast.expose('logs', tenant_column => 'org_id');
                        insert into logs values ('acme', 'info', 'a'), ('acme', 'info', 'a'), ('acme', null, 'b'), ('acme', 'warn', null),
                                                ('acme', 'info', 'c'), ('acme', 'info', 'c'), ('acme', 'error', 'd');`);
    await eventually('logs is exposed', async () => (await snapshot('acme', 'logs')).status === 200);
    const first = await snapshot('acme', 'logs', { limit: '2' });
    expect([first.status, first.body.rows.length, first.body.next]).toEqual([200, 2, null]);
    expect((await snapshot('acme', 'logs')).body.rows).toHaveLength(7);
  });

  it("checks page tokens: a cursor walcast did not make is refused, and only a snapshot's own tenant ends it", async () => {
    const first = await snapshot('globex', 'pages', { limit: '1' });
    const token = JSON.parse(Buffer.from(first.body.next!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...token, ...fields }), 'utf8').toString('base64url');
    // acme reads a "last page" of globex's snapshot (its own rows: none past that key): globex's snapshot stays.
    const theirs = await snapshot('acme', 'pages', { limit: '1', page: forged({ tenant: 'acme', after: ['999999'] }) });
    expect([theirs.status, theirs.body.rows]).toEqual([200, []]);
    const injected = await snapshot('globex', 'pages', { limit: '1', page: forged({ cursor: '","rows":[{"injected":true}],"x":"' }) });
    expect(injected.status).toBe(400);
    const second = await snapshot('globex', 'pages', { limit: '1', page: first.body.next! });
    expect([second.status, second.body.rows.length]).toEqual([200, 1]);
  });
});
