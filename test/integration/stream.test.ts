// A committed row reaches the right browser stream, end to end: real Postgres, logical
// replication, HTTP and EventSource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('stream');
  await migrate(db.url);
  await db.sql.query(`
    create table todos (id bigserial primary key, org_id text not null, title text not null,
                        done boolean not null default false, secret text);
    select walcast.expose('public.todos', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{secret}');`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

async function openStream(tenant: string, query: Record<string, string> = { tables: 'public.todos' }): Promise<SseClient> {
  return SseClient.open(walcast.streamUrl(await walcast.token(tenant), query));
}

describe('a subscriber of its tenant', () => {
  it("receives inserts, updates and deletes with typed fields, and never another tenant's rows", async () => {
    const acme = await openStream('acme');
    const globex = await openStream('globex');
    try {
      const { rows } = await db.sql.query<{ id: string }>(`insert into todos (org_id, title, secret) values ('acme', 'write tests', 's3cret') returning id`);
      const id = Number(rows[0]!.id);
      await db.sql.query(`insert into todos (org_id, title) values ('globex', 'globex only')`);
      await db.sql.query(`update todos set done = true where id = $1`, [id]);
      await db.sql.query(`delete from todos where id = $1`, [id]);

      const [insert, update, remove] = await acme.take(3);
      expect(insert!.type).toBe('change');
      expect(insert!.data).toMatchObject({
        table: 'public.todos',
        op: 'insert',
        tenant: 'acme',
        key: { id: String(id) },
        row: { id: String(id), org_id: 'acme', title: 'write tests', done: false, version: '1' },
      });
      expect(insert!.data['row']).not.toHaveProperty('secret');
      expect(insert!.id).toMatch(/^[0-9A-F]{16}-[0-9A-F]{6}$/);
      expect(insert!.data['id']).toBe(insert!.id);
      expect(insert!.data['committedAt']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(insert!.data['lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(typeof insert!.data['xid']).toBe('string');

      expect(update!.data).toMatchObject({
        op: 'update',
        tenant: 'acme',
        key: { id: String(id) },
        row: { done: true, version: '2' },
        old: { done: false, version: '1' },
        changed: ['done', 'version'],
        unchanged: [],
      });
      expect(update!.data['old']).not.toHaveProperty('secret');
      expect(remove!.data).toMatchObject({ op: 'delete', tenant: 'acme', key: { id: String(id) } });
      expect(update!.id > insert!.id && remove!.id > update!.id).toBe(true);

      const other = await globex.next();
      expect(other.data).toMatchObject({ tenant: 'globex', row: { title: 'globex only' } });
      await db.sql.query(`insert into todos (org_id, title) values ('globex', 'marker')`);
      expect((await globex.next()).data).toMatchObject({ row: { title: 'marker' } });
      expect(globex.received.every((message) => message.data['tenant'] === 'globex')).toBe(true);
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('never sees a rolled-back transaction', async () => {
    const acme = await openStream('acme');
    try {
      await db.sql.query('begin');
      await db.sql.query(`insert into todos (org_id, title) values ('acme', 'rolled back')`);
      await db.sql.query('rollback');
      await db.sql.query(`insert into todos (org_id, title) values ('acme', 'committed')`);
      const first = await acme.next();
      expect(first.data).toMatchObject({ op: 'insert', row: { title: 'committed' } });
    } finally {
      acme.close();
    }
  });

  it('gets a delete routed to its tenant, also when the row moves to another tenant', async () => {
    const acme = await openStream('acme');
    const globex = await openStream('globex');
    try {
      const { rows } = await db.sql.query<{ id: string }>(`insert into todos (org_id, title) values ('acme', 'moving') returning id`);
      await db.sql.query(`update todos set org_id = 'globex' where id = $1`, [rows[0]!.id]);
      expect((await acme.next()).data).toMatchObject({ op: 'insert', row: { title: 'moving' } });
      expect((await acme.next()).data).toMatchObject({ op: 'delete', tenant: 'acme', key: { id: rows[0]!.id } });
      expect((await globex.next()).data).toMatchObject({ op: 'insert', tenant: 'globex', row: { title: 'moving', org_id: 'globex' } });
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('streams every exposed table of its tenant when tables= is omitted', async () => {
    const acme = await openStream('acme', {});
    try {
      await db.sql.query(`insert into todos (org_id, title) values ('acme', 'no filter')`);
      expect((await acme.next()).data).toMatchObject({ table: 'public.todos', row: { title: 'no filter' } });
    } finally {
      acme.close();
    }
  });
});

describe('resuming with Last-Event-ID', () => {
  it('delivers exactly the changes committed while the client was away', async () => {
    const first = await openStream('acme');
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'seen 1'), ('acme', 'seen 2')`);
    const seen = await first.take(2);
    first.close();

    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'missed 1')`);
    await db.sql.query(`insert into todos (org_id, title) values ('globex', 'not mine')`);
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'missed 2')`);

    const resumed = await openStream('acme', { tables: 'public.todos', lastEventId: seen[1]!.id });
    try {
      const missed = await resumed.take(2);
      expect(missed.map((message) => message.data['row'])).toMatchObject([{ title: 'missed 1' }, { title: 'missed 2' }]);
      await db.sql.query(`insert into todos (org_id, title) values ('acme', 'live')`);
      expect((await resumed.next()).data).toMatchObject({ row: { title: 'live' } });
      expect(resumed.unread()).toEqual([]);
      const ids = resumed.received.map((message) => message.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      resumed.close();
    }
  });

  it('prefers the Last-Event-ID header (a browser reconnect) over ?lastEventId=', async () => {
    const first = await openStream('acme');
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'h1')`);
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'h2')`);
    const [h1, h2] = await first.take(2);
    first.close();
    await db.sql.query(`insert into todos (org_id, title) values ('acme', 'h3')`);

    const url = walcast.streamUrl(await walcast.token('acme'), { tables: 'public.todos', lastEventId: h1!.id });
    const resumed = await SseClient.open(url, { 'Last-Event-ID': h2!.id });
    try {
      expect((await resumed.next()).data).toMatchObject({ row: { title: 'h3' } });
    } finally {
      resumed.close();
    }
  });

  it('answers a malformed ID with a 400 JSON error', async () => {
    const token = await walcast.token('acme');
    for (const bad of ['garbage', '00000000016B3748-3', '00000000016b3748-000003', 'x'.repeat(5000)]) {
      const response = await fetch(walcast.streamUrl(token, { lastEventId: bad }));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: expect.stringMatching(/^invalid_/), message: expect.any(String) });
    }
  });
});

describe('operations endpoints', () => {
  it('report liveness, readiness once caught up, and the DESIGN §9 metrics', async () => {
    expect(await (await fetch(`${walcast.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${walcast.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', replication: 'streaming', caughtUp: true });
    const stream = await openStream('acme');
    try {
      await db.sql.query(`insert into todos (org_id, title) values ('acme', 'metered')`);
      await stream.next();
      const metrics = await (await fetch(`${walcast.url}/metrics`)).text();
      expect(metrics).toMatch(/^walcast_clients [1-9]/m);
      expect(metrics).toMatch(/^walcast_changes_total [1-9]/m);
      expect(metrics).toMatch(/^walcast_events_sent_total [1-9]/m);
      expect(metrics).toMatch(/^walcast_retained_events [1-9]/m);
      expect(metrics).toMatch(/^walcast_replication_lag_bytes \d+/m);
      expect(metrics).toMatch(/^walcast_slow_client_disconnects_total 0/m);
      expect(metrics).toMatch(/^walcast_http_requests_total\{route="\/healthz",method="GET",status="200"\} 1/m);
      expect(metrics).not.toMatch(/access_token|eyJ/);
      // prom-client's default process metrics, beside walcast's own.
      expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds /m);
    } finally {
      stream.close();
    }
  });
});

describe('tables= and tokens', () => {
  it('answers an unknown, unexposed or hostile table name with the same 404', async () => {
    const token = await walcast.token('acme');
    await db.sql.query('create table if not exists not_exposed (id int primary key)');
    for (const table of ['nope', 'public.not_exposed', 'public.todos;drop table todos', '"public"."todos"', 'PUBLIC.TODOS']) {
      const response = await fetch(walcast.streamUrl(token, { tables: table }));
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: 'table_not_found' });
    }
  });

  it('refuses a missing, malformed, wrongly signed or expired token with 401 JSON', async () => {
    const { signToken } = await import('../../src/auth/jwt.js');
    const wrong = await signToken('another-secret-that-is-long-enough-32+', { tenant: 'acme', sub: 'u', ttlSeconds: 60, tenantClaim: 'tenant_id' });
    const expired = await walcast.token('acme', 'u', -60);
    const cases: [string, RequestInit, string][] = [
      [`${walcast.url}/v1/stream`, {}, 'auth_required'],
      [walcast.streamUrl('not-a-jwt'), {}, 'invalid_token'],
      [walcast.streamUrl(wrong), {}, 'invalid_token'],
      [walcast.streamUrl(expired), {}, 'token_expired'],
      [`${walcast.url}/v1/stream`, { headers: { authorization: 'Basic abc' } }, 'invalid_token'],
    ];
    for (const [url, init, code] of cases) {
      const response = await fetch(url, init);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(await response.json()).toMatchObject({ error: code, message: expect.any(String) });
    }
  });

  it("ends a stream at its token's expiry, after an auth_expired event", async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme', 'short-lived', 2), { tables: 'todos' }));
    try {
      const expired = await stream.next(6_000);
      expect(expired.type).toBe('auth_expired');
    } finally {
      stream.close();
    }
  });

  it('accepts the token as a Bearer header too', async () => {
    const response = await fetch(`${walcast.url}/v1/stream?tables=todos`, {
      headers: { authorization: `Bearer ${await walcast.token('acme')}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toMatch(/^retry: \d+\n\n/);
    await reader.cancel();
  });
});
