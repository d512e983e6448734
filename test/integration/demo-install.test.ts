// The demo table as `npm start` installs it (src/embedded/demo.ts): private and shared todos
// (DESIGN §10). The data dir outlives upgrades, so a demo table of an earlier version (no
// owner, no sharing) is brought up to this one in place with its rows, and a second start
// changes nothing at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDemo } from '../../src/embedded/demo.js';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const dbs: TestDatabase[] = [];

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  dbs.push(db);
  await migrate(db.url);
  return db;
}

afterAll(async () => {
  for (const db of dbs) await db.drop();
});

/** What servers read, the table's columns, and the exposure row's version (any write changes its xmin). */
async function demoTable(db: TestDatabase) {
  const exposure = await db.sql.query(`select exposure, xmin::text as written from walcast.exposed_tables where relid = 'public.todos'::regclass`);
  const columns = await db.sql.query(
    `select attname, format_type(atttypid, atttypmod) as type, attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as "default"
       from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where attrelid = 'public.todos'::regclass and attnum > 0 and not attisdropped order by attname`,
  );
  return { exposure: exposure.rows[0]?.exposure, written: exposure.rows[0]?.written as string, columns: columns.rows };
}

const EXPOSED = {
  table: 'public.todos',
  tenantColumn: 'org_id',
  versionColumn: 'version',
  policy: 'or=(owner_id.eq.$sub,shared.is.true,owner_id.is.null)',
  setOnInsert: { owner_id: '$sub' },
  hiddenColumns: [],
};

describe('installDemo', () => {
  let fresh: Awaited<ReturnType<typeof demoTable>>;

  beforeAll(async () => {
    const db = await database('demo_fresh');
    await installDemo(db.url);
    fresh = await demoTable(db);
  });

  it('exposes a new demo table with its owner set from the token and the private-or-shared policy', () => {
    expect(fresh.exposure).toMatchObject(EXPOSED);
    expect([...fresh.exposure.writableColumns].sort()).toEqual(['done', 'shared', 'title']);
    expect(fresh.columns).toContainEqual({ attname: 'owner_id', type: 'text', not_null: false, default: null });
    expect(fresh.columns).toContainEqual({ attname: 'shared', type: 'boolean', not_null: true, default: 'false' });
  });

  it('upgrades the demo table of an earlier version in place, keeping its rows, and a second run writes nothing', async () => {
    const db = await database('demo_upgrade');
    // What installDemo created before todos had owners.
    await db.sql.query(`
      create table public.todos (id bigserial primary key, org_id text not null, title text not null,
                                 done boolean not null default false);
      select walcast.expose('public.todos', tenant_column => 'org_id', version_column => 'version',
                            writable_columns => '{title,done}');
      insert into todos (org_id, title, done) values ('acme', 'from before', true);`);

    await installDemo(db.url);
    const upgraded = await demoTable(db);
    expect(upgraded.exposure).toMatchObject(EXPOSED);
    expect([...upgraded.exposure.writableColumns].sort()).toEqual(['done', 'shared', 'title']);
    expect(upgraded.columns).toEqual(fresh.columns);
    // No owner: the whole tenant's, as it was.
    expect((await db.sql.query(`select org_id, owner_id, title, done, shared, version from todos`)).rows).toEqual([
      { org_id: 'acme', owner_id: null, title: 'from before', done: true, shared: false, version: '1' },
    ]);

    await installDemo(db.url);
    expect(await demoTable(db)).toEqual(upgraded);
  });

  it('exposes again a demo table whose columns are already there but whose exposure is older', async () => {
    const db = await database('demo_reexpose');
    await db.sql.query(`
      create table public.todos (id bigserial primary key, org_id text not null, owner_id text, title text not null,
                                 done boolean not null default false, shared boolean not null default false);
      select walcast.expose('public.todos', tenant_column => 'org_id', version_column => 'version',
                            writable_columns => '{title,done}');`);
    await installDemo(db.url);
    expect((await demoTable(db)).exposure).toMatchObject(EXPOSED);
  });
});
