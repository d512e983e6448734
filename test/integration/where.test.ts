// `where=` on a live stream (DESIGN §4): only matching rows, a row moving out of the
// filter arrives as a delete and one moving in as an insert; bad filters are a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('where');
  await migrate(db.url);
  await db.sql.query(`
    create table tasks (id int primary key, org_id text not null, title text, done boolean not null default false,
                        points numeric, secret text);
    select walcast.expose('tasks', tenant_column => 'org_id', hidden_columns => '{secret}');
    create table labels (id int primary key, org_id text not null, name text);
    create table events (id bigint primary key, org_id text not null, due date, amount numeric, ratio float8);
    select walcast.expose('events', tenant_column => 'org_id');
    select walcast.expose('labels', tenant_column => 'org_id');`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

const rowOf = (event: { data: Record<string, unknown> }) => event.data['row'] as Record<string, unknown> | undefined;

describe('a stream with where=', () => {
  it('gets matching rows only; rows moving out arrive as deletes, rows moving in as inserts', async () => {
    const open = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'tasks', where: 'done=eq.false' }));
    const globex = await SseClient.open(walcast.streamUrl(await walcast.token('globex'), { tables: 'tasks', where: 'done=eq.false' }));
    try {
      await db.sql.query(`insert into tasks (id, org_id, title, done) values (1, 'acme', 'open', false), (2, 'acme', 'closed', true)`);
      await db.sql.query(`insert into tasks (id, org_id, title) values (3, 'globex', 'theirs')`);
      await db.sql.query(`update tasks set title = 'still open' where id = 1`);
      await db.sql.query(`update tasks set done = true where id = 1`);
      await db.sql.query(`update tasks set done = false where id = 2`);
      await db.sql.query(`update tasks set title = 'closed, renamed' where id = 1`);
      await db.sql.query(`delete from tasks where id = 2`);

      const events = await open.take(5);
      expect(events.map((event) => [event.data['op'], event.data['key']])).toEqual([
        ['insert', { id: 1 }],
        ['update', { id: 1 }],
        ['delete', { id: 1 }],
        ['insert', { id: 2 }],
        ['delete', { id: 2 }],
      ]);
      expect(rowOf(events[3]!)).toMatchObject({ title: 'closed', done: false });
      expect(events[3]!.data).not.toHaveProperty('old');
      expect(events[2]!.data).not.toHaveProperty('row');
      expect(new Set(events.map((event) => event.id)).size).toBe(5);
      expect((await globex.next()).data).toMatchObject({ tenant: 'globex', row: { title: 'theirs' } });
      expect(globex.unread()).toEqual([]);
    } finally {
      open.close();
      globex.close();
    }
  });

  it('compares numbers numerically and ANDs several conditions', async () => {
    const stream = await SseClient.open(
      `${walcast.streamUrl(await walcast.token('acme'), { tables: 'tasks', where: 'points=gte.2.50' })}&where=${encodeURIComponent('title=in.(a,"b,c")')}`,
    );
    try {
      await db.sql.query(`insert into tasks (id, org_id, title, points) values
        (10, 'acme', 'a', 2.5), (11, 'acme', 'b,c', 10), (12, 'acme', 'a', 2.49), (13, 'acme', 'z', 99)`);
      const events = await stream.take(2);
      expect(events.map((event) => rowOf(event)!['id'])).toEqual([10, 11]);
      await db.sql.query(`insert into tasks (id, org_id, title, points) values (14, 'acme', 'a', 3)`);
      expect(rowOf(await stream.next())!['id']).toBe(14);
    } finally {
      stream.close();
    }
  });

  it('answers unknown or hidden columns, bad operators, bad values and hostile text with a 400 JSON error', async () => {
    const token = await walcast.token('acme');
    const cases: [Record<string, string>, RegExp][] = [
      [{ tables: 'tasks', where: 'nope=eq.1' }, /tasks has no column "nope"/],
      [{ tables: 'tasks', where: 'secret=eq.1' }, /tasks has no column "secret"/],
      [{ tables: 'tasks', where: 'done=like.x' }, /unknown operator/],
      [{ tables: 'tasks', where: 'points=eq.lots' }, /points cannot take "lots"/],
      [{ tables: 'tasks', where: 'title;drop table tasks--=eq.1' }, /has no column/],
      [{ where: 'done=eq.true' }, /name the tables/],
    ];
    for (const [query, message] of cases) {
      const response = await fetch(walcast.streamUrl(token, query));
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_parameter', message: expect.stringMatching(message) });
    }
    const { rows } = await db.sql.query(`select count(*)::int as n from tasks`);
    expect(rows[0]!.n).toBeGreaterThan(0);
  });

  it('treats a value that looks like SQL as a plain value', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'tasks', where: "title=eq.x' or '1'='1" }));
    try {
      await db.sql.query(`insert into tasks (id, org_id, title) values (20, 'acme', 'other'), (21, 'acme', $1)`, ["x' or '1'='1"]);
      expect(rowOf(await stream.next())!['id']).toBe(21);
    } finally {
      stream.close();
    }
  });

  it('filters one table of a stream with where.<table>=, leaving its other tables whole', async () => {
    const stream = await SseClient.open(
      walcast.streamUrl(await walcast.token('acme'), { tables: 'tasks,labels', 'where.tasks': 'done=eq.true', 'where.labels': 'name=neq.hidden' }),
    );
    try {
      await db.sql.query(`insert into tasks (id, org_id, title, done) values (30, 'acme', 'open', false), (31, 'acme', 'done', true)`);
      await db.sql.query(`insert into labels (id, org_id, name) values (1, 'acme', 'hidden'), (2, 'acme', 'shown')`);
      const events = await stream.take(2);
      expect(events.map((event) => [event.data['table'], rowOf(event)!['id']])).toEqual([
        ['public.tasks', 31],
        ['public.labels', 2],
      ]);
    } finally {
      stream.close();
    }
    const token = await walcast.token('acme');
    for (const [query, message] of [
      [{ tables: 'tasks', 'where.labels': 'name=eq.x' }, /not in tables=/],
      [{ tables: 'tasks', 'where.nope': 'name=eq.x' }, /no exposed table/],
      [{ tables: 'tasks', 'where.tasks': 'name=eq.x' }, /tasks has no column "name"/],
    ] as const) {
      const response = await fetch(walcast.streamUrl(token, query));
      expect(response.status, JSON.stringify(query)).not.toBe(200);
      expect(await response.json()).toMatchObject({ message: expect.stringMatching(message) });
    }
  });

  it('the hostile review: a value no column can take is a 400 on streams as on snapshots, and stored extremes end nothing', async () => {
    const token = await walcast.token('acme');
    for (const where of ['id=gt.1e999999999999', 'due=gte.300000000-01-01', 'id=eq.NaN']) {
      const stream = await fetch(walcast.streamUrl(token, { tables: 'events', where }));
      const snapshot = await fetch(`${walcast.url}/v1/tables/events/rows?where=${encodeURIComponent(where)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect([stream.status, snapshot.status], where).toEqual([400, 400]);
      const [fromStream, fromSnapshot] = [(await stream.json()) as { message: string }, (await snapshot.json()) as { message: string }];
      expect(fromStream.message).toBe(fromSnapshot.message);
    }
    // Filters over values Postgres stores but JS dates and numbers cannot hold.
    const streams = await Promise.all(
      ['due=gte.2020-01-01', 'amount=gt.1e-400', 'ratio=gt.1e308', 'amount=lt.NaN'].map((where) =>
        SseClient.open(walcast.streamUrl(token, { tables: 'events', where })),
      ),
    );
    try {
      await db.sql.query(`insert into events values
        (1, 'acme', '300000-01-01', 'NaN', 'NaN'),
        (2, 'acme', '4713-01-01 BC', '1e-1000', '-Infinity'),
        (3, 'acme', 'infinity', '1e100000', 'Infinity'),
        (4, 'acme', '2026-11-30', '-Infinity', '1.7976931348623157e308')`);
      const expected = (where: string) =>
        db.sql.query(`select id from events where ${where} order by id`).then(({ rows }) => rows.map((row: { id: string }) => row.id));
      const sql = ["due >= '2020-01-01'", "amount > '1e-400'", 'ratio > 1e308', "amount < 'NaN'"];
      for (const [i, stream] of streams.entries()) {
        const want = await expected(sql[i]!);
        const got = (await stream.take(want.length)).map((event) => rowOf(event)!['id']);
        expect(got, sql[i]).toEqual(want);
      }
      expect((await fetch(`${walcast.url}/healthz`)).status).toBe(200);
    } finally {
      for (const stream of streams) stream.close();
    }
  });
});
