// Upgrading from 0.1.0's schema (DESIGN §6): 001_walcast.sql as 0.1.0 shipped it, tables
// exposed by 0.1.0's expose() with hidden and writable columns, then walcast migrate:
// every exposure survives as it was, events flow, configuration changes reach a running
// server, and applying the scripts by hand records the same.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SQL_DIR } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const RELEASED_001 = new URL('../fixtures/sql/0.1.0/001_walcast.sql', import.meta.url);

let db: TestDatabase;
let walcast: TestWalcast | undefined;

/** What 0.1.0 recorded per exposure, and what its exposure_json() said. */
const SETTINGS = `select e.relid::text as table, e.publication, e.tenant_attnum, e.version_attnum, e.hidden_attnums,
                          e.writable_attnums, e.previous_identities, walcast.exposure_json(e.relid) as exposure
                     from walcast.exposed_tables e order by 1`;

beforeAll(async () => {
  db = await createTestDatabase('upgrade');
  // As 0.1.0's `walcast migrate` did: the whole file in one transaction.
  await db.sql.query(`begin; ${await readFile(RELEASED_001, 'utf8')}; commit;`);
  await db.sql.query(`
    create table tasks (id serial primary key, org_id text not null, title text not null, done boolean not null default false,
                        secret text, internal_note text);
    select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'version',
                          hidden_columns => '{secret,internal_note}', writable_columns => '{title,done}');
    create table news (id serial primary key, headline text, draft_by text);
    select walcast.expose('news', hidden_columns => '{draft_by}');
    create table readings (org_id text not null, at timestamptz not null, value numeric, raw bytea) partition by range (at);
    create table readings_2026 partition of readings for values from ('2026-01-01') to ('2027-01-01');
    select walcast.expose('readings', tenant_column => 'org_id', hidden_columns => '{raw}');
    create table payroll (id serial primary key, org_id text not null, salary int);
    alter publication walcast add table payroll;`);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

describe('0.1.0 → current', () => {
  let before: Record<string, unknown>[];

  it('migrates: 001 counts as applied, the rest is applied once and recorded', async () => {
    before = (await db.sql.query(SETTINGS)).rows;
    expect(before.map((row) => row['table'])).toEqual(['news', 'readings', 'tasks']);
    const result = await migrate(db.url);
    expect(result.applied).toEqual(expect.arrayContaining(['002_trusted_config.sql']));
    expect(result.applied).not.toContain('001_walcast.sql');
    const recorded = (await db.sql.query<{ name: string }>('select name from walcast.migrations order by name')).rows.map((row) => row.name);
    expect(recorded).toEqual(
      (await import('node:fs'))
        .readdirSync(SQL_DIR)
        .filter((name) => /^\d{3}_.*\.sql$/.test(name))
        .sort(),
    );
    expect((await migrate(db.url)).applied).toEqual([]);
  });

  it('keeps every exposure as it was: tenant, version, hidden and writable columns, identities to restore', async () => {
    expect((await db.sql.query(SETTINGS)).rows).toEqual(before);
    const { rows } = await db.sql.query(`select e.relid::text as table, e.exposure, walcast.exposure_of(e) as now from walcast.exposed_tables e order by 1`);
    for (const [index, row] of rows.entries()) {
      // With what later versions add, and 0.1.0 did not have: no row policy, nothing set on insert (sql/004).
      const upgraded = { ...(before[index]!['exposure'] as object), policy: null, setOnInsert: null };
      expect(row.exposure).toEqual(upgraded);
      expect(row.now).toEqual(upgraded);
    }
    // 0.1.0 set FULL where the identity lacked the tenant (the table, the partition): conceal() still restores them.
    expect(Object.values(before.find((row) => row['table'] === 'tasks')!['previous_identities'] as object)).toEqual(['default']);
    expect(Object.values(before.find((row) => row['table'] === 'readings')!['previous_identities'] as object)).toEqual(['default']);
  });

  it('streams the upgraded exposures, hidden stays hidden, tenants stay apart; a listed table streams to nobody', async () => {
    walcast = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'upgraded' });
    await waitUntilReady(walcast);
    const acme = await SseClient.open(walcast.streamUrl(await walcast.token('acme')));
    try {
      await db.sql.query(`
        insert into payroll (org_id, salary) values ('acme', 99999);
        insert into tasks (org_id, title, secret, internal_note) values ('globex', 'theirs', 'psst', 'psst'), ('acme', 'ours', 'psst', 'psst');
        insert into news (headline, draft_by) values ('for all', 'psst');
        insert into readings values ('acme', '2026-06-01', 1.5, '\\x00');`);
      const events = await acme.take(3);
      expect(events.map((event) => [event.data['table'], event.data['row']])).toEqual([
        ['public.tasks', { id: 2, org_id: 'acme', title: 'ours', done: false, version: '1' }],
        ['public.news', { id: 1, headline: 'for all' }],
        ['public.readings', { org_id: 'acme', at: '2026-06-01T00:00:00.000000Z', value: '1.5' }],
      ]);
      const patch = await fetch(`${walcast.url}/v1/tables/tasks/rows/2`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${await walcast.token('acme')}`, 'content-type': 'application/json', 'if-match': '"1"' },
        body: JSON.stringify({ set: { done: true } }),
      });
      expect(patch.status).toBe(200);
      const refused = await fetch(`${walcast.url}/v1/tables/tasks/rows/2`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${await walcast.token('acme')}`, 'content-type': 'application/json', 'if-match': '"2"' },
        body: JSON.stringify({ set: { secret: 'x' } }),
      });
      expect(refused.status).toBe(403);
      expect((await acme.next()).data).toMatchObject({ op: 'update', row: { done: true, version: '2' } });
      expect(JSON.stringify(acme.received.map((event) => event.data))).not.toMatch(/psst|theirs|99999|"raw"/);
    } finally {
      acme.close();
    }
  });

  it('takes configuration changes made after the upgrade live', async () => {
    const on = walcast!;
    const acme = await SseClient.open(on.streamUrl(await on.token('acme'), { tables: 'tasks' }));
    try {
      await db.sql.query(`select walcast.expose('tasks', tenant_column => 'org_id', version_column => 'version',
                                                hidden_columns => '{secret,internal_note,title}', writable_columns => '{done}')`);
      await db.sql.query(`insert into tasks (org_id, title) values ('acme', 'title now hidden')`);
      expect((await acme.next()).data['row']).toEqual({ id: 3, org_id: 'acme', done: false, version: '1' });
      await db.sql.query(`select walcast.conceal('news')`);
      await eventually(
        'news is concealed',
        async () => (await fetch(`${on.url}/v1/tables/news/rows`, { headers: { authorization: `Bearer ${await on.token('acme')}` } })).status === 404,
        3_000,
        50,
      );
    } finally {
      acme.close();
    }
  });
});

