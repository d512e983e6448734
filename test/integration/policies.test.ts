// DESIGN §10, row policies on streams and snapshots: each user of a tenant sees the rows
// the policy gives them (hidden columns usable in it, never sent); a row moving in or out
// of a user's view arrives as insert or delete; a claim the token lacks matches nothing,
// without an error; the same `sub` in two tenants sees only its own tenant; exposing again
// with another policy sends every open stream `invalidate` and applies the new rule at once.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient, type ReceivedMessage } from '../support/sse.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

const POLICY = 'or=(owner_id.eq.$sub,shared.is.true,team_id.in.$claim.teams)';

beforeAll(async () => {
  db = await createTestDatabase('policies');
  await migrate(db.url);
  await db.sql.query(`
    create table docs (id int primary key, org_id text not null, owner_id text not null, shared boolean not null default false,
                       team_id text, title text, secret text);
    select walcast.expose('docs', tenant_column => 'org_id', hidden_columns => '{secret}', policy => '${POLICY}');
    create table notes (id serial primary key, org_id text not null, owner_id text not null, shared boolean not null default false,
                        team_id text, title text);
    select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version', writable_columns => '{title,shared}',
                          policy => 'or=(owner_id.eq.$sub,shared.is.true)', set_on_insert => '{"owner_id":"$sub","team_id":"$claim.team"}');`);
  walcast = await startTestWalcast(db.url);
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

function token(tenant: string, sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ ...claims, tenant_id: tenant })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_SECRET));
}

const idsOf = (events: readonly ReceivedMessage[]) => events.map((event) => [event.data['op'], (event.data['key'] as { id: number }).id]);

async function snapshotIds(bearer: string): Promise<number[]> {
  const response = await fetch(`${walcast.url}/v1/tables/docs/rows`, { headers: { authorization: `Bearer ${bearer}` } });
  const body = (await response.json()) as { rows: { id: number }[] };
  return body.rows.map((row) => row.id);
}

