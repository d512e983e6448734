// Least privilege (DESIGN §6): `walcast serve` as a role with only LOGIN REPLICATION plus
// what walcast.allow_server() grants, with WALCAST_MIGRATE=false: streams, snapshots,
// edits (with Idempotency-Key), presence, a table exposed while it runs, and doctor. A
// role that lacks one privilege is told which in one line, and nothing starts.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase, queryOnce, type TestDatabase } from '../support/database.js';
import { createRole, type TestRole } from '../support/roles.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let server: TestRole;
let walcast: TestWalcast;
let granted: string[];
const roles: TestRole[] = [];

async function role(label: string, attributes = ''): Promise<TestRole> {
  const created = await createRole(label, attributes);
  roles.push(created);
  return created;
}

beforeAll(async () => {
  db = await createTestDatabase('least_privilege');
  await migrate(db.url);
  await db.sql.query(`
    create table todos (id bigserial primary key, org_id text not null, title text not null,
                        done boolean not null default false, secret text);
    select walcast.expose('todos', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{secret}', writable_columns => '{title,done}');`);
  server = await role('walcast_server', 'replication');
  granted = (await db.sql.query<{ grant: string }>('select walcast.allow_server($1) as grant', [server.name])).rows.map((row) => row.grant);
  walcast = await startTestWalcast(server.urlFor(db.url), { WALCAST_MIGRATE: 'false', WALCAST_INSTANCE: 'least' });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
  for (const created of roles) await created.drop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${walcast.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await walcast.token('acme', 'ann')}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('walcast serve as a role with LOGIN REPLICATION and allow_server()', () => {
  it('was granted exactly what serving needs: column-level writes, nothing on walcast to change', () => {
    const role = server.name;
    expect(granted).toEqual([
      `grant USAGE on schema walcast to ${role}`,
      `grant SELECT on table walcast.exposed_tables to ${role}`,
      `grant SELECT on table walcast.presence_key to ${role}`,
      `grant SELECT on table walcast.migrations to ${role}`,
      `grant SELECT on table walcast.server_roles to ${role}`,
      `grant SELECT on table walcast.idempotency_keys to ${role}`,
      `grant SELECT on table walcast.instances to ${role}`,
      `grant INSERT on table walcast.idempotency_keys to ${role}`,
      `grant UPDATE on table walcast.idempotency_keys to ${role}`,
      `grant DELETE on table walcast.idempotency_keys to ${role}`,
      `grant INSERT on table walcast.instances to ${role}`,
      `grant UPDATE on table walcast.instances to ${role}`,
      `grant DELETE on table walcast.instances to ${role}`,
      `grant EXECUTE on function walcast.required_privileges(text) to ${role}`,
      `grant EXECUTE on function walcast.missing_privileges(name, text) to ${role}`,
      `grant EXECUTE on function walcast.table_privileges(regclass) to ${role}`,
      `grant EXECUTE on function walcast.default_sequences(regclass) to ${role}`,
      `grant EXECUTE on function walcast.exposure_of(walcast.exposed_tables) to ${role}`,
      `grant EXECUTE on function walcast.column_names(regclass, smallint[]) to ${role}`,
      `grant EXECUTE on function walcast.index_columns(regclass, oid) to ${role}`,
      `grant EXECUTE on function walcast.key_columns(regclass) to ${role}`,
      `grant EXECUTE on function walcast.identity_columns(regclass) to ${role}`,
      `grant SELECT on table public.todos to ${role}`,
      `grant INSERT (org_id) on table public.todos to ${role}`,
      `grant INSERT (title) on table public.todos to ${role}`,
      `grant INSERT (done) on table public.todos to ${role}`,
      `grant UPDATE (title) on table public.todos to ${role}`,
      `grant UPDATE (done) on table public.todos to ${role}`,
      `grant UPDATE (version) on table public.todos to ${role}`,
      `grant DELETE on table public.todos to ${role}`,
      `grant USAGE on sequence public.todos_id_seq to ${role}`,
    ]);
  });

  it('streams, snapshots, edits (idempotently) and keeps presence', async () => {
    const stream = await SseClient.open(walcast.streamUrl(await walcast.token('acme'), { tables: 'todos', rooms: 'lobby' }));
    try {
      expect((await stream.next()).data).toMatchObject({ op: 'sync', members: [] });
      await db.sql.query(`insert into todos (org_id, title, secret) values ('acme', 'from the app', 'psst'), ('globex', 'not yours', 'psst')`);
      expect((await stream.next()).data).toMatchObject({ op: 'insert', row: { title: 'from the app' } });

      const snapshot = await call('GET', '/v1/tables/todos/rows');
      expect(snapshot.status).toBe(200);
      expect((snapshot.body['rows'] as Record<string, unknown>[]).map((row) => row['title'])).toEqual(['from the app']);

      const created = await call('POST', '/v1/tables/todos/rows', { title: 'from the browser' }, { 'idempotency-key': 'create-1' });
      expect(created.status).toBe(201);
      const row = created.body['row'] as { id: string; version: string };
      expect((await call('POST', '/v1/tables/todos/rows', { title: 'from the browser' }, { 'idempotency-key': 'create-1' })).body).toEqual(created.body);
      expect((await call('PATCH', `/v1/tables/todos/rows/${row.id}`, { version: Number(row.version), set: { done: true } })).status).toBe(200);
      expect((await call('DELETE', `/v1/tables/todos/rows/${row.id}`, undefined, { 'if-match': '"2"' })).status).toBe(204);
      const ops = (await stream.take(3)).map((event) => event.data['op']);
      expect(ops).toEqual(['insert', 'update', 'delete']);

      expect((await call('POST', '/v1/presence', { room: 'lobby', state: {} })).status).toBe(200);
      expect((await stream.next()).data).toMatchObject({ op: 'join', member: { user: 'ann' } });
      expect(JSON.stringify(stream.received)).not.toMatch(/psst|globex/);
    } finally {
      stream.close();
    }
  });

  it('reads and edits a table exposed while it runs: expose() grants server roles what they need', async () => {
    await db.sql.query(`create table notes (id serial primary key, org_id text not null, body text);
                        select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version');`);
    await eventually('notes is known', async () => (await call('GET', '/v1/tables/notes/rows')).status === 200, 3_000, 50);
    const created = await call('POST', '/v1/tables/notes/rows', { body: 'hello' });
    expect(created.status).toBe(201);
    expect((await call('GET', '/v1/tables/notes/rows')).body['rows']).toEqual([created.body['row']]);
  });

  it('cannot change what is exposed either', async () => {
    const client = new pg.Client({ connectionString: server.urlFor(db.url) });
    await client.connect();
    try {
      for (const statement of [
        `update walcast.exposed_tables set hidden_attnums = '{}'`,
        `select walcast.expose('todos')`,
        `select walcast.conceal('todos')`,
        `select walcast.allow_server(current_user)`,
        `select walcast.on_alter_table()`,
        `alter publication walcast drop table todos`,
        `update todos set org_id = 'globex'`,
      ]) {
        await expect(client.query(statement), statement).rejects.toThrow(/permission denied|must be owner/);
      }
    } finally {
      await client.end();
    }
  });

  it('runs walcast doctor, which finds the server role has what it needs and is no superuser', async () => {
    const run = runCli(['doctor'], { DATABASE_URL: server.urlFor(db.url) });
    expect(await run.exited, run.output).toBe(0);
    expect(run.output).toMatch(new RegExp(`^ok {4}server role ${server.name}: has every privilege walcast serve needs$`, 'm'));
    expect(run.output).toMatch(new RegExp(`^ok {4}server role: slot walcast_least is streamed by ${server.name}, not a superuser$`, 'm'));
    expect(run.output).toMatch(/^ok {4}pg_logical_emit_message: every role can call it/m);
  });
});

describe('a role that lacks something', () => {
  const serve = (url: string, env: Record<string, string> = {}) =>
    runCli(['serve'], { DATABASE_URL: url, WALCAST_JWT_SECRET: TEST_SECRET, WALCAST_PORT: '0', WALCAST_INSTANCE: 'lacking', WALCAST_MIGRATE: 'false', ...env });

  async function refused(run: ReturnType<typeof runCli>): Promise<string> {
    expect(await run.exited).toBe(2);
    const lines = run.output.trim().split('\n');
    expect(lines).toHaveLength(1);
    // Nothing half-started: no slot was made for it.
    const slots = await queryOnce(db.url, `select 1 from pg_replication_slots where slot_name = 'walcast_lacking'`);
    expect(slots.rowCount).toBe(0);
    return lines[0]!;
  }

  it('one revoked column: says which, and how to give it back', async () => {
    const partial = await role('walcast_partial', 'replication');
    await db.sql.query('select walcast.allow_server($1)', [partial.name]);
    await db.sql.query(`revoke update (title) on todos from ${pg.escapeIdentifier(partial.name)}`);
    expect(await refused(serve(partial.urlFor(db.url)))).toBe(
      `walcast: role ${partial.name} lacks UPDATE (title) on public.todos: run select walcast.allow_server('${partial.name}') as the owner of schema walcast`,
    );
    await db.sql.query('select walcast.allow_server($1)', [partial.name]);
    const again = serve(partial.urlFor(db.url));
    await waitForOutput(again, /walcast serving/);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    await queryOnce(db.url, `select pg_drop_replication_slot('walcast_lacking')`);
  });

  it('no REPLICATION, or no grants at all', async () => {
    const plain = await role('walcast_plain');
    await db.sql.query('select walcast.allow_server($1)', [plain.name]);
    expect(await refused(serve(plain.urlFor(db.url)))).toBe(
      `walcast: role ${plain.name} lacks REPLICATION: run ALTER ROLE "${plain.name}" REPLICATION as a superuser`,
    );
    const stranger = await role('walcast_stranger', 'replication');
    expect(await refused(serve(stranger.urlFor(db.url)))).toBe(
      `walcast: role ${stranger.name} lacks USAGE on schema walcast: run select walcast.allow_server('${stranger.name}') as the owner of schema walcast`,
    );
  });

  it('with WALCAST_MIGRATE=true (the default) it serves a current schema, and cannot install one', async () => {
    const current = serve(server.urlFor(db.url), { WALCAST_MIGRATE: 'true' });
    await waitForOutput(current, /walcast serving/);
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
    await queryOnce(db.url, `select pg_drop_replication_slot('walcast_lacking')`);

    const empty = await createTestDatabase('least_privilege_empty');
    try {
      const line = await (async () => {
        const run = serve(server.urlFor(empty.url), { WALCAST_MIGRATE: 'true' });
        expect(await run.exited).toBe(2);
        return run.output.trim();
      })();
      expect(line).toMatch(
        new RegExp(
          `^walcast: role ${server.name} cannot install walcast's SQL \\(permission denied for database \\S+\\): run walcast migrate as the owner of schema walcast \\(or of the database\\), then serve with WALCAST_MIGRATE=false$`,
        ),
      );
    } finally {
      await empty.drop();
    }
  });
});
