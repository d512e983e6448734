// Issue 15 / DESIGN §5: a database login that does not own the walcast schema cannot
// change an exposure, reveal a hidden column, conceal a table or fake presence. Every
// forgery below runs as an ordinary application role (LOGIN; INSERT, UPDATE and SELECT
// on its own tables; a schema of its own), and what users see is checked through real
// streams and the HTTP API of two running servers: one on a listed publication, one on a
// FOR ALL TABLES publication (where a table the attacker creates is published too).
import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createRole, type TestRole } from '../support/roles.js';
import { SseClient, type ReceivedMessage } from '../support/sse.js';
import { metric } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let appRole: TestRole;
let app: pg.Client;
let listed: TestWalcast;
let everything: TestWalcast;
let notesRelid: number;
let boardRelid: number;

beforeAll(async () => {
  db = await createTestDatabase('forgery');
  await migrate(db.url);
  appRole = await createRole('forgery_app');
  const role = pg.escapeIdentifier(appRole.name);
  await db.sql.query(`
    create table notes (id serial primary key, org_id text not null, body text, secret text);
    select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{secret}', writable_columns => '{body}');
    create publication everything for all tables;
    create table board (id serial primary key, org_id text not null, body text, secret text);
    select walcast.expose('board', tenant_column => 'org_id', hidden_columns => '{secret}', publication => 'everything');
    grant select, insert, update on notes, board to ${role};
    grant usage on sequence notes_id_seq, board_id_seq to ${role};
    create schema app_space authorization ${role};`);
  notesRelid = Number((await db.sql.query(`select 'notes'::regclass::oid::int8 as relid`)).rows[0].relid);
  boardRelid = Number((await db.sql.query(`select 'board'::regclass::oid::int8 as relid`)).rows[0].relid);
  app = new pg.Client({ connectionString: appRole.urlFor(db.url) });
  await app.connect();
  listed = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'listed' });
  everything = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'everything', WALCAST_PUBLICATION: 'everything' });
  await Promise.all([waitUntilReady(listed), waitUntilReady(everything)]);
});

afterAll(async () => {
  await app?.end();
  await listed?.close();
  await everything?.close();
  await db?.drop();
  await appRole?.drop();
});

const exposure = (relid: number, table: string, publication: string) => ({
  relid,
  table,
  publication,
  tenantColumn: null,
  versionColumn: null,
  primaryKey: ['id'],
  hiddenColumns: [],
  writableColumns: null,
});

const heartbeat = (user: string) =>
  JSON.stringify({ op: 'beat', tenant: 'acme', room: 'lobby', user, connection: 'c', state: { evil: true }, at: Date.now(), ttlMs: 60_000 });

async function snapshot(on: TestWalcast, tenant: string, table: string): Promise<{ status: number; rows: Record<string, unknown>[] }> {
  const response = await fetch(`${on.url}/v1/tables/${table}/rows`, { headers: { authorization: `Bearer ${await on.token(tenant)}` } });
  const body = (await response.json()) as { rows?: Record<string, unknown>[] };
  return { status: response.status, rows: body.rows ?? [] };
}

/** Inserts a row as the app and waits until `stream` has it: everything committed before has been applied. */
async function mark(stream: SseClient, table: string, body: string): Promise<void> {
  await app.query(`insert into ${table} (org_id, body, secret) values ('acme', $1, 'marker secret')`, [body]);
  await stream.until(() => stream.received.some((event) => (event.data['row'] as { body?: string } | undefined)?.body === body), 5_000, `marker ${body}`);
}

const tables = (events: readonly ReceivedMessage[]) => events.map((event) => event.data['table']);