describe('a table with a row policy', () => {
  it('gives each user the rows the policy gives them, on streams and snapshots; rows moving in and out arrive as insert and delete', async () => {
    const [alice, bob, stranger, elsewhere] = await Promise.all([
      token('acme', 'alice', { teams: ['red'] }),
      token('acme', 'bob'),
      token('acme', 'nobody', { teams: 'not-a-list-but-one' }),
      token('globex', 'alice', { teams: ['red'] }),
    ]);
    const streams = await Promise.all([alice, bob, stranger, elsewhere].map((bearer) => SseClient.open(walcast.streamUrl(bearer, { tables: 'docs' }))));
    const [onAlice, onBob, onStranger, onElsewhere] = streams as [SseClient, SseClient, SseClient, SseClient];
    try {
      await db.sql.query(`insert into docs (id, org_id, owner_id, shared, team_id, title, secret) values
        (1, 'acme', 'alice', false, null, 'alice private', 's1'),
        (2, 'acme', 'bob', false, null, 'bob private', 's2'),
        (3, 'acme', 'carol', true, null, 'shared', 's3'),
        (4, 'acme', 'carol', false, 'red', 'red team', 's4'),
        (5, 'globex', 'alice', false, null, 'globex alice', 's5')`);
      expect(idsOf(await onAlice.take(3))).toEqual([
        ['insert', 1],
        ['insert', 3],
        ['insert', 4],
      ]);
      expect(idsOf(await onBob.take(2))).toEqual([
        ['insert', 2],
        ['insert', 3],
      ]);
      expect(idsOf(await onStranger.take(1))).toEqual([['insert', 3]]);
      expect(idsOf(await onElsewhere.take(1))).toEqual([['insert', 5]]);
      expect(await snapshotIds(alice)).toEqual([1, 3, 4]);
      expect(await snapshotIds(bob)).toEqual([2, 3]);
      expect(await snapshotIds(stranger)).toEqual([3]);
      expect(await snapshotIds(elsewhere)).toEqual([5]);

      // Alice shares her row: Bob gets an insert; she unshares it: Bob gets a delete.
      await db.sql.query(`update docs set shared = true where id = 1`);
      await db.sql.query(`update docs set shared = false, title = 'private again' where id = 1`);
      expect(idsOf(await onAlice.take(2))).toEqual([
        ['update', 1],
        ['update', 1],
      ]);
      expect(idsOf(await onBob.take(2))).toEqual([
        ['insert', 1],
        ['delete', 1],
      ]);
      expect(idsOf(await onStranger.take(2))).toEqual([
        ['insert', 1],
        ['delete', 1],
      ]);
      // The red team's row leaves the team: Alice loses it.
      await db.sql.query(`update docs set team_id = 'blue' where id = 4`);
      expect(idsOf(await onAlice.take(1))).toEqual([['delete', 4]]);
      // A hidden column is usable in the policy's rows and never sent.
      for (const stream of streams) for (const event of stream.received) expect(JSON.stringify(event.data)).not.toMatch(/secret|"s\d"/);
      // Nothing more for anyone: the next event each gets is this one (a later row to all).
      await db.sql.query(`insert into docs (id, org_id, owner_id, shared) values (6, 'acme', 'x', true), (7, 'globex', 'x', true)`);
      for (const [stream, id] of [
        [onAlice, 6],
        [onBob, 6],
        [onStranger, 6],
        [onElsewhere, 7],
      ] as const)
        expect(idsOf(await stream.take(1))).toEqual([['insert', id]]);
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  it('exposed again with another policy: every open stream gets invalidate and the new rule, at once', async () => {
    const bob = await token('acme', 'bob');
    const onBob = await SseClient.open(walcast.streamUrl(bob, { tables: 'docs' }));
    try {
      const started = Date.now();
      await db.sql.query(`select walcast.expose('docs', tenant_column => 'org_id', hidden_columns => '{secret}', policy => 'owner_id=eq.$sub')`);
      const invalidate = await onBob.next(5_000);
      expect(invalidate).toMatchObject({ type: 'invalidate', data: { table: 'public.docs', tenant: null, reason: 'policy_changed' } });
      expect(Date.now() - started).toBeLessThan(1_000);
      // Shared rows are no longer Bob's: the next row he gets is his own.
      await db.sql.query(`insert into docs (id, org_id, owner_id, shared) values (8, 'acme', 'carol', true), (9, 'acme', 'bob', false)`);
      expect(idsOf(await onBob.take(1))).toEqual([['insert', 9]]);
      expect(await snapshotIds(bob)).toEqual([2, 9]);
    } finally {
      onBob.close();
      await db.sql.query(`select walcast.expose('docs', tenant_column => 'org_id', hidden_columns => '{secret}', policy => '${POLICY}')`);
    }
  });

  it('edits work as Postgres RLS: a hidden row is 404, a row written out of view is 403 policy_violation, set_on_insert fills from the token', async () => {
    const [alice, bob, noTeam] = await Promise.all([token('acme', 'alice', { team: 'red' }), token('acme', 'bob', { team: 'blue' }), token('acme', 'dora')]);
    const call = async (bearer: string, method: string, path: string, body?: unknown, version?: string) => {
      const response = await fetch(`${walcast.url}/v1/tables/notes/rows${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...(version ? { 'if-match': `"${version}"` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (response.status === 204 ? {} : await response.json()) as Record<string, unknown> };
    };
    const inserted = await call(alice, 'POST', '', { title: 'mine' });
    expect(inserted).toMatchObject({ status: 201, body: { row: { title: 'mine', owner_id: 'alice', team_id: 'red', shared: false } } });
    const id = (inserted.body['row'] as { id: number }).id;
    expect((await call(alice, 'POST', '', { title: 'x', owner_id: 'bob' })).status).toBe(403);
    expect(await call(noTeam, 'POST', '', { title: 'x' })).toMatchObject({
      status: 403,
      body: { error: 'forbidden', message: expect.stringMatching(/\$claim\.team/) },
    });
    // Bob cannot see Alice's private note: not there for him.
    expect((await call(bob, 'PATCH', `/${id}`, { set: { title: 'bob was here' } }, '1')).status).toBe(404);
    expect((await call(bob, 'DELETE', `/${id}`, undefined, '1')).status).toBe(404);
    // Alice shares it; Bob may edit it, but not unshare it (it would leave his view): 403, nothing changed.
    expect(await call(alice, 'PATCH', `/${id}`, { set: { shared: true } }, '1')).toMatchObject({ status: 200, body: { row: { shared: true } } });
    expect(await call(bob, 'PATCH', `/${id}`, { set: { title: 'edited by bob' } }, '2')).toMatchObject({
      status: 200,
      body: { row: { title: 'edited by bob' } },
    });
    expect(await call(bob, 'PATCH', `/${id}`, { set: { shared: false } }, '3')).toMatchObject({ status: 403, body: { error: 'policy_violation' } });
    const { rows } = await db.sql.query('select title, shared, version from notes where id = $1', [id]);
    expect(rows).toEqual([{ title: 'edited by bob', shared: true, version: '3' }]);
    // Alice may: the row stays hers.
    expect(await call(alice, 'PATCH', `/${id}`, { set: { shared: false } }, '3')).toMatchObject({ status: 200, body: { row: { shared: false } } });
  });

  it("keeps Idempotency-Keys per user: another user's same key and request neither replays the answer (a row hidden from them) nor learns of it", async () => {
    const [alice, bob, carol] = await Promise.all([token('acme', 'alice', { team: 'red' }), token('acme', 'bob'), token('acme', 'carol')]);
    const { rows } = await db.sql.query(`insert into notes (org_id, owner_id, title) values ('acme', 'alice', 'private') returning id`);
    const patch = (bearer: string, title: string) =>
      fetch(`${walcast.url}/v1/tables/notes/rows/${rows[0]!.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'if-match': '"1"', 'idempotency-key': 'rename-note-v1' },
        body: JSON.stringify({ set: { title } }),
      });
    expect((await patch(alice, 'renamed')).status).toBe(200);
    const replayedForBob = await patch(bob, 'renamed');
    expect([replayedForBob.status, replayedForBob.headers.get('idempotent-replayed')]).toEqual([404, null]);
    // The key for another request: carol's own, not a 422 telling her someone used it.
    expect((await patch(carol, 'something else')).status).toBe(404);
    expect((await patch(alice, 'renamed')).headers.get('idempotent-replayed')).toBe('true');
  });
});
