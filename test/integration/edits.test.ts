// Version-guarded edits and Idempotency-Key across two instances (DESIGN §4): the tenant
// from the token, 409 with the current row, 404 outside the tenant, 403 for columns that
// are not writable, 422 naming the column Postgres rejects, keys of any shape; the change
// reaches subscribers as an ordinary event; a retried key changes nothing, anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let a: TestWalcast;
let b: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('edits');
  await migrate(db.url);
  await db.sql.query(`
    create table tasks (id serial primary key, org_id text not null, title text not null,
                        done boolean not null default false, priority int check (priority between 1 and 5),
                        due date, secret text);
    select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{secret}', writable_columns => '{title,done,priority,due}');
    create table docs (org_id text, slug text, body text, primary key (org_id, slug));
    select walcast.expose('docs', tenant_column => 'org_id', version_column => 'version', writable_columns => '{slug,body}');`);
  a = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'a', WALCAST_EDIT_RATE: '600' });
  b = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'b' });
  await Promise.all([waitUntilReady(a), waitUntilReady(b)]);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

interface Call {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

async function call(on: TestWalcast, method: string, path: string, options: { tenant?: string; body?: unknown; headers?: Record<string, string>; user?: string } = {}): Promise<Call> {
  const response = await fetch(`${on.url}/v1/tables/${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await on.token(options.tenant ?? 'acme', options.user ?? 'editor')}`,
      'content-type': 'application/json',
      ...options.headers,
    },
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const rowOf = (result: Call) => result.body['row'] as Record<string, unknown>;

describe('edits', () => {
  it('inserts with the tenant from the token; the change reaches the other instance as an event', async () => {
    const stream = await SseClient.open(b.streamUrl(await b.token('acme'), { tables: 'tasks' }));
    try {
      const created = await call(a, 'POST', 'tasks/rows', { body: { title: 'write docs', priority: 2, due: '2026-12-01' } });
      expect(created.status).toBe(201);
      expect(created.headers.get('etag')).toBe('"1"');
      expect(rowOf(created)).toMatchObject({ org_id: 'acme', title: 'write docs', priority: 2, due: '2026-12-01', done: false, version: '1' });
      expect(rowOf(created)).not.toHaveProperty('secret');
      const event = await stream.next();
      expect(event.data).toMatchObject({ op: 'insert', tenant: 'acme', row: { id: rowOf(created)['id'], title: 'write docs' } });
    } finally {
      stream.close();
    }
  });

  it('refuses the tenant column, hidden, unknown and unwritable columns with 403', async () => {
    for (const [body, column] of [
      [{ title: 'x', org_id: 'globex' }, 'org_id'],
      [{ title: 'x', secret: 's' }, 'secret'],
      [{ title: 'x', nope: 1 }, 'nope'],
      [{ title: 'x', version: 7 }, 'version'],
    ] as const) {
      const result = await call(a, 'POST', 'tasks/rows', { body });
      expect(result.status, column).toBe(403);
      expect(result.body).toMatchObject({ error: 'forbidden', column });
    }
  });

  it('updates under the version guard: If-Match or a body version; 409 with the current row, also after the app wrote', async () => {
    const created = rowOf(await call(a, 'POST', 'tasks/rows', { body: { title: 'guarded' } }));
    const id = created['id'] as number;
    const first = await call(a, 'PATCH', `tasks/rows/${id}`, { headers: { 'if-match': '"1"' }, body: { set: { done: true } } });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe('"2"');
    expect(rowOf(first)).toMatchObject({ done: true, version: '2' });

    const stale = await call(b, 'PATCH', `tasks/rows/${id}`, { body: { version: 1, set: { title: 'late' } } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'version_conflict', current: { id, title: 'guarded', done: true, version: '2' } });

    // The app's own write moves the version too (the trigger), so a stale client conflicts.
    await db.sql.query(`update tasks set title = 'changed by the app' where id = $1`, [id]);
    const afterApp = await call(a, 'PATCH', `tasks/rows/${id}`, { body: { version: 2, set: { title: 'mine' } } });
    expect(afterApp.status).toBe(409);
    expect(afterApp.body['current']).toMatchObject({ title: 'changed by the app', version: '3' });
    expect((await call(a, 'PATCH', `tasks/rows/${id}`, { body: { version: '3', set: { title: 'mine' } } })).status).toBe(200);

    const missing = await call(a, 'PATCH', `tasks/rows/${id}`, { body: { set: { title: 'no version' } } });
    expect(missing.status).toBe(428);
    expect(missing.body).toMatchObject({ error: 'precondition_required' });
  });

  it('answers 404 for a row of another tenant, on every write path', async () => {
    const id = rowOf(await call(a, 'POST', 'tasks/rows', { body: { title: 'acme only' } }))['id'] as number;
    const patch = await call(b, 'PATCH', `tasks/rows/${id}`, { tenant: 'globex', headers: { 'if-match': '"1"' }, body: { set: { title: 'stolen' } } });
    expect(patch.status).toBe(404);
    expect(patch.body).toMatchObject({ error: 'row_not_found' });
    expect(patch.body).not.toHaveProperty('current');
    expect((await call(b, 'DELETE', `tasks/rows/${id}`, { tenant: 'globex', headers: { 'if-match': '"1"' } })).status).toBe(404);
    const { rows } = await db.sql.query(`select title from tasks where id = $1`, [id]);
    expect(rows[0]).toEqual({ title: 'acme only' });
  });

  it('names the column for a value Postgres rejects: type, check, not-null', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ title: 'x', priority: 'high' }, 'priority'],
      [{ title: 'x', priority: 9 }, 'priority'],
      [{ title: null }, 'title'],
      [{ title: 'x', due: 'someday' }, 'due'],
      [{ title: 'x', done: { nested: true } }, 'done'],
    ];
    for (const [body, column] of cases) {
      const result = await call(a, 'POST', 'tasks/rows', { body });
      expect(result.status, JSON.stringify(body)).toBe(422);
      expect(result.body).toMatchObject({ error: 'validation_failed', column });
    }
    const check = await call(a, 'POST', 'tasks/rows', { body: { title: 'x', priority: 9 } });
    expect(check.body).toMatchObject({ constraint: 'tasks_priority_check' });
  });

  it('edits rows with composite and text keys (values percent-encoded, joined by ",")', async () => {
    const created = await call(a, 'POST', 'docs/rows', { body: { slug: 'a,b/c d', body: 'v1' } });
    expect(created.status).toBe(201);
    const key = ['acme', 'a,b/c d'].map(encodeURIComponent).join(',');
    const updated = await call(b, 'PATCH', `docs/rows/${key}`, { headers: { 'if-match': '"1"' }, body: { set: { body: 'v2' } } });
    expect(updated.status).toBe(200);
    expect(rowOf(updated)).toEqual({ org_id: 'acme', slug: 'a,b/c d', body: 'v2', version: '2' });
    expect((await call(b, 'PATCH', 'docs/rows/acme', { headers: { 'if-match': '"2"' }, body: { set: {} } })).status).toBe(400);
    expect((await call(b, 'PATCH', `docs/rows/globex,${encodeURIComponent('a,b/c d')}`, { headers: { 'if-match': '"2"' }, body: { set: {} } })).status).toBe(404);
  });

  it('deletes under the version guard; the delete reaches subscribers', async () => {
    const id = rowOf(await call(a, 'POST', 'tasks/rows', { body: { title: 'to delete' } }))['id'] as number;
    const stream = await SseClient.open(b.streamUrl(await b.token('acme'), { tables: 'tasks' }));
    try {
      expect((await call(a, 'DELETE', `tasks/rows/${id}`, { headers: { 'if-match': '"9"' } })).status).toBe(409);
      expect((await call(a, 'DELETE', `tasks/rows/${id}`, { headers: { 'if-match': '"1"' } })).status).toBe(204);
      await stream.until(() => stream.received.some((event) => event.data['op'] === 'delete'), 5_000, 'the delete event');
      expect(stream.received.find((event) => event.data['op'] === 'delete')!.data).toMatchObject({ tenant: 'acme', key: { id } });
      expect((await call(a, 'DELETE', `tasks/rows/${id}`, { headers: { 'if-match': '"1"' } })).status).toBe(404);
    } finally {
      stream.close();
    }
  });

  it('answers malformed and oversized bodies with 400 and 413', async () => {
    expect((await call(a, 'POST', 'tasks/rows', { body: '{"title": ' })).body).toMatchObject({ error: 'malformed_json' });
    const huge = await call(a, 'POST', 'tasks/rows', { body: { title: 'x'.repeat(300_000) } });
    expect(huge.status).toBe(413);
    expect((await call(a, 'POST', 'tasks/rows', { body: '[1, 2]' })).status).toBe(422);
    expect((await call(a, 'POST', 'nope/rows', { body: {} })).status).toBe(404);
  });
});