describe('the scripts applied by hand, as a DBA would with psql -f', () => {
  it('record the same as walcast migrate, and apply again without changing anything', async () => {
    const byHand = await createTestDatabase('upgrade_by_hand');
    try {
      const scripts = (await import('node:fs'))
        .readdirSync(SQL_DIR)
        .filter((name) => /^\d{3}_.*\.sql$/.test(name))
        .sort();
      for (const script of scripts) await byHand.sql.query(await readFile(`${SQL_DIR}${script}`, 'utf8'));
      await byHand.sql.query(`create table t (id int primary key, org_id text, secret text);
                              select walcast.expose('t', tenant_column => 'org_id', hidden_columns => '{secret}');`);
      const exposure = (await byHand.sql.query('select exposure from walcast.exposed_tables')).rows;
      expect((await byHand.sql.query<{ name: string }>('select name from walcast.migrations order by name')).rows.map((row) => row.name)).toEqual(scripts);
      expect((await migrate(byHand.url)).applied).toEqual([]);
      for (const script of scripts.slice(1)) await byHand.sql.query(await readFile(`${SQL_DIR}${script}`, 'utf8'));
      expect((await byHand.sql.query('select exposure from walcast.exposed_tables')).rows).toEqual(exposure);
    } finally {
      await byHand.drop();
    }
  });
});