describe('forgeries by an application role that does not own the walcast schema', () => {
  it('runs as an ordinary role: no superuser, no REPLICATION, no privilege on walcast', async () => {
    const { rows } = await app.query(`select rolsuper, rolreplication, has_schema_privilege('walcast', 'USAGE') as usage
                                        from pg_roles where rolname = current_user`);
    expect(rows[0]).toEqual({ rolsuper: false, rolreplication: false, usage: false });
  });

  it('walcast.config messages (expose without tenant or hidden columns, conceal) change nothing', async () => {
    const acme = await SseClient.open(listed.streamUrl(await listed.token('acme'), { tables: 'notes' }));
    const acmeAll = await SseClient.open(everything.streamUrl(await everything.token('acme'), { tables: 'board' }));
    try {
      for (const transactional of [true, false]) {
        await app.query(`select pg_logical_emit_message($1, 'walcast.config', $2)`, [
          transactional,
          JSON.stringify({ op: 'expose', exposure: exposure(notesRelid, 'public.notes', 'walcast') }),
        ]);
        await app.query(`select pg_logical_emit_message($1, 'walcast.config', $2)`, [
          transactional,
          JSON.stringify({ op: 'expose', exposure: exposure(boardRelid, 'public.board', 'everything') }),
        ]);
      }
      await app.query(`select pg_logical_emit_message(true, 'walcast.config', $1)`, [
        JSON.stringify({ op: 'conceal', relid: notesRelid, table: 'public.notes', publication: 'walcast' }),
      ]);

      for (const table of ['notes', 'board']) {
        await app.query(`insert into ${table} (org_id, body, secret) values ('globex', 'globex row', 'globex secret'), ('acme', 'acme row', 'acme secret')`);
      }
      await mark(acme, 'notes', 'after config forgeries');
      await mark(acmeAll, 'board', 'after config forgeries');
      for (const stream of [acme, acmeAll]) {
        const text = JSON.stringify(stream.received);
        expect(text).not.toContain('globex');
        expect(text).not.toContain('secret');
        expect(stream.received.map((event) => (event.data['row'] as { body: string }).body)).toEqual(['acme row', 'after config forgeries']);
      }
      // Snapshots and edits keep the tenant predicate, and hidden columns hidden.
      for (const [on, table] of [
        [listed, 'notes'],
        [everything, 'board'],
      ] as const) {
        const read = await snapshot(on, 'acme', table);
        expect(read.status).toBe(200);
        expect(read.rows.map((row) => row['org_id'])).toEqual(read.rows.map(() => 'acme'));
        expect(JSON.stringify(read.rows)).not.toContain('secret');
      }
      const globexRow = (await db.sql.query(`select id, version from notes where org_id = 'globex'`)).rows[0];
      const patch = await fetch(`${listed.url}/v1/tables/notes/rows/${globexRow.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${await listed.token('acme')}`, 'content-type': 'application/json', 'if-match': `"${globexRow.version}"` },
        body: JSON.stringify({ set: { body: 'stolen' } }),
      });
      expect(patch.status).toBe(404);
    } finally {
      acme.close();
      acmeAll.close();
    }
  });

  it("walcast.presence messages without walcast's MAC put nobody in a room, and are counted", async () => {
    const lobby = await SseClient.open(listed.streamUrl(await listed.token('acme'), { rooms: 'lobby' }));
    try {
      expect((await lobby.next()).data).toEqual({ room: 'lobby', op: 'sync', members: [] });
      const before = await metric(listed.url, 'walcast_forged_messages_total');
      const wrongKey = randomBytes(32);
      const forged = [
        heartbeat('mallory-plain'), // 0.1.0's format
        `${'0'.repeat(64)}${heartbeat('mallory-zero-mac')}`, // a made-up MAC
        `${createHmac('sha256', wrongKey)
          .update(`walcast.presence\n${heartbeat('mallory-own-key')}`)
          .digest('hex')}${heartbeat('mallory-own-key')}`,
        `${'g'.repeat(64)}${heartbeat('mallory-not-hex')}`,
      ];
      for (const content of forged) {
        await app.query(`select pg_logical_emit_message(false, 'walcast.presence', $1)`, [content]);
        await app.query(`select pg_logical_emit_message(true, 'walcast.presence', $1)`, [content]);
      }
      // A real heartbeat after them: once it is seen, every forgery before it was handled.
      const response = await fetch(`${listed.url}/v1/presence`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await listed.token('acme', 'ann')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'lobby', state: {} }),
      });
      expect(response.status).toBe(200);
      expect((await lobby.next()).data).toMatchObject({ op: 'join', member: { user: 'ann' } });
      expect(lobby.unread()).toEqual([]);
      const members = await fetch(`${listed.url}/v1/presence?room=lobby`, { headers: { authorization: `Bearer ${await listed.token('acme')}` } });
      expect(((await members.json()) as { members: { user: string }[] }).members.map((member) => member.user)).toEqual(['ann']);
      expect((await metric(listed.url, 'walcast_forged_messages_total')) - before).toBe(forged.length * 2);
    } finally {
      lobby.close();
    }
  });

  it('cannot write, read the key of, or call anything in schema walcast, nor change a publication', async () => {
    const refused = [
      `insert into walcast.exposed_tables (relid, publication) values ('notes', 'walcast')`,
      `update walcast.exposed_tables set hidden_attnums = '{}', tenant_attnum = null`,
      `delete from walcast.exposed_tables`,
      `select key from walcast.presence_key`,
      `update walcast.presence_key set key = '\\x00'`,
      `insert into walcast.server_roles (role) values (current_user::regrole)`,
      `select walcast.expose('notes')`,
      `select walcast.expose('notes', tenant_column => null, hidden_columns => '{}')`,
      `select walcast.conceal('notes')`,
      `select walcast.reexpose('notes')`,
      `select walcast.allow_server(current_user)`,
      `select walcast.ensure_publication('walcast')`,
      `select walcast.uninstall()`,
      `select walcast.on_alter_table()`,
      `create table walcast.exposed_tables_2 (relid regclass)`,
      `alter publication walcast drop table notes`,
      `alter publication walcast drop table walcast.exposed_tables`,
      `alter publication walcast add table app_space.anything`,
      `create publication mine for all tables`,
      `alter table notes replica identity nothing`,
      `alter table notes disable trigger walcast_bump_version`,
    ];
    await app.query(`create table app_space.anything (id int primary key)`);
    for (const statement of refused) {
      await expect(app.query(statement), statement).rejects.toThrow(/permission denied|must be owner|must be superuser/);
    }
    // Even a role a DBA let into the schema by mistake: no function, no table of walcast's is for everyone.
    await db.sql.query(`grant usage on schema walcast to ${pg.escapeIdentifier(appRole.name)}`);
    try {
      for (const statement of refused) {
        await expect(app.query(statement), statement).rejects.toThrow(/permission denied|must be owner|must be superuser/);
      }
    } finally {
      await db.sql.query(`revoke usage on schema walcast from ${pg.escapeIdentifier(appRole.name)}`);
    }
  });

  it('a look-alike walcast.exposed_tables in its own schema, published FOR ALL TABLES, changes nothing', async () => {
    await app.query(`create table app_space.exposed_tables (like notes including all);
                     alter table app_space.exposed_tables add column exposure jsonb, add column relid oid, add column publication text`);
    const acme = await SseClient.open(everything.streamUrl(await everything.token('acme'), { tables: 'board' }));
    try {
      await app.query(`insert into app_space.exposed_tables (org_id, exposure, relid, publication) values ('acme', $1, $2, 'everything')`, [
        JSON.stringify(exposure(boardRelid, 'public.board', 'everything')),
        boardRelid,
      ]);
      await app.query(`update app_space.exposed_tables set exposure = $1`, [JSON.stringify(exposure(boardRelid, 'public.board', 'everything'))]);
      await app.query(`insert into board (org_id, body, secret) values ('globex', 'globex after look-alike', 'psst')`);
      await mark(acme, 'board', 'after look-alike');
      expect(JSON.stringify(acme.received)).not.toMatch(/globex|psst|secret/);
      // Nor is the attacker's table (published, not exposed) readable by anyone.
      expect((await snapshot(everything, 'acme', 'app_space.exposed_tables')).status).toBe(404);
      expect((await snapshot(everything, 'acme', 'app_space.anything')).status).toBe(404);
      await app.query(`delete from app_space.exposed_tables`);
      await mark(acme, 'board', 'after look-alike delete');
      expect(tables(acme.received)).toEqual(['public.board', 'public.board']);
    } finally {
      acme.close();
    }
  });

  it("a function it plants where the owner's search_path looks is never what walcast calls", async () => {
    // jsonb_build_object(text, bigint) matches bump_version's call exactly, ahead of
    // pg_catalog's variadic one: run as the owner, it would make the attacker a superuser.
    await app.query(`
      create function app_space.jsonb_build_object(k text, v bigint) returns jsonb language plpgsql as $$
      begin
        execute format('alter role %I superuser', ${pg.escapeLiteral(appRole.name)});
        return pg_catalog.jsonb_build_object(k, v);
      end $$`);
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    try {
      await app.query(`insert into notes (org_id, body) values ('acme', 'to edit')`);
      await owner.query(`set search_path = app_space, public`);
      const { rows } = await owner.query(`update notes set body = 'owner edit' where body = 'to edit' returning version`);
      expect(rows).toEqual([{ version: '2' }]);
      await owner.query(`select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version',
                                                hidden_columns => '{secret}', writable_columns => '{body}')`);
    } finally {
      await owner.end();
    }
    const { rows } = await db.sql.query(`select rolsuper from pg_roles where rolname = $1`, [appRole.name]);
    expect(rows[0].rolsuper).toBe(false);
  });
});
