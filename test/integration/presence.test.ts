// Presence through the WAL across two instances (DESIGN §3, §4): a heartbeat on one is a
// `join` on the other's streams; sync, update, leave (DELETE and TTL); rooms per tenant;
// replayed heartbeats after a restart never bring a member back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { metric } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let a: TestWalcast;
let b: TestWalcast;
const TTL_SECONDS = 2;

beforeAll(async () => {
  db = await createTestDatabase('presence');
  await migrate(db.url);
  await db.sql.query(`create table notes (id serial primary key, org_id text not null);
                      select walcast.expose('notes', tenant_column => 'org_id');`);
  const env = { WALCAST_PRESENCE_TTL: String(TTL_SECONDS), WALCAST_PRESENCE_RATE: '60' };
  a = await startTestWalcast(db.url, { ...env, WALCAST_INSTANCE: 'a' });
  b = await startTestWalcast(db.url, { ...env, WALCAST_INSTANCE: 'b' });
  await Promise.all([waitUntilReady(a), waitUntilReady(b)]);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

async function call(on: TestWalcast, method: string, tenant: string, user: string, body?: unknown, query = ''): Promise<Response> {
  return fetch(`${on.url}/v1/presence${query}`, {
    method,
    headers: { authorization: `Bearer ${await on.token(tenant, user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function members(on: TestWalcast, tenant: string, room: string): Promise<string[]> {
  const response = await call(on, 'GET', tenant, 'someone', undefined, `?room=${room}`);
  const body = (await response.json()) as { members: { user: string }[] };
  return body.members.map((member) => member.user).sort();
}

describe('presence across instances', () => {
  it('sync on connect, then join, update and leave from another instance, per tenant', async () => {
    const onB = await SseClient.open(b.streamUrl(await b.token('acme'), { rooms: 'lobby' }));
    const globex = await SseClient.open(b.streamUrl(await b.token('globex'), { rooms: 'lobby' }));
    try {
      expect(await onB.next()).toMatchObject({ type: 'presence', data: { room: 'lobby', op: 'sync', members: [] } });
      await globex.next();

      expect((await call(a, 'POST', 'acme', 'ann', { room: 'lobby', state: { cursor: 1 }, connection: 'tab-1' })).status).toBe(200);
      expect((await onB.next()).data).toEqual({ room: 'lobby', op: 'join', member: { user: 'ann', connection: 'tab-1', state: { cursor: 1 } } });
      await call(a, 'POST', 'acme', 'ann', { room: 'lobby', state: { cursor: 2 }, connection: 'tab-1' });
      expect((await onB.next()).data).toMatchObject({ op: 'update', member: { state: { cursor: 2 } } });
      expect(await members(b, 'acme', 'lobby')).toEqual(['ann']);
      expect(await members(b, 'globex', 'lobby')).toEqual([]);

      // A new stream starts with who is there.
      const late = await SseClient.open(a.streamUrl(await a.token('acme'), { rooms: 'lobby,kitchen' }));
      expect((await late.take(2)).map((event) => event.data)).toEqual([
        { room: 'lobby', op: 'sync', members: [{ user: 'ann', connection: 'tab-1', state: { cursor: 2 } }] },
        { room: 'kitchen', op: 'sync', members: [] },
      ]);
      late.close();

      expect((await call(b, 'DELETE', 'acme', 'ann', undefined, '?room=lobby&connection=tab-1')).status).toBe(204);
      expect((await onB.next()).data).toMatchObject({ op: 'leave', member: { user: 'ann' } });
      expect(globex.unread()).toEqual([]);
    } finally {
      onB.close();
      globex.close();
    }
  });

  it('lets a member go after the TTL without a heartbeat; a restart never brings it back', async () => {
    const stream = await SseClient.open(b.streamUrl(await b.token('acme'), { rooms: 'garden' }));
    try {
      await stream.next();
      // A retained event before the heartbeat holds b's slot back, so b's restart replays both.
      await db.sql.query(`insert into notes (org_id) values ('acme')`);
      expect((await stream.next()).type).toBe('change');
      await call(a, 'POST', 'acme', 'bob', { room: 'garden' });
      expect((await stream.next()).data).toMatchObject({ op: 'join', member: { user: 'bob' } });
      expect((await stream.next((TTL_SECONDS + 3) * 1000)).data).toMatchObject({ op: 'leave', member: { user: 'bob' } });
    } finally {
      stream.close();
    }
    // b replays the WAL from its slot, bob's heartbeat included: it must stay gone.
    await b.close();
    b = await startTestWalcast(db.url, { WALCAST_PRESENCE_TTL: String(TTL_SECONDS), WALCAST_INSTANCE: 'b' });
    await waitUntilReady(b);
    expect(await metric(b.url, 'walcast_retained_events')).toBeGreaterThan(0);
    expect(await members(b, 'acme', 'garden')).toEqual([]);
  });

  it('sends presence without an id, so it never moves Last-Event-ID', async () => {
    const response = await fetch(b.streamUrl(await b.token('acme'), { rooms: 'attic' }));
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('event: presence')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const frame = text.slice(text.lastIndexOf('\n\n', text.indexOf('event: presence')) + 2);
    expect(frame).toMatch(/^event: presence\ndata: /);
  });
});

describe('presence input', () => {
  it('answers bad heartbeats with 4xx JSON and rooms= with 400', async () => {
    const cases: [unknown, number, string][] = [
      ['{"room": ', 400, 'malformed_json'],
      [{ state: {} }, 422, 'validation_failed'],
      [{ room: 'x', state: 'not an object' }, 422, 'validation_failed'],
      [{ room: 'a,b' }, 422, 'validation_failed'],
      [{ room: 'big', state: { blob: 'x'.repeat(3_000) } }, 413, 'payload_too_large'],
      [{ room: 'huge', state: { blob: 'x'.repeat(40_000) } }, 413, 'payload_too_large'],
    ];
    for (const [body, status, error] of cases) {
      const response = await call(a, 'POST', 'acme', 'carol', body);
      expect(response.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(await response.json()).toMatchObject({ error });
    }
    const badRooms = await fetch(a.streamUrl(await a.token('acme'), { rooms: 'ok,\u0001bad' }));
    expect(badRooms.status).toBe(400);
  });

  it('rate-limits heartbeats per user with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 15; i++) {
      const response = await call(a, 'POST', 'acme', 'spammer', { room: 'flood' });
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get('retry-after');
    }
    expect(statuses.slice(0, 10).every((status) => status === 200)).toBe(true);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await call(a, 'POST', 'acme', 'someone-else', { room: 'flood' })).status).toBe(200);
  });
});
