// `walcast uninstall` (walcast.uninstall() in SQL): refuses while an instance streams,
// then removes exposures as conceal would (triggers, replica identities, publication
// membership), the grants of server roles, the publications and slots walcast made, the
// event triggers and the schema; the version columns it added only when asked.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createRole, type TestRole } from '../support/roles.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady } from '../support/walcast.js';

let db: TestDatabase;
let server: TestRole;

const EXPOSE = `
  select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'version');
  select walcast.expose('docs', tenant_column => 'org_id', version_column => 'rev', publication => 'kept');`;

async function state(sql: pg.Client): Promise<Record<string, unknown>> {
  const query = async (text: string, values: unknown[] = []) => (await sql.query(text, values)).rows;
  return {
    schema: (await query(`select nspname from pg_namespace where nspname = 'walcast'`)).length,
    eventTriggers: (await query(`select evtname from pg_event_trigger where evtname like 'walcast%'`)).map((row) => row.evtname),
    triggers: (await query(`select tgrelid::regclass::text as t from pg_trigger where tgname = 'walcast_bump_version' order by 1`)).map((row) => row.t),
    identities: Object.fromEntries(
      (await query(`select relname, relreplident from pg_class where relname in ('tasks', 'docs')`)).map((row) => [row.relname, row.relreplident]),
    ),
    publications: (await query(`select pubname from pg_publication order by 1`)).map((row) => row.pubname),
    published: (await query(`select pubname || ':' || tablename as p from pg_publication_tables order by 1`)).map((row) => row.p),
    columns: (
      await query(`select attrelid::regclass::text || '.' || attname as c from pg_attribute
                            where attrelid in ('tasks'::regclass, 'docs'::regclass) and attnum > 0 and not attisdropped order by 1`)
    ).map((row) => row.c),
    slots: (await query(`select slot_name from pg_replication_slots where database = current_database() order by 1`)).map((row) => row.slot_name),
    serverCanRead: (await query(`select has_table_privilege($1, 'tasks', 'SELECT') as can`, [server.name]))[0]!.can,
  };
}

beforeAll(async () => {
  db = await createTestDatabase('uninstall');
  await db.sql.query(`create table tasks (id serial primary key, org_id text not null, title text);
                      create table docs (id serial primary key, org_id text not null, body text, rev bigint not null default 1);`);
  server = await createRole('uninstall_server', 'replication');
});

afterAll(async () => {
  await db?.drop();
  await server?.drop();
});

describe('walcast uninstall', () => {
  it('refuses while an instance streams, then removes everything walcast made but the data', async () => {
    await db.sql.query(`create publication kept`);
    await migrate(db.url);
    await db.sql.query(EXPOSE);
    await db.sql.query('select walcast.allow_server($1)', [server.name]);
    await db.sql.query(`select pg_create_logical_replication_slot('walcast_gone', 'pgoutput')`);
    expect(await state(db.sql)).toMatchObject({
      schema: 1,
      triggers: ['docs', 'tasks'],
      identities: { tasks: 'f', docs: 'f' },
      publications: ['kept', 'walcast'],
      serverCanRead: true,
    });

    const walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'running' });
    try {
      await waitUntilReady(walcast);
      const refused = runCli(['uninstall'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET });
      expect(await refused.exited).toBe(2);
      expect(refused.output.trim()).toBe('walcast: walcast.uninstall: replication slot(s) walcast_running are in use: stop those walcast instances first');
      expect((await state(db.sql))['schema']).toBe(1);
    } finally {
      await walcast.close();
    }
    // A slot is released a moment after its walsender stops (FACTS.md).
    await eventually('the slot is released', async () => (await db.sql.query(`select 1 from pg_replication_slots where active`)).rowCount === 0);

    const run = runCli(['uninstall'], { DATABASE_URL: db.url });
    expect(await run.exited, run.output).toBe(0);
    expect(run.output.trim().split('\n')).toEqual([
      'concealed public.docs',
      'concealed public.tasks',
      `revoked what walcast.allow_server gave ${server.name}`,
      'dropped publication walcast',
      'dropped replication slot walcast_gone',
      'dropped replication slot walcast_running',
      'dropped schema walcast',
    ]);
    expect(await state(db.sql)).toEqual({
      schema: 0,
      eventTriggers: [],
      triggers: [],
      identities: { tasks: 'd', docs: 'd' },
      publications: ['kept'],
      published: [],
      // The version columns hold data: they stay unless asked.
      columns: ['docs.body', 'docs.id', 'docs.org_id', 'docs.rev', 'tasks.id', 'tasks.org_id', 'tasks.title', 'tasks.version'],
      slots: [],
      serverCanRead: false,
    });
  });

  it('drops the version columns walcast added (never one the table had) with --drop-version-columns; SQL alone does the same', async () => {
    await migrate(db.url);
    await db.sql.query(`select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'stamp');
                        select walcast.expose('docs', tenant_column => 'org_id', version_column => 'rev', publication => 'kept');`);
    const run = runCli(['uninstall', '--drop-version-columns'], { DATABASE_URL: db.url });
    expect(await run.exited, run.output).toBe(0);
    expect(run.output).toMatch(/^dropped column stamp of public\.tasks$/m);
    expect((await state(db.sql))['columns']).toEqual([
      'docs.body',
      'docs.id',
      'docs.org_id',
      'docs.rev',
      'tasks.id',
      'tasks.org_id',
      'tasks.title',
      'tasks.version',
    ]);

    await migrate(db.url);
    await db.sql.query(EXPOSE);
    await db.sql.query('begin');
    const { rows } = await db.sql.query<{ step: string }>('select walcast.uninstall(drop_version_columns => false) as step');
    await db.sql.query('commit');
    expect(rows.at(-1)!.step).toBe('dropped schema walcast');
    expect(await state(db.sql)).toMatchObject({ schema: 0, triggers: [], publications: ['kept'], published: [] });
  });

  it('says so when there is nothing to uninstall', async () => {
    const run = runCli(['uninstall'], { DATABASE_URL: db.url });
    expect(await run.exited).toBe(2);
    expect(run.output.trim()).toBe('walcast: walcast is not installed in this database');
  });
});