describe('Idempotency-Key', () => {
  async function count(title: string): Promise<number> {
    const { rows } = await db.sql.query<{ n: number }>('select count(*)::int as n from tasks where title = $1', [title]);
    return rows[0]!.n;
  }

  it('returns the first response to a retry, on another instance and after a restart, changing nothing', async () => {
    const headers = { 'idempotency-key': 'create-report-1' };
    const first = await call(a, 'POST', 'tasks/rows', { body: { title: 'report' }, headers });
    expect(first.status).toBe(201);
    const retry = await call(b, 'POST', 'tasks/rows', { body: { title: 'report' }, headers });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('etag')).toBe(first.headers.get('etag'));

    await a.close();
    a = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'a', WALCAST_EDIT_RATE: '600' });
    expect((await call(a, 'POST', 'tasks/rows', { body: { title: 'report' }, headers })).body).toEqual(first.body);
    expect(await count('report')).toBe(1);

    const reused = await call(a, 'POST', 'tasks/rows', { body: { title: 'another report' }, headers });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ error: 'idempotency_key_reused' });
    expect(await count('another report')).toBe(0);
  });

  it('replays a conflict too, keeps keys per tenant, and serializes concurrent retries', async () => {
    const id = rowOf(await call(a, 'POST', 'tasks/rows', { body: { title: 'contested' } }))['id'] as number;
    const conflict = { headers: { 'idempotency-key': 'patch-1', 'if-match': '"5"' }, body: { set: { title: 'x' } } };
    const firstConflict = await call(a, 'PATCH', `tasks/rows/${id}`, conflict);
    expect(firstConflict.status).toBe(409);
    expect(await call(b, 'PATCH', `tasks/rows/${id}`, conflict)).toMatchObject({ status: 409, body: firstConflict.body });

    // The same key from another tenant is another key.
    const globex = await call(b, 'POST', 'tasks/rows', { tenant: 'globex', body: { title: 'report' }, headers: { 'idempotency-key': 'create-report-1' } });
    expect(globex.status).toBe(201);
    expect(rowOf(globex)['org_id']).toBe('globex');

    const headers = { 'idempotency-key': 'burst-1' };
    const results = await Promise.all([a, b, a, b].map((on) => call(on, 'POST', 'tasks/rows', { body: { title: 'burst' }, headers })));
    expect(results.map((result) => result.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(results.map((result) => JSON.stringify(result.body))).size).toBe(1);
    expect(await count('burst')).toBe(1);
  });

  it('rate-limits edits per user with 429 and Retry-After', async () => {
    const limited = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'limited', WALCAST_EDIT_RATE: '30' });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 8; i++) {
        const result = await call(limited, 'POST', 'tasks/rows', { user: 'bulk-writer', body: { title: `bulk ${i}` } });
        statuses.push(result.status);
        if (result.status === 429) retryAfter = result.headers.get('retry-after');
      }
      expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
      expect(statuses).toContain(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await call(limited, 'POST', 'tasks/rows', { user: 'someone-else', body: { title: 'fine' } })).status).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
